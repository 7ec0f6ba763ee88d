"""flagbench compare and export end to end, against a seeded database."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from flagbench.store import Store
from seeding import ok_run, seed_issue_matrix


def _tagged_db(db: Path) -> None:
    store = Store.open(str(db))
    for seed, (commit, med) in enumerate([("a", 0.050), ("a", 0.0501), ("b", 0.060)]):
        store.save(ok_run("cpu", "fp32", med, seed=seed, tags=(("commit", commit),)))
    store.save(ok_run("cpu", "fp32", 0.050, seed=9, hostname="lab2", tags=(("commit", "b"),)))
    store.close()


def test_compare_tags_with_fail_above(flagbench, db_path: Path) -> None:
    _tagged_db(db_path)
    out = flagbench("compare", "tag:commit=a", "tag:commit=b", "--db", str(db_path))
    assert out.returncode == 0, out.stderr
    assert "B slower" in out.stdout and "+20.1%" in out.stdout and "not in A" in out.stdout
    fail = flagbench("compare", "tag:commit=a", "tag:commit=b", "--db", str(db_path),
                     "--fail-above", "10")
    assert fail.returncode == 1 and "1 cell(s) slower than A by more than 10%" in fail.stdout
    lenient = flagbench("compare", "tag:commit=a", "tag:commit=b", "--db", str(db_path),
                        "--fail-above", "30")
    assert lenient.returncode == 0 and "no cell is significantly slower" in lenient.stdout


def test_compare_hosts_and_single_runs(flagbench, db_path: Path) -> None:
    _tagged_db(db_path)
    hosts = flagbench("compare", "tag:commit=a", "host:lab2", "--db", str(db_path))
    assert hosts.returncode == 0, hosts.stderr
    assert "within noise" in hosts.stdout  # 50 ms on both hosts
    runs = flagbench("compare", "1", "run:3", "--db", str(db_path))
    assert runs.returncode == 0 and "run 1 → run 3" in runs.stdout and "B slower" in runs.stdout


def test_export_csv_json_and_samples(flagbench, db_path: Path, tmp_path: Path) -> None:
    ids = seed_issue_matrix(db_path)
    out = flagbench("export", "--db", str(db_path), "--format", "csv")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == len(ids)
    by_id = {int(r["id"]): r for r in rows}
    assert by_id[ids["cuda"]]["status"] == "skipped" and "no CUDA" in by_id[ids["cuda"]]["reason"]
    assert float(by_id[ids["cpu_fp32"]]["latency_median_s"]) > 0
    assert by_id[ids["ort_int8"]]["accuracy_top1"] == "0.91"

    samples = flagbench("export", "--db", str(db_path), "--samples", "--vendor", "cpu")
    sample_rows = list(csv.DictReader(io.StringIO(samples.stdout)))
    assert {r["vendor"] for r in sample_rows} == {"cpu"} and len(sample_rows) == 120

    target = tmp_path / "runs.json"
    js = flagbench("export", "--db", str(db_path), "--format", "json", "--samples",
                   "--latest", "--out", str(target))
    assert js.returncode == 0 and js.stdout == ""
    data = json.loads(target.read_text())
    assert data["format"] == "flagbench-export-1"
    runs = {r["id"]: r for r in data["runs"]}
    assert ids["ort_fp32_0"] not in runs and ids["ort_fp32_6"] in runs  # --latest
    assert len(runs[ids["cpu_fp32"]]["latency_samples_s"]) == 60
    assert runs[ids["cpu_fp32"]]["environment"]["energy"]["confidence"] == "estimated"
