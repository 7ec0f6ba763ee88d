"""Energy meters driven by fake sources: counters with wrap-around, polled power, failures."""

from __future__ import annotations

import time

import pytest

from fakes import BusySession
from flagbench.api.energy import MEASURED, SAMPLED, EnergyReading
from flagbench.api.spec import MeasureConfig
from flagbench.measure.energy import CounterMeter, PowerPoller
from flagbench.measure.latency import measure_latency


class FakeCounter:
    """A cumulative joule counter that advances at a fixed power, wrapping like RAPL."""

    def __init__(self, watts: float, start: float = 0.0, wrap: float | None = None) -> None:
        self.watts, self.start, self.wrap = watts, start, wrap
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        value = self.start + self.watts * (time.perf_counter() - self.t0)
        return value % self.wrap if self.wrap else value


def test_counter_meter_measures_energy_over_the_window() -> None:
    meter = CounterMeter(FakeCounter(200.0), source="fake_counter", scope="board")
    meter.start()
    time.sleep(0.2)
    r = meter.stop()
    assert (r.source, r.scope, r.confidence) == ("fake_counter", "board", MEASURED)
    assert r.avg_watts == pytest.approx(200.0, rel=0.02)
    assert r.joules == pytest.approx(200.0 * r.seconds, rel=0.02)


def test_counter_meter_corrects_one_wrap_around() -> None:
    # Starts 5 J below the counter's range of 100 J, so it wraps during the window.
    meter = CounterMeter(FakeCounter(100.0, start=95.0, wrap=100.0), "rapl", "package",
                         wrap_joules=100.0)
    meter.start()
    time.sleep(0.15)
    r = meter.stop()
    assert r.joules == pytest.approx(100.0 * r.seconds, rel=0.05)


def test_power_poller_integrates_samples() -> None:
    poller = PowerPoller(lambda: 50.0, source="fake_power", scope="board", interval_s=0.01)
    poller.start()
    time.sleep(0.2)
    r = poller.stop()
    assert r.confidence == SAMPLED and len(r.power_samples) >= 10
    assert r.joules == pytest.approx(50.0 * r.seconds, rel=1e-6)
    assert [t for t, _ in r.power_samples] == sorted(t for t, _ in r.power_samples)


def test_readings_refuse_impossible_values() -> None:
    with pytest.raises(ValueError):
        EnergyReading("x", "board", MEASURED, joules=-1.0, seconds=1.0)
    with pytest.raises(ValueError):
        EnergyReading("x", "board", MEASURED, joules=1.0, seconds=0.0)


class BrokenMeter:
    source = "broken"

    def start(self) -> None:
        pass

    def stop(self) -> EnergyReading:
        raise OSError("counter went away")


def test_measure_brackets_the_timed_window_and_keeps_the_first_reading() -> None:
    counter = CounterMeter(FakeCounter(120.0), "fake_counter", "board")
    m = measure_latency(BusySession(0.002), None,
                        MeasureConfig(warmup_s=0.2, min_time_s=0.3, max_time_s=0.5),
                        meters=[BrokenMeter(), counter])
    assert m.energy is not None and m.energy.source == "fake_counter"
    # The window is the timed loop only: warm-up energy is not counted.
    assert m.energy.seconds == pytest.approx(m.loop_s, rel=0.05)
    assert m.energy.avg_watts == pytest.approx(120.0, rel=0.05)


def test_no_meter_means_unavailable_with_a_reason() -> None:
    cfg = MeasureConfig(warmup_s=0.0, min_time_s=0.05, max_time_s=0.1)
    m = measure_latency(BusySession(0.001), None, cfg)
    assert m.energy is None and "no energy meter" in m.energy_note
    m = measure_latency(BusySession(0.001), None, cfg, meters=[BrokenMeter()])
    assert m.energy is None and "counter went away" in m.energy_note
