"""Tenstorrent Grayskull/Wormhole cards through TT-Buda (``pybuda``), against its real API.

A stub here: pybuda is not installed, so ``probe`` says so and the runs are stored as skipped.
Calls as in tenstorrent/tt-buda: ``pybuda/pybuda/run/api.py`` (``detect_available_devices``,
``initialize_pipeline``, ``run_forward``, ``error_raised``, ``shutdown``), ``ttdevice.py`` and
``device.py`` (``TTDevice``, ``push_to_inputs``), ``module.py`` (``PyTorchModule``), ``config.py``
(``set_configuration_options(default_df_override=...)``), ``pybudaglobal.py`` (``pybuda_reset``);
the compile-then-``run_forward`` flow is the one ``docs/public/user_guide.rst`` describes.
TT-Buda is deprecated upstream in favour of TT-Forge: see docs/ttbuda.md.
"""

from __future__ import annotations

import queue
import re
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flagbench.api.contracts import ActualRun, Probe, Workload

if TYPE_CHECKING:
    import numpy as np
    import torch

#: flagbench precision -> pybuda ``DataFormat`` member; Float16_b is Tensix's bf16 (FP16-B).
_FORMATS = {"fp32": "Float32", "bf16": "Float16_b"}
_UNSUPPORTED = {
    "fp16": "not offered: TT-Buda models are tuned for bf16 (Float16_b); Float16 is untested here",
    "tf32": "pybuda's DataFormat has no TF32; Tensix matmul precision is set by MathFidelity",
    "int8": "DataFormat.Int8 needs a quantized graph; flagbench cases are float32 models",
}
_NOT_INSTALLED = ("pybuda is not installed (TT-Buda is deprecated upstream in favour of "
                  "TT-Forge; it needs a Tenstorrent card and the tt-buda wheel)")
# How often a blocked output read checks pybuda.error_raised(), so a device error ends the run.
_POLL_S = 0.1


def _name(value: Any) -> str:
    """pybuda's enums (BackendDevice, DataFormat) are pybind11 enums that carry ``.name``."""
    return str(getattr(value, "name", value))


def _version(pybuda: Any) -> str:
    """The wheel's version: pybuda's ``__init__`` defines no ``__version__``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pybuda")
    except PackageNotFoundError:
        return str(getattr(pybuda, "__version__", "unknown"))


class _Pending:
    """One batch's outputs, filled in by ``synchronize`` once they reach the host."""

    def __init__(self) -> None:
        self.tensors: list[Any] | None = None


class TTBudaSession:
    """A module compiled onto one TTDevice; results arrive on pybuda's output queue."""

    def __init__(self, pybuda: Any, device: Any, output_q: Any, actual: ActualRun) -> None:
        self._pybuda = pybuda
        self._device = device
        self._output_q = output_q
        self._pending: deque[_Pending] = deque()
        self.actual = actual

    def load(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """pybuda takes host torch tensors; its format conversion and tilizing are part of a run."""
        return tuple(t.contiguous() for t in inputs)

    def run(self, loaded: tuple[torch.Tensor, ...]) -> _Pending:
        """Queue one batch; concurrent ``run_forward`` returns before the device has finished."""
        self._device.push_to_inputs(loaded)
        self._pybuda.run_forward(input_count=1)
        pending = _Pending()
        self._pending.append(pending)
        return pending

    def synchronize(self) -> None:
        """A batch is complete when its outputs are on the host queue: wait for each in order."""
        while self._pending:
            self._pending.popleft().tensors = self._next_output()

    def _next_output(self) -> list[Any]:
        while True:
            try:
                return list(self._output_q.get(timeout=_POLL_S))
            except queue.Empty:
                if self._pybuda.error_raised():
                    raise RuntimeError("pybuda stopped on a device error; see its log") from None

    def to_numpy(self, outputs: _Pending) -> list[np.ndarray]:
        """Float32 host copies; each queue entry is a pybuda Tensor whose ``value()`` is torch."""
        import torch

        if outputs.tensors is None:
            self.synchronize()
        return [t.value().detach().to(torch.float32).numpy() for t in outputs.tensors or ()]

    def close(self) -> None:
        """Stop pybuda's device processes, then clear its global devices and compiler config."""
        self._pybuda.shutdown()
        self._pybuda.pybuda_reset()


class TTBudaVendor:
    """A case's torch model as a PyTorchModule on a TTDevice, compiled during ``prepare``."""

    name = "ttbuda"
    description = "Tenstorrent Grayskull/Wormhole through TT-Buda (pybuda); deprecated upstream"

    def probe(self) -> Probe:
        """Unavailable without pybuda or without a card; otherwise the chips pybuda detects."""
        try:
            import pybuda
        except ImportError:
            return Probe(False, _NOT_INSTALLED)
        except Exception as exc:  # its import sets up BUDA_HOME and friends, and can fail
            return Probe(False, f"pybuda cannot be imported: {type(exc).__name__}: {exc}")
        try:
            chips = list(pybuda.detect_available_devices())
        except Exception as exc:  # probe never raises
            return Probe(False, f"pybuda could not look for devices: {exc}")
        if not chips:
            return Probe(False, "pybuda found no Tenstorrent device (detect_available_devices)")
        return Probe(
            True,
            devices=tuple(f"{_name(chip).lower()}:{i}" for i, chip in enumerate(chips)),
            versions={"pybuda": _version(pybuda)},
            precisions=tuple(_FORMATS),
            unsupported=_UNSUPPORTED,
        )

    def prepare(self, workload: Workload) -> TTBudaSession:
        """Compile now, from sample inputs, so compile time is set-up and not the first run."""
        import pybuda

        spec = workload.spec
        data_format = getattr(pybuda.DataFormat, _FORMATS[spec.precision])
        pybuda.pybuda_reset()  # devices and compiler options are global: drop any earlier run's
        pybuda.config.set_configuration_options(default_df_override=data_format)
        name = re.sub(r"\W", "_", f"flagbench_{workload.case.name}")  # cf. "pt_resnet50"
        module = pybuda.PyTorchModule(name, workload.model.eval())
        # fp32_fallback as pybuda/test/falcon/pybudify.py sets it: no silent fp32 -> bf16.
        device = pybuda.TTDevice("tt0", module=module, fp32_fallback=data_format)
        # run_inference would compile on its first call, inside the timed warm-up instead.
        sample = workload.case.make_inputs(spec.batch_size, spec.seed)
        output_q = pybuda.initialize_pipeline(training=False, sample_inputs=sample)
        arch = _name(device.arch)  # set from the detected chip while compiling
        actual = ActualRun(
            device=f"{arch.lower()}:0",  # TTDevice takes chip 0 unless given chip_ids
            precision=spec.precision,
            details={
                "pybuda": _version(pybuda),
                "arch": arch,
                "data_format": _name(data_format),
                "math_fidelity": "pybuda default (HiFi3)",
                "mode": "initialize_pipeline, then push_to_inputs + run_forward, concurrent",
            },
        )
        return TTBudaSession(pybuda, device, output_q, actual)
