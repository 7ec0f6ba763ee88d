"""The timed loop: warm up, then time every iteration until a stopping rule fires."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flagbench.contracts import Session
from flagbench.energy import EnergyMeter, EnergyReading
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


def _stop_meters(meters: Sequence[EnergyMeter]) -> tuple[EnergyReading | None, str]:
    """Stop every meter; keep the first (preferred) reading that worked, or say why none."""
    reading, problems = None, []
    for meter in meters:
        try:
            r = meter.stop()
        except Exception as exc:  # a meter's failure costs the energy figure, not the run
            problems.append(f"{meter.source}: {exc}")
            continue
        if reading is None:
            reading = r
    if reading is not None:
        return reading, ""
    return None, "; ".join(problems) or "no energy meter for this vendor on this host"


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

    # Warm-up: time-based, with a minimum count. The first iteration is kept apart.
    t0 = clock()
    run(loaded)
    sync()
    first = clock() - t0
    warm_iters = 1
    warm_start = t0
    next_report = warm_start + _PROGRESS_EVERY_S
    while True:
        now = clock()
        if warm_iters >= config.min_warmup_iters and now - warm_start >= config.warmup_s:
            break
        if now >= next_report:
            progress(LoopProgress("warmup", warm_iters, now - warm_start))
            next_report = now + _PROGRESS_EVERY_S
        run(loaded)
        sync()
        warm_iters += 1
    warmup_s = clock() - warm_start

    samples: list[float] = []
    append = samples.append
    started: list[EnergyMeter] = []
    for meter in meters:
        try:
            meter.start()
            started.append(meter)
        except Exception as exc:
            log.warning("energy meter %s did not start: %s", meter.source, exc)
    start = clock()
    next_report = start + _PROGRESS_EVERY_S
    next_check = config.min_iters
    stop_rule = STOP_MAX_ITERS
    while len(samples) < config.max_iters:
        append(one(loaded))
        end = clock()
        elapsed = end - start
        if elapsed >= config.max_time_s:
            stop_rule = STOP_MAX_TIME
            break
        n = len(samples)
        if n >= next_check and elapsed >= config.min_time_s:
            if config.target_ci == 0:
                stop_rule = STOP_MIN
                break
            if relative_ci_halfwidth(sorted(samples)) <= config.target_ci:
                stop_rule = STOP_CI
                break
            # Re-check after 10% more samples: sorting stays a small share of the loop.
            next_check = n + max(1, n // 10)
        if end >= next_report:
            progress(LoopProgress("measure", n, elapsed))
            next_report = end + _PROGRESS_EVERY_S
    loop_s = clock() - start
    energy, energy_note = _stop_meters(started)
    if not started and meters:
        energy_note = "no energy meter started"
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
    )
