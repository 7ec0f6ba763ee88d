"""NVIDIA Management Library (pynvml, from the nvidia-ml-py distribution): device facts and
energy meters for the CUDA vendors. Tests drive it with a fake ``pynvml`` module."""

from __future__ import annotations

from collections.abc import Callable
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


def energy_meters(nvml: Any, index: int) -> list[EnergyMeter]:
    """The total-energy counter (Volta and newer, millijoules), else polled board power."""
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    try:
        nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    except Exception:
        return [PowerPoller(lambda: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0,
                            source="nvml_power_polled", scope="board")]
    return [CounterMeter(lambda: nvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0,
                         source="nvml_total_energy", scope="board")]
