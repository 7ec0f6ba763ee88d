"""A run flattened into the rows the store writes: plain JSON values, so it can wait in the spool.

The record is built once per result, with its uid, before the first write attempt; a write
that is retried, or replayed from the spool later, carries the same uid and so is stored at
most once.
"""

from __future__ import annotations

import dataclasses
import json
import math
import uuid
from dataclasses import dataclass
from typing import Any

from flagbench.api.result import RunResult
from flagbench.api.version import __version__

#: Bumped when the record's shape changes; the spool refuses records of another format
#: (read back only through ``record_check.checked_record``).
RECORD_FORMAT = 1


def _finite(x: Any) -> Any:
    """JSON without NaN or infinities (PostgreSQL's json type refuses them): they become null."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def json_dumps(value: Any) -> str:
    """The JSON text of a value as every flagbench database column and spool file holds it."""
    return json.dumps(_finite(value), default=str, allow_nan=False)


def _text(s: str) -> str:
    # PostgreSQL text cannot hold NUL characters; a vendor's error message might.
    return s.replace("\x00", "\ufffd")


@dataclass(frozen=True)
class RunRecord:
    """One run as rows: the run's columns, host facts, metrics, tags and raw samples."""

    uid: str
    host: dict[str, Any]
    run: dict[str, Any]
    """Columns of ``runs`` (times as timezone-aware datetimes)."""
    metrics: list[tuple[str, float | None, str]]
    tags: list[tuple[str, str]]
    latency_samples: list[float]
    power_samples: list[tuple[float, float]]

    @property
    def label(self) -> str:
        """A short human name: vendor × case, batch size, precision, scenario, status."""
        r = self.run
        return (f"{r['vendor']} × {r['case']} bs{r['batch_size']} {r['precision']} "
                f"{r['scenario']}: {r['status']}")

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-able values, times in ISO 8601."""
        run = dict(self.run)
        for key in ("started_at", "finished_at"):
            run[key] = run[key].isoformat()
        return {"format": RECORD_FORMAT, "uid": self.uid, "host": self.host, "run": run,
                "metrics": self.metrics, "tags": self.tags,
                "latency_samples": self.latency_samples, "power_samples": self.power_samples}

    def to_json(self) -> str:
        """The record as JSON text."""
        return json_dumps(self.to_dict())


def record_of(result: RunResult) -> RunRecord:
    """Flatten a result into the rows the store writes, with a fresh uid."""
    env = dict(result.environment)
    facts = dict(env.pop("host", {}))
    m = result.measurement
    spec = dataclasses.asdict(result.spec)
    spec["tags"] = dict(result.spec.tags)
    run = {
        "vendor": result.spec.vendor, "case": result.spec.case,
        "scenario": result.spec.scenario, "batch_size": result.spec.batch_size,
        "precision": result.spec.precision, "status": result.status.value,
        "reason": _text(result.reason), "stop_rule": m.stop_rule if m else None,
        "started_at": result.started_at, "finished_at": result.finished_at,
        "spec": _finite(spec),
        "actual": _finite(dataclasses.asdict(result.actual)) if result.actual else None,
        "environment": _finite(env), "flagbench_version": __version__,
        "warnings": list(result.warnings),
    }
    power = m.energy.power_samples if m is not None and m.energy is not None else ()
    return RunRecord(
        uid=str(uuid.uuid4()), host=_finite(facts), run=run,
        metrics=[(x.name, x.value if math.isfinite(x.value) else None, x.unit)
                 for x in result.metrics()],
        tags=[(k, _text(v)) for k, v in result.spec.tags],
        latency_samples=list(m.samples) if m is not None else [],
        power_samples=[(t, w) for t, w in power],
    )
