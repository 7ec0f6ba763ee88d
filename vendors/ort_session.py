"""An ONNX Runtime session as flagbench runs it: inputs bound where the provider computes.

With a bind device (``cuda`` for the NVIDIA providers, ``cpu`` for the CPU provider) inputs are
OrtValues on that device and outputs are left there by an IO binding, so the timed loop moves
no data through the host. A generation's state follows the same rule: ``carry`` binds the
previous run's outputs (the KV cache) as the next run's inputs where they are, and
``first_to_numpy`` copies only the logits to the host.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flagbench.api.contracts import ActualRun

if TYPE_CHECKING:
    import numpy as np
    import torch


@dataclass(frozen=True)
class Bound:
    """An IO binding and the OrtValues bound as its inputs, held so their memory outlives
    the binding (a CPU OrtValue borrows its numpy array's buffer)."""

    binding: Any
    inputs: dict[str, Any]


class OrtSession:
    """An ``InferenceSession`` plus, where ``bind_device`` is set, IO bindings on that device."""

    def __init__(self, session: Any, input_names: Sequence[str], input_dtype: Any,
                 bind_device: str | None, actual: ActualRun, device_id: int = 0) -> None:
        self._session = session
        self._names = list(input_names)
        self._dtype = input_dtype
        self._device = bind_device
        self._device_id = device_id
        self._outputs = [o.name for o in session.get_outputs()]
        self.actual = actual

    def _feeds(self, inputs: Sequence[torch.Tensor]) -> dict[str, np.ndarray]:
        """Host arrays for the first ``len(inputs)`` inputs; only floating-point ones take the
        model's float type, integer ones (token ids, positions) keep theirs. Contiguous,
        since a CPU OrtValue borrows the array's buffer as it is laid out."""
        import numpy as np

        return {n: np.ascontiguousarray(t.numpy().astype(self._dtype, copy=False)
                                        if t.is_floating_point() else t.numpy())
                for n, t in zip(self._names, inputs, strict=False)}

    def _on_device(self, feeds: dict[str, np.ndarray]) -> dict[str, Any]:
        import onnxruntime as ort

        return {name: ort.OrtValue.ortvalue_from_numpy(array, self._device, self._device_id)
                for name, array in feeds.items()}

    def _bind(self, inputs: dict[str, Any]) -> Bound:
        """A fresh binding: each one gets its own output buffers, since a binding that has run
        writes later runs into the same buffers, which must not be the inputs (the cache)."""
        binding = self._session.io_binding()
        for name, value in inputs.items():
            binding.bind_ortvalue_input(name, value)
        for name in self._outputs:
            binding.bind_output(name, self._device, self._device_id)
        return Bound(binding, inputs)

    def load(self, inputs: Sequence[torch.Tensor]) -> Any:
        """Numpy feeds on the host, or the inputs bound on the device, outside the timed loop."""
        if len(inputs) != len(self._names):
            raise ValueError(f"the model takes {len(self._names)} inputs, got {len(inputs)}")
        feeds = self._feeds(inputs)
        return feeds if self._device is None else self._bind(self._on_device(feeds))

    def run(self, loaded: Any) -> Any:
        """One inference; ``Run`` returns when the provider has finished."""
        if self._device is None:
            return self._session.run(self._outputs, loaded)
        self._session.run_with_iobinding(loaded.binding)
        return loaded

    def synchronize(self) -> None:
        """Nothing to wait for: ONNX Runtime's Run blocks until its outputs are ready."""

    def to_numpy(self, outputs: Any) -> list[np.ndarray]:
        """Float32 host copies of the outputs."""
        import numpy as np

        arrays = outputs if self._device is None else outputs.binding.copy_outputs_to_cpu()
        return [np.asarray(a, dtype=np.float32) for a in arrays]

    def first_to_numpy(self, outputs: Any) -> np.ndarray:
        """The first output (a generation's logits) on the host as float32; the rest stay."""
        import numpy as np

        first = outputs[0] if self._device is None else outputs.binding.get_outputs()[0].numpy()
        array: np.ndarray = np.asarray(first, dtype=np.float32)
        return array

    def carry(self, outputs: Any, fresh: Sequence[torch.Tensor]) -> Any:
        """The next run's inputs: ``fresh`` (host tensors) loaded, then ``outputs[1:]`` bound
        as they are, on the device (a prefill's outputs feed the step session the same way)."""
        state = outputs[1:] if self._device is None else outputs.binding.get_outputs()[1:]
        named = dict(zip(self._names[len(fresh):], state, strict=True))
        feeds = self._feeds(fresh)
        if self._device is None:
            return {**feeds, **named}
        return self._bind({**self._on_device(feeds), **named})

    def close(self) -> None:
        """Release the session."""
        del self._session
