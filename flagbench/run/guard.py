"""Every outcome of a run is a RunResult: what the attempt raises becomes the run's result, so
a vendor's bug or a Ctrl-C never escapes the runner or an executor and the matrix goes on."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flagbench.api.errors import FlagbenchError
from flagbench.api.result import RunResult, Status
from flagbench.api.spec import RunSpec
from flagbench.run.progress import utc_now

log = logging.getLogger(__name__)


def ended(spec: RunSpec, started: datetime, environment: Mapping[str, Any], status: Status,
          reason: str) -> RunResult:
    """A run that ends now without a measurement (skipped, failed, interrupted, timeout)."""
    return RunResult(spec, status, started, utc_now(), reason=reason, environment=environment)


def guarded(spec: RunSpec, started: datetime, environment: Mapping[str, Any],
            attempt: Callable[[], RunResult]) -> RunResult:
    """``attempt()``; a FlagbenchError or any other exception becomes a failed run with a
    one-line reason, Ctrl-C an interrupted one (``environment`` as it is by then)."""
    try:
        return attempt()
    except FlagbenchError as exc:
        return ended(spec, started, environment, Status.FAILED, str(exc))
    except Exception as exc:  # a vendor's bug becomes a failed run, the matrix goes on
        log.debug("run %s failed", spec.label, exc_info=True)
        return ended(spec, started, environment, Status.FAILED,
                     f"{type(exc).__name__}: {exc}".splitlines()[0])
    except KeyboardInterrupt:
        return ended(spec, started, environment, Status.INTERRUPTED,
                     "interrupted by the user (Ctrl-C)")
