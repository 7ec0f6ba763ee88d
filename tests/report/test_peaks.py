"""Peaks: the CPU vendors' declared estimate, MFU, measured peaks (GPU peaks: tests/vendors)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from flagbench.api.contracts import Peak
from flagbench.api.result import RunResult, Status
from flagbench.api.spec import RunSpec
from flagbench.report.peaks import format_rate, measured_peak, peak_shares
from flagbench.run.environment import host_facts
from flagbench.store import StoredRun
from flagbench.vendors.cpu_peak import estimate_cpu_peak

AVX2 = "processor\t: 0\ncpu MHz\t\t: 2400.000\nflags\t\t: fpu sse2 avx fma avx2\n"


def test_cpu_estimate_from_cpuinfo() -> None:
    peak = estimate_cpu_peak(AVX2, physical_cores=4, usable_cpus=8, max_clock_hz=None)
    assert peak is not None and peak.confidence == "estimate"
    assert peak.flops_per_s == pytest.approx(4 * 2.4e9 * 32)  # physical cores, not threads
    assert "two FMA units assumed" in peak.source and "/proc/cpuinfo" in peak.source
    assert peak.bytes_per_s is None  # nothing on the host states it
    avx512 = AVX2.replace("avx2", "avx2 avx512f")
    peak = estimate_cpu_peak(avx512, physical_cores=4, usable_cpus=2, max_clock_hz=3.0e9)
    assert peak is not None and peak.flops_per_s == pytest.approx(2 * 3.0e9 * 64)
    assert "cpufreq" in peak.source
    no_fma = AVX2.replace(" fma", "")
    assert estimate_cpu_peak(no_fma, 4, 4, None) is None  # no honest figure without FMA


def test_peak_must_be_positive_and_sourced() -> None:
    with pytest.raises(ValueError):
        Peak(0.0, None, "x")
    with pytest.raises(ValueError):
        Peak(1.0, None, "")
    with pytest.raises(ValueError):
        Peak(1.0, None, "x", confidence="guess")


def test_run_metrics_carry_mfu_and_bandwidth_share() -> None:
    from flagbench.api.contracts import ActualRun
    from flagbench.api.measurement import Measurement
    from flagbench.stats.summary import summarize

    now = datetime.now(timezone.utc)
    samples = (0.5, 0.5, 0.5)
    m = Measurement(samples, summarize(samples), "min_reached", 0, 0.0, 0.5, 1.5,
                    energy_note="none")

    result = RunResult(RunSpec(vendor="cpu", case="x", batch_size=4), Status.OK, now, now,
                       measurement=m, actual=ActualRun("cpu", "fp32"), flops_per_sample=1e9,
                       bytes_per_sample=1e6, peak=Peak(1e11, 1e8, "test"))
    metrics = {x.name: x.value for x in result.metrics()}
    assert metrics["achieved_flops"] == pytest.approx(8e9)  # 4 samples / 0.5 s × 1 GFLOP
    assert metrics["mfu"] == pytest.approx(0.08)
    assert metrics["achieved_bytes_per_s"] == pytest.approx(8e6)
    assert metrics["bandwidth_utilisation"] == pytest.approx(0.08)


def _stored(id_: int, case: str, metrics: dict[str, float], env: dict[str, Any],
            vendor: str = "cpu", precision: str = "fp32", facts: dict[str, Any] | None = None
            ) -> StoredRun:
    now = datetime.now(timezone.utc)
    return StoredRun(id=id_, uid=str(id_), vendor=vendor, case=case, scenario="latency",
                     batch_size=1, precision=precision, status="ok", reason="", stop_rule="x",
                     started_at=now, finished_at=now, hostname="h", spec={"options": []},
                     actual=None, environment=env, host_facts=facts or host_facts(),
                     metrics=metrics)


def test_measured_peak_is_the_best_probe_on_the_same_host_vendor_precision() -> None:
    probe = {"peak_probe": "flops"}
    other_host = dict(host_facts(), hostname="elsewhere")
    runs = [
        _stored(1, "gemm", {"achieved_flops": 5e10}, probe),
        _stored(2, "gemm", {"achieved_flops": 7e10}, probe),
        _stored(3, "gemm", {"achieved_flops": 9e10}, probe, vendor="ort-cpu"),
        _stored(4, "gemm", {"achieved_flops": 9e10}, probe, precision="bf16"),
        _stored(5, "gemm", {"achieved_flops": 9e10}, probe, facts=other_host),
        _stored(6, "resnet50", {"achieved_flops": 8e10}, {}),  # not a probe
    ]
    model = _stored(7, "resnet50", {"achieved_flops": 3.5e10},
                    {"peak": {"flops_per_s": 1e11, "source": "estimate: x",
                              "confidence": "estimate"}})
    from flagbench.api.hosts import host_key

    best = measured_peak(runs, host_key(host_facts()), "cpu", "fp32", "flops")
    assert best is not None and best.id == 2
    shares = peak_shares(model, runs)
    assert [(s.origin, s.peak, s.share) for s in shares] == [
        ("declared", 1e11, pytest.approx(0.35)), ("measured", 7e10, pytest.approx(0.5))]
    assert shares[0].source == "declared by cpu: estimate: x"
    assert "best gemm bs1 run (#2)" in shares[1].source
    assert peak_shares(runs[1], runs)[0].peak == 5e10  # a probe is not its own peak


def test_format_rate() -> None:
    assert format_rate(2.5e13, "flops") == "25 TFLOP/s"
    assert format_rate(9.87e9, "bytes") == "9.87 GB/s"
