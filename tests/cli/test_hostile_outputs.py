"""What flagbench writes and shows (issue 16, classes 1 and 2): no report or export replaces
the results database, a directory, a special file or a file flagbench did not write; no
secret of a database URL reaches the terminal, a report, an error or the spool."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from flagbench.store import Store
from flagbench.store.location import resolve
from flagbench.store.record import record_of
from flagbench.store.redaction import safe_label
from flagbench.store.sink import StoreSink
from hostile_table import Row, checksum, refused, seed
from seeding import ok_run

SECRET = "S3cret-pw"
PG = "postgresql+psycopg://bench{auth}@127.0.0.1:1/flagbench{query}"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return seed(tmp_path / "results.db")


def test_outputs_never_replace_the_database_or_foreign_files(flagbench, db: Path,
                                                             tmp_path: Path) -> None:
    """Class 1: every command that writes a file goes through one guard."""
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    other_db = seed(tmp_path / "other.db")
    link, hard = tmp_path / "link.html", tmp_path / "hard.html"
    link.symlink_to(db)
    os.link(db, hard)
    loop = tmp_path / "loop.html"
    loop.symlink_to(loop)
    fifo = tmp_path / "fifo.html"
    os.mkfifo(fifo)
    url = f"sqlite:///{db}"
    rows = []
    for command in (["report"], ["export", "--format", "json"]):
        with_db = [*command, "--db", str(db), "--out"]
        rows += [
            Row([*with_db, str(db)], "is the results database"),
            Row([*with_db, str(db), "--force"], "is the results database"),
            *(Row([*with_db, f"{db}{suffix}", "--force"], "is the results database")
              for suffix in ("-wal", "-shm", "-journal")),
            Row([*with_db, str(link), "--force"], "is the results database"),
            Row([*with_db, str(hard), "--force"], "is the results database"),
            Row([*command, "--db", url, "--out", str(db)], "is the results database"),
            Row([*command, "--out", str(db)], "is the results database",
                env={"FLAGBENCH_DB": str(db)}),
            Row([*with_db, str(tmp_path)], "is a directory"),
            Row([*with_db, str(tmp_path), "--force"], "is a directory"),
            Row([*with_db, str(fifo), "--force"], "is not a regular file"),
            Row([*with_db, str(loop), "--force"], "Too many levels of symbolic links"),
            Row([*with_db, "/dev/null", "--force"], "is not a regular file"),
            Row([*with_db, str(notes)], "exists and is not a flagbench report or export; "
                "add --force"),
            Row([*with_db, str(other_db)], "add --force to replace it"),
            Row([*with_db, str(tmp_path / "no" / "r.html")], "does not exist"),
        ]
    others = checksum(other_db)
    assert refused(flagbench, rows, db) == 34
    assert notes.read_text() == "my notes\n" and checksum(other_db) == others
    assert not list(tmp_path.glob(".flagbench-out-*"))


def test_outputs_replace_what_flagbench_wrote(flagbench, db: Path, tmp_path: Path) -> None:
    """Class 1, stored outcomes: a new path, a flagbench output, an empty file, --force."""
    before = checksum(db)
    report, csv, js, empty = (tmp_path / n for n in ("r.html", "r.csv", "r.json", "e.csv"))
    empty.touch()
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    rows = [
        (["report", "--out", str(report)], report, "<!DOCTYPE html>"),
        (["report", "--out", str(report)], report, "<!DOCTYPE html>"),
        (["export", "--out", str(csv)], csv, "id,uid,"),
        (["export", "--out", str(csv), "--samples"], csv, "run_id,host,"),
        (["export", "--out", str(csv)], csv, "id,uid,"),
        (["export", "--format", "json", "--out", str(js)], js, '"format": "flagbench-export-1"'),
        (["export", "--format", "json", "--out", str(js), "--samples"], js, "latency_samples_s"),
        (["export", "--out", str(report)], report, "id,uid,"),
        (["export", "--out", str(empty)], empty, "id,uid,"),
        (["export", "--out", str(notes), "--force"], notes, "id,uid,"),
    ]
    for args, path, head in rows:
        out = flagbench(*args, "--db", str(db))
        assert out.returncode == 0, (args, out.stderr)
        assert head in path.read_text(), args
        assert checksum(db) == before
    assert len(rows) == 10 and not list(tmp_path.glob(".flagbench-out-*"))


def test_secrets_never_reach_an_error(flagbench, db: Path, tmp_path: Path) -> None:
    """Class 2: every form a driver accepts a secret in, on every command that opens a
    database, and in FLAGBENCH_DB."""
    forms = {
        "userinfo": PG.format(auth=f":{SECRET}", query=""),
        "query": PG.format(auth="", query=f"?password={SECRET}"),
        "query, upper case": PG.format(auth="", query=f"?PASSWORD={SECRET}&sslmode=disable"),
        "sslpassword": PG.format(auth="", query=f"?sslpassword={SECRET}"),
        "encoded": PG.format(auth=":S3cret%2Dpw", query=""),
        "conninfo in dbname": PG.format(
            auth="", query=f"?dbname=host%3Dx%20password%3D{SECRET}"),
        "conninfo as database": f"postgresql+psycopg://bench@127.0.0.1:1/password={SECRET}",
    }
    commands = (["history"], ["report", "--out", str(tmp_path / "r.html")], ["show", "1"],
                ["export"], ["compare", "1", "2"], ["spool", "--replay"],
                ["run", "--vendor", "cpu", "--case", "tiny-mlp"])
    rows = [Row([*command, "--db", url], "") for url in forms.values() for command in commands]
    rows += [Row(["history"], "", env={"FLAGBENCH_DB": url}) for url in forms.values()]
    rows += [
        Row(["history", "--db", f"postgresql+psycopg://bench:{SECRET}@host:notaport/db"],
            "not a database path or SQLAlchemy URL: 'postgresql+psycopg://bench:***@host:"
            "notaport/db'"),
        Row(["history", "--db", f"post gres://bench:{SECRET}@host/db"],
            "not a database path or SQLAlchemy URL: 'post gres://bench:***@host/db'"),
        Row(["history", "--db", f"postgresql+psycopg://bench:{SECRET}@[::1/db"],
            "'postgresql+psycopg://bench:***@[::1/db'"),
        Row(["history", "--db", f"host=127.0.0.1 port=1 password={SECRET} dbname=x"],
            "looks like a libpq connection string"),
        Row(["history", "--db", f"dbname=x password='{SECRET} x'"], "libpq connection string"),
        Row(["history", "--db", PG.format(auth="", query=f"?password={SECRET}")],
            "postgresql+psycopg://bench@127.0.0.1:1/flagbench?password=***"),
        Row(["run", "--vendor", "cpu", "--case", "tiny-mlp", "--db",
             f"mysql://bench:{SECRET}@db.example/flagbench?password={SECRET}"],
            "cannot use database mysql://bench:***@db.example/flagbench?password=***"),
    ]
    assert refused(flagbench, rows, db, secret=SECRET) == 63
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("raw, label", [
    (f"postgresql+psycopg://u:{SECRET}@h/db?password={SECRET}&application_name=x",
     "postgresql+psycopg://u:***@h/db?application_name=x&password=***"),
    (f"postgresql+psycopg://u@h/db?password={SECRET}&password=two2",
     "postgresql+psycopg://u@h/db?password=***"),
    (f"postgresql+psycopg://u@h/db?password=%27{SECRET}%20x%27",
     "postgresql+psycopg://u@h/db?password=***"),
    (f"postgresql+psycopg://u@h/db?api_token={SECRET}", "postgresql+psycopg://u@h/db?api_token=***"),
    (f"postgresql+psycopg://u@h/?dbname=host%3Dh%20password%3D{SECRET}",
     "postgresql+psycopg://u@h/?dbname=host%3Dh+password%3D***"),
    ("sqlite:////tmp/x.db?mode=ro", "sqlite:////tmp/x.db?mode=ro"),
])
def test_labels_hide_every_secret(raw: str, label: str) -> None:
    """Class 2, stored outcome: the label every display and spool file uses (6 rows)."""
    assert resolve(raw).label == safe_label(raw) == label


@pytest.mark.filterwarnings("ignore:Query string argument")  # SQLite ignores ?password=
def test_secrets_never_reach_the_summary_report_or_spool(flagbench, db: Path, tmp_path: Path,
                                                         spool_dir: Path) -> None:
    """Class 2, stored outcomes: a run's summary, history, a report, a spool file and the
    spool listing of a database whose URL carries a password in its query string."""
    url = f"sqlite:///{db}?password={SECRET}"
    report = tmp_path / "r.html"
    outs = [flagbench("run", "--vendor", "absent-hw", "--case", "tiny-mlp", "--db", url),
            flagbench("history", "--db", url),
            flagbench("report", "--db", url, "--out", str(report))]
    assert [o.returncode for o in outs] == [0, 0, 0], [o.stderr for o in outs]
    assert all(SECRET not in o.stdout + o.stderr for o in outs)
    assert "password=***" in outs[0].stdout and "password=***" in report.read_text()
    assert SECRET not in report.read_text()

    broken = tmp_path / "broken.db"
    seed(broken)
    store = Store.open(f"sqlite:///{broken}?password={SECRET}")
    with sqlite3.connect(broken) as conn:
        conn.execute("drop table metrics")  # every write now fails: the run is spooled
    written = StoreSink(store).put(ok_run("cpu", "fp32", 0.01, case="tiny-mlp"))
    store.close()
    assert written.run_id is None and SECRET not in str(written.error)
    # A spool file from an older flagbench that stored the URL whole.
    legacy = {"target": PG.format(auth=f":{SECRET}", query=f"?password={SECRET}"),
              "error": f"password={SECRET} refused", "spooled_at": "2026-01-01T00:00:00+00:00",
              "record": record_of(ok_run("cpu", "fp32", 0.01, case="tiny-mlp")).to_dict()}
    (spool_dir / "legacy.json").write_text(json.dumps(legacy))
    (spooled,) = [f for f in spool_dir.glob("*.json") if f.name != "legacy.json"]
    assert SECRET not in spooled.read_text() and "password=***" in spooled.read_text()
    listing = [flagbench("spool"), flagbench("spool", "--replay", "--db", str(db))]
    assert "2 run(s) in the spool" in listing[0].stdout
    assert all(SECRET not in o.stdout + o.stderr for o in listing), listing
