"""TorchScript trace + freeze + optimize_for_inference on the CPU, in float32.

Torch is imported inside methods only, so ``flagbench list`` stays fast with this installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flagbench.api.contracts import ActualRun, Probe, Workload
from flagbench.api.spec import PRECISIONS
from flagbench.vendors.host_cpu import HostCpuMeasures

if TYPE_CHECKING:
    import numpy as np
    import torch

_MODE = "torchscript trace + freeze + optimize_for_inference"


class TorchScriptSession:
    """A frozen TorchScript module on the host CPU."""

    def __init__(self, module: torch.jit.ScriptModule, actual: ActualRun) -> None:
        self._module = module
        self.actual = actual

    def load(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Inputs are already the case's CPU tensors, which is what the module was traced with."""
        return tuple(inputs)

    def run(self, loaded: tuple[torch.Tensor, ...]) -> Any:
        """Run one batch without autograd bookkeeping."""
        import torch

        with torch.inference_mode():
            return self._module(*loaded)

    def synchronize(self) -> None:
        """CPU TorchScript returns only when the work is done: nothing to wait for."""

    def to_numpy(self, outputs: Any) -> list[np.ndarray]:
        """Float32 host copies of the output tensor(s)."""
        import torch

        items = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
        return [t.detach().to("cpu", torch.float32).numpy() for t in items]

    def close(self) -> None:
        """Drop the module so its memory can be freed."""
        del self._module


# mypy sees flagbench.vendors (installed from vendors/) as untyped from here: hence the ignore.
class TorchScriptVendor(HostCpuMeasures):  # type: ignore[misc]
    """Traces the case's model once at set-up, so the timed loop runs a frozen graph.

    ``HostCpuMeasures`` gives it what every CPU vendor measures the same way: RAPL energy
    (else an estimate from ``--cpu-tdp``) and the CPU's float32 peak, so its runs store
    energy and MFU beside the built-in ``cpu`` vendor's."""

    name = "torchscript"
    description = "TorchScript trace + freeze on the CPU (fp32)"

    def probe(self) -> Probe:
        """Available when torch imports; fp32 only, because tracing keeps the model's dtype."""
        try:
            import torch
        except Exception as exc:  # probe never raises
            return Probe(False, f"torch cannot be imported: {exc}")
        why = "this example traces the float32 model as is; it converts no dtypes"
        return Probe(
            True,
            devices=("cpu",),
            versions={"torch": torch.__version__},
            precisions=("fp32",),
            unsupported={p: why for p in PRECISIONS if p != "fp32"},
        )

    def prepare(self, workload: Workload) -> TorchScriptSession:
        """Trace on the run's own inputs, then freeze weights into the graph as constants."""
        import torch

        example = workload.case.make_inputs(workload.spec.batch_size, workload.spec.seed)
        with torch.no_grad():
            # check_trace would run the model again; the fidelity check compares outputs anyway.
            traced = torch.jit.trace(  # type: ignore[no-untyped-call]
                workload.model.eval(), example, check_trace=False)
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
        actual = ActualRun(
            device="cpu",
            precision="fp32",
            threads=torch.get_num_threads(),
            details={"torch": torch.__version__, "mode": _MODE},
        )
        return TorchScriptSession(frozen, actual)
