"""The throughput scenario (MLPerf's offline): batches submitted back to back, several in
flight, one synchronise per group, samples/s from the window's wall time."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
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

#: Batches submitted before each synchronise. An asynchronous device (CUDA) keeps its queue
#: full between them, so the figure is what the device sustains, not what one batch at a time
#: with a host round trip allows; a synchronous one (the CPU, ONNX Runtime's run) runs them
#: one after another either way. Eight keeps the queue busy across the synchronise.
IN_FLIGHT = 8


def measure_throughput(
    session: Session, loaded: Any, config: MeasureConfig, progress: ProgressFn = no_progress,
    meters: Sequence[EnergyMeter] = (), clock: Clock = time.perf_counter,
    in_flight: int = IN_FLIGHT,
) -> Measurement:
    """Time groups of ``in_flight`` batches with one synchronise each, until the stopping rule
    fires; each sample is its group's mean time per batch (``batches_per_sample``), so the
    stopping rule and the interval see one sample per synchronise. The headline, samples/s,
    is batch size × batches / the window's wall time (``RunResult.throughput``)."""
    run, sync = session.run, session.synchronize
    window = TimedWindow(session, loaded, config, progress, meters, clock)
    samples: list[float] = []
    rule = StoppingRule(config)
    start = window.open()
    while True:
        t = clock()
        for _ in range(in_flight):
            run(loaded)
        sync()
        end = clock()
        samples.append((end - t) / in_flight)
        stop_rule = rule.check(samples, end - start)
        if stop_rule is not None:
            break
        window.tick(end, len(samples) * in_flight)
    measurement = window.close(samples, stop_rule, CLOCK_HOST)
    return dataclasses.replace(measurement, batches_per_sample=in_flight)
