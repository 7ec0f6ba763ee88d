"""PyTorch eager mode on a torch device, under ``inference_mode``.

One adapter parameterised by device: the CPU vendor and the CUDA vendor share every line
except the probe and the device timer, so the path a GPU takes is the path tested on the CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flagbench.api.contracts import ActualRun, Probe, Workload
from flagbench.api.energy import EnergyMeter

from .host_cpu import HostCpuMeasures
from .nvidia import NvidiaMeasures, ampere_gate

if TYPE_CHECKING:
    import numpy as np
    import torch

_DTYPES = {"fp32": "float32", "tf32": "float32", "bf16": "bfloat16", "fp16": "float16"}


class TorchSession:
    """A torch module on one device at one dtype."""

    def __init__(self, model: torch.nn.Module, device: str, dtype: torch.dtype,
                 actual: ActualRun) -> None:
        self._model = model
        self._device = device
        self._dtype = dtype
        self.actual = actual

    def load(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Move inputs to the device once, outside the timed loop; floating-point inputs take
        the run's dtype, integer ones (token ids, masks) keep theirs."""
        return tuple(t.to(self._device, self._dtype) if t.is_floating_point() else
                     t.to(self._device) for t in inputs)

    def run(self, loaded: tuple[torch.Tensor, ...]) -> Any:
        """Run one batch without autograd bookkeeping."""
        import torch

        with torch.inference_mode():
            return self._model(*loaded)

    def synchronize(self) -> None:
        """Eager CPU ops are synchronous: nothing to wait for."""

    def to_numpy(self, outputs: Any) -> list[np.ndarray]:
        """Float32 host copies of the output tensor(s)."""
        import torch

        items = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
        return [t.detach().to("cpu", torch.float32).numpy() for t in items]

    def first_to_numpy(self, outputs: Any) -> np.ndarray:
        """The first output (a generation's logits) as a float32 host array; the rest stay."""
        import torch

        first = outputs[0] if isinstance(outputs, (tuple, list)) else outputs
        array: np.ndarray = first.detach().to("cpu", torch.float32).numpy()
        return array

    def carry(self, outputs: Any, fresh: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """The next step's inputs: ``fresh`` loaded, then ``outputs[1:]`` as they are (the KV
        cache never leaves the device)."""
        return (*self.load(fresh), *outputs[1:])

    def close(self) -> None:
        """Drop the model so its memory can be freed."""
        del self._model


class CudaTorchSession(TorchSession):
    """The same session on a CUDA device: synchronises the device, times with CUDA events."""

    def __init__(self, model: torch.nn.Module, device: str, dtype: torch.dtype,
                 actual: ActualRun) -> None:
        import torch

        super().__init__(model, device, dtype, actual)
        self._start = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        self._end = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        torch.cuda.reset_peak_memory_stats(device)

    def synchronize(self) -> None:
        """Wait for the device's queue."""
        import torch

        torch.cuda.synchronize(self._device)

    def time_one(self, loaded: tuple[torch.Tensor, ...]) -> float:
        """Device time of one batch from CUDA events around it (seconds); the host clock
        would add the Python side's launch and synchronisation latency."""
        self._start.record()
        self.run(loaded)
        self._end.record()
        self._end.synchronize()
        return float(self._start.elapsed_time(self._end)) / 1e3

    def peak_memory_bytes(self) -> int:
        """Peak device memory allocated by torch since the session was prepared."""
        import torch

        return int(torch.cuda.max_memory_allocated(self._device))


class TorchEagerVendor:
    """Shared adapter; subclasses fix the device and say what it offers."""

    name = "torch"
    description = "PyTorch eager"
    device = "cpu"

    def probe(self) -> Probe:
        """Subclasses say whether the device is here; this base only checks torch."""
        try:
            import torch
        except Exception as exc:  # probe never raises
            return Probe(False, f"torch cannot be imported: {exc}")
        return Probe(True, devices=(self.device,), versions={"torch": torch.__version__},
                     precisions=("fp32",))

    def details(self) -> dict[str, Any]:
        """Device facts recorded with every run."""
        return {}

    def meters(self, workload: Workload) -> list[EnergyMeter]:
        """Energy meters for the device; none by default."""
        return []

    def prepare(self, workload: Workload) -> TorchSession:
        """Convert the model to the requested dtype on the device, with matmul modes set."""
        import torch

        precision = workload.spec.precision
        if self.device.startswith("cuda"):
            # fp32 means fp32: TF32 only when asked for, and recorded either way.
            allow = precision == "tf32"
            torch.backends.cuda.matmul.allow_tf32 = allow
            torch.backends.cudnn.allow_tf32 = allow
        dtype = getattr(torch, _DTYPES[precision])
        model = workload.model.to(self.device, dtype).eval()
        details: dict[str, Any] = {
            "torch": torch.__version__,
            "interop_threads": torch.get_num_interop_threads(),
            "mode": "eager, inference_mode",
            **self.details(),
        }
        if self.device.startswith("cuda"):
            details["allow_tf32"] = torch.backends.cuda.matmul.allow_tf32
            details["timer"] = "cuda_events"
        else:
            details["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        actual = ActualRun(device=self.device, precision=precision,
                           threads=torch.get_num_threads(), details=details)
        session = CudaTorchSession if self.device.startswith("cuda") else TorchSession
        return session(model, self.device, dtype, actual)


class CpuVendor(HostCpuMeasures, TorchEagerVendor):
    """PyTorch eager on the host CPU."""

    name = "cpu"
    description = "PyTorch eager on the CPU (fp32; bf16 where the CPU has it natively)"
    device = "cpu"

    def probe(self) -> Probe:
        """Always fp32; bf16 only where the CPU's flags say it has native bf16 (AVX512-BF16,
        AMX or Arm's BF16): torch's own check also accepts plain AVX-512, where oneDNN emulates
        it."""
        base = super().probe()
        if not base.available:
            return base
        from flagbench.vendors.cpu_peak import NATIVE_BF16_FLAGS, cpu_flags, host_cpuinfo

        info = host_cpuinfo()
        if info is not None and cpu_flags(info) & set(NATIVE_BF16_FLAGS):
            return Probe(True, devices=base.devices, versions=base.versions,
                         precisions=("fp32", "bf16"))
        why = ("this CPU has no native bf16 (AVX512-BF16, AMX or Arm BF16); emulated bf16 "
               "would mislead" if info is not None else
               "cannot tell whether this CPU has native bf16 (no /proc/cpuinfo)")
        return Probe(True, devices=base.devices, versions=base.versions, precisions=("fp32",),
                     unsupported={"bf16": why})


class CudaVendor(NvidiaMeasures, TorchEagerVendor):
    """PyTorch eager on an NVIDIA GPU, timed with CUDA events, metered through NVML."""

    name = "cuda"
    description = "PyTorch eager on an NVIDIA GPU (fp32, tf32, fp16, bf16), CUDA events, NVML"
    device = "cuda:0"

    def probe(self) -> Probe:
        """Says exactly why not: no torch, a CPU-only torch, no device; NVML is optional."""
        base = super().probe()
        if not base.available:
            return base
        import torch

        if torch.version.cuda is None:
            return Probe(False, f"torch {torch.__version__} is a CPU-only build (no CUDA)")
        if not torch.cuda.is_available() or torch.cuda.device_count() == 0:
            return Probe(False, f"no CUDA device visible to torch {torch.__version__} "
                         f"(CUDA {torch.version.cuda})")
        versions = {"torch": torch.__version__, "cuda": str(torch.version.cuda),
                    **self.driver_versions()}
        name = torch.cuda.get_device_name(0)
        precisions, unsupported = ampere_gate(("fp32", "tf32", "fp16", "bf16"),
                                              torch.cuda.get_device_capability(0), name)
        unsupported["int8"] = "torch eager has no int8 inference path for these cases"
        return Probe(True, devices=(name,), versions=versions, precisions=precisions,
                     unsupported=unsupported)
