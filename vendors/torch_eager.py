"""PyTorch on a torch device under ``inference_mode``: eager, or compiled (``mode`` option).

One adapter parameterised by device: the CPU vendor and the CUDA vendor share every line
except the probe and the device timer, so the path a GPU takes is the path tested on the CPU.
A compiled mode compiles lazily on the first call, so ``prepare`` makes that call with the
case's own inputs: compile time is set-up, never part of warm-up or the timed window.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flagbench.api.contracts import ActualRun, Option, OptionValue, Probe, Workload
from flagbench.api.energy import EnergyMeter
from flagbench.api.errors import FlagbenchError

from .host_cpu import HostCpuMeasures
from .nvidia import NvidiaMeasures, ampere_gate

if TYPE_CHECKING:
    import numpy as np
    import torch

_DTYPES = {"fp32": "float32", "tf32": "float32", "bf16": "bfloat16", "fp16": "float16"}

#: ``mode`` → the ``torch.compile`` backend it uses (None: eager). ``cudagraphs`` is dynamo's
#: CUDA-graph backend: the eager kernels, captured once and replayed, no code generation.
COMPILE_BACKENDS: dict[str, str | None] = {"eager": None, "inductor": "inductor",
                                           "cudagraphs": "cudagraphs"}


class TorchSession:
    """A torch module on one device at one dtype."""

    def __init__(self, model: torch.nn.Module, device: str, dtype: torch.dtype,
                 actual: ActualRun) -> None:
        self._model = model
        self._device = device
        self._dtype = dtype
        self.actual = actual
        self._step_begin = False
        """Under CUDA graphs each call is a new step: its outputs may be overwritten by the
        next replay, and flagbench reads them (fidelity) before the next call."""

    def load(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Move inputs to the device once, outside the timed loop; floating-point inputs take
        the run's dtype, integer ones (token ids, masks) keep theirs."""
        return tuple(t.to(self._device, self._dtype) if t.is_floating_point() else
                     t.to(self._device) for t in inputs)

    def run(self, loaded: tuple[torch.Tensor, ...]) -> Any:
        """Run one batch without autograd bookkeeping."""
        import torch

        if self._step_begin:
            torch.compiler.cudagraph_mark_step_begin()  # type: ignore[no-untyped-call]
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
    modes: tuple[str, ...] = ("eager", "inductor")
    mode = "eager"

    @property
    def options(self) -> Mapping[str, Option]:
        """``mode``: eager, or torch.compile with a backend (compile time is set-up)."""
        return {"mode": Option("eager", "eager, or torch.compile: " + ", ".join(
            m for m in self.modes if m != "eager"), choices=self.modes)}

    def with_options(self, values: Mapping[str, OptionValue]) -> TorchEagerVendor:
        """A copy of this vendor set up with ``values`` (every declared option)."""
        vendor = copy.copy(self)
        vendor.configure(values)
        return vendor

    def configure(self, values: Mapping[str, OptionValue]) -> None:
        """Take the declared options' values; subclasses take their own too."""
        self.mode = str(values["mode"])

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

    def set_backends(self, precision: str) -> dict[str, Any]:
        """Set the device's library modes for ``precision``; what was set, for the record."""
        return {}

    def prepare(self, workload: Workload) -> TorchSession:
        """Convert the model to the requested dtype on the device, with matmul modes set, and
        compile it when ``mode`` asks (its first call made here, with the case's inputs)."""
        import torch

        precision = workload.spec.precision
        details: dict[str, Any] = self.set_backends(precision)
        dtype = getattr(torch, _DTYPES[precision])
        model: Any = workload.model.to(self.device, dtype).eval()
        backend = COMPILE_BACKENDS[self.mode]
        if backend is not None:
            if backend == "cudagraphs" and callable(getattr(workload.case, "generation", None)):
                raise FlagbenchError(
                    "mode=cudagraphs cannot run a generation case: each replay overwrites the "
                    "KV cache the next step reads; use mode=inductor")
            model = torch.compile(model, backend=backend)
        details.update({
            "torch": torch.__version__,
            "interop_threads": torch.get_num_interop_threads(),
            "mode": "eager, inference_mode" if backend is None else
            f"torch.compile(backend={backend!r}), inference_mode",
            **self.details(),
        })
        if not self.device.startswith("cuda"):
            details["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        actual = ActualRun(device=self.device, precision=precision,
                           threads=torch.get_num_threads(), details=details)
        kind = CudaTorchSession if self.device.startswith("cuda") else TorchSession
        session = kind(model, self.device, dtype, actual)
        if backend is not None:
            session._step_begin = backend == "cudagraphs"
            details["compile_s"] = _first_call(session, workload)
        return session


def _first_call(session: TorchSession, workload: Workload) -> float:
    """Seconds of the first call, which compiles: made in set-up with the case's inputs."""
    t0 = time.perf_counter()
    session.run(session.load(workload.case.make_inputs(workload.spec.batch_size,
                                                       workload.spec.seed)))
    session.synchronize()
    return time.perf_counter() - t0


class CpuVendor(HostCpuMeasures, TorchEagerVendor):
    """PyTorch on the host CPU, eager or compiled by inductor."""

    name = "cpu"
    description = ("PyTorch on the CPU (fp32; bf16 where the CPU has it natively; eager or "
                   "inductor)")
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
    """PyTorch on an NVIDIA GPU: eager or compiled, CUDA events as a second clock, NVML."""

    name = "cuda"
    description = ("PyTorch on an NVIDIA GPU (fp32, tf32, fp16, bf16; eager, inductor or CUDA "
                   "graphs), NVML energy")
    device = "cuda:0"
    modes = ("eager", "inductor", "cudagraphs")
    cudnn_benchmark = True

    @property
    def options(self) -> Mapping[str, Option]:
        """``device`` (torch's CUDA index), ``mode``, and ``cudnn_benchmark``."""
        return {
            **super().options,
            "device": Option(0, "CUDA device index, in torch's numbering", minimum=0),
            "cudnn_benchmark": Option(
                True, "let cuDNN time its convolution algorithms in warm-up (ONNX Runtime's "
                "CUDA provider searches exhaustively by default)"),
        }

    def configure(self, values: Mapping[str, OptionValue]) -> None:
        """Mode, device index and cuDNN tuning from the options."""
        super().configure(values)
        self.cuda_index = int(values["device"])
        self.device = f"cuda:{self.cuda_index}"
        self.cudnn_benchmark = bool(values["cudnn_benchmark"])

    def set_backends(self, precision: str) -> dict[str, Any]:
        """TF32 only when asked for (fp32 means fp32) and cuDNN's autotuner as set; both
        recorded."""
        import torch

        allow = precision == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = allow
        torch.backends.cudnn.allow_tf32 = allow
        torch.backends.cudnn.benchmark = self.cudnn_benchmark
        return {"allow_tf32": allow, "cudnn_benchmark": self.cudnn_benchmark,
                "device_timer": "cuda_events (secondary; latency is the host clock)"}

    def probe(self) -> Probe:
        """Says exactly why not: no torch, a CPU-only torch, no such device; NVML is
        optional."""
        base = super().probe()
        if not base.available:
            return base
        import torch

        if torch.version.cuda is None:
            return Probe(False, f"torch {torch.__version__} is a CPU-only build (no CUDA)")
        if not torch.cuda.is_available() or torch.cuda.device_count() == 0:
            return Probe(False, f"no CUDA device visible to torch {torch.__version__} "
                         f"(CUDA {torch.version.cuda})")
        count = torch.cuda.device_count()
        if self.cuda_index >= count:
            return Probe(False, f"no CUDA device {self.cuda_index}: torch sees {count} "
                         f"(0–{count - 1})")
        versions = {"torch": torch.__version__, "cuda": str(torch.version.cuda),
                    **self.driver_versions()}
        name = torch.cuda.get_device_name(self.cuda_index)
        precisions, unsupported = ampere_gate(
            ("fp32", "tf32", "fp16", "bf16"),
            torch.cuda.get_device_capability(self.cuda_index), name)
        unsupported["int8"] = "torch has no int8 inference path for these cases"
        return Probe(True, devices=(name,), versions=versions, precisions=precisions,
                     unsupported=unsupported)
