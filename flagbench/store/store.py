"""Write RunResults and read them back; every write is one transaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, and_, exists, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from flagbench.api.errors import FlagbenchError
from flagbench.api.hosts import host_key
from flagbench.api.result import RunResult
from flagbench.api.spec import vendor_label
from flagbench.store import location, migrate
from flagbench.store.engine import WRITE, StoreError, make_engine, use_wal
from flagbench.store.record import RunRecord, record_of
from flagbench.store.schema import (
    HostRow,
    LatencySampleRow,
    MetricRow,
    PowerSampleRow,
    RunRow,
    TagRow,
)

log = logging.getLogger(__name__)

#: Pauses between write attempts: about two seconds in all rides out a busy SQLite file or a
#: restarting PostgreSQL; a longer outage sends the run to the spool instead.
RETRY_PAUSES_S = (0.2, 0.5, 1.2)


@dataclass(frozen=True)
class StoredRun:
    """A run as read back from the store: plain values, detached from any session."""

    id: int
    uid: str
    vendor: str
    case: str
    scenario: str
    batch_size: int
    precision: str
    status: str
    reason: str
    stop_rule: str | None
    started_at: datetime
    finished_at: datetime
    hostname: str
    spec: dict[str, Any]
    actual: dict[str, Any] | None
    environment: dict[str, Any]
    host_facts: dict[str, Any]
    metrics: dict[str, float | None] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def metric(self, name: str) -> float | None:
        """A metric's value, or None when the run has none of that name."""
        return self.metrics.get(name)

    @property
    def vendor_label(self) -> str:
        """The vendor with the options that differ from its defaults: a report's column."""
        return vendor_label(self.vendor, self.spec.get("vendor_options"))

    def median_ci_text(self) -> str:
        """The median's 95% CI as "±x.x%" of the median, or "—" for a run without one."""
        med = self.metric("latency_median_s")
        lo, hi = self.metric("latency_median_ci_low_s"), self.metric("latency_median_ci_high_s")
        if not med or lo is None or hi is None:
            return "—"
        return f"±{(hi - lo) / 2 / med * 100:.1f}%"


@dataclass(frozen=True)
class RunQuery:
    """Which runs to read. Each field narrows the selection; an empty field does not filter.

    Values within one field are alternatives (vendor a or b); fields combine with "and".
    """

    ids: tuple[int, ...] = ()
    vendors: tuple[str, ...] = ()
    cases: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    """Every (key, value) pair must be on the run."""
    since: datetime | None = None
    """Runs started at or after this time (UTC when naive)."""
    until: datetime | None = None
    """Runs started before this time (UTC when naive)."""
    limit: int | None = None
    """The newest N runs that match."""


def _utc(dt: datetime) -> datetime:
    # SQLite drops the zone on the way back; every stored time is UTC.
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _to_stored(row: RunRow) -> StoredRun:
    return StoredRun(
        id=row.id, uid=row.uid, vendor=row.vendor, case=row.case, scenario=row.scenario,
        batch_size=row.batch_size, precision=row.precision, status=row.status,
        reason=row.reason, stop_rule=row.stop_rule, started_at=_utc(row.started_at),
        finished_at=_utc(row.finished_at), hostname=row.host.hostname, spec=row.spec,
        actual=row.actual, environment=row.environment, host_facts=row.host.facts,
        metrics={m.name: m.value for m in row.metrics},
        units={m.name: m.unit for m in row.metrics},
        tags={t.key: t.value for t in row.tags},
        warnings=list(row.warnings or []),
    )


def _stored(row: Any, host: HostRow, metrics: dict[str, float | None], units: dict[str, str],
            tags: dict[str, str]) -> StoredRun:
    """A StoredRun from a plain ``runs`` row (a mapping) and its bulk-read children."""
    return StoredRun(
        id=row["id"], uid=row["uid"], vendor=row["vendor"], case=row["case"],
        scenario=row["scenario"], batch_size=row["batch_size"], precision=row["precision"],
        status=row["status"], reason=row["reason"], stop_rule=row["stop_rule"],
        started_at=_utc(row["started_at"]), finished_at=_utc(row["finished_at"]),
        hostname=host.hostname, spec=row["spec"], actual=row["actual"],
        environment=row["environment"], host_facts=host.facts, metrics=metrics, units=units,
        tags=tags, warnings=list(row["warnings"] or []),
    )


class Store:
    """flagbench's results database behind any SQLAlchemy URL."""

    def __init__(self, engine: Engine, label: str) -> None:
        self.engine = engine
        self.label = label
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # Writes on SQLite take the write lock when they begin (see engine.py).
        self._writes = sessionmaker(engine.execution_options(**WRITE), expire_on_commit=False)

    @classmethod
    def open(cls, db: str | None, create: bool = True) -> Store:
        """Open the database; a FlagbenchError if it cannot be used.

        ``create`` (a command that writes) creates or migrates the schema; without it (a
        command that only reads) nothing is ever written: an empty, foreign, older or newer
        database is refused as it is."""
        loc = location.resolve(db)
        location.check_sqlite_file(loc, create=create)
        engine = make_engine(loc)
        try:
            if create:
                migrate.upgrade(engine, loc.label)
                use_wal(engine)
            else:
                migrate.check_readable(engine, loc.label)
        except StoreError as exc:
            engine.dispose()
            raise FlagbenchError(f"cannot use {exc}") from None
        except FlagbenchError:
            engine.dispose()
            raise
        return cls(engine, loc.label)

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()

    def _host(self, session: Session, facts: dict[str, Any], when: datetime) -> int:
        key = host_key(facts)
        found = session.scalar(select(HostRow.id).where(HostRow.key == key))
        if found is not None:
            return found
        try:
            # A savepoint: another writer may insert the same host between our select and
            # insert (PostgreSQL); then its row is the one to use.
            with session.begin_nested():
                host = HostRow(key=key, hostname=str(facts.get("hostname", "?")), facts=facts,
                               first_seen=when)
                session.add(host)
            return host.id
        except IntegrityError:
            found = session.scalar(select(HostRow.id).where(HostRow.key == key))
            if found is None:
                raise
            return found

    def save(self, result: RunResult) -> int:
        """Store a run with its metrics, tags and raw samples in one transaction; its id."""
        return self.write(record_of(result))

    def write(self, record: RunRecord) -> int:
        """Store a record in one transaction and return its id; a record whose uid is stored
        already is not written again (retries and spool replays are idempotent).

        Transient errors (a locked SQLite file, a lost connection, a serialisation failure)
        are retried a few times; then a StoreError says why.
        """
        for attempt, pause in enumerate((*RETRY_PAUSES_S, None)):
            try:
                return self._write_once(record)
            except IntegrityError:
                # Most likely the same uid committed by an attempt whose reply was lost.
                if pause is None:
                    raise
            except StoreError as exc:
                if not exc.transient or pause is None:
                    raise
                log.info("write attempt %d to %s failed (%s); retrying", attempt + 1,
                         self.label, exc)
            time.sleep(pause)
        raise AssertionError("unreachable")

    def _write_once(self, record: RunRecord) -> int:
        with self._writes.begin() as session:
            existing = session.scalar(select(RunRow.id).where(RunRow.uid == record.uid))
            if existing is not None:
                return existing
            host_id = self._host(session, record.host, record.run["started_at"])
            row = RunRow(uid=record.uid, host_id=host_id, **record.run)
            row.metrics = [MetricRow(name=n, value=v, unit=u) for n, v, u in record.metrics]
            row.tags = [TagRow(key=k, value=v) for k, v in record.tags]
            session.add(row)
            session.flush()
            if record.latency_samples:
                session.execute(
                    insert(LatencySampleRow),
                    [{"run_id": row.id, "idx": i, "seconds": s}
                     for i, s in enumerate(record.latency_samples)],
                )
            if record.power_samples:
                session.execute(
                    insert(PowerSampleRow),
                    [{"run_id": row.id, "idx": i, "t_s": t, "watts": w}
                     for i, (t, w) in enumerate(record.power_samples)],
                )
            return row.id

    def runs(self, limit: int | None = None, vendor: str | None = None,
             case: str | None = None, query: RunQuery | None = None) -> list[StoredRun]:
        """Runs, newest first, filtered by ``query`` and the shorthand arguments.

        Reads plain rows (no ORM objects) and metrics and tags in bulk: a report over
        10,000 runs reads some 350,000 metric rows."""
        q = query or RunQuery()
        runs = RunRow.__table__
        stmt = select(runs).order_by(runs.c.started_at.desc(), runs.c.id.desc())
        vendors = q.vendors + ((vendor,) if vendor else ())
        cases = q.cases + ((case,) if case else ())
        if q.ids:
            stmt = stmt.where(runs.c.id.in_(q.ids))
        if vendors:
            stmt = stmt.where(runs.c.vendor.in_(vendors))
        if cases:
            stmt = stmt.where(runs.c.case.in_(cases))
        if q.hosts:
            stmt = stmt.where(runs.c.host_id.in_(
                select(HostRow.id).where(HostRow.hostname.in_(q.hosts))))
        for key, value in q.tags:
            stmt = stmt.where(exists().where(and_(
                TagRow.run_id == runs.c.id, TagRow.key == key, TagRow.value == value)))
        if q.since is not None:
            stmt = stmt.where(runs.c.started_at >= _utc(q.since))
        if q.until is not None:
            stmt = stmt.where(runs.c.started_at < _utc(q.until))
        if limit or q.limit:
            stmt = stmt.limit(min(x for x in (limit, q.limit) if x))
        with self._sessions() as session:
            rows = session.execute(stmt).mappings().all()
            ids = [r["id"] for r in rows]
            hosts = {h.id: h for h in session.scalars(
                select(HostRow).where(HostRow.id.in_({r["host_id"] for r in rows})))}
            metrics: dict[int, dict[str, float | None]] = {i: {} for i in ids}
            units: dict[int, dict[str, str]] = {i: {} for i in ids}
            tags: dict[int, dict[str, str]] = {i: {} for i in ids}
            for chunk in _chunks(ids, 500):
                for run_id, name, number, unit in session.execute(
                        select(MetricRow.run_id, MetricRow.name, MetricRow.value, MetricRow.unit)
                        .where(MetricRow.run_id.in_(chunk))):
                    metrics[run_id][name] = number
                    units[run_id][name] = unit
                for run_id, key, text in session.execute(
                        select(TagRow.run_id, TagRow.key, TagRow.value)
                        .where(TagRow.run_id.in_(chunk))):
                    tags[run_id][key] = text
        return [
            _stored(r, hosts[r["host_id"]], metrics[r["id"]], units[r["id"]], tags[r["id"]])
            for r in rows
        ]

    def run(self, run_id: int) -> StoredRun:
        """One run by id, or a FlagbenchError naming the id."""
        with self._sessions() as session:
            row = session.get(RunRow, run_id, options=[
                selectinload(RunRow.metrics), selectinload(RunRow.tags),
                selectinload(RunRow.host)])
            if row is None:
                raise FlagbenchError(f"no run with id {run_id} in {self.label}")
            return _to_stored(row)

    def power_samples(self, run_id: int) -> Sequence[tuple[float, float]]:
        """The polled (seconds, watts) readings of a run's timed window, in order."""
        with self._sessions() as session:
            q = (select(PowerSampleRow.t_s, PowerSampleRow.watts)
                 .where(PowerSampleRow.run_id == run_id).order_by(PowerSampleRow.idx))
            return [(t, w) for t, w in session.execute(q)]

    def samples(self, run_id: int) -> Sequence[float]:
        """The raw per-iteration latencies of a run, in order."""
        with self._sessions() as session:
            q = (select(LatencySampleRow.seconds).where(LatencySampleRow.run_id == run_id)
                 .order_by(LatencySampleRow.idx))
            return list(session.scalars(q))

    def samples_for(self, run_ids: Sequence[int]) -> dict[int, list[float]]:
        """Raw latencies of many runs in a few queries (reports read hundreds at once)."""
        out: dict[int, list[float]] = {i: [] for i in run_ids}
        with self._sessions() as session:
            for chunk in _chunks(sorted(out), 500):
                q = (select(LatencySampleRow.run_id, LatencySampleRow.seconds)
                     .where(LatencySampleRow.run_id.in_(chunk))
                     .order_by(LatencySampleRow.run_id, LatencySampleRow.idx))
                for run_id, seconds in session.execute(q):
                    out[run_id].append(seconds)
        return out

    def power_samples_for(self, run_ids: Sequence[int]) -> dict[int, list[tuple[float, float]]]:
        """Polled (seconds, watts) readings of many runs, in order, in a few queries."""
        out: dict[int, list[tuple[float, float]]] = {i: [] for i in run_ids}
        with self._sessions() as session:
            for chunk in _chunks(sorted(out), 500):
                q = (select(PowerSampleRow.run_id, PowerSampleRow.t_s, PowerSampleRow.watts)
                     .where(PowerSampleRow.run_id.in_(chunk))
                     .order_by(PowerSampleRow.run_id, PowerSampleRow.idx))
                for run_id, t, w in session.execute(q):
                    out[run_id].append((t, w))
        return out


def _chunks(items: Sequence[int], size: int) -> list[Sequence[int]]:
    # Bounded IN lists: SQLite and PostgreSQL both cap bound parameters per statement.
    return [items[i:i + size] for i in range(0, len(items), size)]

