"""What to run: immutable, self-validating run specifications."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from flagbench.api.errors import FlagbenchError
from flagbench.api.limits import (
    INT32_MAX,
    MAX_QPS,
    MAX_ROUNDS,
    check_count,
    check_finite,
    check_option_value,
    check_seconds,
    check_text,
)

#: Precisions flagbench knows by name; a vendor says which of them it can run.
PRECISIONS: tuple[str, ...] = ("fp32", "tf32", "fp16", "bf16", "int8")

#: Scenarios in MLPerf's terms: ``latency`` (single stream, one batch after another, headline
#: p50/p90/p99), ``throughput`` (offline: batches in flight, one synchronise per group,
#: headline samples/s; sweep it with --batch-size) and ``server`` (Poisson arrivals at a
#: target rate, latency from arrival).
SCENARIOS: tuple[str, ...] = ("latency", "throughput", "server")

#: What a serving SLO may bound (``--slo``): time to first token, time per output token, and
#: end-to-end latency, each from the request's scheduled arrival (TPOT has no queueing in it).
SLO_NAMES: tuple[str, ...] = ("ttft", "tpot", "e2e")
#: Requests a closed loop keeps in flight, at most: far above what one client host drives.
MAX_CONCURRENCY = 4096


@dataclass(frozen=True)
class MeasureConfig:
    """How long to warm up and measure, and when to stop."""

    # One second of warm-up lets allocators, caches and lazy init settle; at least
    # two iterations because the first is routinely several times slower.
    warmup_s: float = 1.0
    min_warmup_iters: int = 2
    # Ten iterations is the least that gives a meaningful p90; two seconds spans
    # several scheduler and frequency-governor periods.
    min_iters: int = 10
    min_time_s: float = 2.0
    # Fifteen seconds keeps a whole ResNet-50 CPU run (a fresh process, set-up, reference
    # and fidelity included) under half a minute here even when the CI target is never met;
    # twenty gave 30-33 s.
    max_time_s: float = 15.0
    # Stop once the 95% confidence interval of the median is within ±1% of it.
    target_ci: float = 0.01
    # Bounds memory for microsecond-scale cases.
    max_iters: int = 1_000_000
    # The CPU's TDP in watts, given by the user: lets CPU vendors estimate energy (labelled
    # as an estimate) where no RAPL counter can be read.
    cpu_tdp_w: float | None = None

    def __post_init__(self) -> None:
        check_seconds(self.warmup_s, "warm-up")
        check_seconds(self.min_time_s, "min-time")
        check_seconds(self.max_time_s, "max-time", positive=True)
        if self.min_time_s > self.max_time_s:
            raise FlagbenchError(
                f"min-time ({self.min_time_s:g} s) is above max-time ({self.max_time_s:g} s)"
            )
        if self.min_iters < 1 or self.min_warmup_iters < 0:
            raise FlagbenchError("iteration counts must be positive")
        if self.max_iters < self.min_iters:
            raise FlagbenchError(f"min-iters must be at most {self.max_iters}, "
                                 f"got {self.min_iters}")
        if self.cpu_tdp_w is not None and check_finite(self.cpu_tdp_w, "CPU TDP") <= 0:
            raise FlagbenchError(f"CPU TDP must be above 0 W, got {self.cpu_tdp_w:g}")
        if not 0 <= check_finite(self.target_ci, "target CI") < 1:
            raise FlagbenchError(f"target CI must be in [0, 1), got {self.target_ci:g}")


@dataclass(frozen=True)
class RunSpec:
    """One cell of the matrix: a vendor running a case at one batch size and precision."""

    vendor: str
    case: str
    batch_size: int = 1
    precision: str = "fp32"
    scenario: str = "latency"
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    weights: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    seed: int = 0
    round: int = 1
    """Which round of the matrix this run belongs to (``--rounds``), counted from 1."""
    matrix_id: str = ""
    """The ``flagbench run`` that planned this run: its rounds share it, so a report can pool
    them ("" for runs planned by hand)."""
    target_qps: float | None = None
    """Arrival rate of the server scenario (requests per second)."""
    p99_bound_s: float | None = None
    """Latency bound the server scenario's p99 is checked against, when given."""
    find_max_qps: bool = False
    """Server scenario: search the highest rate, from ``target_qps`` up, that meets the bound."""
    options: tuple[tuple[str, int | float | str | bool], ...] = ()
    """The case's options, every declared one with its value (defaults included), sorted."""
    data: str | None = None
    """The user's evaluation data directory (``--data``) for the case's task accuracy."""
    concurrency: int | None = None
    """Serving cases, throughput scenario: requests kept in flight (a closed loop)."""
    slo: tuple[tuple[str, float], ...] = ()
    """Serving cases: bounds a request must meet to count toward goodput, as (name, seconds)
    with names ``ttft``, ``tpot`` and ``e2e`` (``--slo ttft_ms=200,tpot_ms=50``)."""
    vendor_options: tuple[tuple[str, int | float | str | bool], ...] = ()
    """The vendor's options that differ from its defaults, sorted: part of the cell, so
    ``cuda`` and ``cuda[mode=inductor]`` are compared side by side, never pooled. The full
    set a run used, defaults included, is stored in its environment."""

    def __post_init__(self) -> None:
        if not self.vendor or not self.case:
            raise FlagbenchError("a run needs a vendor and a case")
        check_count(self.round, "round", MAX_ROUNDS)
        for value in (self.target_qps, self.p99_bound_s):
            if value is not None:
                check_finite(value, "a server rate or bound")
        if self.target_qps is not None and self.target_qps > MAX_QPS:
            raise FlagbenchError(f"--target-qps must be at most {MAX_QPS:g} requests/s, "
                                 f"got {self.target_qps:g}")
        if self.scenario == "server" and not (self.target_qps and self.target_qps > 0):
            raise FlagbenchError("the server scenario needs --target-qps above 0")
        if self.find_max_qps and (self.scenario != "server" or self.p99_bound_s is None):
            raise FlagbenchError("--find-max-qps needs --scenario server and --p99-bound-ms")
        if self.p99_bound_s is not None and self.p99_bound_s <= 0:
            raise FlagbenchError(f"the p99 bound must be above 0, got {self.p99_bound_s:g} s")
        if self.batch_size < 1:
            raise FlagbenchError(f"batch size must be 1 or more, got {self.batch_size}")
        if self.batch_size > INT32_MAX:
            raise FlagbenchError(f"batch size must be at most {INT32_MAX} (what the store "
                                 f"holds), got {self.batch_size}")
        self._check_storable()
        if self.concurrency is not None and not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise FlagbenchError(f"concurrency must be 1 to {MAX_CONCURRENCY}, got "
                                 f"{self.concurrency}")
        for name, bound in self.slo:
            if name not in SLO_NAMES or not (0 < bound < math.inf):
                raise FlagbenchError(f"SLO {name}={bound!r}: expected one of "
                                     f"{', '.join(SLO_NAMES)} with a bound above 0")
        if self.precision not in PRECISIONS:
            raise FlagbenchError(
                f"unknown precision {self.precision!r}; choose from {', '.join(PRECISIONS)}"
            )
        if self.scenario not in SCENARIOS:
            raise FlagbenchError(
                f"unknown scenario {self.scenario!r}; choose from {', '.join(SCENARIOS)}"
            )

    def _check_storable(self) -> None:
        """Every string and option value as the store will hold it, before anything runs."""
        for what, text in (("vendor", self.vendor), ("case", self.case),
                           ("weights path", self.weights), ("data path", self.data),
                           ("matrix id", self.matrix_id)):
            if text is not None:
                check_text(text, what)
        for key, value in self.tags:
            check_text(key, "tag key")
            check_text(value, f"tag {key!r}")
        for key, option in (*self.options, *self.vendor_options):
            check_option_value(option, f"option {key}")

    @property
    def label(self) -> str:
        """A short human name for progress lines."""
        case = self.case
        if self.options:
            case += "[" + ",".join(f"{k}={v}" for k, v in self.options) + "]"
        label = f"{self.vendor_label} × {case} bs{self.batch_size} {self.precision}"
        if self.scenario == "server":
            label += f" server@{self.target_qps:g}qps"
        elif self.concurrency is not None:
            label += f" {self.scenario}@c{self.concurrency}"
        elif self.scenario != "latency":
            label += f" {self.scenario}"
        return label if self.round == 1 else f"{label} (round {self.round})"

    @property
    def vendor_label(self) -> str:
        """The vendor with the options it runs under: "cuda", "cuda[mode=inductor]"."""
        return vendor_label(self.vendor, self.vendor_options)

    @property
    def cell(self) -> tuple[Any, ...]:
        """The matrix cell this run measures, the same in every round."""
        return (self.vendor, self.case, self.batch_size, self.precision, self.scenario,
                self.options, self.vendor_options, self.concurrency)


def vendor_label(vendor: str, options: Any) -> str:
    """``vendor[k=v,…]`` for options that differ from the vendor's defaults, else ``vendor``;
    ``options`` as a spec holds them (pairs), or as JSON gives them back (lists)."""
    if not options:
        return vendor
    return f"{vendor}[" + ",".join(f"{k}={v}" for k, v in options) + "]"
