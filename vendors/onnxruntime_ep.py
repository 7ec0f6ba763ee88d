"""ONNX Runtime, one vendor per execution provider.

The case's model is exported once (cached, see ``onnx_export``); the session is created with
the requested provider first and refused if that provider is not the one really active, so a
silent fall-back to the CPU becomes a failed run instead of a wrong figure.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flagbench.api.contracts import ActualRun, Probe, Workload
from flagbench.api.errors import FlagbenchError

from .host_cpu import HostCpuMeasures
from .nvidia import NvidiaMeasures, ampere_gate

if TYPE_CHECKING:
    import numpy as np
    import torch

_CPU = "CPUExecutionProvider"


class OrtSession:
    """An ``InferenceSession`` plus, on device providers, an IO binding that keeps data there."""

    def __init__(self, session: Any, input_names: Sequence[str], input_dtype: Any,
                 bind_device: str | None, actual: ActualRun) -> None:
        self._session = session
        self._names = list(input_names)
        self._dtype = input_dtype
        self._device = bind_device
        self._outputs = [o.name for o in session.get_outputs()]
        self.actual = actual

    def load(self, inputs: Sequence[torch.Tensor]) -> Any:
        """Numpy feeds on the host, or OrtValues bound on the device (IO binding); only
        floating-point inputs take the model's float type, integer ones keep theirs."""
        feeds = {n: t.numpy().astype(self._dtype, copy=False) if t.is_floating_point()
                 else t.numpy() for n, t in zip(self._names, inputs, strict=True)}
        if self._device is None:
            return feeds
        import onnxruntime as ort

        binding = self._session.io_binding()
        for name, array in feeds.items():
            value = ort.OrtValue.ortvalue_from_numpy(array, self._device, 0)
            binding.bind_ortvalue_input(name, value)
        for name in self._outputs:
            binding.bind_output(name, self._device)
        return binding

    def run(self, loaded: Any) -> Any:
        """One inference; ``Run`` returns when the provider has finished."""
        if self._device is None:
            return self._session.run(self._outputs, loaded)
        self._session.run_with_iobinding(loaded)
        return loaded

    def synchronize(self) -> None:
        """Nothing to wait for: ONNX Runtime's Run blocks until its outputs are ready."""

    def to_numpy(self, outputs: Any) -> list[np.ndarray]:
        """Float32 host copies of the outputs."""
        import numpy as np

        arrays = outputs if self._device is None else outputs.copy_outputs_to_cpu()
        return [np.asarray(a, dtype=np.float32) for a in arrays]

    def close(self) -> None:
        """Release the session."""
        del self._session


class OrtVendor:
    """Shared adapter; subclasses name the provider and what it offers."""

    name = "ort"
    description = "ONNX Runtime"
    provider = _CPU
    bind_device: str | None = None  # OrtValue device for IO binding; None runs from host numpy
    precisions: tuple[str, ...] = ("fp32",)
    unsupported: dict[str, str] = {}

    def probe(self) -> Probe:
        """Available when onnxruntime imports and lists this provider."""
        try:
            import onnxruntime as ort
        except Exception as exc:
            return Probe(False, f"onnxruntime cannot be imported: {exc}")
        available = ort.get_available_providers()
        if self.provider not in available:
            return Probe(False, f"onnxruntime {ort.__version__} ({ort.get_device()} build) has no "
                         f"{self.provider}; it offers {', '.join(available)}")
        return Probe(True, devices=(ort.get_device(),),
                     versions={"onnxruntime": ort.__version__}, precisions=self.precisions,
                     unsupported=self.unsupported)

    def provider_options(self, precision: str) -> dict[str, Any]:
        """Options passed with the provider; subclasses set precision switches here."""
        return {}

    def details(self) -> dict[str, Any]:
        """Device facts recorded with every run (``NvidiaMeasures`` gives NVML's)."""
        return {}

    def model_precision(self, precision: str) -> str:
        """Which exported model serves a precision: fp32, fp16 or int8."""
        return precision

    def prepare(self, workload: Workload) -> OrtSession:
        """Export (cached), quantise if asked, create the session, verify the provider."""
        import numpy as np
        import onnxruntime as ort

        from flagbench.vendors.onnx_export import export_onnx, export_spec, quantize_int8

        precision = workload.spec.precision
        flavour = self.model_precision(precision)
        exported = export_onnx(workload, half=flavour == "fp16")
        build = {"export_s": exported.seconds, "export_cached": exported.cached,
                 "exporter": exported.exporter}
        if flavour == "int8":
            quant = quantize_int8(workload, exported)
            build |= {"quantize_s": quant.seconds, "quantize_cached": quant.cached,
                      "quantization": quant.details["quantization"]}
            exported = quant
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers: list[Any] = [(self.provider, self.provider_options(precision))]
        if self.provider != _CPU:
            providers.append(_CPU)  # nodes the provider lacks may run on the CPU
        t0 = time.perf_counter()
        session = ort.InferenceSession(str(exported.path), options, providers=providers)
        build["session_create_s"] = time.perf_counter() - t0
        active = session.get_providers()
        if not active or active[0] != self.provider:
            raise FlagbenchError(f"{self.provider} was requested but ONNX Runtime runs "
                                 f"{', '.join(active)}: refusing a silent fall-back")
        actual = ActualRun(
            device=ort.get_device().lower(),
            precision=precision,
            threads=options.intra_op_num_threads or None,
            details={
                "onnxruntime": ort.__version__,
                "providers": active,
                "provider_options": session.get_provider_options().get(self.provider, {}),
                "graph_optimization_level": "ORT_ENABLE_ALL",
                "intra_op_num_threads": options.intra_op_num_threads,
                "inter_op_num_threads": options.inter_op_num_threads,
                "execution_mode": str(options.execution_mode),
                "model": exported.path.name,
                "io_binding": self.bind_device is not None,
                **build,
                **self.details(),
            },
        )
        dtype = np.float16 if flavour == "fp16" else np.float32
        return OrtSession(session, export_spec(workload).input_names, dtype, self.bind_device,
                          actual)


class OrtCpuVendor(HostCpuMeasures, OrtVendor):
    """ONNX Runtime's default CPU provider; int8 through static QDQ quantisation."""

    name = "ort-cpu"
    description = "ONNX Runtime CPUExecutionProvider (fp32; int8 static QDQ U8S8)"
    precisions = ("fp32", "int8")
    unsupported = {
        "fp16": "the CPU provider lacks fp16 kernels for most ops; it would time casts",
        "bf16": "the CPU provider has no bf16 kernels for these ops",
    }


class OrtCudaVendor(NvidiaMeasures, OrtVendor):
    """ONNX Runtime on NVIDIA GPUs; fp32 with TF32 off, tf32 with it on, fp16 as an fp16 model."""

    name = "ort-cuda"
    description = "ONNX Runtime CUDAExecutionProvider (fp32, tf32, fp16), IO binding"
    provider = "CUDAExecutionProvider"
    bind_device = "cuda"
    precisions = ("fp32", "tf32", "fp16")
    unsupported = {"int8": "QDQ int8 is not accelerated by the CUDA provider (use TensorRT)"}

    def probe(self) -> Probe:
        """The provider's probe, without tf32 below compute capability 8.0 (from NVML)."""
        base = super().probe()
        if not base.available:
            return base
        precisions, dropped = ampere_gate(base.precisions, self.compute_capability(), "GPU 0")
        return dataclasses.replace(base, precisions=precisions,
                                   unsupported={**base.unsupported, **dropped})

    def provider_options(self, precision: str) -> dict[str, Any]:
        """ORT enables TF32 by default on Ampere and newer; fp32 must mean fp32."""
        return {"use_tf32": "1" if precision == "tf32" else "0"}

    def model_precision(self, precision: str) -> str:
        return "fp32" if precision == "tf32" else precision


class OrtTensorRTVendor(NvidiaMeasures, OrtVendor):
    """ONNX Runtime's TensorRT provider; engine build time is part of set-up."""

    name = "ort-tensorrt"
    description = "ONNX Runtime TensorrtExecutionProvider (fp32, fp16), IO binding"
    provider = "TensorrtExecutionProvider"
    bind_device = "cuda"
    precisions = ("fp32", "fp16")
    unsupported = {"int8": "TensorRT int8 needs a calibration table flagbench does not build yet"}

    def provider_options(self, precision: str) -> dict[str, Any]:
        return {"trt_fp16_enable": precision == "fp16"}

    def model_precision(self, precision: str) -> str:
        return "fp32"  # TensorRT lowers precision itself when trt_fp16_enable is set


class OrtOpenVINOVendor(OrtVendor):
    """ONNX Runtime's OpenVINO provider (Intel CPUs, GPUs, NPUs)."""

    name = "ort-openvino"
    description = "ONNX Runtime OpenVINOExecutionProvider (fp32)"
    provider = "OpenVINOExecutionProvider"


class OrtRocmVendor(OrtVendor):
    """ONNX Runtime on AMD GPUs."""

    name = "ort-rocm"
    description = "ONNX Runtime ROCMExecutionProvider (fp32, fp16)"
    provider = "ROCMExecutionProvider"
    precisions = ("fp32", "fp16")


class OrtDirectMLVendor(OrtVendor):
    """ONNX Runtime on DirectX 12 GPUs (Windows)."""

    name = "ort-dml"
    description = "ONNX Runtime DmlExecutionProvider (fp32, fp16)"
    provider = "DmlExecutionProvider"
    precisions = ("fp32", "fp16")


class OrtCoreMLVendor(OrtVendor):
    """ONNX Runtime on Apple's Core ML (Neural Engine, GPU, CPU)."""

    name = "ort-coreml"
    description = "ONNX Runtime CoreMLExecutionProvider (fp32)"
    provider = "CoreMLExecutionProvider"
