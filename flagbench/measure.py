"""The timed loop: warm up, then time every iteration until a stopping rule fires."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flagbench.contracts import Session
from flagbench.energy import EnergyMeter, EnergyReading
from flagbench.interference import InterferenceProbe
from flagbench.result import Measurement
from flagbench.spec import MeasureConfig
from flagbench.stats import relative_ci_halfwidth, summarize

#: Stopping rules, recorded with every run.
STOP_CI = "ci_reached"  # minimum count and time met, median CI within target
STOP_MIN = "min_reached"  # minimum count and time met, no CI target asked (target 0)
STOP_MAX_TIME = "max_time"  # the CI target was not met within the maximum time
STOP_MAX_ITERS = "max_iters"

log = logging.getLogger(__name__)

#: Clocks, recorded with every run.
CLOCK_HOST = "perf_counter"  # host monotonic clock around run + synchronize
CLOCK_DEVICE = "device_timer"  # the session's own timer (CUDA events on CUDA)

# Progress is reported at most this often, so that reporting costs nothing measurable.
_PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class LoopProgress:
    """A progress report from inside the loop, for the CLI to show."""

    phase: str  # "warmup" or "measure"
    iterations: int
    elapsed_s: float


ProgressFn = Callable[[LoopProgress], None]


def _noop(_: LoopProgress) -> None:
    pass


def start_meters(meters: Sequence[EnergyMeter]) -> list[EnergyMeter]:
    """Start each meter just before a timed window; one that fails to start is left out."""
    started = []
    for meter in meters:
        try:
            meter.start()
            started.append(meter)
        except Exception as exc:  # a meter's failure costs the energy figure, not the run
            log.warning("energy meter %s did not start: %s", meter.source, exc)
    return started


def stop_meters(started: Sequence[EnergyMeter],
                requested: Sequence[EnergyMeter]) -> tuple[EnergyReading | None, str]:
    """Stop the started meters; keep the first (preferred) reading that worked, or say why
    there is none."""
    reading, problems = None, []
    for meter in started:
        try:
            r = meter.stop()
        except Exception as exc:
            problems.append(f"{meter.source}: {exc}")
            continue
        if reading is None:
            reading = r
    if reading is not None:
        return reading, ""
    if requested and not started:
        return None, "no energy meter started"
    return None, "; ".join(problems) or "no energy meter for this vendor on this host"


class StoppingRule:
    """When a timed window ends: at the maximum time or count, or once the minimum count and
    time are met and the median's CI is within the target. Shared by every scenario."""

    def __init__(self, config: MeasureConfig) -> None:
        self._config = config
        self._next_check = config.min_iters

    def check(self, samples: list[float], elapsed: float) -> str | None:
        """The rule that ends the window now, or None to go on."""
        c = self._config
        if elapsed >= c.max_time_s:
            return STOP_MAX_TIME
        n = len(samples)
        if n >= c.max_iters:
            return STOP_MAX_ITERS
        if n >= self._next_check and elapsed >= c.min_time_s:
            if c.target_ci == 0:
                return STOP_MIN
            if relative_ci_halfwidth(samples) <= c.target_ci:
                return STOP_CI
            # Re-check after 10% more samples: sorting stays a small share of the loop.
            self._next_check = n + max(1, n // 10)
        return None


def warm_up(session: Session, loaded: Any, config: MeasureConfig,
            progress: ProgressFn) -> tuple[int, float, float]:
    """Back-to-back warm-up, time-based with a minimum count: (iterations, seconds, first
    iteration's time), the first kept apart because it is routinely several times slower."""
    clock, run, sync = time.perf_counter, session.run, session.synchronize
    start = clock()
    run(loaded)
    sync()
    first = clock() - start
    iters = 1
    next_report = start + _PROGRESS_EVERY_S
    while True:
        now = clock()
        if iters >= config.min_warmup_iters and now - start >= config.warmup_s:
            return iters, clock() - start, first
        if now >= next_report:
            progress(LoopProgress("warmup", iters, now - start))
            next_report = now + _PROGRESS_EVERY_S
        run(loaded)
        sync()
        iters += 1


def measure_latency(
    session: Session, loaded: Any, config: MeasureConfig, progress: ProgressFn = _noop,
    meters: Sequence[EnergyMeter] = (),
) -> Measurement:
    """Time ``session.run`` + ``synchronize`` per iteration, with energy over the timed window.

    The clock is the host's monotonic clock, or the session's own ``time_one`` (CUDA events)
    where it has one. Nothing else happens between iterations except an occasional check of
    the stopping rule (a sort, at growing intervals) and a rate-limited progress call.
    """
    clock = time.perf_counter
    run, sync = session.run, session.synchronize
    device_timer: Callable[[Any], float] | None = getattr(session, "time_one", None)

    def host_timer(batch: Any) -> float:
        t = clock()
        run(batch)
        sync()
        return clock() - t

    one = device_timer or host_timer

    warm_iters, warmup_s, first = warm_up(session, loaded, config, progress)

    samples: list[float] = []
    append = samples.append
    rule = StoppingRule(config)
    probe = InterferenceProbe()
    started = start_meters(meters)
    probe.start()
    start = clock()
    next_report = start + _PROGRESS_EVERY_S
    while True:
        append(one(loaded))
        end = clock()
        stop_rule = rule.check(samples, end - start)
        if stop_rule is not None:
            break
        if end >= next_report:
            progress(LoopProgress("measure", len(samples), end - start))
            next_report = end + _PROGRESS_EVERY_S
    loop_s = clock() - start
    interference = probe.stop()
    energy, energy_note = stop_meters(started, meters)
    return Measurement(
        samples=tuple(samples),
        stats=summarize(samples),
        stop_rule=stop_rule,
        warmup_iters=warm_iters,
        warmup_s=warmup_s,
        first_iter_s=first,
        loop_s=loop_s,
        clock=CLOCK_DEVICE if device_timer else CLOCK_HOST,
        energy=energy,
        energy_note=energy_note,
        interference=interference,
    )
