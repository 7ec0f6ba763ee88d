"""The timed loop and its stopping rules, driven by sessions of known cost."""

from __future__ import annotations

from datetime import datetime, timezone

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


def test_throughput_is_from_the_window_not_the_sum_of_timings() -> None:
    clock = SimClock()
    m = measure_latency(_TimedOnDevice(clock, 0.001), None,
                        MeasureConfig(warmup_s=0.0, min_warmup_iters=1, min_time_s=0.3,
                                      max_time_s=1.0, target_ci=0.0), clock=clock)
    result = RunResult(RunSpec(vendor="cpu", case="x", batch_size=4), Status.OK,
                       datetime.now(timezone.utc), datetime.now(timezone.utc), measurement=m,
                       actual=ActualRun("cpu", "fp32"))
    assert m.clock == "device_timer" and m.loop_s == pytest.approx(m.stats.n * 0.0015)
    assert result.throughput == pytest.approx(4 / 0.0015)  # what the host gets
    assert result.busy_throughput == pytest.approx(4 / 0.001)  # the device-busy rate
    metrics = {x.name: x.value for x in result.metrics()}
    assert metrics["throughput_sps"] == pytest.approx(4 / 0.0015)
    assert metrics["busy_throughput_sps"] == pytest.approx(4 / 0.001)
