"""What every vendor that computes on the host CPU measures the same way: energy and peak.

A mixin, so the torch and ONNX Runtime CPU vendors share one definition of their meters
(RAPL, else a labelled TDP estimate) and their float32 peak (estimated from cpuinfo).
"""

from __future__ import annotations

from flagbench.api.contracts import Peak, Workload
from flagbench.api.energy import EnergyMeter


class HostCpuMeasures:
    """``meters`` and ``peak`` for a vendor whose work runs on the host CPU."""

    def meters(self, workload: Workload) -> list[EnergyMeter]:
        """RAPL package energy, else an estimate from utilisation and the user's TDP."""
        from flagbench.vendors.cpu_energy import meters_for

        meters: list[EnergyMeter] = meters_for(workload)
        return meters

    def peak(self, precision: str) -> Peak | None:
        """The host CPU's float32 peak, estimated from cpuinfo (see ``cpu_peak``)."""
        from flagbench.vendors.cpu_peak import cpu_peak

        peak: Peak | None = cpu_peak(precision)
        return peak
