"""Interference: steal and other processes' CPU use over a window, from injected snapshots."""

from __future__ import annotations

import pytest

from flagbench.measure.interference import CpuSnapshot, InterferenceProbe, between


def _probe(*snaps: CpuSnapshot, cpus: int = 2) -> InterferenceProbe:
    it = iter(snaps)
    return InterferenceProbe(read=lambda: next(it), cpus=cpus)


def test_quiet_window_has_no_warning() -> None:
    # 10 s on 2 CPUs: this process used 1.9 CPUs, the rest of the system 0.05, no steal.
    p = _probe(CpuSnapshot(0.0, 100.0, 1.0, 500.0, 10.0),
               CpuSnapshot(10.0, 119.5, 1.0, 520.0, 29.0))
    p.start()
    i = p.stop()
    assert i.own_cpus == pytest.approx(1.9)
    assert i.other_cpus == pytest.approx(0.05)
    assert i.steal_fraction == 0.0
    assert i.warnings() == []


def test_steal_and_a_second_job_are_named() -> None:
    # 10 s on 2 CPUs (20 CPU-seconds): 1 s stolen, another job busy for 8 CPU-seconds.
    i = between(CpuSnapshot(0.0, 0.0, 0.0, 0.0, 0.0),
                CpuSnapshot(10.0, 18.0, 1.0, 20.0, 10.0), cpus=2)
    assert i.steal_fraction == pytest.approx(0.05)
    assert i.other_cpus == pytest.approx(0.8)
    text = " ".join(i.warnings())
    assert "5.0% of the CPUs' time (steal)" in text
    assert "other processes used 0.80 of 2 CPUs" in text


def test_coarse_ticks_never_give_negative_use_and_no_steal_is_unknown() -> None:
    # The own-time counter can run a tick ahead of the system-wide one on a short window.
    i = between(CpuSnapshot(0.0, 5.0, 0.0, 10.0, 1.0),
                CpuSnapshot(0.1, 5.1, 0.0, 10.2, 1.12), cpus=2, has_steal=False)
    assert i.other_cpus == 0.0 and i.steal_fraction is None
    assert i.warnings() == []


def test_stop_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="before start"):
        _probe().stop()


def test_real_snapshots_see_this_process_working() -> None:
    import time

    p = InterferenceProbe()
    p.start()
    end = time.process_time() + 0.3
    while time.process_time() < end:
        pass
    i = p.stop()
    assert 0.25 <= i.own_cpus * i.window_s < 1.0
    assert i.steal_fraction is None or 0.0 <= i.steal_fraction < 1.0
