"""Many `flagbench run` processes writing to one database at once lose nothing.

Four real CLI processes start together on a database that does not exist yet, so they also
race to create the schema (the migration lock) and the host row (its unique key). Four on
two cores already contend for every lock; eight took twice as long (a torch import each).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from flagbench.store import Store
from paths import PLUGIN_SITE

WRITERS = 4
BATCH_SIZES = ("1", "2")


def test_concurrent_writers_lose_nothing(db_url: str, tmp_path: Path) -> None:
    env = dict(os.environ)
    env.pop("FLAGBENCH_DB", None)
    env["PYTHONPATH"] = str(PLUGIN_SITE)
    env["OMP_NUM_THREADS"] = "1"  # several processes on a small machine: do not oversubscribe
    quick = ["--warmup", "0", "--min-time", "0.05", "--max-time", "0.3", "--min-iters", "5",
             "--target-ci", "0"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "flagbench", "run", "--vendor", "cpu", "--case", "tiny-mlp",
             "--batch-size", ",".join(BATCH_SIZES), "--no-isolate", "--tag", f"writer={w}",
             "--db", db_url, *quick],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for w in range(WRITERS)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "Traceback" not in err

    store = Store.open(db_url, create=False)
    runs = store.runs()
    assert len(runs) == WRITERS * len(BATCH_SIZES)
    assert {(r.tags["writer"], str(r.batch_size)) for r in runs} == {
        (str(w), bs) for w in range(WRITERS) for bs in BATCH_SIZES}
    assert len({r.uid for r in runs}) == len(runs)
    for r in runs:
        assert r.status == "ok"
        assert len(store.samples(r.id)) == r.metric("iterations") >= 1  # every sample arrived
    store.close()
    url = db_url if "://" in db_url else f"sqlite:///{db_url}"
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from hosts")).scalar_one() == 1
        assert conn.execute(text("select count(*) from alembic_version")).scalar_one() == 1
        if engine.dialect.name == "sqlite":
            assert conn.execute(text("pragma integrity_check")).scalar_one() == "ok"
            assert conn.execute(text("pragma journal_mode")).scalar_one() == "wal"
    engine.dispose()
