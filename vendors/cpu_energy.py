"""CPU energy: RAPL package counters through Linux powercap, else a labelled estimate.

RAPL's ``energy_uj`` is a cumulative microjoule counter per package that wraps at
``max_energy_range_uj``; read at both edges of the window it is a measurement. Without it, a
TDP given by the user and the CPU utilisation over the window give an estimate, labelled so
it is never mistaken for one. Tests drive this with fake powercap trees in a temporary folder.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from flagbench.api.contracts import Workload
from flagbench.api.energy import ESTIMATED, EnergyMeter, EnergyReading
from flagbench.measure.energy import CounterMeter

DEFAULT_POWERCAP_ROOT = Path("/sys/class/powercap")

# Top-level zones only: "intel-rapl:0:0" (core, uncore, dram) is inside the package total, and
# "intel-rapl-mmio:0" repeats a package through another interface; either would count twice.
_TOP_ZONE = re.compile(r"intel-rapl:\d+")

PERMISSION_REASON = (
    "RAPL energy_uj is readable only by root since Linux 5.10 (CVE-2020-8694): run as root or "
    "`sudo chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj`"
)


@dataclass(frozen=True)
class RaplZone:
    """One RAPL package zone: its sysfs folder, its name and its counter's range."""

    path: Path
    name: str
    wrap_joules: float

    def read_joules(self) -> float:
        """The cumulative counter, read from the file every time so nothing is cached."""
        return int((self.path / "energy_uj").read_text().strip()) / 1e6


def rapl_package_zones(root: str | Path = DEFAULT_POWERCAP_ROOT) -> list[RaplZone]:
    """Package zones under a powercap root, by index; sub-zones and ``psys`` are left out.

    AMD packages appear as ``intel-rapl:N`` too on recent kernels. ``psys`` (the whole
    platform on some Intel laptops) contains the packages, so adding it would count twice.
    """
    zones = []
    for path in Path(root).glob("intel-rapl:*"):
        if not _TOP_ZONE.fullmatch(path.name):
            continue
        try:
            name = (path / "name").read_text().strip()
            wrap_uj = int((path / "max_energy_range_uj").read_text().strip())
        except (OSError, ValueError):
            continue  # a zone without its files is not one we can read
        if name.startswith("package"):
            zones.append(RaplZone(path, name, wrap_uj / 1e6))
    return sorted(zones, key=lambda z: int(z.path.name.split(":")[1]))


class SummedMeter:
    """Several meters read as one (the packages of a multi-socket host).

    The runner keeps only the first meter's reading, so the packages must be one meter. Each
    part corrects its own wrap-around; the window is the longest of the parts' brackets.
    """

    def __init__(self, parts: Sequence[EnergyMeter], source: str, scope: str) -> None:
        if not parts:
            raise ValueError("a summed meter needs at least one part")
        self.source = source
        self._parts = list(parts)
        self._scope = scope

    def start(self) -> None:
        """Start every part."""
        for part in self._parts:
            part.start()

    def stop(self) -> EnergyReading:
        """Stop every part and add their energy."""
        readings = [part.stop() for part in self._parts]
        return EnergyReading(self.source, self._scope, readings[0].confidence,
                             sum(r.joules for r in readings), max(r.seconds for r in readings))


def rapl_meter(zones: Sequence[RaplZone]) -> EnergyMeter:
    """One meter for all package zones: a counter per zone, summed when there are several."""
    counters = [CounterMeter(z.read_joules, source="rapl", scope="package",
                             wrap_joules=z.wrap_joules) for z in zones]
    if len(counters) == 1:
        return counters[0]
    return SummedMeter(counters, source="rapl", scope="package")


def open_rapl(root: str | Path = DEFAULT_POWERCAP_ROOT) -> tuple[EnergyMeter | None, str]:
    """The RAPL package meter, or None and why not; never raises for missing or locked sysfs."""
    root = Path(root)
    if not root.is_dir():
        return None, f"no RAPL powercap interface on this host ({root} does not exist)"
    zones = rapl_package_zones(root)
    if not zones:
        return None, f"no RAPL powercap interface on this host (no package zone under {root})"
    try:
        for zone in zones:
            zone.read_joules()  # fail here, not inside the timed window
    except PermissionError:
        return None, PERMISSION_REASON
    except (OSError, ValueError) as exc:  # some hypervisors expose the zone but no data
        return None, f"RAPL energy_uj cannot be read: {exc}"
    return rapl_meter(zones), ""


class CpuTimesUtilisation:
    """Busy share of the whole CPU over the time since the previous call, from ``cpu_times``.

    Only the CPUs this process may run on count (its affinity), over all logical CPUs: a run
    pinned to 2 of 8 CPUs that keeps them busy is a quarter of the package, and another
    tenant's load on the other CPUs is not charged to it. Keeps its own previous snapshot
    rather than ``psutil.cpu_percent``'s, which every other caller in the thread resets.
    """

    def __init__(self, cpus: set[int] | None = None) -> None:
        if cpus is None:
            cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        self._cpus = cpus
        self._last: list[tuple[float, float]] | None = None

    def _snapshot(self) -> list[tuple[float, float]]:
        import psutil

        snapshot = []
        for t in psutil.cpu_times(percpu=True):
            # guest time is already inside user and nice on Linux; iowait is idle
            total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
            snapshot.append((total - t.idle - getattr(t, "iowait", 0.0), total))
        return snapshot

    def __call__(self) -> float:
        """Utilisation in [0, 1] since the previous call; 0.0 on the first call."""
        now, last = self._snapshot(), self._last
        self._last = now
        if last is None or len(last) != len(now):
            return 0.0
        mine = [i for i in range(len(now)) if self._cpus is None or i in self._cpus]
        busy = sum(now[i][0] - last[i][0] for i in mine)
        total = sum(now[i][1] - last[i][1] for i in mine)
        if total <= 0:
            return 0.0
        return min(1.0, max(0.0, busy / total)) * len(mine) / len(now)


class CpuUtilEstimateMeter:
    """Package energy estimated as utilisation × TDP × window seconds (confidence ESTIMATED).

    A linear model from 0 W idle to TDP at full load: it leaves out idle power and treats TDP
    (a thermal rating) as full-load power, so it is a rough figure, used only without RAPL.
    ``utilisation`` returns the busy share since its previous call, so it is called at start
    to set the mark and at stop for the window's average.
    """

    def __init__(self, tdp_w: float, utilisation: Callable[[], float] | None = None) -> None:
        if not tdp_w > 0:
            raise ValueError(f"a TDP must be positive watts, got {tdp_w}")
        self.source = "cpu_util_x_tdp"
        self._tdp = tdp_w
        self._util = utilisation if utilisation is not None else CpuTimesUtilisation()
        self._t0 = 0.0

    def start(self) -> None:
        """Mark the utilisation and the clock."""
        self._util()
        self._t0 = time.perf_counter()

    def stop(self) -> EnergyReading:
        """The window's average utilisation times the TDP, over the window."""
        seconds = time.perf_counter() - self._t0
        util = min(1.0, max(0.0, self._util()))
        return EnergyReading(self.source, "package", ESTIMATED, util * self._tdp * seconds,
                             seconds)


def cpu_meters(tdp_w: float | None = None,
               powercap_root: str | Path = DEFAULT_POWERCAP_ROOT,
               ) -> tuple[list[EnergyMeter], str]:
    """CPU meters best first (RAPL, else the estimate when a TDP is given) and why RAPL is not
    used ("" when it is). Never raises for a missing or unreadable powercap tree."""
    rapl, why = open_rapl(powercap_root)
    if rapl is not None:
        return [rapl], ""
    if tdp_w is None:
        return [], f"{why}; no TDP given to estimate from"
    return [CpuUtilEstimateMeter(tdp_w)], why


def meters_for(workload: Workload) -> list[EnergyMeter]:
    """The meters a CPU vendor offers for a run: RAPL, else the estimate from ``--cpu-tdp``."""
    meters, _ = cpu_meters(workload.spec.measure.cpu_tdp_w)
    return meters
