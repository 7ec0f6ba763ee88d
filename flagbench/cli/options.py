"""Option parsing the commands share: comma-separated lists, KEY=VALUE tags, [CASE=]PATH
values, and the run filters of report, export and compare."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click

from flagbench.api.errors import FlagbenchError
from flagbench.api.limits import INT32_MAX, check_text

if TYPE_CHECKING:
    from flagbench.store import RunQuery

T = TypeVar("T")

DB_HELP = (
    "Database: a SQLite path or any SQLAlchemy URL [env FLAGBENCH_DB; default: user data dir]."
)


class FiniteFloat(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2
    """A float option that refuses NaN and infinities, which pass every range check after
    it (``--fail-above nan`` would switch a CI gate off). Every float option uses it."""

    name = "number"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        """``value`` as a finite float, or click's one-line usage error."""
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


#: Every float option's type.
FINITE = FiniteFloat()
#: Run ids and row counts: the store's ids are 32-bit integers.
RUN_ID = click.IntRange(1, INT32_MAX)


def check_arguments(argv: list[str]) -> None:
    """Refuse, before any command runs, an argument the store or the terminal cannot take:
    undecodable bytes (Python turns them into lone surrogates) in a tag, a path, a name."""
    for arg in argv:
        check_text(arg, "argument")
    import os

    # The folders flagbench writes outside the database: a path it cannot hand to its
    # libraries (ONNX Runtime takes UTF-8 paths only) would fail every run later, obscurely.
    for var in ("FLAGBENCH_DB", "FLAGBENCH_CACHE", "FLAGBENCH_SPOOL"):
        value = os.environ.get(var)
        if value is not None:
            check_text(value, var)


def split_list(value: str, option: str, convert: Callable[[str], T]) -> tuple[T, ...]:
    items = [v.strip() for v in value.split(",")]
    if not value.strip() or any(not v for v in items):
        raise FlagbenchError(f"{option} needs a comma-separated list without empty items")
    out = []
    for item in items:
        try:
            out.append(convert(item))
        except ValueError:
            raise FlagbenchError(f"{option}: {item!r} is not valid") from None
    return tuple(out)


def tag_pairs(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    tags: dict[str, str] = {}
    for raw in values:
        key, sep, val = raw.partition("=")
        if not sep or not key.strip():
            raise FlagbenchError(f"--tag {raw!r}: expected key=value")
        if key.strip() in tags:
            raise FlagbenchError(f"--tag {key.strip()!r} given twice")
        tags[key.strip()] = val.strip()
    return tuple(sorted(tags.items()))


def per_case(values: tuple[str, ...], cases: tuple[str, ...], option: str) -> dict[str, str]:
    """``[CASE=]PATH`` values of a repeatable option, keyed by case name."""
    out: dict[str, str] = {}
    for raw in values:
        case, sep, path = raw.partition("=")
        if not sep:
            if len(cases) != 1:
                raise FlagbenchError(f"with several cases, give {option} as CASE=PATH")
            case, path = cases[0], raw
        if case in out:
            raise FlagbenchError(f"{option} given twice for {case!r}")
        out[case] = path
    return out


def parse_slo(text: str) -> tuple[tuple[str, float], ...]:
    """``ttft_ms=200,tpot_ms=50`` → (("tpot", 0.05), ("ttft", 0.2)); FlagbenchError if bad."""
    out: dict[str, float] = {}
    for item in text.split(","):
        key, sep, raw = item.strip().partition("=")
        name = key.strip().removesuffix("_ms")
        if not sep or not key.strip().endswith("_ms"):
            raise FlagbenchError(f"--slo {item.strip()!r}: expected NAME_ms=VALUE (ttft_ms, "
                                 "tpot_ms, e2e_ms)")
        try:
            value = float(raw)
        except ValueError:
            raise FlagbenchError(f"--slo {item.strip()!r}: {raw.strip()!r} is not a number") \
                from None
        if not (0 < value < math.inf):
            raise FlagbenchError(f"--slo {item.strip()!r}: the bound must be above 0 and finite")
        if name in out:
            raise FlagbenchError(f"--slo {key.strip()} given twice")
        out[name] = value / 1e3
    return tuple(sorted(out.items()))


def parse_case_options(values: tuple[str, ...], cases: tuple[str, ...]
                       ) -> dict[str, dict[str, str]]:
    """``--case-option [CASE.]KEY=VALUE`` values per case."""
    return parse_plugin_options(values, cases, "--case-option", "case")


def parse_plugin_options(values: tuple[str, ...], names: tuple[str, ...], flag: str,
                         what: str) -> dict[str, dict[str, str]]:
    """``[NAME.]KEY=VALUE`` values per plugin name; NAME may be left out when one plugin of
    its kind is being run."""
    out: dict[str, dict[str, str]] = {}
    for raw in values:
        target, sep, value = raw.partition("=")
        name, dot, key = target.rpartition(".")
        if not sep or not key.strip():
            raise FlagbenchError(f"{flag} {raw!r}: expected [{what.upper()}.]KEY=VALUE")
        if not dot:
            if len(names) != 1:
                raise FlagbenchError(f"with several {what}s, give {flag} as "
                                     f"{what.upper()}.KEY=VALUE")
            name = names[0]
        options = out.setdefault(name.strip(), {})
        if key.strip() in options:
            raise FlagbenchError(f"{flag} {name}.{key.strip()} given twice")
        options[key.strip()] = value.strip()
    return out


def filter_options(func: Callable[..., int]) -> Callable[..., int]:
    """The run filters shared by report, export and compare."""
    for option in reversed([
        click.option("--case", "cases", multiple=True,
                     help="Only these cases (repeatable, or a,b)."),
        click.option("--vendor", "vendors", multiple=True,
                     help="Only these vendors (repeatable, or a,b)."),
        click.option("--host", "hosts", multiple=True, help="Only runs from these hostnames."),
        click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE",
                     help="Only runs carrying this tag (repeatable: all must match)."),
        click.option("--since", default=None, metavar="WHEN",
                     help="Runs started at or after: ISO date/time (UTC) or an age (7d, 12h)."),
        click.option("--until", default=None, metavar="WHEN",
                     help="Runs started before: ISO date/time (UTC) or an age (7d, 12h)."),
    ]):
        func = option(func)
    return func


def run_query(cases: tuple[str, ...], vendors: tuple[str, ...], hosts: tuple[str, ...],
           tags: tuple[str, ...], since: str | None, until: str | None) -> RunQuery:
    from flagbench.report.selection import parse_tags, parse_time
    from flagbench.store import RunQuery

    def names(values: tuple[str, ...], option: str) -> tuple[str, ...]:
        return tuple(n for v in values for n in split_list(v, option, str))

    query = RunQuery(
        cases=names(cases, "--case"), vendors=names(vendors, "--vendor"),
        hosts=names(hosts, "--host"), tags=parse_tags(tags),
        since=parse_time(since, "--since") if since else None,
        until=parse_time(until, "--until") if until else None,
    )
    if query.since and query.until and query.since >= query.until:
        raise FlagbenchError("--since must be before --until")
    return query


def describe_query(query: RunQuery, latest: bool) -> str:
    parts = [f"{name} {', '.join(values)}" for name, values in (
        ("case", query.cases), ("vendor", query.vendors), ("host", query.hosts),
        ("tag", tuple(f"{k}={v}" for k, v in query.tags))) if values]
    if query.since:
        parts.append(f"since {query.since:%Y-%m-%d %H:%M} UTC")
    if query.until:
        parts.append(f"until {query.until:%Y-%m-%d %H:%M} UTC")
    if latest:
        parts.append("latest run of each vendor × case × spec")
    return "; ".join(parts)
