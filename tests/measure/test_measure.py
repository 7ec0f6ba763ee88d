"""The timed loop and its stopping rules, driven by sessions of known cost."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from fakes import BusySession, SimClock, SimSession
from flagbench.api.contracts import ActualRun
from flagbench.api.result import RunResult, Status
from flagbench.api.spec import MeasureConfig, RunSpec
from flagbench.measure.latency import measure_latency
from flagbench.measure.window import STOP_CI, STOP_MAX_ITERS, STOP_MAX_TIME, STOP_MIN


def test_a_known_cost_is_measured_exactly() -> None:
    # On simulated time a run costs exactly 2 ms: the loop must report exactly that.
    clock = SimClock()
    session = SimSession(clock, 0.002)
    m = measure_latency(session, None, MeasureConfig(warmup_s=0.05, min_time_s=0.3,
                                                     max_time_s=2.0), clock=clock)
    assert m.stats.median == pytest.approx(0.002, rel=1e-9)
    assert session.calls == session.syncs == m.warmup_iters + m.stats.n
    assert len(m.samples) == m.stats.n


def test_stable_loop_stops_on_confidence_interval() -> None:
    clock = SimClock()
    m = measure_latency(SimSession(clock, 0.001), None,
                        MeasureConfig(warmup_s=0.0, min_time_s=0.1, max_time_s=5.0), clock=clock)
    assert m.stop_rule == STOP_CI
    assert m.stats.ci_rel_halfwidth <= 0.01
    assert m.loop_s < 5.0


def test_noisy_loop_stops_at_max_time() -> None:
    # Alternating 1 ms / 3 ms iterations: the median's CI never gets within 1%.
    session = BusySession(0.001, jitter=[0.0, 0.002])
    m = measure_latency(session, None, MeasureConfig(warmup_s=0.0, min_time_s=0.05,
                                                     max_time_s=0.3, target_ci=0.001))
    assert m.stop_rule == STOP_MAX_TIME
    assert m.loop_s >= 0.3 and m.stats.ci_rel_halfwidth > 0.001


def test_target_zero_stops_at_minimums() -> None:
    m = measure_latency(BusySession(0.001), None,
                        MeasureConfig(warmup_s=0.0, min_time_s=0.1, max_time_s=5.0,
                                      target_ci=0.0, min_iters=20))
    assert m.stop_rule == STOP_MIN
    assert m.stats.n >= 20 and m.loop_s >= 0.1
    assert m.loop_s < 5.0  # stopped long before the maximum


def test_max_iters_bounds_the_loop() -> None:
    m = measure_latency(BusySession(0.0001), None,
                        MeasureConfig(warmup_s=0.0, min_time_s=10, max_time_s=20,
                                      min_iters=5, max_iters=50))
    assert (m.stop_rule, m.stats.n) == (STOP_MAX_ITERS, 50)


def test_warmup_is_time_based_with_minimum_count() -> None:
    m = measure_latency(BusySession(0.01), None,
                        MeasureConfig(warmup_s=0.1, min_warmup_iters=2, min_time_s=0.0,
                                      max_time_s=0.05, min_iters=1))
    # Two iterations would take 20 ms: reaching 0.1 s shows that time governs.
    assert m.warmup_s >= 0.1 and m.warmup_iters > 2
    m = measure_latency(BusySession(0.01), None,
                        MeasureConfig(warmup_s=0.0, min_warmup_iters=3, min_time_s=0.0,
                                      max_time_s=0.05, min_iters=1))
    assert m.warmup_iters == 3


def test_progress_is_reported_while_measuring() -> None:
    seen = []
    clock = SimClock()
    measure_latency(SimSession(clock, 0.001), None,
                    MeasureConfig(warmup_s=0.6, min_time_s=1.2, max_time_s=1.3, target_ci=0.0),
                    progress=seen.append, clock=clock)
    assert {p.phase for p in seen} == {"warmup", "measure"}
    assert len(seen) <= 6  # rate-limited, not once per iteration


class _TimedOnDevice(SimSession):
    """1 ms on the device by its own timer, 1.5 ms of host time per iteration (launch and
    synchronisation), as CUDA events leave out: a known gap between the two clocks."""

    def time_one(self, loaded: object) -> float:
        self.run(loaded)
        self.clock.now += 0.0005
        return 0.001


def test_every_vendor_is_timed_by_the_host_clock_and_the_device_timer_is_secondary() -> None:
    clock = SimClock()
    m = measure_latency(_TimedOnDevice(clock, 0.001), None,
                        MeasureConfig(warmup_s=0.0, min_warmup_iters=1, min_time_s=0.3,
                                      max_time_s=1.0, target_ci=0.0), clock=clock)
    result = RunResult(RunSpec(vendor="cpu", case="x", batch_size=4), Status.OK,
                       datetime.now(timezone.utc), datetime.now(timezone.utc), measurement=m,
                       actual=ActualRun("cpu", "fp32"))
    assert m.clock == "perf_counter" and m.loop_s == pytest.approx(m.stats.n * 0.0015)
    assert m.samples == pytest.approx([0.0015] * m.stats.n)  # run + synchronise on the host
    assert m.device_samples == pytest.approx([0.001] * m.stats.n)  # CUDA events' view
    assert result.throughput == pytest.approx(4 / 0.0015)  # what the host gets
    metrics = {x.name: x.value for x in result.metrics()}
    assert metrics["latency_median_s"] == pytest.approx(0.0015)
    assert metrics["throughput_sps"] == pytest.approx(4 / 0.0015)
    assert metrics["device_latency_median_s"] == pytest.approx(0.001)
    assert metrics["device_busy_throughput_sps"] == pytest.approx(4 / 0.001)


class _Queued(SimSession):
    """An asynchronous device: each run queues 1 ms of work and returns; synchronise waits for
    the queue and costs a 0.5 ms round trip of its own."""

    def __init__(self, clock: SimClock) -> None:
        super().__init__(clock, 0.001)
        self.queued = 0.0

    def run(self, loaded: Any) -> None:
        self.calls += 1
        self.queued += self.seconds

    def synchronize(self) -> None:
        self.syncs += 1
        self.clock.now += self.queued + 0.0005
        self.queued = 0.0


def test_the_throughput_scenario_keeps_batches_in_flight() -> None:
    from flagbench.measure.throughput import IN_FLIGHT, measure_throughput

    config = MeasureConfig(warmup_s=0.0, min_warmup_iters=1, min_time_s=0.5, max_time_s=1.0,
                           target_ci=0.0)
    clock = SimClock()
    latency = measure_latency(_Queued(clock), None, config, clock=clock)
    session = _Queued(clock)
    offline = measure_throughput(session, None, config, clock=clock)
    assert latency.samples == pytest.approx([0.0015] * latency.stats.n)  # a round trip each
    per_batch = (IN_FLIGHT * 0.001 + 0.0005) / IN_FLIGHT  # one round trip per group
    assert offline.samples == pytest.approx([per_batch] * offline.stats.n)
    assert offline.batches_per_sample == IN_FLIGHT
    assert offline.batches == offline.stats.n * IN_FLIGHT
    assert session.syncs - 1 == offline.stats.n  # one per group (after one warm-up batch)
    result = RunResult(RunSpec(vendor="cpu", case="x", batch_size=2, scenario="throughput"),
                       Status.OK, datetime.now(timezone.utc), datetime.now(timezone.utc),
                       measurement=offline, actual=ActualRun("cpu", "fp32"))
    assert result.throughput == pytest.approx(2 / per_batch)
    metrics = {x.name: x.value for x in result.metrics()}
    assert metrics["iterations"] == offline.batches
