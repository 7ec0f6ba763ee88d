"""The server scenario: Poisson arrivals, queueing, overload, and the search for the max rate."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from itertools import islice

import pytest

from fakes import BusySession, SimClock, SimSession
from flagbench.api.contracts import ActualRun
from flagbench.api.energy import MEASURED, EnergyReading
from flagbench.api.measurement import Measurement
from flagbench.api.result import RunResult, Status
from flagbench.api.spec import MeasureConfig, RunSpec
from flagbench.measure.server import (
    STOP_OVERLOADED,
    ServerMeasurement,
    find_max_qps,
    measure_server,
    poisson_arrivals,
)
from flagbench.measure.window import STOP_MIN
from flagbench.stats.summary import summarize


class SessionMeter:
    """An energy meter that notes how many runs the session had made at start and stop."""

    source = "fake"

    def __init__(self, session: BusySession) -> None:
        self.session = session
        self.calls_at: list[int] = []
        self._t0 = 0.0

    def start(self) -> None:
        self.calls_at.append(self.session.calls)
        self._t0 = time.perf_counter()

    def stop(self) -> EnergyReading:
        self.calls_at.append(self.session.calls)
        return EnergyReading("fake", "device", MEASURED, 1.0, time.perf_counter() - self._t0)


def test_low_rate_latency_is_service_time() -> None:
    # On simulated time a request costs exactly 2 ms and the host adds nothing, so at 50/s
    # (10% load) most requests find the worker idle: the median latency is the service time.
    clock = SimClock()
    session, seen = SimSession(clock, 0.002), []
    s = measure_server(session, None, MeasureConfig(warmup_s=0.05, min_time_s=2.0,
                                                    max_time_s=3.0, target_ci=0.0),
                       target_qps=50, progress=seen.append, clock=clock,
                       wait_until=clock.wait_until)
    m = s.measurement
    assert s.stop_rule == m.stop_rule == STOP_MIN
    assert m.stats.median == pytest.approx(0.002, rel=1e-9)
    assert s.achieved_qps == pytest.approx(50, rel=0.2)
    assert len(s.service_samples) == m.stats.n and m.clock == "perf_counter"
    assert all(sv == pytest.approx(0.002) for sv in s.service_samples)
    assert all(0 < sv <= lat for sv, lat in zip(s.service_samples, m.samples, strict=True))
    assert m.warmup_iters in (25, 26) and m.loop_s >= 2.0  # 0.05 s of 2 ms runs, then 2 s
    assert "measure" in {p.phase for p in seen}


def test_queueing_shows_near_saturation() -> None:
    # 10 ms per request serves 100/s; 150/s arriving makes the queue grow.
    s = measure_server(BusySession(0.01), None,
                       MeasureConfig(warmup_s=0.0, min_time_s=1.0, max_time_s=1.5,
                                     target_ci=0.0),
                       target_qps=150)
    assert s.measurement.stats.median > 3 * 0.01 or s.stop_rule == STOP_OVERLOADED
    assert s.achieved_qps < 120
    assert max(s.service_samples) < s.measurement.stats.max


def test_growing_queue_stops_as_overloaded() -> None:
    # The wait grows by 0.75 s per second: it passes half the 1 s window at about 0.7 s.
    s = measure_server(BusySession(0.01), None,
                       MeasureConfig(warmup_s=0.0, min_time_s=1.0, max_time_s=1.0),
                       target_qps=400)
    assert s.stop_rule == s.measurement.stop_rule == STOP_OVERLOADED
    assert s.measurement.loop_s < 1.0
    assert s.achieved_qps < 120


def test_arrivals_are_deterministic_per_seed_with_mean_gap() -> None:
    def first(seed: int, n: int = 1000) -> list[float]:
        return list(islice(poisson_arrivals(100.0, seed), n))

    assert first(7) == first(7)
    assert first(7) != first(8)
    times = first(0, 20_000)
    assert all(b > a for a, b in zip(times, times[1:], strict=False))
    assert times[-1] / len(times) == pytest.approx(1 / 100.0, rel=0.03)


def test_warmup_not_counted_and_meters_bracket_the_window() -> None:
    session = BusySession(0.005)
    meter = SessionMeter(session)
    s = measure_server(session, None,
                       MeasureConfig(warmup_s=0.1, min_warmup_iters=2, min_time_s=0.3,
                                     max_time_s=1.0, target_ci=0.0),
                       target_qps=50, meters=[meter])
    m = s.measurement
    assert m.warmup_iters > 2 and m.warmup_s >= 0.1
    assert session.calls == session.syncs == m.warmup_iters + m.stats.n
    assert meter.calls_at == [m.warmup_iters, m.warmup_iters + m.stats.n]
    assert m.energy is not None and m.energy.seconds == pytest.approx(m.loop_s, abs=0.01)


def fake_run_at(limit_qps: float, calls: list[float],
                stop_rule: str = STOP_MIN) -> Callable[[float], ServerMeasurement]:
    """A system whose p99 is 10 ms up to ``limit_qps`` and 1 s above it."""

    def run_at(qps: float) -> ServerMeasurement:
        calls.append(qps)
        samples = (0.01 if qps <= limit_qps else 1.0,) * 100  # enough for a p99 verdict
        m = Measurement(samples, summarize(samples), stop_rule, 2, 0.1, 0.01, 1.0,
                        energy_note="no meter in this test")
        return ServerMeasurement(m, samples, qps, qps, stop_rule)

    return run_at


def test_find_max_qps_doubles_then_bisects_below_the_limit() -> None:
    calls: list[float] = []
    best, runs = find_max_qps(fake_run_at(137, calls), p99_bound_s=0.1, start_qps=10)
    assert calls == [10, 20, 40, 80, 160, 120, 140, 130]
    assert [r.target_qps for r in runs] == calls
    # Three bisections of [80, 160] leave a 10 qps bracket below the true limit.
    assert 137 - 10 <= best <= 137


def test_too_few_requests_give_no_verdict_on_the_bound() -> None:
    # Twenty requests within the bound do not show that the 99th percentile is: the search
    # counts the rate as failed, and a stored run carries no verdict, only a warning.
    def run_at(qps: float) -> ServerMeasurement:
        samples = (0.01,) * 20
        m = Measurement(samples, summarize(samples), STOP_MIN, 2, 0.1, 0.01, 1.0,
                        energy_note="none", achieved_qps=qps)
        return ServerMeasurement(m, samples, qps, qps, STOP_MIN)

    assert find_max_qps(run_at, p99_bound_s=0.1, start_qps=10)[0] == 0.0
    now = datetime.now(timezone.utc)
    spec = RunSpec(vendor="cpu", case="x", scenario="server", target_qps=10.0,
                   p99_bound_s=0.1)
    result = RunResult(spec, Status.OK, now, now, measurement=run_at(10.0).measurement,
                       actual=ActualRun("cpu", "fp32"))
    names = {x.name for x in result.metrics()}
    assert "p99_bound_s" in names and "p99_within_bound" not in names
    assert any("p99 rests on 20 requests" in w for w in result.warnings)


def test_find_max_qps_is_zero_when_start_fails() -> None:
    calls: list[float] = []
    assert find_max_qps(fake_run_at(5, calls), 0.1, 10)[0] == 0.0
    assert calls == [10]
    # An overloaded run fails whatever the p99 of the requests it did serve.
    assert find_max_qps(fake_run_at(1e9, [], STOP_OVERLOADED), 0.1, 10)[0] == 0.0


def test_server_measurement_validates() -> None:
    samples = (0.01,) * 3
    m = Measurement(samples, summarize(samples), STOP_MIN, 2, 0.1, 0.01, 1.0, energy_note="-")
    with pytest.raises(ValueError):
        ServerMeasurement(m, samples, -1.0, 3.0, STOP_MIN)
    with pytest.raises(ValueError):
        ServerMeasurement(m, samples[:2], 3.0, 3.0, STOP_MIN)
    with pytest.raises(ValueError):
        ServerMeasurement(m, (0.02,) * 3, 3.0, 3.0, STOP_MIN)


def test_server_scenario_end_to_end(flagbench, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from flagbench.store import Store

    db = tmp_path / "s.db"
    out = flagbench("run", "--vendor", "cpu", "--case", "tiny-mlp", "--scenario",
                    "latency,server", "--target-qps", "200", "--p99-bound-ms", "50",
                    "--no-isolate", "--db", str(db), "--warmup", "0.1", "--min-time", "1",
                    "--max-time", "1.5", "--target-ci", "0")
    assert out.returncode == 0, out.stderr
    store = Store.open(str(db), create=False)
    runs = {r.scenario: r for r in store.runs()}
    store.close()
    server = runs["server"]
    assert server.status == "ok" and server.metric("server_target_qps") == 200
    assert 100 < server.metric("server_achieved_qps") < 300  # Poisson around 200/s
    assert server.metric("throughput_sps") == server.metric("server_achieved_qps")
    assert server.metric("service_median_s") <= server.metric("latency_median_s")
    assert server.metric("p99_within_bound") in (0.0, 1.0)
    assert runs["latency"].metric("server_target_qps") is None
    bad = flagbench("run", "--vendor", "cpu", "--case", "tiny-mlp", "--scenario", "server",
                    "--db", str(db))
    assert bad.returncode == 2 and "needs --target-qps" in bad.stderr


def test_find_max_qps_from_the_cli(flagbench, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from flagbench.store import Store

    db = tmp_path / "q.db"
    # 250/s for 0.8 s: about 200 requests, over the 100 a p99 verdict needs.
    out = flagbench("run", "--vendor", "cpu", "--case", "tiny-mlp", "--scenario", "server",
                    "--target-qps", "250", "--p99-bound-ms", "20", "--find-max-qps",
                    "--no-isolate", "--db", str(db), "--warmup", "0.05", "--min-time", "0.8",
                    "--max-time", "1.0", "--target-ci", "0")
    assert out.returncode == 0, out.stderr
    store = Store.open(str(db), create=False)
    (run,) = store.runs()
    store.close()
    tried = run.environment["qps_search"]
    assert len(tried) >= 2 and tried[0]["target_qps"] == 250
    best = run.metric("server_max_qps_within_bound")
    assert best == run.environment["max_qps_within_bound"] and best >= 250
    assert run.metric("server_target_qps") == best  # the stored figures are the best rate's
    ok = [t["target_qps"] for t in tried if t["p99_s"] <= 0.020 and t["stop_rule"] != "overloaded"]
    assert best == max(ok)
    bad = flagbench("run", "--vendor", "cpu", "--case", "tiny-mlp", "--scenario", "server",
                    "--target-qps", "50", "--find-max-qps", "--db", str(db))
    assert bad.returncode == 2 and "--find-max-qps needs" in bad.stderr


def test_requests_waiting_when_the_rule_stops_are_served_and_counted() -> None:
    # A scripted server: 10 ms per request, Poisson arrivals at 80/s (80% load, so a queue
    # forms), on simulated time. An independent queue simulation of the same arrivals says
    # when the rule fires (the first completion after the 1 s minimum) and which requests had
    # arrived by then: exactly those are served, each latency completion − arrival.
    clock = SimClock()
    config = MeasureConfig(warmup_s=0.0, min_warmup_iters=1, min_time_s=1.0, max_time_s=5.0,
                           min_iters=10, target_ci=0.0)
    s = measure_server(SimSession(clock, 0.010), None, config, target_qps=80, seed=3,
                       clock=clock, wait_until=clock.wait_until)
    arrivals = list(islice(poisson_arrivals(80, 3), 400))
    done, completions, fired = 0.0, [], None
    for a in arrivals:
        done = max(a, done) + 0.010
        completions.append(done)
        if fired is None and len(completions) >= 10 and done >= 1.0:
            fired = done
        if fired is not None and len(completions) == sum(x <= fired for x in arrivals):
            break
    assert fired is not None
    expected = [c - a for c, a in zip(completions, arrivals, strict=False)]
    assert s.stop_rule == STOP_MIN
    assert len(s.measurement.samples) == sum(x <= fired for x in arrivals) == len(expected)
    assert s.measurement.samples == pytest.approx(expected, abs=1e-9)
    assert max(expected[-3:]) > 0.010  # the drained ones had waited in the queue
