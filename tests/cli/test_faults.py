"""The database going away mid-matrix: runs already stored stay intact, nothing is stored by
half, the error says what happened, and the runs that could not be written wait in the spool
until `flagbench spool --replay` writes them (once, however often it is replayed).

The matrix runs in the CLI's process (quick to start): cpu at batch size 1 (stored normally),
cpu at batch size 2 (measured for three seconds, during which the database goes away), then
absent-hw (skipped at once, also while it is away).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from flagbench.store import Store
from paths import PLUGIN_SITE
from pg_server import PASSWORD, PgCluster

MATRIX = ["--vendor", "cpu,absent-hw", "--case", "tiny-mlp", "--batch-size", "1,2",
          "--no-isolate", "--warmup", "0", "--min-time", "3", "--max-time", "4",
          "--target-ci", "0"]


def _start_run(db: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.pop("FLAGBENCH_DB", None)
    env["PYTHONPATH"] = str(PLUGIN_SITE)
    return subprocess.Popen([sys.executable, "-m", "flagbench", "run", *MATRIX, "--db", db],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _stored_runs(db: str) -> int:
    engine = create_engine(db if "://" in db else f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("select count(*) from runs")).scalar_one())
    except Exception:
        return 0  # not created yet
    finally:
        engine.dispose()


def _when_first_run_stored(db: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if _stored_runs(db) >= 1:
            time.sleep(1)  # the second run is being measured now
            return
        time.sleep(0.2)
    raise AssertionError(f"the first run was never stored: {proc.communicate()}")


def _check_outage_and_replay(db: str, proc: subprocess.Popen[str], spool_dir: Path,
                             flagbench: Callable[..., subprocess.CompletedProcess[str]],
                             expected_error: str) -> None:
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 3, stderr
    assert "Traceback" not in stderr and PASSWORD not in stdout + stderr
    error = stderr.strip().splitlines()[-1]
    assert error.startswith("error: 3 of 4 run(s) could not be written to the database"), error
    assert expected_error in error and "flagbench spool --replay" in error
    assert stdout.count("NOT STORED") == 3

    store = Store.open(db, create=False)  # the run stored before the outage is whole
    (cpu,) = store.runs()
    assert (cpu.vendor, cpu.batch_size, cpu.status) == ("cpu", 1, "ok")
    assert len(store.samples(cpu.id)) == cpu.metric("iterations") >= 5
    store.close()

    files = sorted(spool_dir.glob("*.json"))
    assert len(files) == 3
    listing = flagbench("spool")
    assert listing.returncode == 0, listing.stderr
    assert "3 run(s) in the spool" in listing.stdout and PASSWORD not in listing.stdout
    assert "cpu × tiny-mlp bs2" in listing.stdout and "absent-hw × tiny-mlp" in listing.stdout
    kept = files[0].read_bytes()

    replay = flagbench("spool", "--replay", "--db", db)
    assert replay.returncode == 0, replay.stderr
    assert "3 run(s) written" in replay.stdout
    assert list(spool_dir.glob("*.json")) == []
    files[0].write_bytes(kept)  # the same run spooled again: replaying it adds nothing
    again = flagbench("spool", "--replay", "--db", db)
    assert again.returncode == 0 and "1 run(s) written" in again.stdout, again.stderr

    store = Store.open(db, create=False)
    runs = {(r.vendor, r.batch_size): r for r in store.runs()}
    assert len(runs) == 4 and runs["absent-hw", 2].status == "skipped"
    late = runs["cpu", 2]  # measured during the outage, written by the replay, whole
    assert late.status == "ok" and len(store.samples(late.id)) == late.metric("iterations")
    store.close()
    assert _stored_runs(db) == 4


def test_postgresql_stopped_mid_matrix(own_pg_cluster: PgCluster, spool_dir: Path,
                                       flagbench: Callable[..., subprocess.CompletedProcess[str]],
                                       ) -> None:
    db = own_pg_cluster.create_database()
    proc = _start_run(db)
    _when_first_run_stored(db, proc)
    own_pg_cluster.stop()
    try:
        proc.wait(timeout=300)
    finally:
        own_pg_cluster.start()
    _check_outage_and_replay(db, proc, spool_dir, flagbench, "Connection refused")


def _make_immutable(paths: list[Path], on: bool) -> None:
    for p in paths:
        if p.exists():
            subprocess.run(["chattr", "+i" if on else "-i", str(p)], check=True,
                           capture_output=True)


def test_sqlite_file_made_unwritable_mid_matrix(tmp_path: Path, spool_dir: Path,
                                                flagbench: Callable[...,
                                                                    subprocess.CompletedProcess[str]],
                                                ) -> None:
    # Root ignores file modes, so the file is made immutable (chattr +i), which binds root too.
    probe = tmp_path / "probe"
    probe.write_text("x")
    if os.geteuid() != 0 or shutil.which("chattr") is None or subprocess.run(
            ["chattr", "+i", str(probe)], capture_output=True).returncode != 0:
        reason = "making a file unwritable needs root and chattr +i on this file system"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    _make_immutable([probe], on=False)
    db = tmp_path / "results.db"
    proc = _start_run(str(db))
    _when_first_run_stored(str(db), proc)
    # Only the database file: an immutable -shm file, which SQLite maps into memory, kills
    # the writer with SIGBUS (tried).
    files = [db]
    _make_immutable(files, on=True)
    try:
        proc.wait(timeout=300)
    finally:
        _make_immutable(files, on=False)
    _check_outage_and_replay(str(db), proc, spool_dir, flagbench, "database")
