"""The plugin contracts: what a vendor adapter and a case must provide.

This module is the specification a plugin author reads. A plugin is found through the
entry-point groups ``flagbench.vendors`` and ``flagbench.cases``; each entry point names a
zero-argument callable (usually the class) that returns an object of the shape below.
Nothing here imports torch, so listing plugins stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import torch

    from flagbench.api.spec import RunSpec


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
    # Optional, for generation cases (both or neither): ``first_to_numpy(outputs) ->
    # np.ndarray`` returns the first output of ``run`` (logits) as a float32 host array, and
    # ``carry(outputs, fresh) -> loaded`` the next step's loaded inputs made of the host
    # tensors ``fresh`` followed by ``outputs[1:]`` left where they are (the KV cache stays on
    # the device). Without them flagbench uses ``to_numpy`` then ``load``.


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
    # Optional: ``peak(precision: str) -> Peak | None``, the device's peak FLOP/s and memory
    # bandwidth at that precision with where the numbers come from; runs then store % of peak
    # (MFU). None, or no method, where the vendor cannot justify a number.
    # Optional: ``endpoint(spec) -> object`` makes the vendor a serving engine over HTTP; the
    # object has ``async describe(client) -> dict`` (what the server says it runs: raises
    # FlagbenchError when it cannot be used) and ``async stream(client, request: ServingRequest,
    # scheduled_s) -> measure.stream.StreamRecord`` (one streamed request, timed per chunk).
    # Its ``prepare`` is never called: such a vendor runs serving cases only.
    # Optional: ``options: Mapping[str, Option]`` declares settings (a device index, a compile
    # mode …) and ``with_options(values: Mapping[str, OptionValue]) -> Vendor`` returns the
    # vendor configured with every declared option's value, before its probe; a run whose
    # options differ from the defaults is its own report column ("cuda[mode=inductor]").


@dataclass(frozen=True)
class Peak:
    """A device's peak arithmetic rate and memory bandwidth, and where they come from.

    Only what the vendor can justify: a figure it cannot derive is None, and ``source`` says
    how the others were obtained (device properties and the table used, or an estimate).
    """

    flops_per_s: float | None
    bytes_per_s: float | None
    source: str
    confidence: str = "theoretical"
    """``theoretical`` (from the device's properties) or ``estimate`` (assumptions made)."""

    def __post_init__(self) -> None:
        if not self.source:
            raise ValueError("a peak must say where it comes from")
        if self.confidence not in ("theoretical", "estimate"):
            raise ValueError(f"unknown peak confidence {self.confidence!r}")
        for value in (self.flops_per_s, self.bytes_per_s):
            if value is not None and not value > 0:
                raise ValueError("a peak is above zero")


OptionValue = int | float | str | bool


@dataclass(frozen=True)
class Option:
    """One setting a case or a vendor accepts (``--case-option KEY=VALUE``, ``--vendor-option
    KEY=VALUE``): its type, default and range.

    Declared by the plugin so the plan can refuse a bad value before anything runs, and so
    every stored run records the full set of values it ran with, defaults included.
    """

    default: OptionValue
    help: str
    choices: tuple[OptionValue, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, key: str, raw: str | OptionValue, what: str = "case option") -> OptionValue:
        """The value of ``raw`` in the default's type, checked; FlagbenchError if it is bad.

        ``what`` names the kind of option in the error ("case option", "vendor option")."""
        from flagbench.api.errors import FlagbenchError

        kind = type(self.default)
        try:
            if kind is bool:
                text = str(raw).strip().lower()
                if text not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(raw)
                value: OptionValue = text in ("true", "1", "yes")
            elif isinstance(raw, bool) or (
                    not isinstance(raw, str) and kind is int and not isinstance(raw, int)):
                raise ValueError(raw)  # a TOML true or 1.5 is not an integer option
            else:
                value = kind(raw)
        except (TypeError, ValueError):
            raise FlagbenchError(
                f"{what} {key}={raw!r}: expected {kind.__name__}") from None
        from flagbench.api.limits import check_option_value

        check_option_value(value, f"{what} {key}")
        if self.choices and value not in self.choices:
            raise FlagbenchError(f"{what} {key}={value!r}: choose from "
                                 f"{', '.join(str(c) for c in self.choices)}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if self.minimum is not None and value < self.minimum:
                raise FlagbenchError(f"{what} {key}={value!r}: must be ≥ {self.minimum:g}")
            if self.maximum is not None and value > self.maximum:
                raise FlagbenchError(f"{what} {key}={value!r}: must be ≤ {self.maximum:g}")
        return value


CaseOption = Option
"""The name cases have always used for ``Option``."""


@dataclass(frozen=True)
class OnnxExport:
    """How a case exports to ONNX: tensor names and opset. Shapes are static per batch size."""

    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    opset: int = 18


@dataclass(frozen=True)
class ServingRequest:
    """One request of a serving workload: a prompt and the output length to ask for."""

    prompt: str
    max_tokens: int
    input_tokens: int
    """The prompt length the workload asked for, in tokens (a synthetic prompt of that many
    words, or a prompt from the user's file, whose length the server's usage reports)."""

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError("a request asks for at least one token")


Batch = tuple[tuple["torch.Tensor", ...], "torch.Tensor"]


@dataclass(frozen=True)
class LabelledData:
    """A labelled evaluation set, for task accuracy (top-1, top-5) on every vendor.

    ``batches(batch_size)`` yields ``(inputs, labels)``: inputs shaped and typed as
    ``make_inputs`` makes them, labels a CPU int64 tensor of class indices into the model's
    last output axis; the last batch may be short. ``name`` and ``source`` are recorded with
    every run, so a figure always names the data it came from.
    """

    name: str
    source: str
    samples: int
    batches: Callable[[int], Iterable[Batch]]
    top_k: tuple[int, ...] = (1,)
    """Which top-k accuracies mean something here: (1,) for 10 classes, (1, 5) for ImageNet."""
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError("an evaluation set needs at least one sample")
        if not self.top_k or min(self.top_k) < 1:
            raise ValueError("top-k values are 1 or more")


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
    # Optional: ``evaluation(data: str | None) -> LabelledData | None``, the labelled set for
    # task accuracy; ``data`` is the user's ``--data`` directory (None without it). None when
    # there is nothing to evaluate (no data given, or the case has none of its own).
    # Optional: ``check_data(path: str) -> None`` checks a ``--data`` directory before any run
    # (FlagbenchError with one line); a case without it accepts no ``--data``.
    # Optional: ``weights_note: str`` says where the weights come from without ``--weights``
    # (default "random, seeded"), for the run's record.
    # Optional: ``bytes_moved(precision: str) -> float | None``, bytes read plus written per
    # sample at that precision, for memory-bound cases: runs then store achieved B/s.
    # Optional: ``serving_request(index: int, seed: int) -> ServingRequest`` makes the case a
    # serving workload: it runs against a vendor with ``endpoint`` (an engine over HTTP), not
    # a torch model, request ``index`` the same for the same seed on every engine.
    # Optional: ``peak_probe: str``, ``"flops"`` or ``"bytes"``: the case measures how fast
    # the device can compute or move data (a micro case); its best run on a host × vendor ×
    # precision is flagbench's measured peak there.


VENDOR_MEMBERS: tuple[str, ...] = ("name", "description", "probe", "prepare")
CASE_MEMBERS: tuple[str, ...] = ("name", "description", "task", "build_model", "make_inputs")
