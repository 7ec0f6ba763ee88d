"""NVIDIA Management Library (pynvml, from the nvidia-ml-py distribution): device facts and
energy meters for the CUDA vendors. Tests drive it with a fake ``pynvml`` module."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from flagbench.api.energy import EnergyMeter
from flagbench.measure.energy import CounterMeter, PowerPoller


def open_nvml() -> tuple[Any, str]:
    """The initialised pynvml module, or None and why not."""
    try:
        import pynvml
    except ImportError as exc:
        return None, f"pynvml is not installed (pip install nvidia-ml-py): {exc}"
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, …
        return None, f"NVML cannot start: {exc}"
    return pynvml, ""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def device_facts(nvml: Any, index: int) -> dict[str, Any]:
    """Name, driver, clocks, temperature and power limit of one GPU; absent facts are skipped."""
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    queries: dict[str, Callable[[], Any]] = {
        "name": lambda: _text(nvml.nvmlDeviceGetName(handle)),
        "driver": lambda: _text(nvml.nvmlSystemGetDriverVersion()),
        "sm_clock_mhz": lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM),
        "mem_clock_mhz": lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_MEM),
        "max_sm_clock_mhz": lambda: nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM),
        "temperature_c": lambda: nvml.nvmlDeviceGetTemperature(handle,
                                                               nvml.NVML_TEMPERATURE_GPU),
        "power_limit_w": lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0,
        "memory_total_bytes": lambda: nvml.nvmlDeviceGetMemoryInfo(handle).total,
    }
    facts: dict[str, Any] = {}
    for key, query in queries.items():
        try:
            facts[key] = query()
        except Exception:  # not every GPU or driver answers every query
            continue
    return facts


def energy_meters(nvml: Any, index: int, scope: str = "board") -> list[EnergyMeter]:
    """The total-energy counter (Volta and newer, millijoules), else polled board power."""
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    try:
        nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    except Exception:
        return [PowerPoller(lambda: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0,
                            source="nvml_power_polled", scope=scope)]
    return [CounterMeter(lambda: nvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0,
                         source="nvml_total_energy", scope=scope)]


def _uuid_text(uuid: Any) -> str:
    """NVML's form of a UUID: torch gives "58e7…" or a UUID object; NVML wants "GPU-58e7…"."""
    text = _text(uuid)
    return text if text.startswith(("GPU-", "MIG-")) else f"GPU-{text}"


def nvml_index(nvml: Any, cuda_index: int, environ: Mapping[str, str] | None = None,
               torch_uuid: Callable[[int], Any] | None = None) -> tuple[int | None, str]:
    """The NVML index of CUDA device ``cuda_index``, and how it was found (or why not).

    NVML numbers GPUs by PCI bus and ignores ``CUDA_VISIBLE_DEVICES``, while CUDA numbers the
    visible ones, fastest first: with ``CUDA_VISIBLE_DEVICES=3`` CUDA's device 0 is NVML's 3.
    The UUID settles it: torch's (``torch_uuid``), else one listed in
    ``CUDA_VISIBLE_DEVICES``. Without a UUID the order is trusted only where CUDA's equals
    NVML's: ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, or GPUs that are all the same model (fastest
    first then falls back to PCI order)."""
    env = os.environ if environ is None else environ
    if torch_uuid is not None:
        try:
            handle = nvml.nvmlDeviceGetHandleByUUID(_uuid_text(torch_uuid(cuda_index)))
            return int(nvml.nvmlDeviceGetIndex(handle)), "by UUID (torch)"
        except Exception:  # an old torch without uuid, or NVML that does not know it
            pass
    visible = [v.strip() for v in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    if "CUDA_VISIBLE_DEVICES" in env and cuda_index >= len(visible):
        return None, (f"CUDA device {cuda_index} is not among CUDA_VISIBLE_DEVICES="
                      f"{env['CUDA_VISIBLE_DEVICES']!r}")
    entry = visible[cuda_index] if visible else str(cuda_index)
    if entry.startswith(("GPU-", "MIG-")):
        try:
            handle = nvml.nvmlDeviceGetHandleByUUID(entry)
            return int(nvml.nvmlDeviceGetIndex(handle)), "by UUID (CUDA_VISIBLE_DEVICES)"
        except Exception as exc:
            return None, f"NVML does not know {entry}: {exc}"
    if not entry.isdigit():
        return None, f"cannot read CUDA_VISIBLE_DEVICES entry {entry!r}"
    try:
        count = int(nvml.nvmlDeviceGetCount())
        names = {_text(nvml.nvmlDeviceGetName(nvml.nvmlDeviceGetHandleByIndex(i)))
                 for i in range(count)}
    except Exception as exc:
        return None, f"NVML cannot list the GPUs: {exc}"
    index = int(entry)
    if index >= count:
        return None, f"NVML sees {count} GPU(s), none with index {index}"
    if env.get("CUDA_DEVICE_ORDER") == "PCI_BUS_ID":
        return index, "by PCI bus order (CUDA_DEVICE_ORDER=PCI_BUS_ID)"
    if len(names) == 1:
        return index, "by order (every GPU here is the same model)"
    return None, ("cannot tell which NVML device is CUDA's device "
                  f"{cuda_index} (GPUs of different models, CUDA orders them fastest first): "
                  "set CUDA_DEVICE_ORDER=PCI_BUS_ID, or name GPUs by UUID in "
                  "CUDA_VISIBLE_DEVICES")


def mig_note(nvml: Any, index: int) -> str:
    """What NVML's counters cover when the GPU is split by MIG ("" when it is not)."""
    try:
        current, _ = nvml.nvmlDeviceGetMigMode(nvml.nvmlDeviceGetHandleByIndex(index))
    except Exception:  # no MIG on this GPU or driver
        return ""
    if int(current) != 1:
        return ""
    return ("MIG is enabled on this GPU: NVML's power and energy cover the whole GPU, every "
            "MIG instance's work included, not only this run's")
