"""An estimate of the host CPU's peak float32 FLOP/s, from what /proc/cpuinfo and sysfs say.

Theoretical peak = cores × clock × FLOPs per cycle per core. The vector width comes from the
CPU's flags; the number of FMA units per core and the clock under vector load cannot be read,
so the figure is labelled an estimate and its source spells out the assumptions: two FMA units
of the full vector width (Intel since Haswell, AMD since Zen 2; Zen 1 and some Xeon Silver
parts have half), at the maximum clock sysfs reports, else the clock cpuinfo reports now.
No memory-bandwidth figure: nothing on the host states it.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from flagbench.api.contracts import Peak

#: float32 FLOPs per cycle per core with two FMA units: lanes × 2 (multiply-add) × 2 units.
_FLOPS_PER_CYCLE = (("avx512f", 64, "AVX-512"), ("avx2", 32, "AVX2 + FMA"))


def _cpuinfo(text: str) -> tuple[set[str], float | None]:
    flags: set[str] = set()
    mhz = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags" and not flags:
            flags = set(value.split())
        elif key.strip() == "cpu MHz" and mhz is None:
            try:
                mhz = float(value)
            except ValueError:
                pass
    return flags, mhz


def _max_clock_hz(root: Path) -> float | None:
    try:
        return int((root / "cpu0/cpufreq/cpuinfo_max_freq").read_text()) * 1e3
    except (OSError, ValueError):
        return None


def estimate_cpu_peak(cpuinfo: str, physical_cores: int | None, usable_cpus: int,
                      max_clock_hz: float | None) -> Peak | None:
    """The float32 estimate from the given facts, or None where they do not support one."""
    flags, mhz = _cpuinfo(cpuinfo)
    per_cycle = next(((n, isa) for flag, n, isa in _FLOPS_PER_CYCLE if flag in flags
                      and (flag != "avx2" or "fma" in flags)), None)
    clock = max_clock_hz or (mhz * 1e6 if mhz else None)
    if per_cycle is None or clock is None:
        return None
    cores = min(usable_cpus, physical_cores or usable_cpus)
    flops, isa = per_cycle
    clock_src = "max clock (cpufreq)" if max_clock_hz else "clock reported by /proc/cpuinfo"
    return Peak(
        flops_per_s=cores * clock * flops, bytes_per_s=None, confidence="estimate",
        source=(f"estimate: {cores} cores × {clock / 1e9:.2f} GHz {clock_src} × {flops} "
                f"fp32 FLOP/cycle ({isa}, two FMA units assumed)"),
    )


#: CPU flags of native bf16 arithmetic. Plain AVX-512 is not one: oneDNN emulates bf16 there
#: (and torch's own check accepts it), which would time conversions under a bf16 label.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # x86 AVX512-BF16, AMX; Arm BF16


def cpu_flags(cpuinfo: str) -> set[str]:
    """The feature flags of /proc/cpuinfo's text (``flags`` on x86, ``Features`` on Arm)."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def host_cpuinfo() -> str | None:
    """/proc/cpuinfo's text, or None where there is none (not Linux)."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return None


@functools.lru_cache(maxsize=1)
def _host_fp32_peak() -> Peak | None:
    import psutil

    text = host_cpuinfo()
    if text is None:
        return None
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    return estimate_cpu_peak(text, psutil.cpu_count(logical=False), usable,
                             _max_clock_hz(Path("/sys/devices/system/cpu")))


def cpu_peak(precision: str) -> Peak | None:
    """The host CPU's estimated float32 peak; None at other precisions (their rates depend
    on instructions, AMX or VNNI, that flagbench does not model)."""
    return _host_fp32_peak() if precision == "fp32" else None
