"""flagbench: standard AI cases on heterogeneous hardware, measured under one method."""

from __future__ import annotations

__version__ = "0.1.0"

from flagbench.contracts import ActualRun, Case, Probe, Session, Vendor, Workload  # noqa: E402
from flagbench.errors import FlagbenchError  # noqa: E402
from flagbench.result import RunResult, Status  # noqa: E402
from flagbench.spec import MeasureConfig, RunSpec  # noqa: E402

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
