"""What every vendor that computes on an NVIDIA GPU measures the same way: device facts, energy
and peak, all of GPU 0 through NVML.

A mixin, so that cuda, ort-cuda and ort-tensorrt share one definition: the NVML total-energy
counter (else polled board power), the theoretical peak from the GPU's properties, and the
NVML facts recorded with every run. Without NVML each still runs, with energy unavailable and
the reason recorded.
"""

from __future__ import annotations

from typing import Any

from flagbench.api.contracts import Peak, Workload
from flagbench.api.energy import EnergyMeter


def _nvml() -> tuple[Any, str]:
    from flagbench.vendors.nvml import open_nvml

    nvml, why = open_nvml()
    return nvml, why


class NvidiaMeasures:
    """``meters``, ``peak`` and ``details`` for a vendor whose work runs on NVIDIA GPU 0."""

    def meters(self, workload: Workload) -> list[EnergyMeter]:
        """NVML's total-energy counter, else polled power; none without NVML."""
        from flagbench.vendors.nvml import energy_meters

        nvml, _ = _nvml()
        return energy_meters(nvml, 0) if nvml is not None else []

    def peak(self, precision: str) -> Peak | None:
        """Theoretical peak of device 0 from its SM count, capability and NVML clocks, where
        torch can describe the GPU (see ``cuda_peak``)."""
        try:
            import torch

            if not torch.cuda.is_available():
                return None
        except ImportError:
            return None
        from flagbench.vendors.cuda_peak import torch_cuda_peak

        peak: Peak | None = torch_cuda_peak(precision)
        return peak

    def details(self) -> dict[str, Any]:
        """NVML facts (name, driver, clocks, temperature, power limit) of device 0."""
        from flagbench.vendors.nvml import device_facts

        nvml, why = _nvml()
        return {"nvml": device_facts(nvml, 0) if nvml is not None else {"unavailable": why}}

    def driver_versions(self) -> dict[str, str]:
        """The driver's version for the probe, or why NVML cannot say."""
        from flagbench.vendors.nvml import device_facts

        nvml, why = _nvml()
        if nvml is None:
            return {"nvml": why}
        return {"driver": str(device_facts(nvml, 0).get("driver", "?"))}
