"""Each run in its own process: crashes, hangs and memory exhaustion end only that run."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flagbench.store import Store
from paths import PLUGIN_SITE


def test_faults_become_stored_runs_and_the_matrix_goes_on(flagbench, quick,
                                                          tmp_path: Path) -> None:
    db = tmp_path / "faults.db"
    out = flagbench("run", "--vendor", "segfault,hang,memory-hog,oom-killed,cpu",
                    "--case", "tiny-mlp", "--timeout", "10", "--db", str(db), *quick, "--isolate")
    assert out.returncode == 1, out.stderr  # failed runs make the exit code 1, not a crash
    assert "Traceback" not in out.stderr
    store = Store.open(str(db), create=False)
    runs = {r.vendor: r for r in store.runs()}
    store.close()
    assert (runs["segfault"].status, runs["segfault"].reason) == (
        "failed", "the run's process was killed by SIGSEGV")
    assert runs["hang"].status == "timeout"
    assert runs["hang"].reason == "no result within the 10 s time limit"
    assert runs["memory-hog"].status == "failed" and "MemoryError" in runs["memory-hog"].reason
    assert runs["oom-killed"].reason == "the run's process was killed by SIGKILL (out of memory?)"
    assert runs["cpu"].status == "ok"
    assert runs["cpu"].environment["isolation"] == "child process"
    assert runs["cpu"].metric("host_rss_peak_bytes") > 0


def test_ctrl_c_stores_the_run_in_progress_as_interrupted(tmp_path: Path) -> None:
    import os

    db = tmp_path / "int.db"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PLUGIN_SITE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flagbench", "run", "--vendor", "cpu,hang", "--case",
         "tiny-mlp", "--precision", "fp32", "--db", str(db), "--warmup", "0", "--min-time",
         "0.1", "--max-time", "0.3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # A shell's background job (`pytest &`) ignores SIGINT, and so would its children:
        # give the CLI the default a terminal's Ctrl-C finds.
        preexec_fn=_default_ctrl_c,
    )
    try:
        _interrupt_after_first_run(proc, db)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()  # never leave a hanging run behind a failed test
    assert proc.returncode == 130, stderr
    store = Store.open(str(db), create=False)
    runs = sorted(store.runs(), key=lambda r: r.id)
    store.close()
    assert [(r.vendor, r.status) for r in runs] == [("cpu", "ok"), ("hang", "interrupted")]
    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma integrity_check").fetchone() == ("ok",)


def _default_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt_after_first_run(proc: subprocess.Popen[str], db: Path) -> None:
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
    import psutil

    def run_child_exists() -> bool:  # the run's child, not multiprocessing's resource tracker
        for child in psutil.Process(proc.pid).children():
            try:
                if "spawn_main" in " ".join(child.cmdline()):
                    return True
            except psutil.Error:
                continue
        return False

    while time.monotonic() < deadline and not run_child_exists():
        time.sleep(0.1)  # until the hanging run's child exists
    time.sleep(0.5)  # and is under way
    proc.send_signal(signal.SIGINT)


def test_ctrl_c_while_the_child_starts_still_stops_it(plugin_site: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Ctrl-C landing inside Process.start() used to escape before the parent knew its child;
    # the child (here a hanging run) was then joined at exit, forever.
    import multiprocessing
    import os
    from multiprocessing.context import SpawnProcess

    from flagbench.api.result import Status
    from flagbench.api.spec import RunSpec
    from flagbench.run.isolation import run_in_child

    real_start = SpawnProcess.start

    def start_then_ctrl_c(self: SpawnProcess) -> None:
        real_start(self)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)  # the signal arrives while start() is still running

    monkeypatch.setattr(SpawnProcess, "start", start_then_ctrl_c)
    # Python's own Ctrl-C handler, even where pytest runs as a background job (SIG_IGN).
    old_handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = run_in_child(RunSpec(vendor="hang", case="tiny-mlp"), 60, lambda *_: None, {})
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C during the child's start escaped run_in_child")
    finally:
        signal.signal(signal.SIGINT, old_handler)
        leftovers = multiprocessing.active_children()
        for p in leftovers:
            p.kill()
            p.join(5)
    assert result.status is Status.INTERRUPTED
    assert leftovers == []
