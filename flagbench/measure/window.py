"""What every timed window shares: warm-up, the stopping rule, energy meters, progress."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flagbench.api.contracts import Session
from flagbench.api.energy import EnergyMeter, EnergyReading
from flagbench.api.measurement import Measurement
from flagbench.api.spec import MeasureConfig
from flagbench.measure.interference import InterferenceProbe
from flagbench.stats.summary import interval_check, summarize

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
#: A monotonic clock in seconds: ``time.perf_counter``, or a simulated one in tests.
Clock = Callable[[], float]


def no_progress(_: LoopProgress) -> None:
    """The default progress callback: report nothing."""


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


#: Effective (independent-equivalent) timings the median's interval must rest on before it
#: may end a window: with fewer, the autocorrelation it is widened by is itself too uncertain.
#: (That the rule looks many times is paid for in the interval's own z, ``Z_LOOKS``.)
MIN_EFFECTIVE_SAMPLES = 50
#: Timings a window must hold before the CI target may end it, however independent they
#: look: a drift slower than the window cannot be seen in it (of a process that switches
#: level every 25 timings on average, 50 timings show no switch 13% of the time, 120 0.7%).
MIN_CI_TIMINGS = 120
#: The CI target is checked at most this often (and after 10% more timings), so the check
#: costs a vanishing share of the window and a run is not stopped by one of many looks.
CHECK_EVERY_S = 1.0
#: Time to the next check, at least this many times the last check's own cost.
CHECK_SHARE_INVERSE = 20


class StoppingRule:
    """When a timed window ends: at the maximum time or count, or once the minimum count and
    time are met and the median's CI is within the target on enough (effective) timings.
    Shared by every scenario."""

    def __init__(self, config: MeasureConfig) -> None:
        self._config = config
        self._next_check = config.min_iters
        self._next_time = config.min_time_s

    def check(self, samples: list[float], elapsed: float) -> str | None:
        """The rule that ends the window now, or None to go on."""
        c = self._config
        if elapsed >= c.max_time_s:
            return STOP_MAX_TIME
        n = len(samples)
        if n >= c.max_iters:
            return STOP_MAX_ITERS
        if n >= self._next_check and elapsed >= self._next_time:
            if c.target_ci == 0:
                return STOP_MIN
            began = time.perf_counter()
            half, effective = interval_check(samples)
            if (half <= c.target_ci and effective >= MIN_EFFECTIVE_SAMPLES
                    and n >= MIN_CI_TIMINGS):
                return STOP_CI
            cost = time.perf_counter() - began
            self._next_check = n + max(1, n // 10)
            # The checks together take at most about 5% of the window, however long it grows.
            self._next_time = elapsed + max(CHECK_EVERY_S, CHECK_SHARE_INVERSE * cost)
        return None


def warm_up(session: Session, loaded: Any, config: MeasureConfig,
            progress: ProgressFn, clock: Clock = time.perf_counter) -> tuple[int, float, float]:
    """Back-to-back warm-up, time-based with a minimum count: (iterations, seconds, first
    iteration's time), the first kept apart because it is routinely several times slower."""
    run, sync = session.run, session.synchronize
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


class TimedWindow:
    """One scenario's timed window, so that every scenario warms up, meters energy, watches
    for interference, reports progress and books its Measurement the same way.

    ``open`` warms up, then starts the meters and the interference probe and returns the
    window's start on the host clock; the scenario times its iterations and calls ``tick``
    after each; ``close`` stops the probe and the meters and returns the Measurement.
    ``clock`` is injectable so that tests can drive a window on simulated time.
    """

    def __init__(self, session: Session, loaded: Any, config: MeasureConfig,
                 progress: ProgressFn = no_progress, meters: Sequence[EnergyMeter] = (),
                 clock: Clock = time.perf_counter) -> None:
        self._session, self._loaded, self._config = session, loaded, config
        self._clock = clock
        self._progress, self._meters = progress, meters
        self._started: list[EnergyMeter] = []
        self._probe: InterferenceProbe | None = None
        self._warm = (0, 0.0, 0.0)
        self.start = 0.0
        self._next_report = 0.0

    def open(self) -> float:
        """Warm up, start the meters and the probe; the window's start on the clock."""
        self._warm = warm_up(self._session, self._loaded, self._config, self._progress,
                             self._clock)
        self._probe = InterferenceProbe()
        self._started = start_meters(self._meters)
        self._probe.start()
        self.start = self._clock()
        self._next_report = self.start + _PROGRESS_EVERY_S
        return self.start

    def tick(self, now: float, iterations: int) -> None:
        """Report progress, at most every ``_PROGRESS_EVERY_S``."""
        if now >= self._next_report:
            self._progress(LoopProgress("measure", iterations, now - self.start))
            self._next_report = now + _PROGRESS_EVERY_S

    def close(self, samples: Sequence[float], stop_rule: str, clock: str) -> Measurement:
        """End the window now: stop the probe and the meters, summarise ``samples``."""
        loop_s = self._clock() - self.start
        if self._probe is None:
            raise RuntimeError("TimedWindow.close() before open()")
        interference = self._probe.stop()
        energy, energy_note = stop_meters(self._started, self._meters)
        warm_iters, warmup_s, first = self._warm
        return Measurement(
            samples=tuple(samples),
            stats=summarize(samples),
            stop_rule=stop_rule,
            warmup_iters=warm_iters,
            warmup_s=warmup_s,
            first_iter_s=first,
            loop_s=loop_s,
            clock=clock,
            energy=energy,
            energy_note=energy_note,
            interference=interference,
        )
