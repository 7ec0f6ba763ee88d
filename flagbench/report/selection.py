"""Which stored runs a report or comparison is about: cells, --latest, selectors, times."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from flagbench.api.errors import FlagbenchError
from flagbench.api.limits import INT32_MAX
from flagbench.store import RunQuery, StoredRun


class CellKey(NamedTuple):
    """What makes two runs measure the same thing, apart from vendor and host."""

    case: str
    scenario: str
    batch_size: int
    precision: str
    target_qps: float | None
    options: str = ""
    """The case's options as "key=value,…" (every declared one, defaults included)."""
    concurrency: int | None = None
    """Serving, throughput scenario: the requests kept in flight."""

    @property
    def case_label(self) -> str:
        """The case with its options: "bert[seq_len=128]"."""
        return f"{self.case}[{self.options}]" if self.options else self.case

    @property
    def label(self) -> str:
        """A short human label: "resnet50 latency bs1 fp32"."""
        qps = (f"@{self.target_qps:g}/s" if self.target_qps else
               f"@c{self.concurrency}" if self.concurrency else "")
        return f"{self.case_label} {self.scenario}{qps} bs{self.batch_size} {self.precision}"


def cell_key(run: StoredRun) -> CellKey:
    """The cell a run belongs to; server runs at different rates, and runs of a case with
    different options (a GEMM's size, BERT's sequence length), are different cells."""
    qps = run.spec.get("target_qps") if run.scenario == "server" else None
    options = ",".join(f"{k}={v}" for k, v in run.spec.get("options") or ())
    concurrency = run.spec.get("concurrency")
    return CellKey(run.case, run.scenario, run.batch_size, run.precision,
                   float(qps) if qps else None, options,
                   int(concurrency) if concurrency else None)


def series_key(run: StoredRun) -> tuple[str, str, CellKey]:
    """One history series: host × vendor × cell."""
    return run.hostname, run.vendor_label, cell_key(run)


def latest(runs: Iterable[StoredRun], with_rounds: bool = False) -> list[StoredRun]:
    """The newest run of each host × vendor × cell, whatever its status, newest first; with
    ``with_rounds``, also the other rounds of the ``flagbench run`` that made it."""
    runs = list(runs)
    best: dict[tuple[str, str, CellKey], StoredRun] = {}
    for r in runs:
        key = series_key(r)
        old = best.get(key)
        if old is None or (r.started_at, r.id) > (old.started_at, old.id):
            best[key] = r
    chosen = {r.id: r for r in best.values()}
    if with_rounds:
        series = by_series(runs)
        chosen.update((r.id, r) for newest in best.values()
                      for r in round_group(newest, series[series_key(newest)]))
    return sorted(chosen.values(), key=lambda r: (r.started_at, r.id), reverse=True)


def by_series(runs: Iterable[StoredRun]) -> dict[tuple[str, str, CellKey], list[StoredRun]]:
    """Runs grouped by ``series_key``, in the order given."""
    out: dict[tuple[str, str, CellKey], list[StoredRun]] = {}
    for r in runs:
        out.setdefault(series_key(r), []).append(r)
    return out


def round_group(run: StoredRun, runs: Iterable[StoredRun]) -> list[StoredRun]:
    """``run`` with the other ok rounds of the same ``flagbench run --rounds`` among ``runs``
    (same host, vendor, cell and matrix id), in round order; just ``run`` when it is not ok
    or was planned alone."""
    matrix_id = run.spec.get("matrix_id")
    if run.status != "ok" or not matrix_id:
        return [run]
    key = series_key(run)
    group = {r.id: r for r in runs if r.status == "ok" and r.spec.get("matrix_id") == matrix_id
             and series_key(r) == key}
    group[run.id] = run
    return sorted(group.values(), key=lambda r: (int(r.spec.get("round", 1)), r.started_at, r.id))


@dataclass(frozen=True)
class Selector:
    """One side of ``flagbench compare``: the runs it reads and what its pairs ignore."""

    text: str
    query: RunQuery
    by_host: bool = False
    """Selected by host: pairs match across hosts."""
    by_vendor: bool = False
    """Selected by vendor: pairs match across vendors."""


SELECTOR_HELP = "run ids (12 or run:12,15), tag:KEY=VALUE, host:NAME or vendor:NAME"


def parse_selector(text: str, base: RunQuery | None = None) -> Selector:
    """Parse a compare selector; ``base`` holds filters applied to both sides."""
    base = base or RunQuery()
    kind, sep, value = text.partition(":")
    if not sep:
        kind, value = "run", text
    kind = kind.strip().lower()
    value = value.strip()
    if not value:
        raise FlagbenchError(f"selector {text!r} is empty; use {SELECTOR_HELP}")
    if kind == "run":
        try:
            ids = tuple(int(v) for v in value.split(","))
        except ValueError:
            raise FlagbenchError(f"selector {text!r}: run ids must be integers") from None
        if any(not 1 <= i <= INT32_MAX for i in ids):
            raise FlagbenchError(f"selector {text!r}: run ids are 1 to {INT32_MAX}")
        return Selector(text, replace(base, ids=ids))
    if kind == "tag":
        key, eq, val = value.partition("=")
        if not eq or not key.strip():
            raise FlagbenchError(f"selector {text!r}: expected tag:KEY=VALUE")
        return Selector(text, replace(base, tags=(*base.tags, (key.strip(), val.strip()))))
    if kind == "host":
        return Selector(text, replace(base, hosts=(value,)), by_host=True)
    if kind == "vendor":
        return Selector(text, replace(base, vendors=(value,)), by_vendor=True)
    raise FlagbenchError(f"selector {text!r}: unknown kind {kind!r}; use {SELECTOR_HELP}")


def parse_tags(values: Sequence[str], option: str = "--tag") -> tuple[tuple[str, str], ...]:
    """KEY=VALUE strings as pairs; a FlagbenchError for anything else."""
    out = []
    for raw in values:
        key, sep, val = raw.partition("=")
        if not sep or not key.strip():
            raise FlagbenchError(f"{option} {raw!r}: expected key=value")
        out.append((key.strip(), val.strip()))
    return tuple(out)


def parse_time(text: str, option: str, now: datetime | None = None) -> datetime:
    """An ISO date or time (UTC unless it says otherwise) or an age such as 7d, 12h, 30m."""
    now = now or datetime.now(timezone.utc)
    raw = text.strip()
    units = {"d": "days", "h": "hours", "m": "minutes", "w": "weeks"}
    number = raw[:-1].replace(".", "", 1)
    try:
        # ASCII digits only: "²".isdigit() is true, and float() refuses it.
        if raw[-1:].lower() in units and number.isascii() and number.isdigit():
            return now - timedelta(**{units[raw[-1].lower()]: float(raw[:-1])})
        when = datetime.fromisoformat(raw)
        # In UTC, as the store compares; an offset can push a date past year 1 or 9999.
        return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)
                ).astimezone(timezone.utc)
    except OverflowError:
        raise FlagbenchError(f"{option} {text!r}: beyond the calendar (years 1 to 9999)"
                             ) from None
    except ValueError:
        raise FlagbenchError(
            f"{option} {text!r}: expected an ISO date/time (2026-11-25, 2026-11-25T12:00) "
            "or an age (7d, 12h, 30m)") from None


def clock_mismatch(a: Iterable[StoredRun], b: Iterable[StoredRun]) -> str:
    """Why two sets of runs cannot be compared because different clocks timed them ("" when
    one clock timed all): a device timer (CUDA events, as runs stored before every vendor was
    timed by the host clock used) leaves out launch and synchronisation."""
    clocks = [{str(r.environment.get("clock", "perf_counter")) for r in side if r.status == "ok"}
              for side in (a, b)]
    if len(clocks[0] | clocks[1]) <= 1:
        return ""
    return ("timed by different clocks (" + " vs ".join(
        "/".join(sorted(c)) for c in clocks) + "): not compared")
