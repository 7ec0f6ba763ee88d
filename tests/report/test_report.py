"""The HTML report over the issue's database: every view present, hostile text escaped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flagbench.report.render import ReportOptions, render_report
from flagbench.store import Store
from seeding import XSS, seed_issue_matrix


@pytest.fixture(scope="module")
def issue_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    db = tmp_path_factory.mktemp("issue") / "issue.db"
    return db, seed_issue_matrix(db)


@pytest.fixture(scope="module")
def page(issue_db: tuple[Path, dict[str, int]]) -> str:
    store = Store.open(str(issue_db[0]), create=False)
    html = render_report(store.runs(), store.label, store, ReportOptions(baseline="cpu"))
    store.close()
    return html


def _cell(page: str, run_id: int) -> str:
    match = re.search(rf'<td class="cell [^"]*" data-run="{run_id}">(.*?)</td>', page, re.S)
    assert match, f"no matrix cell for run {run_id}"
    return match.group(1)


IssueDb = tuple[Path, dict[str, int]]


def test_matrix_has_speedups_with_significance_and_noise(page: str, issue_db: IssueDb) -> None:
    ids = issue_db[1]
    assert 'id="matrix"' in page and "cpu (baseline)" in page
    int8 = _cell(page, ids["ort_int8"])
    assert "faster" in int8 and "vs cpu fp32" in int8 and "p&lt;0.001" in int8  # cpu int8 skipped
    fp32 = _cell(page, ids["ort_fp32_6"])
    assert "faster" in fp32 and "vs cpu ·" in fp32 and "6 older" in fp32
    same = _cell(page, ids["ort_tp8"])
    assert "within noise" in same and "/s" in same  # throughput headline is samples/s
    assert "baseline" in _cell(page, ids["cpu_fp32"])


def test_skips_and_failures_are_cells_with_their_reasons(page: str, issue_db: IssueDb) -> None:
    ids = issue_db[1]
    for name, reason in [("cuda", "no CUDA device"), ("ttbuda", "pybuda is not installed"),
                         ("cpu_int8", "cpu offers fp32 only")]:
        cell = _cell(page, ids[name])
        assert "status-skipped" in cell and reason in cell
    assert "status-failed" in _cell(page, ids["failed"])
    assert 'id="failures-table"' in page


def test_efficiency_accuracy_history_and_charts(page: str) -> None:
    assert "cpu_util_x_tdp" in page and '<span class="estimate">estimate</span>' in page
    assert "unavailable: no energy meter on this host" in page
    assert "GFLOP/s" in page  # achieved FLOP/s from flops_per_sample × throughput
    assert '<td class="num">4.2%</td>' in page  # MFU where a run recorded it
    assert "<th>accuracy_top1</th>" in page and "<th>fidelity_cosine</th>" in page
    assert "speed against accuracy_top1" in page
    assert 'class="step step-regression"' in page and "+19." in page
    assert page.count("<svg") >= 4  # latency distribution, speed/accuracy, power, history
    assert "No chart: every case ran at a single batch size" in page  # bs8 is throughput only
    assert "resnet50 latency bs1: speed" in page
    assert "seconds into the timed window" in page  # the power trace of the sampled run
    assert "fake_power_poller (board) · sampled" in page


def test_hostile_text_is_escaped_everywhere(page: str) -> None:
    assert XSS not in page
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert page.count(escaped) >= 4  # tag, failure reason, host name in matrix and tables
    assert "http://" not in page and "https://" not in page  # self-contained, charts too


def test_hostile_names_inside_charts_are_escaped(db_path: Path) -> None:
    from seeding import ok_run

    store = Store.open(str(db_path))
    for seed, vendor in enumerate(["cpu", f"v{XSS}"]):
        store.save(ok_run(vendor, "fp32", 0.05 + seed / 100, case=f"c{XSS}", seed=seed))
    html = render_report(store.runs(), store.label, store)
    store.close()
    assert "<svg" in html and XSS not in html


def test_cli_filters_and_latest(flagbench, issue_db: tuple[Path, dict[str, int]],
                                tmp_path: Path) -> None:
    db, ids = issue_db
    out = tmp_path / "latest.html"
    rep = flagbench("report", "--db", str(db), "--out", str(out), "--latest",
                    "--vendor", "ort-cpu", "--since", "2026-11-01", "--until", "2030-01-01")
    assert rep.returncode == 0, rep.stderr
    page = out.read_text()
    rows = re.findall(r'<tr class="run" id="run-(\d+)"', page)
    assert sorted(map(int, rows)) == sorted([ids["ort_fp32_6"], ids["ort_int8"], ids["ort_tp8"],
                                             ids["failed"]])
    assert "latest run of each vendor" in page and "vendor ort-cpu" in page
    assert 'class="step step-regression"' in page  # history still uses every matching run
    tagged = flagbench("report", "--db", str(db), "--out", str(out), "--tag", f"purpose={XSS}")
    assert tagged.returncode == 0 and "(1 runs)" in tagged.stdout
    nothing = flagbench("report", "--db", str(db), "--out", str(out), "--host", "nowhere")
    assert nothing.returncode == 0 and "No runs match" in out.read_text()
