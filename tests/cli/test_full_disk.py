"""A full disk (issue 16, class 5): the database write fails and the spool cannot be written
either. The run is not lost: one line says so and the record follows on stderr as the spool
file it would have been, which replays like any other; no temporary file is left behind.

The disk is a real 64 KiB tmpfs, filled up, where this machine lets the test mount one (root);
otherwise an injected ENOSPC at the spool file's fsync. The database's failure is injected in
both (tests/cli/test_faults.py takes real databases away).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flagbench.store import Store
from flagbench.store import spool as spool_module
from flagbench.store.engine import StoreError

Flagbench = Callable[..., subprocess.CompletedProcess[str]]
RUN = ["run", "--vendor", "cpu", "--case", "tiny-mlp", "--no-isolate", "--warmup", "0",
       "--min-time", "0.01", "--max-time", "0.1", "--min-iters", "3", "--target-ci", "0"]


@pytest.fixture(params=["tmpfs", "injected"])
def full_spool(request: pytest.FixtureRequest, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A spool directory on a full disk."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = False
    if request.param == "tmpfs":
        if os.geteuid() != 0 or shutil.which("mount") is None or subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                capture_output=True).returncode != 0:
            pytest.skip("mounting a tmpfs needs root (the injected variant still runs)")
        mounted = True
    else:
        def no_space(_fd: int) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(spool_module.os, "fsync", no_space)
    try:
        if mounted:
            fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
            try:  # fill it to the last block
                while os.write(fd, b"\0" * 4096):
                    pass
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
            finally:
                os.close(fd)
        spool = disk / "spool"
        monkeypatch.setenv("FLAGBENCH_SPOOL", str(spool))
        yield spool
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(disk)], check=True)


def test_a_full_disk_loses_no_run(flagbench: Flagbench, full_spool: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "results.db"
    Store.open(str(db), create=True).close()
    disk_before = sorted(p.name for p in full_spool.parent.iterdir())

    def database_full(self: Store, record: object) -> int:
        raise StoreError("database or disk is full", transient=False)

    monkeypatch.setattr(Store, "write", database_full)
    done = flagbench(*RUN, "--db", str(db))
    monkeypatch.undo()  # the database and the disk are back
    assert done.returncode == 3 and "Traceback" not in done.stderr, done.stderr
    said, record, summary = done.stderr.strip().splitlines()
    assert said.startswith("error: the spool cannot take this run either (No space left on "
                           "device") and "its record follows as JSON" in said, said
    assert summary.startswith("error: 1 of 1 run(s) could not be written to the database "
                              "(database or disk is full); 1 of them only on stderr"), summary
    assert "NOT STORED (database or disk is full); kept in stderr as JSON" in done.stdout
    # Nothing left behind on the full disk: no temporary file, no half spool file.
    left = sorted(p.name for p in full_spool.parent.iterdir())
    assert left in (disk_before, sorted([*disk_before, "spool"]))
    assert not full_spool.exists() or list(full_spool.iterdir()) == []

    # Saved as the file its line names, in a spool that works, the run replays whole.
    name = said.split("saved as ", 1)[1].split(" ", 1)[0]
    assert name == json.loads(record)["record"]["uid"] + ".json"
    spool = tmp_path / "spool-later"
    spool.mkdir()
    (spool / name).write_text(record)
    replay = flagbench("spool", "--replay", "--db", str(db), env={"FLAGBENCH_SPOOL": str(spool)})
    assert replay.returncode == 0 and "1 run(s) written" in replay.stdout, replay.stderr
    store = Store.open(str(db), create=False)
    (run,) = store.runs()
    assert run.status == "ok" and len(store.samples(run.id)) == run.metric("iterations")
    store.close()
