"""Each run in its own process: crashes, hangs and memory exhaustion end only that run."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from flagbench.store import Store


def test_faults_become_stored_runs_and_the_matrix_goes_on(flagbench, quick,
                                                          tmp_path: Path) -> None:
    db = tmp_path / "faults.db"
    out = flagbench("run", "--vendor", "segfault,hang,memory-hog,oom-killed,cpu",
                    "--case", "tiny-mlp", "--timeout", "20", "--db", str(db), *quick)
    assert out.returncode == 1, out.stderr  # failed runs make the exit code 1, not a crash
    assert "Traceback" not in out.stderr
    store = Store.open(str(db), create=False)
    runs = {r.vendor: r for r in store.runs()}
    store.close()
    assert (runs["segfault"].status, runs["segfault"].reason) == (
        "failed", "the run's process was killed by SIGSEGV")
    assert runs["hang"].status == "timeout"
    assert runs["hang"].reason == "no result within the 20 s time limit"
    assert runs["memory-hog"].status == "failed" and "MemoryError" in runs["memory-hog"].reason
    assert runs["oom-killed"].reason == "the run's process was killed by SIGKILL (out of memory?)"
    assert runs["cpu"].status == "ok"
    assert runs["cpu"].environment["isolation"] == "child process"
    assert runs["cpu"].metric("host_rss_peak_bytes") > 0


def test_ctrl_c_stores_the_run_in_progress_as_interrupted(tmp_path: Path) -> None:
    import os

    db = tmp_path / "int.db"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).parent / "plugin_site")
    proc = subprocess.Popen(
        [sys.executable, "-m", "flagbench", "run", "--vendor", "cpu,hang", "--case",
         "tiny-mlp", "--precision", "fp32", "--db", str(db), "--warmup", "0", "--min-time",
         "0.1", "--max-time", "0.3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until the first run is stored
        time.sleep(0.5)
        if db.exists():
            with sqlite3.connect(db) as conn:
                try:
                    if conn.execute("select count(*) from runs").fetchone()[0] >= 1:
                        break
                except sqlite3.OperationalError:
                    pass
    time.sleep(3)  # the hanging run is in progress
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    store = Store.open(str(db), create=False)
    runs = sorted(store.runs(), key=lambda r: r.id)
    store.close()
    assert [(r.vendor, r.status) for r in runs] == [("cpu", "ok"), ("hang", "interrupted")]
    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
