"""PyTorch eager mode on a torch device, under ``inference_mode``.

One adapter parameterised by device, so the path a GPU would take is the path tested on
the CPU. Only the CPU vendor is registered so far.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flagbench.contracts import ActualRun, Probe, Workload

if TYPE_CHECKING:
    import numpy as np
    import torch

_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


class TorchSession:
    """A torch module on one device at one dtype."""

    def __init__(self, model: torch.nn.Module, device: str, dtype: torch.dtype,
                 actual: ActualRun) -> None:
        self._model = model
        self._device = device
        self._dtype = dtype
        self.actual = actual

    def load(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Move inputs to the device and dtype once, outside the timed loop."""
        return tuple(t.to(self._device, self._dtype) for t in inputs)

    def run(self, loaded: tuple[torch.Tensor, ...]) -> Any:
        """Run one batch without autograd bookkeeping."""
        import torch

        with torch.inference_mode():
            return self._model(*loaded)

    def synchronize(self) -> None:
        """Eager CPU ops are synchronous; accelerator devices wait for their queue."""
        if self._device != "cpu":
            import torch

            torch.accelerator.synchronize()

    def to_numpy(self, outputs: Any) -> list[np.ndarray]:
        """Float32 host copies of the output tensor(s)."""
        import torch

        items = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
        return [t.detach().to("cpu", torch.float32).numpy() for t in items]

    def close(self) -> None:
        """Drop the model so its memory can be freed."""
        del self._model


class TorchEagerVendor:
    """Shared adapter; subclasses fix the device."""

    name = "torch"
    description = "PyTorch eager"
    device = "cpu"

    def probe(self) -> Probe:
        """Available when torch imports; precisions by what the CPU supports natively."""
        try:
            import torch
        except Exception as exc:  # probe never raises
            return Probe(False, f"torch cannot be imported: {exc}")
        precisions = ["fp32"]
        unsupported = {}
        if torch.ops.mkldnn._is_mkldnn_bf16_supported():
            precisions.append("bf16")
        else:
            unsupported["bf16"] = (
                "this CPU has no native bf16 (AVX512-BF16 or AMX); emulated bf16 would mislead"
            )
        return Probe(
            True,
            devices=(self.device,),
            versions={"torch": torch.__version__},
            precisions=tuple(precisions),
            unsupported=unsupported,
        )

    def prepare(self, workload: Workload) -> TorchSession:
        """Convert the model to the requested dtype on the device."""
        import torch

        dtype = getattr(torch, _DTYPES[workload.spec.precision])
        model = workload.model.to(self.device, dtype).eval()
        actual = ActualRun(
            device=self.device,
            precision=workload.spec.precision,
            threads=torch.get_num_threads(),
            details={
                "torch": torch.__version__,
                "interop_threads": torch.get_num_interop_threads(),
                "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                "mkldnn": bool(torch.backends.mkldnn.is_available()),  # type: ignore[no-untyped-call]
                "mode": "eager, inference_mode",
            },
        )
        return TorchSession(model, self.device, dtype, actual)


class CpuVendor(TorchEagerVendor):
    """PyTorch eager on the host CPU."""

    name = "cpu"
    description = "PyTorch eager on the CPU (fp32; bf16 where the CPU has it natively)"
    device = "cpu"
