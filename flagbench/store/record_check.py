"""A run record read from outside flagbench's own process (a spool file, perhaps edited by
hand) checked like any input: every field of the type, range and length its column takes,
finite numbers and text the store can hold, before it is written where every user reads it.

One check, ``checked_record``, the only way back from a record's JSON (``RunRecord.to_dict``)
to a RunRecord; a FlagbenchError says in one line which field is wrong.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Any

from flagbench.api.errors import FlagbenchError
from flagbench.api.limits import INT32_MAX, INT64_MAX, check_text, printable
from flagbench.api.result import Status
from flagbench.api.spec import PRECISIONS, SCENARIOS
from flagbench.store.record import RECORD_FORMAT, RunRecord

#: Deepest JSON nesting kept in a record's spec, environment or host facts: flagbench writes
#: four levels at most; far deeper only costs the readers' recursion.
MAX_DEPTH = 32
#: Most timings or power readings one record may hold: a run stops at a million iterations.
MAX_SAMPLES = 1_000_000

#: The ``runs`` columns a record carries: (kind, longest text) as the schema holds them.
_RUN_TEXT = {"vendor": 128, "case": 128, "scenario": 32, "precision": 16, "status": 16,
             "flagbench_version": 32}
_RUN_KEYS = {*_RUN_TEXT, "batch_size", "reason", "stop_rule", "started_at", "finished_at",
             "spec", "actual", "environment", "warnings"}
_STATUSES = {s.value for s in Status}


def _fail(what: str, why: str) -> FlagbenchError:
    return FlagbenchError(f"{what}: {why}")


def _str(value: Any, what: str, longest: int | None = None) -> str:
    if not isinstance(value, str):
        raise _fail(what, f"must be text, got {type(value).__name__}")
    try:
        check_text(value, what)
    except FlagbenchError as exc:
        raise _fail(what, str(exc)) from None
    if longest is not None and len(value) > longest:
        raise _fail(what, f"longer than {longest} characters")
    return value


def _number(value: Any, what: str, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(what, f"must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or abs(value) > 1e300:
        raise _fail(what, f"must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise _fail(what, f"must be {minimum:g} or more, got {value!r}")
    return float(value)


def _list(value: Any, what: str, longest: int = MAX_SAMPLES) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(what, f"must be a list, got {type(value).__name__}")
    if len(value) > longest:
        raise _fail(what, f"more than {longest} entries")
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(what, f"must be an object, got {type(value).__name__}")
    _json(value, what, 0)
    return value


def _json(value: Any, what: str, depth: int) -> None:
    """Plain JSON the store's JSON columns hold on every dialect."""
    if depth > MAX_DEPTH:
        raise _fail(what, f"nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > INT64_MAX:
            raise _fail(what, "an integer beyond 64 bits")
    elif isinstance(value, float):
        _number(value, what)
    elif isinstance(value, str):
        _str(value, what)
    elif isinstance(value, list):
        for item in value:
            _json(item, what, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            _json(item, f"{what}.{_str(key, what)}", depth + 1)
    else:
        raise _fail(what, f"not a JSON value ({type(value).__name__})")


def _pairs(value: Any, what: str) -> None:
    """Options as a spec holds them: [name, value] pairs (what readers iterate over)."""
    if value is None:
        return
    for pair in _list(value, what, 10_000):
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
            raise _fail(what, "must be a list of [name, value] pairs")


def _spec(spec: dict[str, Any]) -> None:
    """The spec fields that reports read, of the types they expect."""
    for key in ("options", "vendor_options", "slo"):
        _pairs(spec.get(key), f"run.spec.{key}")
    for key in ("round", "concurrency", "seed"):
        v = spec.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)
                              or not 0 <= v <= INT32_MAX):
            raise _fail(f"run.spec.{key}", f"must be an integer 0 to {INT32_MAX}, got {v!r}")
    if spec.get("target_qps") is not None:
        _number(spec["target_qps"], "run.spec.target_qps", 0)
    if not isinstance(spec.get("tags") or {}, dict):
        raise _fail("run.spec.tags", "must be an object")
    if not isinstance(spec.get("matrix_id", ""), (str, type(None))):
        raise _fail("run.spec.matrix_id", "must be text")


def _time(value: Any, what: str) -> datetime:
    try:
        when = datetime.fromisoformat(_str(value, what, 64))
    except ValueError:
        raise _fail(what, f"not an ISO 8601 time: {printable(value)}") from None
    if when.utcoffset() is None:
        raise _fail(what, "has no time zone")
    return when


def _run(raw: Any) -> dict[str, Any]:
    run = dict(_dict(raw, "run"))
    if set(run) != _RUN_KEYS:
        wrong = sorted(set(run) ^ _RUN_KEYS)
        raise _fail("run", f"fields {', '.join(map(printable, wrong))} missing or unknown")
    for key, longest in _RUN_TEXT.items():
        _str(run[key], f"run.{key}", longest)
    for key, allowed in (("status", _STATUSES), ("scenario", SCENARIOS),
                         ("precision", PRECISIONS)):
        if run[key] not in allowed:
            raise _fail(f"run.{key}", f"unknown value {printable(run[key])}")
    b = run["batch_size"]
    if isinstance(b, bool) or not isinstance(b, int) or not 1 <= b <= INT32_MAX:
        raise _fail("run.batch_size", f"must be an integer 1 to {INT32_MAX}, got {b!r}")
    _str(run["reason"], "run.reason")
    if run["stop_rule"] is not None:
        _str(run["stop_rule"], "run.stop_rule", 32)
    run["started_at"] = _time(run["started_at"], "run.started_at")
    run["finished_at"] = _time(run["finished_at"], "run.finished_at")
    if run["finished_at"] < run["started_at"]:
        raise _fail("run.finished_at", "before run.started_at")
    _spec(_dict(run["spec"], "run.spec"))
    _dict(run["environment"], "run.environment")
    for key in ("energy", "peak"):
        if not isinstance(run["environment"].get(key) or {}, dict):
            raise _fail(f"run.environment.{key}", "must be an object")
    if run["actual"] is not None:
        _dict(run["actual"], "run.actual")
    if run["warnings"] is not None:
        for w in _list(run["warnings"], "run.warnings", 10_000):
            _str(w, "run.warnings")
    return run


def _unique(names: list[str], what: str) -> None:
    if len(set(names)) != len(names):
        raise _fail(what, "the same name twice")


def checked_record(body: Any) -> RunRecord:
    """A record from its JSON form (``RunRecord.to_dict``), every field checked."""
    if not isinstance(body, dict) or body.get("format") != RECORD_FORMAT:
        raise FlagbenchError(f"not a flagbench run record of format {RECORD_FORMAT}")
    for key in ("uid", "host", "run", "metrics", "tags", "latency_samples", "power_samples"):
        if key not in body:
            raise _fail(key, "missing")
    uid = _str(body["uid"], "uid", 36)
    try:
        if str(uuid.UUID(uid)) != uid:
            raise ValueError(uid)
    except ValueError:
        raise _fail("uid", f"not a UUID: {printable(uid)}") from None
    host = _dict(body["host"], "host")
    _str(host.get("hostname", "?"), "host.hostname", 255)
    metrics = []
    for m in _list(body["metrics"], "metrics", 10_000):
        if not (isinstance(m, list) and len(m) == 3):
            raise _fail("metrics", "each must be [name, value, unit]")
        name = _str(m[0], "metric name", 64)
        value = None if m[1] is None else _number(m[1], f"metric {name}")
        metrics.append((name, value, _str(m[2], f"metric {name} unit", 16)))
    _unique([m[0] for m in metrics], "metrics")
    tags = []
    for t in _list(body["tags"], "tags", 10_000):
        if not (isinstance(t, list) and len(t) == 2):
            raise _fail("tags", "each must be [key, value]")
        tags.append((_str(t[0], "tag key", 128), _str(t[1], "tag value")))
    _unique([k for k, _ in tags], "tags")
    latency = [_number(s, "latency sample", 0) for s in _list(body["latency_samples"],
                                                              "latency_samples")]
    power = []
    for p in _list(body["power_samples"], "power_samples"):
        if not (isinstance(p, list) and len(p) == 2):
            raise _fail("power_samples", "each must be [seconds, watts]")
        power.append((_number(p[0], "power sample time"), _number(p[1], "power sample", 0)))
    return RunRecord(uid=uid, host=host, run=_run(body["run"]), metrics=metrics, tags=tags,
                     latency_samples=latency, power_samples=power)
