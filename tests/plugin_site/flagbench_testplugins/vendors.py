"""Vendors that exercise the unhappy paths: hardware that is not here, a prepare that crashes."""

from __future__ import annotations

from typing import Any

from flagbench.api.contracts import Probe, Workload


class AbsentHardwareVendor:
    name = "absent-hw"
    description = "a vendor whose hardware is not installed"

    def probe(self) -> Probe:
        return Probe(False, "no AbsentHW accelerator found (driver not loaded)")

    def prepare(self, workload: Workload) -> Any:
        raise AssertionError("prepare must not be called when the probe says unavailable")


class CrashingVendor:
    name = "crashing"
    description = "a vendor whose compiler raises"

    def probe(self) -> Probe:
        return Probe(True, devices=("fake0",), versions={"fakec": "1.0"}, precisions=("fp32",))

    def prepare(self, workload: Workload) -> Any:
        raise RuntimeError("fake compiler crashed: unsupported op aten::linear")


class RaisingProbeVendor(CrashingVendor):
    name = "raising-probe"
    description = "a vendor that breaks the never-raise rule of probe()"

    def probe(self) -> Probe:
        raise OSError("device node /dev/fake0 vanished")


class _FaultyVendor(CrashingVendor):
    """Available everywhere; ``fault`` happens while preparing, inside the run's process."""

    def fault(self) -> None:
        raise NotImplementedError

    def prepare(self, workload: Workload) -> Any:
        self.fault()
        raise AssertionError("unreachable")


class SegfaultVendor(_FaultyVendor):
    name = "segfault"
    description = "a native library that dereferences NULL"

    def fault(self) -> None:
        import ctypes

        ctypes.string_at(0)


class HangingVendor(_FaultyVendor):
    name = "hang"
    description = "a compiler that never returns"

    def fault(self) -> None:
        import time

        time.sleep(3600)


class MemoryHogVendor(_FaultyVendor):
    name = "memory-hog"
    description = "allocates far more than it may (address space capped at +256 MiB)"

    def fault(self) -> None:
        import resource

        with open("/proc/self/status") as f:
            vm_kib = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
        cap = (vm_kib + 256 * 1024) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        hog = [bytearray(64 << 20) for _ in range(64)]  # 4 GiB
        del hog


class OomKilledVendor(_FaultyVendor):
    name = "oom-killed"
    description = "killed by SIGKILL, as the kernel's OOM killer does"

    def fault(self) -> None:
        import os
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
