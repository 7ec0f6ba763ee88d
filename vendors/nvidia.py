"""What every vendor that computes on an NVIDIA GPU measures the same way: device facts, energy
and peak, all of GPU 0 through NVML.

A mixin, so that cuda, ort-cuda and ort-tensorrt share one definition: the NVML total-energy
counter (else polled board power), the theoretical peak from the GPU's properties, and the
NVML facts recorded with every run. Without NVML each still runs, with energy unavailable and
the reason recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flagbench.api.contracts import Peak, Workload
from flagbench.api.energy import EnergyMeter

#: Precisions that are real only from compute capability 8.0 (Ampere): below it torch runs
#: "tf32" as plain fp32 and emulates bf16 (``torch.cuda.is_bf16_supported()`` still says yes
#: on V100 and T4), so a run under either label would not be what it says.
NEEDS_AMPERE = ("tf32", "bf16")


def ampere_gate(precisions: Sequence[str], capability: tuple[int, int] | None,
                device: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """``precisions`` without tf32 and bf16 below compute capability 8.0 (or when it is not
    known), and why each was dropped."""
    if capability is not None and tuple(capability) >= (8, 0):
        return tuple(precisions), {}
    have = (f"compute capability {capability[0]}.{capability[1]}" if capability is not None
            else "an unknown compute capability")
    dropped = {p: f"{p} needs compute capability 8.0 (Ampere) or newer; {device} has {have}, "
               f"where it would {'run fp32' if p == 'tf32' else 'be emulated'}"
               for p in precisions if p in NEEDS_AMPERE}
    return tuple(p for p in precisions if p not in dropped), dropped


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

    def compute_capability(self) -> tuple[int, int] | None:
        """GPU 0's compute capability from NVML, or None where NVML cannot say."""
        nvml, _ = _nvml()
        if nvml is None:
            return None
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(0)
            major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
        except Exception:  # an old driver, or no device
            return None
        return int(major), int(minor)

    def driver_versions(self) -> dict[str, str]:
        """The driver's version for the probe, or why NVML cannot say."""
        from flagbench.vendors.nvml import device_facts

        nvml, why = _nvml()
        if nvml is None:
            return {"nvml": why}
        return {"driver": str(device_facts(nvml, 0).get("driver", "?"))}
