"""The latency scenario: back-to-back iterations, each timed, until a stopping rule fires."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

from flagbench.api.contracts import Session
from flagbench.api.energy import EnergyMeter
from flagbench.api.measurement import Measurement
from flagbench.api.spec import MeasureConfig
from flagbench.measure.window import (
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

    The clock is the host's monotonic clock around run + synchronise, for every vendor alike,
    so vendors compared side by side are timed the same way. Where the session has its own
    timer (``time_one``: CUDA events) it times the same iterations too, as a secondary figure
    (``device_samples``): what the device was busy for, without launch and synchronisation.
    Nothing else happens between iterations except an occasional check of the stopping rule
    and a rate-limited progress call. ``clock`` (the host clock) is injectable so that tests
    can run the loop on simulated time.
    """
    run, sync = session.run, session.synchronize
    device_timer: Callable[[Any], float] | None = getattr(session, "time_one", None)
    device: list[float] = []

    def host_timer(batch: Any) -> float:
        t = clock()
        run(batch)
        sync()
        return clock() - t

    def both_timers(batch: Any) -> float:
        assert device_timer is not None
        t = clock()
        device.append(device_timer(batch))
        sync()
        return clock() - t

    one = host_timer if device_timer is None else both_timers
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
    measurement = window.close(samples, stop_rule, CLOCK_HOST)
    if not device:
        return measurement
    return dataclasses.replace(measurement, device_samples=tuple(device))
