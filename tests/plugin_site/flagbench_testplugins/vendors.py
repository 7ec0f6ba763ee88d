"""Vendors that exercise the unhappy paths: hardware that is not here, a prepare that crashes."""

from __future__ import annotations

from typing import Any

from flagbench.contracts import Probe, Workload


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
