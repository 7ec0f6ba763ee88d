"""Export a case's torch model to ONNX once, and quantise it once, caching both on disk.

Shared by the ONNX Runtime vendors. The cache key covers everything that changes the file:
case, input shapes, dtype, opset, the model's weights (hashed), the versions of torch, of the
exporter (onnxscript), of onnx and of onnxruntime (whose quantiser writes the int8 file), and
for int8 the calibration settings. Files are written atomically with their digest, so
concurrent runs at worst export twice and never read half a file, and a file that no longer
matches its digest is exported again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flagbench.api.contracts import OnnxExport, Workload
from flagbench.run.cache import verified, write_atomic

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

#: Calibration for static int8: this many samples of the case's own inputs, apart from the
#: timing and fidelity seeds.
CALIBRATION_SAMPLES = 32
CALIBRATION_SEED = 20_000


@dataclass(frozen=True)
class OnnxModel:
    """An ONNX file on disk and how it came to be."""

    path: Path
    key: str
    exporter: str
    seconds: float
    cached: bool
    details: dict[str, Any]


def cache_dir() -> Path:
    """``$FLAGBENCH_CACHE/onnx`` or ``onnx`` under the platform's per-user cache directory."""
    from flagbench.run.cache import cache_dir as flagbench_cache_dir

    return flagbench_cache_dir("onnx")


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 over the model's state dict: the cache follows the real weights, not a name."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _version(package: str) -> str:
    """An installed package's version for the cache key ("absent" when it is not there)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "absent"


def export_spec(workload: Workload) -> OnnxExport:
    """The case's ONNX description, or generic tensor names."""
    spec = getattr(workload.case, "onnx_export", None)
    if isinstance(spec, OnnxExport):
        return spec
    n_in = len(workload.case.make_inputs(1, 0))
    return OnnxExport(tuple(f"input_{i}" for i in range(n_in)), ("output_0",))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters print progress and deprecation chatter; keep the CLI's output clean."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # torch.onnx logs progress; onnxruntime.quantization warns per tensor on the root
        # logger (e.g. per-channel axes of LayerNorm weights, which it then quantises per
        # tensor): hundreds of lines with nothing for the user to do.
        loggers = [logging.getLogger("torch.onnx"), logging.getLogger()]
        levels = [lg.level for lg in loggers]
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


def export_onnx(workload: Workload, half: bool = False) -> OnnxModel:
    """Export (or find in the cache) the workload's model at its batch size, fp32 or fp16."""
    import torch

    spec = export_spec(workload)
    bs = workload.spec.batch_size
    inputs = workload.case.make_inputs(bs, workload.spec.seed)
    dtype = torch.float16 if half else torch.float32
    key_fields = {
        "case": workload.case.name,
        "shapes": [list(t.shape) for t in inputs],
        "input_dtypes": [str(t.dtype) for t in inputs],
        "options": [list(kv) for kv in workload.spec.options],
        "dtype": str(dtype),
        "opset": spec.opset,
        "names": [list(spec.input_names), list(spec.output_names)],
        "weights": weights_digest(workload.model),
        "torch": torch.__version__,
        **{package: _version(package) for package in ("onnxscript", "onnx", "onnxruntime")},
    }
    key = hashlib.sha256(json.dumps(key_fields, sort_keys=True).encode()).hexdigest()[:16]
    target = cache_dir() / f"{workload.case.name}-bs{bs}-{'fp16' if half else 'fp32'}-{key}.onnx"
    if verified(target):
        return OnnxModel(target, key, "cache", 0.0, True, key_fields)

    model = workload.model.to(dtype) if half else workload.model
    args = tuple(t.to(dtype) if t.is_floating_point() else t for t in inputs)
    t0 = time.perf_counter()
    exporter = "torch.onnx.export(dynamo=True)"

    def dynamo(path: str) -> None:
        torch.onnx.export(model, args, path, input_names=list(spec.input_names),
                          output_names=list(spec.output_names), opset_version=spec.opset,
                          dynamo=True, external_data=False, verbose=False)

    def torchscript(path: str) -> None:
        torch.onnx.export(model, args, path, input_names=list(spec.input_names),
                          output_names=list(spec.output_names), opset_version=spec.opset,
                          dynamo=False)

    with _quiet():
        try:
            write_atomic(target, dynamo)
        except Exception as exc:  # some models only the TorchScript exporter handles
            log.info("dynamo export failed (%s); using the TorchScript exporter", exc)
            exporter = "torch.onnx.export(dynamo=False)"
            write_atomic(target, torchscript)
    if half:
        workload.model.to(torch.float32)
    return OnnxModel(target, key, exporter, time.perf_counter() - t0, False, key_fields)


def quantize_int8(workload: Workload, fp32: OnnxModel) -> OnnxModel:
    """Static QDQ int8 with uint8 activations and per-channel int8 weights (U8S8), calibrated
    with MinMax on the case's own inputs. U8S8 is several times faster than S8S8 on x86 CPUs
    without VNNI; dynamic quantisation of every op is slower than float32 there."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    bs = workload.spec.batch_size
    names = export_spec(workload).input_names
    batches = max(1, CALIBRATION_SAMPLES // bs)
    settings = {"format": "QDQ", "activations": "QUInt8", "weights": "QInt8",
                "per_channel": True, "calibration": "MinMax",
                "calibration_samples": batches * bs, "calibration_seed": CALIBRATION_SEED}
    key = hashlib.sha256(json.dumps([fp32.key, settings], sort_keys=True).encode()).hexdigest()
    target = fp32.path.with_name(fp32.path.stem.replace("-fp32-", "-int8-") + f"-{key[:8]}.onnx")
    details = {**fp32.details, "quantization": settings}
    if verified(target):
        return OnnxModel(target, key[:16], "cache", 0.0, True, details)

    class CaseInputs(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._next = 0

        def get_next(self) -> dict[str, Any] | None:
            if self._next >= batches:
                return None
            tensors = workload.case.make_inputs(bs, CALIBRATION_SEED + self._next)
            self._next += 1
            # The case's own dtypes: float32 activations to calibrate, integer ids as they are.
            return {n: t.numpy() for n, t in zip(names, tensors, strict=True)}

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        prepared = os.path.join(tmp, "prepared.onnx")
        with _quiet():
            quant_pre_process(str(fp32.path), prepared, skip_symbolic_shape=True)

        def write(path: str) -> None:
            quantize_static(prepared, path, CaseInputs(), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            per_channel=True, calibrate_method=CalibrationMethod.MinMax)

        with _quiet():
            write_atomic(target, write)
    return OnnxModel(target, key[:16], "onnxruntime.quantization.quantize_static",
                     time.perf_counter() - t0, False, details)
