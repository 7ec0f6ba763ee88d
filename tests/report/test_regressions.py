"""Step detection in a series' history: real steps found, noise and single outliers not."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from pathlib import Path

from flagbench.report.history import build_series, find_all_steps
from flagbench.store import Store
from seeding import T0, ok_run


def _series(db: Path, medians: list[float], vendor: str = "cpu") -> list[int]:
    store = Store.open(str(db))
    ids = [store.save(ok_run(vendor, "fp32", m, started=T0 + timedelta(hours=i), seed=i,
                             spread=0.005))
           for i, m in enumerate(medians)]
    store.close()
    return ids


def _runs(db: Path):  # type: ignore[no-untyped-def]
    store = Store.open(str(db), create=False)
    runs = store.runs()
    store.close()
    return runs


def test_a_step_is_found_at_the_run_where_it_starts(db_path: Path) -> None:
    rng = random.Random(0)
    medians = [0.050 * (1 + rng.gauss(0, 0.005)) for _ in range(8)]
    medians += [0.058 * (1 + rng.gauss(0, 0.005)) for _ in range(5)]
    ids = _series(db_path, medians)
    (step,) = find_all_steps(_runs(db_path))
    assert step.run_id == ids[8]
    assert step.kind == "regression" and 0.13 < step.change < 0.19
    assert (step.runs_before, step.runs_after) == (8, 5)


def test_an_improvement_then_a_regression_are_two_steps(db_path: Path) -> None:
    ids = _series(db_path, [0.05] * 4 + [0.04] * 4 + [0.06] * 4)
    steps = find_all_steps(_runs(db_path))
    assert [(s.run_id, s.kind) for s in steps] == [(ids[4], "improvement"),
                                                   (ids[8], "regression")]


def test_noise_small_shifts_and_single_outliers_are_not_steps(db_path: Path) -> None:
    rng = random.Random(1)
    noisy = [0.05 * (1 + rng.gauss(0, 0.03)) for _ in range(20)]
    small = [0.05] * 6 + [0.051] * 6  # 2%: below the 5% floor
    outlier = [0.05] * 6 + [0.09] + [0.05] * 6
    for vendor, medians in (("a", noisy), ("b", small), ("c", outlier)):
        _series(db_path, medians, vendor=vendor)
    runs = _runs(db_path)
    assert len(build_series(runs)) == 3
    assert find_all_steps(runs) == []


def test_series_are_kept_apart_by_host_vendor_and_cell(db_path: Path) -> None:
    store = Store.open(str(db_path))
    store.save(ok_run("cpu", "fp32", 0.05))
    store.save(ok_run("cpu", "int8", 0.02))
    store.save(ok_run("cpu", "fp32", 0.05, hostname="other"))
    store.save(ok_run("cpu", "fp32", 0.05, batch_size=8))
    store.close()
    assert len(build_series(_runs(db_path))) == 4


def test_history_command_marks_the_step(flagbench, db_path: Path) -> None:
    ids = _series(db_path, [0.05] * 4 + [0.06] * 3)
    # Wide enough that the history table's cells do not wrap (it has 16 columns).
    out = flagbench("history", "--db", str(db_path), env={"COLUMNS": "300"})
    assert out.returncode == 0, out.stderr
    assert "step changes" in out.stdout and "regression" in out.stdout
    assert re.search(r"\+(19\.[5-9]|20\.[0-4])%", out.stdout)  # about +20%
    marked = [line for line in out.stdout.splitlines() if "step change from here" in line]
    assert len(marked) == 1 and marked[0].split("│")[1].strip() == str(ids[4])
