"""Hostile spool files and read-only opens (issue 16, classes 8 and 9).

Class 8: every spool file, listed or replayed, passes one check (``store/record_check.py``);
one that fails is moved to ``quarantine/`` with its reason, never deleted and never written,
and the database is left as it was. Class 9: commands that read never create or migrate."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from flagbench.store import spool
from flagbench.store.record import record_of
from hostile_table import Row, checksum, refused, seed
from seeding import ok_run

Edit = Callable[[dict[str, Any]], Any]


def _set(path: str, value: Any) -> Edit:
    """An edit of the spool file's body: the field at dotted ``path`` set to ``value``."""
    def edit(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = body
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return edit


def _drop(path: str) -> Edit:
    def edit(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = body
        for key in parents:
            node = node[key]
        del node[last]
    return edit


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"x": value}
    return value


#: (what the file is, an edit of a good body or the file's whole text, the reason's text)
SPOOL_ROWS: list[tuple[str, Edit | str, str]] = [
    ("not JSON", "{not json", "unreadable spool file"),
    ("a JSON list", "[]", "not a JSON object"),
    ("target a number", _set("target", 5), "target: must be text"),
    ("target with NUL", _set("target", "db\x00"), "target: not text the store can hold"),
    ("another format", _set("record.format", 2), "not a flagbench run record of format 1"),
    ("no uid", _drop("record.uid"), "uid: missing"),
    ("uid not a UUID", _set("record.uid", "../../etc"), "uid: not a UUID"),
    ("batch size text", _set("record.run.batch_size", "1"), "run.batch_size: must be"),
    ("batch size 2**40", _set("record.run.batch_size", 2**40), "run.batch_size: must be"),
    ("batch size true", _set("record.run.batch_size", True), "run.batch_size: must be"),
    ("unknown status", _set("record.run.status", "great"), "run.status: unknown value"),
    ("unknown scenario", _set("record.run.scenario", "x"), "run.scenario: unknown value"),
    ("vendor too long", _set("record.run.vendor", "v" * 200), "longer than 128"),
    ("reason with NUL", _set("record.run.reason", "a\x00b"), "holds a NUL character"),
    ("time not ISO", _set("record.run.started_at", "yesterday"), "not an ISO 8601 time"),
    ("time without zone", _set("record.run.started_at", "2026-01-01T00:00:00"),
     "has no time zone"),
    ("finished first", _set("record.run.finished_at", "2000-01-01T00:00:00+00:00"),
     "before run.started_at"),
    ("unknown run field", _set("record.run.owner", "x"), "'owner' missing or unknown"),
    ("spec a list", _set("record.run.spec", []), "run.spec: must be an object"),
    ("vendor options text", _set("record.run.spec.vendor_options", "mode"),
     "run.spec.vendor_options: must be a list"),
    ("round text", _set("record.run.spec.round", "one"), "run.spec.round: must be an integer"),
    ("energy a number", _set("record.run.environment.energy", 5),
     "run.environment.energy: must be an object"),
    ("metric text", _set("record.metrics.0.1", "fast"), "must be a number"),
    ("metric NaN", _set("record.metrics.0.1", float("nan")), "must be a finite number"),
    ("metric 1e999", _set("record.metrics.0.1", float("inf")), "must be a finite number"),
    ("metric twice", lambda b: b["record"]["metrics"].append(b["record"]["metrics"][0]),
     "metrics: the same name twice"),
    ("tag not UTF-8", _set("record.tags", [["commit", "\ud800"]]), "is not valid UTF-8"),
    ("negative timing", _set("record.latency_samples.0", -1.0), "must be 0 or more"),
    ("power sample short", _set("record.power_samples", [[1.0]]), "each must be"),
    ("nested 40 deep", _set("record.run.environment.deep", _deep(40)), "nested deeper"),
    ("integer past 64 bits", _set("record.host.big", 2**70), "beyond 64 bits"),
    ("hostname too long", _set("record.host.hostname", "h" * 300), "longer than 255"),
]


def _good_body(db: Path) -> dict[str, Any]:
    record = record_of(ok_run("cpu", "fp32", 0.012, case="tiny-mlp", seed=2, n=5))
    body: dict[str, Any] = json.loads(spool.body_text(record, str(db), "database locked"))
    return body


def _write(spool_dir: Path, name: str, edit: Edit | str, db: Path) -> Path:
    spool_dir.mkdir(exist_ok=True)
    path = spool_dir / f"{name}.json"
    if isinstance(edit, str):
        path.write_text(edit)
    else:
        body = _good_body(db)
        edit(body)
        # NaN and infinities as Python's json writes them, as a hand edit might.
        path.write_text(json.dumps(body))
    return path


def test_bad_spool_files_are_quarantined_and_never_written(
        flagbench, tmp_path: Path, spool_dir: Path) -> None:
    """Class 8: each row one hand-edited file, listed or replayed (alternately): moved to
    quarantine/ with its reason, nothing written; then a good file beside bad ones replays."""
    db = seed(tmp_path / "results.db")
    before = checksum(db)
    quarantine = spool_dir / spool.QUARANTINE
    for i, (name, edit, reason) in enumerate(SPOOL_ROWS):
        path = _write(spool_dir, f"row{i}", edit, db)
        args = ["spool"] if i % 2 else ["spool", "--replay", "--db", str(db)]
        out = flagbench(*args)
        where = (name, out.stdout[-800:], out.stderr[-800:])
        assert out.returncode == 0, where
        assert "Traceback" not in out.stderr and "quarantined in" in out.stdout, where
        assert "1 spool file(s) failed the check" in out.stderr, where
        assert not path.exists(), where
        kept = quarantine / path.name
        assert kept.exists(), where
        assert reason in (quarantine / f"{path.name}.reason").read_text(), (reason, where)
        assert checksum(db) == before, where
    assert len(list(quarantine.glob("*.json"))) == len(SPOOL_ROWS) == 32

    # A directory planted under a spool file's name, and a file whose quarantine name is
    # taken already (an earlier file of that name is never overwritten).
    (spool_dir / "planted.json").mkdir()
    _write(spool_dir, "row0", "still not json", db)
    good = _write(spool_dir, "good", lambda b: None, db)
    out = flagbench("spool", "--replay", "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert "1 run(s) written" in out.stdout and "2 spool file(s) failed" in out.stderr
    assert (quarantine / "planted.json").is_dir() and (quarantine / "row0.1.json").exists()
    assert "not a regular file" in (quarantine / "planted.json.reason").read_text()
    assert not good.exists() and checksum(db)[1] != before[1]
    for args in (["history"], ["show", "3"], ["report", "--out", str(tmp_path / "r.html")]):
        shown = flagbench(*args, "--db", str(db))
        assert shown.returncode == 0, (args, shown.stderr[-800:])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _sqlite_no_tables(path: Path) -> None:
    sqlite3.connect(path).execute("pragma user_version = 7").connection.commit()


def _foreign(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("create table payroll (name text)")


def _older(path: Path) -> None:
    from alembic import command

    from flagbench.store.migrate import _config

    cfg = _config()
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    engine.dispose()


def _newer(path: Path) -> None:
    seed(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("update alembic_version set version_num = '9999'")
    conn.execute("pragma journal_mode = delete")  # folded in: no checkpoint moves it later
    conn.close()


READ_ONLY = [
    (_empty, "holds no flagbench results yet; it needs `flagbench run` first"),
    (_sqlite_no_tables, "holds no flagbench results yet; it needs `flagbench run` first"),
    (_foreign, "holds tables but is not a flagbench database"),
    (_older, "has an older flagbench schema (0001); a command that writes"),
    (_newer, "was written by a newer flagbench (schema 9999)"),
]


@pytest.mark.parametrize(("make", "error"), READ_ONLY, ids=lambda x: getattr(x, "__name__", ""))
def test_read_only_commands_never_create_or_migrate(flagbench, tmp_path: Path,
                                                    make: Callable[[Path], None],
                                                    error: str) -> None:
    """Class 9: every command that reads, on each kind of file it cannot read as it is:
    one line, exit 2, the file byte for byte as it was (no schema, no migration)."""
    db = tmp_path / "target.db"
    make(db)
    d = str(db)
    rows = [Row(["history", "--db", d], error), Row(["show", "1", "--db", d], error),
            Row(["compare", "1", "2", "--db", d], error),
            Row(["report", "--db", d, "--out", str(tmp_path / "r.html")], error),
            Row(["export", "--db", d], error)]
    assert refused(flagbench, rows, db) == 5
    assert not (tmp_path / "r.html").exists()
