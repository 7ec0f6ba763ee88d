"""What every vendor that computes on an NVIDIA GPU measures the same way: device facts, energy
and peak of the GPU the run uses, through NVML.

A mixin, so that cuda, ort-cuda and ort-tensorrt share one definition: the NVML total-energy
counter (else polled board power), the peak, and the NVML facts recorded with every run. The
run's CUDA device (``cuda_index``) is matched to its NVML device by UUID (``nvml_index``),
since the two number GPUs differently. Without NVML, or where the match cannot be made, each
still runs, with energy unavailable and the reason recorded.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from flagbench.api.contracts import Option, OptionValue, Peak, Workload
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


def _torch_uuid(index: int) -> Any:
    """torch's UUID of CUDA device ``index``; raises where torch has no CUDA."""
    import torch

    return torch.cuda.get_device_properties(index).uuid


class NvidiaMeasures:
    """``meters``, ``peak`` and ``details`` for a vendor whose work runs on CUDA device
    ``cuda_index`` (set from the vendor's ``device`` option)."""

    cuda_index = 0

    def nvml_device(self) -> tuple[Any, int | None, str]:
        """NVML, the NVML index of this vendor's CUDA device, and how it was matched (or why
        there is none)."""
        from flagbench.vendors.nvml import nvml_index

        nvml, why = _nvml()
        if nvml is None:
            return None, None, why
        uuid = _torch_uuid if _torch_has_cuda() else None
        index, how = nvml_index(nvml, self.cuda_index, torch_uuid=uuid)
        return nvml, index, how

    def meters(self, workload: Workload) -> list[EnergyMeter]:
        """NVML's total-energy counter, else polled power; none without NVML or a match."""
        from flagbench.vendors.nvml import energy_meters, mig_note

        nvml, index, _ = self.nvml_device()
        if nvml is None or index is None:
            return []
        meters: list[EnergyMeter] = energy_meters(
            nvml, index, "board, whole GPU (MIG enabled)" if mig_note(nvml, index) else "board")
        return meters

    def peak(self, precision: str) -> Peak | None:
        """Peak of this vendor's device where torch can describe the GPU: NVIDIA's published
        figure, else the formula over NVML's clocks of the matched GPU (see ``cuda_peak``)."""
        if not _torch_has_cuda():
            return None
        from flagbench.vendors.cuda_peak import torch_cuda_peak

        _, index, _ = self.nvml_device()
        peak: Peak | None = torch_cuda_peak(precision, self.cuda_index, index)
        return peak

    def details(self) -> dict[str, Any]:
        """NVML facts (name, driver, clocks, temperature, power limit) of this vendor's GPU,
        how it was matched, and what the counters cover under MIG."""
        from flagbench.vendors.nvml import device_facts, mig_note

        nvml, index, how = self.nvml_device()
        if nvml is None or index is None:
            return {"nvml": {"unavailable": how}}
        facts: dict[str, Any] = {**device_facts(nvml, index), "index": index, "matched": how}
        note = mig_note(nvml, index)
        if note:
            facts["mig"] = note
        return {"nvml": facts}

    def compute_capability(self) -> tuple[int, int] | None:
        """This vendor's GPU's compute capability from NVML, or None where NVML cannot say."""
        nvml, index, _ = self.nvml_device()
        if nvml is None or index is None:
            return None
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
        except Exception:  # an old driver, or no device
            return None
        return int(major), int(minor)

    def driver_versions(self) -> dict[str, str]:
        """The driver's version for the probe, or why NVML cannot say."""
        nvml, why = _nvml()
        if nvml is None:
            return {"nvml": why}
        try:
            from flagbench.vendors.nvml import _text

            return {"driver": _text(nvml.nvmlSystemGetDriverVersion())}
        except Exception as exc:
            return {"nvml": f"no driver version: {exc}"}


class CudaDeviceOption:
    """The ``device`` option of a vendor that runs on one CUDA device: its index in CUDA's
    numbering (after CUDA_VISIBLE_DEVICES), which ``NvidiaMeasures`` matches to NVML."""

    cuda_index = 0

    @property
    def options(self) -> Mapping[str, Option]:
        """``device``: the CUDA device index."""
        return {"device": Option(0, "CUDA device index, in CUDA's numbering", minimum=0)}

    def with_options(self, values: Mapping[str, OptionValue]) -> Any:
        """A copy of this vendor on CUDA device ``values["device"]``."""
        vendor = copy.copy(self)
        vendor.cuda_index = int(values["device"])
        return vendor


def _torch_has_cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False
