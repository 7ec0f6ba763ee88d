"""CPU energy against fake powercap trees (files with the kernel's names and units) and a
scripted utilisation; no RAPL hardware is needed."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import pytest

from flagbench.api.energy import ESTIMATED, MEASURED, EnergyMeter
from flagbench.vendors.cpu_energy import (
    PERMISSION_REASON,
    CpuTimesUtilisation,
    CpuUtilEstimateMeter,
    cpu_meters,
    open_rapl,
    rapl_package_zones,
)

# The range of a common Intel package counter, 2^32 µJ ≈ 262 kJ
RANGE_UJ = 262_143_328_850


def zone(root: Path, dirname: str, name: str, energy_uj: int, range_uj: int = RANGE_UJ) -> Path:
    """One powercap zone folder with the three files flagbench reads."""
    path = root / dirname
    path.mkdir(parents=True)
    (path / "name").write_text(f"{name}\n")
    (path / "energy_uj").write_text(f"{energy_uj}\n")
    (path / "max_energy_range_uj").write_text(f"{range_uj}\n")
    return path


def set_counter(path: Path, energy_uj: int) -> None:
    (path / "energy_uj").write_text(f"{energy_uj}\n")


@pytest.fixture
def one_package(tmp_path: Path) -> Path:
    """A single-socket host as the kernel lays it out, with zones that must not be counted."""
    (tmp_path / "intel-rapl").mkdir()  # the control type, not a zone
    zone(tmp_path, "intel-rapl:0", "package-0", 1_000_000)
    zone(tmp_path, "intel-rapl:0:0", "core", 400_000)
    zone(tmp_path, "intel-rapl:0:1", "uncore", 100_000)
    zone(tmp_path, "intel-rapl:0:2", "dram", 200_000)
    zone(tmp_path, "intel-rapl:1", "psys", 5_000_000)  # the platform, contains the package
    zone(tmp_path, "intel-rapl-mmio:0", "package-0", 1_000_000)  # same package, other interface
    return tmp_path


def window(meter: EnergyMeter, between: list[tuple[Path, int]]) -> tuple[float, float]:
    """Start, move the counters, stop; the reading's joules and seconds."""
    meter.start()
    time.sleep(0.01)
    for path, value in between:
        set_counter(path, value)
    r = meter.stop()
    assert (r.source, r.scope, r.confidence) == ("rapl", "package", MEASURED)
    return r.joules, r.seconds


def test_discovery_keeps_package_zones_only(one_package: Path) -> None:
    zones = rapl_package_zones(one_package)
    assert [(z.path.name, z.name) for z in zones] == [("intel-rapl:0", "package-0")]
    assert zones[0].wrap_joules == pytest.approx(RANGE_UJ / 1e6)


def test_counter_read_at_both_edges(one_package: Path) -> None:
    meter, why = open_rapl(one_package)
    assert meter is not None and why == ""
    joules, seconds = window(meter, [(one_package / "intel-rapl:0", 13_500_000)])
    assert joules == pytest.approx(12.5) and seconds > 0


def test_wrap_around_corrected_with_the_zone_range(tmp_path: Path) -> None:
    pkg = zone(tmp_path, "intel-rapl:0", "package-0", 995_000_000, range_uj=1_000_000_000)
    meter, _ = open_rapl(tmp_path)
    assert meter is not None
    # 5 J to the top of the 1000 J range, then 7 J after the counter went back to zero
    joules, _ = window(meter, [(pkg, 7_000_000)])
    assert joules == pytest.approx(12.0)


def test_two_packages_are_one_meter_that_sums_them(tmp_path: Path) -> None:
    p0 = zone(tmp_path, "intel-rapl:0", "package-0", 10_000_000)
    p1 = zone(tmp_path, "intel-rapl:1", "package-1", 990_000_000, range_uj=1_000_000_000)
    zone(tmp_path, "intel-rapl:1:0", "dram", 0)
    meters, why = cpu_meters(powercap_root=tmp_path)
    assert len(meters) == 1 and why == ""
    # package 0: 30 J; package 1 wraps: 10 J to the top and 5 J after
    joules, _ = window(meters[0], [(p0, 40_000_000), (p1, 5_000_000)])
    assert joules == pytest.approx(45.0)


def test_root_only_counter_gives_no_meter_and_the_cve(
        one_package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod 000 does not stop root, so refuse the read the way a non-root process sees it
    real_read_text = Path.read_text

    def read_text(self: Path, *args: object, **kwargs: object) -> str:
        if self.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", read_text)
    meter, why = open_rapl(one_package)
    assert meter is None and why == PERMISSION_REASON
    assert "CVE-2020-8694" in why and "Linux 5.10" in why and "chmod o+r" in why
    meters, why = cpu_meters(tdp_w=65.0, powercap_root=one_package)
    assert [m.source for m in meters] == ["cpu_util_x_tdp"] and why == PERMISSION_REASON


def test_unreadable_counter_gives_the_error(tmp_path: Path) -> None:
    pkg = zone(tmp_path, "intel-rapl:0", "package-0", 0)
    (pkg / "energy_uj").write_text("")  # what some hypervisors leave there
    meter, why = open_rapl(tmp_path)
    assert meter is None and why.startswith("RAPL energy_uj cannot be read:")


def test_no_powercap_interface(tmp_path: Path) -> None:
    meter, why = open_rapl(tmp_path / "absent")
    assert meter is None
    assert why.startswith("no RAPL powercap interface on this host (") and "absent" in why
    meter, why = open_rapl(tmp_path)  # the folder is there but holds no package zone
    assert meter is None and "no package zone" in why


def test_estimate_is_utilisation_times_tdp_times_seconds() -> None:
    calls: list[float] = []

    def utilisation() -> float:  # the busy share since the previous call, like cpu_percent
        calls.append(time.perf_counter())
        return 0.0 if len(calls) == 1 else 0.25

    meter = CpuUtilEstimateMeter(tdp_w=120.0, utilisation=utilisation)
    meter.start()
    time.sleep(0.02)
    r = meter.stop()
    assert (r.source, r.scope, r.confidence) == ("cpu_util_x_tdp", "package", ESTIMATED)
    assert len(calls) == 2 and r.seconds == pytest.approx(calls[1] - calls[0], abs=1e-3)
    assert r.joules == pytest.approx(0.25 * 120.0 * r.seconds)
    assert r.avg_watts == pytest.approx(30.0)


def test_estimate_clamps_utilisation_and_refuses_a_bad_tdp() -> None:
    meter = CpuUtilEstimateMeter(tdp_w=100.0, utilisation=lambda: 1.3)
    meter.start()
    assert meter.stop().avg_watts == pytest.approx(100.0)
    with pytest.raises(ValueError):
        CpuUtilEstimateMeter(tdp_w=0.0)


CpuTimes = namedtuple("CpuTimes", "user nice system idle iowait irq softirq steal guest guest_nice")


def test_utilisation_counts_the_process_cpus_over_all_cpus(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import psutil

    def cpu(busy: float, idle: float, iowait: float = 0.0) -> CpuTimes:
        return CpuTimes(busy, 0.0, 0.0, idle, iowait, 0.0, 0.0, 0.0, 0.0, 0.0)

    snapshots = iter([
        [cpu(0, 0), cpu(0, 0), cpu(0, 0), cpu(0, 0)],
        # 1 s later: CPU 0 fully busy, CPU 1 half busy and half waiting on IO (idle);
        # CPUs 2 and 3 busy with another tenant's work, not this process's CPUs
        [cpu(1, 0), cpu(0.5, 0, iowait=0.5), cpu(1, 0), cpu(1, 0)],
    ])
    monkeypatch.setattr(psutil, "cpu_times", lambda percpu=False: next(snapshots))
    util = CpuTimesUtilisation(cpus={0, 1})
    assert util() == 0.0  # the first call only sets the mark
    # the process's CPUs are 75 % busy and are half of the package's CPUs
    assert util() == pytest.approx(0.75 * 2 / 4)


def test_no_rapl_and_no_tdp_gives_nothing_and_a_reason(tmp_path: Path) -> None:
    meters, why = cpu_meters(powercap_root=tmp_path / "absent")
    assert meters == [] and "no RAPL powercap interface" in why and "no TDP" in why
    meters, why = cpu_meters(tdp_w=95.0, powercap_root=tmp_path / "absent")
    assert isinstance(meters[0], CpuUtilEstimateMeter) and "no RAPL powercap" in why


def test_importing_the_module_loads_neither_torch_nor_psutil() -> None:
    code = ("import sys, flagbench.vendors.cpu_energy; "
            "print('torch' in sys.modules, 'psutil' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
