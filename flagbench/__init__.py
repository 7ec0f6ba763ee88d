"""flagbench: standard AI cases on heterogeneous hardware, measured under one method."""

from __future__ import annotations

from flagbench.api.contracts import ActualRun, Case, Probe, Session, Vendor, Workload
from flagbench.api.errors import FlagbenchError
from flagbench.api.result import RunResult, Status
from flagbench.api.spec import MeasureConfig, RunSpec
from flagbench.api.version import __version__

__all__ = [
    "ActualRun",
    "Case",
    "FlagbenchError",
    "MeasureConfig",
    "Probe",
    "RunResult",
    "RunSpec",
    "Session",
    "Status",
    "Vendor",
    "Workload",
    "__version__",
]
