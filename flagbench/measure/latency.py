"""The latency scenario: back-to-back iterations, each timed, until a stopping rule fires."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from flagbench.api.contracts import Session
from flagbench.api.energy import EnergyMeter
from flagbench.api.measurement import Measurement
from flagbench.api.spec import MeasureConfig
from flagbench.measure.window import (
    CLOCK_DEVICE,
    CLOCK_HOST,
    Clock,
    ProgressFn,
    StoppingRule,
    TimedWindow,
    no_progress,
)


def measure_latency(
    session: Session, loaded: Any, config: MeasureConfig, progress: ProgressFn = no_progress,
    meters: Sequence[EnergyMeter] = (), clock: Clock = time.perf_counter,
) -> Measurement:
    """Time ``session.run`` + ``synchronize`` per iteration, with energy over the timed window.

    The clock is the host's monotonic clock, or the session's own ``time_one`` (CUDA events)
    where it has one. Nothing else happens between iterations except an occasional check of
    the stopping rule (a sort, at growing intervals) and a rate-limited progress call.
    ``clock`` (the host clock) is injectable so that tests can run the loop on simulated time.
    """
    run, sync = session.run, session.synchronize
    device_timer: Callable[[Any], float] | None = getattr(session, "time_one", None)

    def host_timer(batch: Any) -> float:
        t = clock()
        run(batch)
        sync()
        return clock() - t

    one = device_timer or host_timer
    window = TimedWindow(session, loaded, config, progress, meters, clock)
    samples: list[float] = []
    append = samples.append
    rule = StoppingRule(config)
    start = window.open()
    while True:
        append(one(loaded))
        end = clock()
        stop_rule = rule.check(samples, end - start)
        if stop_rule is not None:
            break
        window.tick(end, len(samples))
    return window.close(samples, stop_rule, CLOCK_DEVICE if device_timer else CLOCK_HOST)
