"""A suite file (TOML) that describes a whole matrix, so a run can be repeated exactly.

Keys mirror ``flagbench run``'s options (see examples/suite.toml). Every key is checked: an
unknown key or a value of the wrong type is refused with the key's path (``matrix.vendors[1]``)
before anything runs. Relative weight paths are taken from the suite file's directory.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flagbench.api.contracts import OptionValue
from flagbench.api.errors import FlagbenchError
from flagbench.api.files import read_regular
from flagbench.api.limits import INT64_MAX, check_seconds
from flagbench.api.spec import MeasureConfig
from flagbench.run.plan import Request

#: A suite describes a matrix in a few hundred bytes; a megabyte is not a suite.
MAX_SUITE_BYTES = 1 << 20


@dataclass(frozen=True)
class Suite:
    """A parsed suite: the request, and how the runner runs it."""

    request: Request
    timeout_s: float
    isolate: bool


class _Invalid(Exception):
    """A value at ``path`` is wrong; ``load_suite`` adds the file name."""


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"{path}: expected a string, got {_kind(value)}")
    if not value.strip() or "\x00" in value:
        raise _Invalid(f"{path}: must be a non-empty string without NUL characters")
    return value.strip()


def _integer(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"{path}: expected an integer, got {_kind(value)}")
    if abs(value) > INT64_MAX:
        raise _Invalid(f"{path}: beyond a 64-bit integer")
    return value


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(f"{path}: expected a number, got {_kind(value)}")
    if not math.isfinite(value):
        raise _Invalid(f"{path}: must be a finite number, got {value!r}")
    return float(value)


def _boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"{path}: expected true or false, got {_kind(value)}")
    return value


def _list_of(item: Callable[[Any, str], Any]) -> Callable[[Any, str], tuple[Any, ...]]:
    def check(value: Any, path: str) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise _Invalid(f"{path}: expected a list, got {_kind(value)}")
        if not value:
            raise _Invalid(f"{path}: must not be empty")
        return tuple(item(v, f"{path}[{i}]") for i, v in enumerate(value))
    return check


def _plugin_options(value: Any, path: str) -> dict[str, dict[str, OptionValue]]:
    """``[case-options.CASE]`` or ``[vendor-options.VENDOR]`` tables of scalars; the plan
    checks them against what the plugin declares."""
    if not isinstance(value, dict):
        raise _Invalid(f"{path}: expected a table, got {_kind(value)}")
    out: dict[str, dict[str, OptionValue]] = {}
    for case, options in value.items():
        if not isinstance(options, dict):
            raise _Invalid(f"{path}.{case}: expected a table, got {_kind(options)}")
        for key, v in options.items():
            if not isinstance(v, (bool, int, float, str)):
                raise _Invalid(f"{path}.{case}.{key}: expected a string, number or boolean, "
                               f"got {_kind(v)}")
        out[case] = dict(options)
    return out


def _table_of_strings(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Invalid(f"{path}: expected a table, got {_kind(value)}")
    return {_string(k, f"{path} key"): _string(v, f"{path}.{k}") for k, v in value.items()}


#: Every key a suite may hold, per table, with its check. Names follow the CLI's options.
_SCHEMA: dict[str, dict[str, Callable[[Any, str], Any]]] = {
    "matrix": {"vendors": _list_of(_string), "cases": _list_of(_string),
               "batch-sizes": _list_of(_integer), "precisions": _list_of(_string),
               "scenarios": _list_of(_string), "rounds": _integer,
               "concurrency": _list_of(_integer)},
    "measure": {"warmup": _number, "min-time": _number, "max-time": _number,
                "min-iters": _integer, "target-ci": _number, "cpu-tdp": _number,
                "timeout": _number, "isolate": _boolean},
    "server": {"target-qps": _number, "p99-bound-ms": _number, "find-max-qps": _boolean,
               "slo-ttft-ms": _number, "slo-tpot-ms": _number, "slo-e2e-ms": _number},
}
#: Tables whose keys are of the user's choosing.
_FREE_TABLES = ("tags", "weights", "data", "case-options", "vendor-options")


def _checked(raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    known = [*_SCHEMA, *_FREE_TABLES]
    out: dict[str, dict[str, Any]] = {}
    for table, body in raw.items():
        if table not in known:
            raise _Invalid(f"unknown table [{table}]; expected one of: {', '.join(known)}")
        if table in _FREE_TABLES:
            check = (_plugin_options if table.endswith("-options") else _table_of_strings)
            out[table] = check(body, table)
            continue
        if not isinstance(body, dict):
            raise _Invalid(f"{table}: expected a table, got {_kind(body)}")
        keys = _SCHEMA[table]
        for key, value in body.items():
            if key not in keys:
                raise _Invalid(f"unknown key {table}.{key}; expected one of: {', '.join(keys)}")
            out.setdefault(table, {})[key] = keys[key](value, f"{table}.{key}")
    for key in ("vendors", "cases"):
        if key not in out.get("matrix", {}):
            raise _Invalid(f"matrix.{key} is required")
    return out


def load_suite(path: str | Path) -> Suite:
    """Read and check a suite file; a FlagbenchError naming the file and key otherwise."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    p = Path(path).expanduser()
    try:
        raw = tomllib.loads(read_regular(p, "suite", MAX_SUITE_BYTES).decode("utf-8"))
    except FileNotFoundError:
        raise FlagbenchError(f"no suite file at {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FlagbenchError(f"cannot read suite {p}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise FlagbenchError(f"{p.name} is not valid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and tables by recursion
        raise FlagbenchError(f"{p.name}: arrays or tables nested too deeply to read") from None
    try:
        cfg = _checked(raw)
        matrix, measure, server = (cfg.get(t, {}) for t in ("matrix", "measure", "server"))
        weights, data = ({case: str((p.parent / w).expanduser()) if not Path(w).is_absolute()
                          else w for case, w in cfg.get(table, {}).items()}
                         for table in ("weights", "data"))
        p99 = server.get("p99-bound-ms")
        request = Request(
            vendors=matrix["vendors"], cases=matrix["cases"],
            batch_sizes=matrix.get("batch-sizes", (1,)),
            precisions=matrix.get("precisions", ("fp32",)),
            scenarios=matrix.get("scenarios", ("latency",)),
            rounds=matrix.get("rounds", 1),
            measure=MeasureConfig(
                warmup_s=measure.get("warmup", 1.0), min_time_s=measure.get("min-time", 2.0),
                max_time_s=measure.get("max-time", 15.0),
                min_iters=measure.get("min-iters", 10),
                target_ci=measure.get("target-ci", 0.01), cpu_tdp_w=measure.get("cpu-tdp")),
            weights=weights, data=data, tags=tuple(sorted(cfg.get("tags", {}).items())),
            case_options=cfg.get("case-options", {}),
            vendor_options=cfg.get("vendor-options", {}),
            target_qps=server.get("target-qps"),
            p99_bound_s=None if p99 is None else p99 / 1e3,
            find_max_qps=server.get("find-max-qps", False),
            concurrency=matrix.get("concurrency", ()),
            slo=tuple(sorted((name, server[f"slo-{name}-ms"] / 1e3)
                             for name in ("ttft", "tpot", "e2e") if f"slo-{name}-ms" in server)),
        )
        timeout = check_seconds(measure.get("timeout", 600.0), "measure.timeout:", positive=True)
    except (_Invalid, FlagbenchError) as exc:
        raise FlagbenchError(f"{p.name}: {exc}") from None
    return Suite(request, timeout_s=timeout, isolate=measure.get("isolate", True))
