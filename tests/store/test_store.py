"""The store on SQLite and PostgreSQL: round trip of every status, refusals that leave the
database untouched, migrations, password hiding."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, inspect, text

from flagbench.api.contracts import ActualRun
from flagbench.api.energy import MEASURED, EnergyReading
from flagbench.api.errors import FlagbenchError
from flagbench.api.measurement import Fidelity, Measurement
from flagbench.api.result import RunResult, Status
from flagbench.api.spec import RunSpec
from flagbench.run.environment import host_facts
from flagbench.stats.summary import summarize
from flagbench.store import Store
from flagbench.store.location import ENV_VAR, resolve
from flagbench.store.migrate import head_revision
from pg_server import PASSWORD, PgCluster

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def _ok_result(samples: tuple[float, ...] = (0.010, 0.012, 0.011, 0.013)) -> RunResult:
    spec = RunSpec(vendor="cpu", case="resnet50", batch_size=2, tags=(("team", "a"),))
    m = Measurement(samples=samples, stats=summarize(samples), stop_rule="ci_reached",
                    warmup_iters=3, warmup_s=0.05, first_iter_s=0.02, loop_s=sum(samples),
                    energy=EnergyReading("fake_counter", "board", MEASURED, 4.0, 0.05),
                    host_rss_bytes=1 << 30)
    return RunResult(
        spec, Status.OK, T0, T0 + timedelta(seconds=5), measurement=m,
        fidelity=Fidelity(samples=8, max_abs_err=1e-6, mean_abs_err=1e-7, cosine=math.nan,
                          top1_agreement=1.0),
        actual=ActualRun(device="cpu", precision="fp32", threads=2),
        setup_s=0.3, flops_per_sample=8e9,
        environment={"host": host_facts(), "versions": {"torch": "x"}},
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextmanager
def _sql(db: str) -> Iterator[Connection]:
    """A plain SQLAlchemy connection (in a transaction) to a test database, past the store."""
    engine = create_engine(db if "://" in db else f"sqlite:///{db}")
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def _one(db: str, query: str) -> object:
    with _sql(db) as conn:
        return conn.execute(text(query)).scalar_one()


def _snapshot(db: str) -> object:
    """What a refusal must leave as it was: SQLite's bytes, or PostgreSQL's tables and rows."""
    if "://" not in db:
        return _digest(Path(db))
    with _sql(db) as conn:
        tables = sorted(inspect(conn).get_table_names())
        return [(t, conn.execute(text(f'select count(*) from "{t}"')).scalar_one(),
                 conn.execute(text(f'select * from "{t}"')).all()) for t in tables]


def test_round_trip_ok_run(db_url: str) -> None:
    store = Store.open(db_url)
    result = _ok_result()
    run_id = store.save(result)
    back = store.run(run_id)
    assert (back.vendor, back.case, back.batch_size, back.status) == ("cpu", "resnet50", 2, "ok")
    assert back.metric("latency_median_s") == pytest.approx(result.measurement.stats.median)
    assert back.metric("throughput_sps") == pytest.approx(2 * 4 / sum(result.measurement.samples))
    assert back.metric("fidelity_cosine") is None  # NaN is kept as NULL, not as a number
    assert back.metric("energy_j") == 4.0 and back.metric("avg_power_w") == pytest.approx(80.0)
    assert back.metric("energy_per_sample_j") == pytest.approx(0.5)  # 4 J over 2 × 4 samples
    assert back.metric("samples_per_j") == pytest.approx(2.0)
    assert back.metric("host_rss_bytes") == float(1 << 30)
    assert back.tags == {"team": "a"}
    assert back.actual == {"device": "cpu", "precision": "fp32", "threads": 2, "details": {}}
    assert back.started_at == T0
    assert back.host_facts["hostname"] == host_facts()["hostname"]
    assert list(store.samples(run_id)) == list(result.measurement.samples)
    store.close()


def test_skipped_and_failed_runs_are_stored(db_url: str) -> None:
    store = Store.open(db_url)
    spec = RunSpec(vendor="cpu", case="resnet50")
    for status in (Status.SKIPPED, Status.FAILED, Status.INTERRUPTED):
        store.save(RunResult(spec, status, T0, T0, reason=f"because {status.value}",
                             environment={"host": host_facts()}))
    runs = store.runs()
    assert [r.status for r in runs] == ["interrupted", "failed", "skipped"]  # newest first
    assert runs[1].reason == "because failed" and runs[1].metrics == {}
    assert len(store.runs(limit=2)) == 2
    assert store.runs(case="bert") == []


def test_one_host_row_per_machine(db_url: str) -> None:
    store = Store.open(db_url)
    store.save(_ok_result())
    store.save(_ok_result())
    store.close()
    assert _one(db_url, "select count(*) from hosts") == 1
    assert _one(db_url, "select count(*) from latency_samples") == 8


def test_a_record_is_written_once_however_often_it_is_written(db_url: str) -> None:
    import json

    from flagbench.store.record import record_of
    from flagbench.store.record_check import checked_record

    store = Store.open(db_url)
    # As the spool keeps it, and reads it back.
    record = checked_record(json.loads(record_of(_ok_result()).to_json()))
    first = store.write(record)
    assert store.write(record) == first
    (run,) = store.runs()
    assert run.uid == record.uid and run.started_at == T0
    assert list(store.samples(first)) == [0.010, 0.012, 0.011, 0.013]
    store.close()


def test_schema_is_versioned_with_alembic(db_url: str) -> None:
    Store.open(db_url).close()
    assert _one(db_url, "select version_num from alembic_version") == head_revision()


def test_refuses_newer_schema_untouched(db_url: str) -> None:
    store = Store.open(db_url)
    store.save(_ok_result())
    store.close()
    with _sql(db_url) as conn:
        conn.execute(text("update alembic_version set version_num = '9999'"))
    before = _snapshot(db_url)
    with pytest.raises(FlagbenchError, match="written by a newer flagbench .schema 9999."):
        Store.open(db_url)
    with pytest.raises(FlagbenchError, match="newer flagbench"):
        Store.open(db_url, create=False)
    assert _snapshot(db_url) == before


def test_refuses_foreign_database_untouched(db_url: str) -> None:
    if "://" not in db_url:
        with sqlite3.connect(db_url) as conn:
            conn.execute("create table payroll (name text)")
    else:
        with _sql(db_url) as conn:
            conn.execute(text("create table payroll (name text)"))
            conn.execute(text("insert into payroll values ('ada')"))
    before = _snapshot(db_url)
    with pytest.raises(FlagbenchError, match="not a flagbench database"):
        Store.open(db_url)
    assert _snapshot(db_url) == before


def test_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("these are notes, not a database\n" * 10)
    with pytest.raises(FlagbenchError, match="not a SQLite database"):
        Store.open(str(junk))
    assert junk.read_text().startswith("these are notes")


def test_missing_directory_and_missing_database(tmp_path: Path) -> None:
    with pytest.raises(FlagbenchError, match="does not exist"):
        Store.open(str(tmp_path / "nowhere" / "x.db"))
    with pytest.raises(FlagbenchError, match="no database at"):
        Store.open(str(tmp_path / "absent.db"), create=False)
    assert not (tmp_path / "absent.db").exists()


def test_url_env_and_password_hiding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env.db"))
    assert resolve(None).path == tmp_path / "env.db"
    assert resolve(str(tmp_path / "flag.db")).path == tmp_path / "flag.db"  # --db wins
    loc = resolve("postgresql+psycopg://bench:s3cret@db.example/flagbench")
    assert "s3cret" not in loc.label and loc.path is None
    url_store = Store.open(f"sqlite:///{tmp_path / 'url.db'}")
    assert url_store.label.endswith("url.db")
    url_store.close()
    with pytest.raises(FlagbenchError, match="cannot use database nope://"):
        Store.open("nope://host/db")


def test_older_schema_upgrades_in_place(db_url: str) -> None:
    from alembic import command

    from flagbench.store.migrate import _config

    cfg = _config()
    with _sql(db_url) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with _sql(db_url) as conn:
        conn.execute(text("insert into hosts (key, hostname, facts, first_seen) "
                          "values ('k', 'oldhost', '{}', '2026-01-01 00:00:00+00:00')"))
        conn.execute(text(
            "insert into runs (uid, host_id, vendor, \"case\", scenario, batch_size, precision, "
            "status, reason, started_at, finished_at, spec, environment, flagbench_version) "
            "values ('u1', 1, 'cpu', 'resnet50', 'latency', 1, 'fp32', 'skipped', 'old', "
            "'2026-01-01 00:00:00+00:00', '2026-01-01 00:00:01+00:00', '{}', '{}', '0.0.1')"))
    assert "power_samples" not in _snapshot_tables(db_url)
    store = Store.open(db_url)
    (old,) = store.runs()
    assert (old.hostname, old.reason, old.warnings) == ("oldhost", "old", [])
    new_id = store.save(_ok_result())
    assert store.run(new_id).status == "ok"
    store.close()
    assert _one(db_url, "select version_num from alembic_version") == head_revision()
    assert "power_samples" in _snapshot_tables(db_url)


def _snapshot_tables(db: str) -> set[str]:
    with _sql(db) as conn:
        return set(inspect(conn).get_table_names())


def test_password_never_shown(pg_cluster: PgCluster) -> None:
    url = pg_cluster.create_database()
    store = Store.open(url)
    assert PASSWORD not in store.label and "***" in store.label
    store.close()
    wrong = pg_cluster.url(url.rsplit("/", 1)[1], password="Wr0ng-s3cret")
    with pytest.raises(FlagbenchError) as refused:
        Store.open(wrong)
    message = str(refused.value)
    assert "password authentication failed" in message
    assert "Wr0ng-s3cret" not in message and "\n" not in message
    with pytest.raises(FlagbenchError, match="does not exist") as missing:
        Store.open(pg_cluster.url("no_such_db"))
    assert PASSWORD not in str(missing.value)


def test_power_samples_round_trip(db_url: str) -> None:
    import dataclasses

    result = _ok_result()
    assert result.measurement is not None
    energy = EnergyReading("fake_power", "board", "sampled", 3.0, 0.1,
                           power_samples=((0.0, 29.0), (0.05, 31.0), (0.1, 30.0)))
    result = dataclasses.replace(
        result, measurement=dataclasses.replace(result.measurement, energy=energy))
    store = Store.open(db_url)
    run_id = store.save(result)
    assert list(store.power_samples(run_id)) == [(0.0, 29.0), (0.05, 31.0), (0.1, 30.0)]
    store.close()


def test_queries_filter_by_every_field_and_stay_newest_first(db_url: str) -> None:
    from flagbench.store import RunQuery

    store = Store.open(db_url)
    facts = host_facts()
    ids = []
    for i, (vendor, hostname, tag) in enumerate(
            [("cpu", facts["hostname"], "a"), ("ort-cpu", "lab2", "b"), ("cpu", "lab2", "a")]):
        result = _ok_result()
        spec = dataclasses.replace(result.spec, vendor=vendor, tags=(("team", tag),))
        env = {**result.environment, "host": {**facts, "hostname": hostname}}
        ids.append(store.save(dataclasses.replace(
            result, spec=spec, environment=env, started_at=T0 + timedelta(hours=i),
            finished_at=T0 + timedelta(hours=i, seconds=5))))

    def found(**kw: object) -> list[int]:
        return [r.id for r in store.runs(query=RunQuery(**kw))]  # type: ignore[arg-type]

    assert found() == ids[::-1]
    assert found(vendors=("cpu",)) == [ids[2], ids[0]]
    assert found(hosts=("lab2",)) == [ids[2], ids[1]]
    assert found(tags=(("team", "a"),)) == [ids[2], ids[0]]
    assert found(tags=(("team", "a"),), hosts=("lab2",)) == [ids[2]]
    assert found(since=T0 + timedelta(minutes=30)) == [ids[2], ids[1]]
    assert found(until=T0 + timedelta(minutes=30)) == [ids[0]]
    assert found(ids=(ids[1],), cases=("resnet50",)) == [ids[1]]
    assert found(limit=1) == [ids[2]]
    assert found(tags=(("team", "zzz"),)) == []
    bulk = store.samples_for([ids[0], ids[1], 999])
    assert bulk[ids[0]] == list(store.samples(ids[0])) and bulk[999] == []
    assert store.power_samples_for([ids[0]]) == {ids[0]: []}
    store.close()


def test_spool_replay_writes_only_the_runs_spooled_for_that_database(
        tmp_path: Path, spool_dir: Path, flagbench) -> None:
    from flagbench.store import spool
    from flagbench.store.record import record_of

    here, there = tmp_path / "here.db", tmp_path / "there.db"
    spool.put(record_of(_ok_result()), str(here), "disk full")
    spool.put(record_of(_ok_result()), str(there), "disk full")
    first = flagbench("spool", "--replay", "--db", str(here))
    assert first.returncode == 0, first.stderr
    assert "1 run(s) written" in first.stdout and "1 for other databases" in first.stdout
    assert f"spooled for {there}" in first.stdout
    assert len(list(spool_dir.glob("*.json"))) == 1
    everything = flagbench("spool", "--replay", "--all", "--db", str(here))
    assert everything.returncode == 0 and "1 run(s) written" in everything.stdout
    assert list(spool_dir.glob("*.json")) == []
    store = Store.open(str(here), create=False)
    assert len(store.runs()) == 2
    store.close()
    assert not there.exists()
    listing = flagbench("spool", "--all")
    assert listing.returncode == 2 and "--all applies to --replay only" in listing.stderr
