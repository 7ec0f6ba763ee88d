"""ONNX Runtime, one vendor per execution provider.

The case's model is exported once (cached, see ``onnx_export``); the session is created with
the requested provider first and without CPU fall-back (``ort_placement``), so a node that
would run on the CPU unasked makes a failed run instead of a wrong figure, and where each
node ran is recorded. Data stays on the provider's device between runs (``ort_session``).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from flagbench.api.contracts import ActualRun, Probe, Workload

from .host_cpu import HostCpuMeasures
from .nvidia import CudaDeviceOption, NvidiaMeasures, ampere_gate
from .ort_placement import CPU, CUDA, Providers, conv_algo_search, open_session
from .ort_session import OrtSession


def cuda_options(precision: str, device_id: int = 0) -> dict[str, Any]:
    """The CUDA provider's options: the device, TF32 only for tf32 (ORT enables it by default
    on Ampere and newer; fp32 must mean fp32), and cuDNN's exhaustive algorithm search, ORT's
    default, set so that a changed default cannot move the figures unseen."""
    return {"device_id": str(device_id), "use_tf32": "1" if precision == "tf32" else "0",
            "cudnn_conv_algo_search": "EXHAUSTIVE"}


class OrtVendor:
    """Shared adapter; subclasses name the provider and what it offers."""

    name = "ort"
    description = "ONNX Runtime"
    provider = CPU
    bind_device: str | None = None  # OrtValue device for IO binding; None runs from host numpy
    precisions: tuple[str, ...] = ("fp32",)
    unsupported: dict[str, str] = {}

    def probe(self) -> Probe:
        """Available when onnxruntime imports and lists every provider this vendor uses."""
        try:
            import onnxruntime as ort
        except Exception as exc:
            return Probe(False, f"onnxruntime cannot be imported: {exc}")
        available = ort.get_available_providers()
        missing = [name for name, _ in self.providers("fp32") if name not in available]
        if missing:
            return Probe(False, f"onnxruntime {ort.__version__} ({ort.get_device()} build) has no "
                         f"{', '.join(missing)}; it offers {', '.join(available)}")
        return Probe(True, devices=(ort.get_device(),),
                     versions={"onnxruntime": ort.__version__}, precisions=self.precisions,
                     unsupported=self.unsupported)

    def provider_options(self, precision: str) -> dict[str, Any]:
        """Options passed with the provider; subclasses set precision switches here."""
        return {}

    def providers(self, precision: str) -> Providers:
        """The providers in ONNX Runtime's order of preference, this vendor's first; never the
        CPU unless it is this vendor's (see ``ort_placement.open_session``)."""
        return [(self.provider, self.provider_options(precision))]

    def details(self) -> dict[str, Any]:
        """Device facts recorded with every run (``NvidiaMeasures`` gives NVML's)."""
        return {}

    def model_precision(self, precision: str) -> str:
        """Which exported model serves a precision: fp32, fp16 or int8."""
        return precision

    def prepare(self, workload: Workload) -> OrtSession:
        """Export (cached), quantise if asked, then open the session (``open``)."""
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
        return self.open(exported.path, precision, export_spec(workload).input_names,
                         half=flavour == "fp16", build=build)

    def open(self, path: Path, precision: str, input_names: tuple[str, ...], half: bool = False,
             build: dict[str, Any] | None = None) -> OrtSession:
        """A session on this vendor's providers for the ONNX file at ``path``, refused if any
        node would run on the CPU unasked, with what ran recorded in ``actual``."""
        import numpy as np
        import onnxruntime as ort

        def options() -> Any:
            made = ort.SessionOptions()
            made.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            return made

        t0 = time.perf_counter()
        session, placement = open_session(ort, path, options, self.providers(precision))
        created_s = time.perf_counter() - t0
        used, effective = options(), session.get_provider_options()
        conv = conv_algo_search(session)
        actual = ActualRun(
            device=ort.get_device().lower(),
            precision=precision,
            threads=used.intra_op_num_threads or None,
            details={
                "onnxruntime": ort.__version__,
                **placement,
                "provider_options": {name: effective.get(name, {})
                                     for name, _ in self.providers(precision)},
                **({"cudnn_conv_algo_search": conv} if conv else {}),
                "graph_optimization_level": "ORT_ENABLE_ALL",
                "intra_op_num_threads": used.intra_op_num_threads,
                "inter_op_num_threads": used.inter_op_num_threads,
                "execution_mode": str(used.execution_mode),
                "model": path.name,
                "io_binding": self.bind_device,
                **(build or {}),
                "session_create_s": created_s,
                **self.details(),
            },
        )
        dtype = np.float16 if half else np.float32
        return OrtSession(session, input_names, dtype, self.bind_device, actual,
                          device_id=getattr(self, "cuda_index", 0))


class OrtCpuVendor(HostCpuMeasures, OrtVendor):
    """ONNX Runtime's default CPU provider; int8 through static QDQ quantisation."""

    name = "ort-cpu"
    description = "ONNX Runtime CPUExecutionProvider (fp32; int8 static QDQ U8S8)"
    bind_device = "cpu"  # the same IO-binding path as the GPU providers, copy-free on the host
    precisions = ("fp32", "int8")
    unsupported = {
        "fp16": "the CPU provider lacks fp16 kernels for most ops; it would time casts",
        "bf16": "the CPU provider has no bf16 kernels for these ops",
    }


class OrtCudaVendor(CudaDeviceOption, NvidiaMeasures, OrtVendor):
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
        precisions, dropped = ampere_gate(base.precisions, self.compute_capability(),
                                          f"CUDA device {self.cuda_index}")
        return dataclasses.replace(base, precisions=precisions,
                                   unsupported={**base.unsupported, **dropped})

    def provider_options(self, precision: str) -> dict[str, Any]:
        return cuda_options(precision, self.cuda_index)

    def model_precision(self, precision: str) -> str:
        return "fp32" if precision == "tf32" else precision


class OrtTensorRTVendor(CudaDeviceOption, NvidiaMeasures, OrtVendor):
    """ONNX Runtime's TensorRT provider, CUDA behind it; engine build time is set-up."""

    name = "ort-tensorrt"
    description = ("ONNX Runtime TensorrtExecutionProvider, CUDA for the nodes it leaves "
                   "(fp32, fp16), IO binding")
    provider = "TensorrtExecutionProvider"
    bind_device = "cuda"
    precisions = ("fp32", "fp16")
    unsupported = {"int8": "TensorRT int8 needs a calibration table flagbench does not build yet"}

    def provider_options(self, precision: str) -> dict[str, Any]:
        return {"device_id": self.cuda_index, "trt_fp16_enable": precision == "fp16"}

    def providers(self, precision: str) -> Providers:
        """TensorRT, then CUDA for the nodes TensorRT does not take (ORT would otherwise give
        them to the CPU); the CUDA nodes run the fp32 model with TF32 off."""
        return [*super().providers(precision), (CUDA, cuda_options("fp32", self.cuda_index))]

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
