"""The plugin contracts: what a vendor adapter and a case must provide.

This module is the specification a plugin author reads. A plugin is found through the
entry-point groups ``flagbench.vendors`` and ``flagbench.cases``; each entry point names a
zero-argument callable (usually the class) that returns an object of the shape below.
Nothing here imports torch, so listing plugins stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import torch

    from flagbench.spec import RunSpec


@dataclass(frozen=True)
class Probe:
    """Whether a vendor can run on this host, and why not if it cannot."""

    available: bool
    reason: str = ""
    devices: tuple[str, ...] = ()
    versions: Mapping[str, str] = field(default_factory=dict)
    precisions: tuple[str, ...] = ()
    """Precisions the vendor can run here."""
    unsupported: Mapping[str, str] = field(default_factory=dict)
    """Why a known precision cannot run here, keyed by precision."""

    def __post_init__(self) -> None:
        if not self.available and not self.reason:
            raise ValueError("an unavailable probe must say why")


@dataclass(frozen=True)
class ActualRun:
    """What really ran, as the vendor observed it: the fairness record of a run."""

    device: str
    precision: str
    threads: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Workload:
    """Everything a vendor needs to prepare a session for one run."""

    case: Case
    spec: RunSpec
    model: torch.nn.Module
    """The case's model in float32 on the CPU, weights loaded; the vendor may move or convert it."""


@runtime_checkable
class Session(Protocol):
    """A prepared model on a device, ready to run batches."""

    actual: ActualRun

    def load(self, inputs: Sequence[torch.Tensor]) -> Any:
        """Move the case's CPU inputs to what ``run`` takes, outside the timed loop.

        Floating-point inputs follow the run's precision; integer inputs (token ids, masks,
        positions) keep their dtype, since converting them would change what they mean."""

    def run(self, loaded: Any) -> Any:
        """Run one batch; may return before the device finishes (``synchronize`` waits)."""

    def synchronize(self) -> None:
        """Block until all work submitted by ``run`` is complete."""

    def to_numpy(self, outputs: Any) -> list[np.ndarray]:
        """Copy outputs of ``run`` to the host as float32 arrays, for the fidelity check."""

    def close(self) -> None:
        """Release device resources."""

    # Optional: ``time_one(loaded) -> float`` times one batch with the device's own timer
    # (CUDA events) in seconds, run and synchronise included; used instead of the host clock.
    # Optional: ``peak_memory_bytes() -> int | None``, peak device memory since prepare.
    # Optional, for generation cases: ``chain(outputs, fresh) -> (first, loaded)`` returns the
    # first output of ``run`` (logits) as a float32 host array and the loaded inputs made of
    # the host tensors ``fresh`` followed by ``outputs[1:]`` left where they are (the KV cache
    # stays on the device). Without it flagbench uses ``to_numpy`` then ``load``.


@runtime_checkable
class Vendor(Protocol):
    """A way of running cases on some hardware through some software stack."""

    name: str
    description: str

    def probe(self) -> Probe:
        """Say whether this vendor can run here and what it has; never raises."""

    def prepare(self, workload: Workload) -> Session:
        """Build a session for the workload (compile, export, move); timed as set-up."""

    # Optional: ``meters(workload) -> list[flagbench.energy.EnergyMeter]``, best first; the
    # first that reads becomes the run's energy figure. Without meters energy is unavailable.


OptionValue = int | float | str | bool


@dataclass(frozen=True)
class CaseOption:
    """One setting a case accepts (``--case-option KEY=VALUE``): its type, default and range.

    Declared by the case so the plan can refuse a bad value before anything runs, and so
    every stored run records the full set of values it ran with, defaults included.
    """

    default: OptionValue
    help: str
    choices: tuple[OptionValue, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, key: str, raw: str | OptionValue) -> OptionValue:
        """The value of ``raw`` in the default's type, checked; FlagbenchError if it is bad."""
        from flagbench.errors import FlagbenchError

        kind = type(self.default)
        try:
            if kind is bool:
                text = str(raw).strip().lower()
                if text not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(raw)
                value: OptionValue = text in ("true", "1", "yes")
            elif isinstance(raw, bool):
                raise ValueError(raw)
            else:
                value = kind(raw)
        except (TypeError, ValueError):
            raise FlagbenchError(
                f"case option {key}={raw!r}: expected {kind.__name__}") from None
        if self.choices and value not in self.choices:
            raise FlagbenchError(f"case option {key}={value!r}: choose from "
                                 f"{', '.join(str(c) for c in self.choices)}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if self.minimum is not None and value < self.minimum:
                raise FlagbenchError(f"case option {key}={value!r}: must be ≥ {self.minimum:g}")
            if self.maximum is not None and value > self.maximum:
                raise FlagbenchError(f"case option {key}={value!r}: must be ≤ {self.maximum:g}")
        return value


@dataclass(frozen=True)
class OnnxExport:
    """How a case exports to ONNX: tensor names and opset. Shapes are static per batch size."""

    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    opset: int = 18


@dataclass(frozen=True)
class Generation:
    """An autoregressive case split into the two graphs a serving stack runs per request.

    ``prefill`` takes the case's inputs (prompt token ids, int64 [B, P]) and returns
    ``(logits [B, V], *state)``: the logits of the last prompt position and the decoding
    state (a KV cache). ``step`` takes ``(token [B, 1] int64, position [1] int64, *state)``
    and returns ``(logits [B, V], *state)``. Both are Cases in their own right (names,
    ``make_inputs`` with realistic values, ``onnx_export``), whose ``build_model`` returns a
    module sharing the parent model's weights, so a vendor prepares each with its ordinary
    ``prepare``. Static state shapes (a cache preallocated for prompt + new tokens) keep both
    graphs static for compilers and exporters.
    """

    prefill: Case
    step: Case
    new_tokens: int
    """Tokens generated per request: the first from prefill, the rest one per step."""

    def __post_init__(self) -> None:
        if self.new_tokens < 1:
            raise ValueError("a generation makes at least one token")


@runtime_checkable
class Case(Protocol):
    """A standard workload: a torch model and deterministic inputs."""

    name: str
    description: str
    task: str
    """``"classification"`` makes the fidelity check report top-1 agreement on the last axis."""

    def build_model(self) -> torch.nn.Module:
        """Build the model in float32 on the CPU with deterministic random weights."""

    def make_inputs(self, batch_size: int, seed: int) -> tuple[torch.Tensor, ...]:
        """Make the same CPU inputs for the same batch size and seed, every time: float32
        tensors for activations, int64 for token ids, masks and positions."""

    # Optional: ``onnx_export: OnnxExport`` names the tensors of an ONNX export; vendors that
    # export use generic names (input_0, output_0, ...) without it.
    # Optional: ``generation(model) -> Generation`` makes the case autoregressive: each timed
    # iteration is then one whole greedy generation (prefill, then a step per further token),
    # run by flagbench.generation over two vendor sessions, with TTFT, TPOT and tokens/s as
    # case metrics and fidelity checked token by token.
    # Optional: ``options: Mapping[str, CaseOption]`` declares settings (sequence length,
    # matrix size …) and ``with_options(values: Mapping[str, OptionValue]) -> Case`` returns
    # the case configured with every declared option's value; the runner calls it before
    # anything else, so vendors only ever see a configured case.


VENDOR_MEMBERS: tuple[str, ...] = ("name", "description", "probe", "prepare")
CASE_MEMBERS: tuple[str, ...] = ("name", "description", "task", "build_model", "make_inputs")
