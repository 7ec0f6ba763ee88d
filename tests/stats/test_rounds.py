"""Rounds: alternating order in the plan, pooled statistics per cell."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from flagbench.api.contracts import ActualRun
from flagbench.api.errors import FlagbenchError
from flagbench.api.measurement import Measurement
from flagbench.api.plugins import Registry
from flagbench.api.result import RunResult, Status
from flagbench.api.spec import RunSpec
from flagbench.run.plan import Request, build_plan
from flagbench.stats.rounds import combine_rounds, pooled_stats
from flagbench.stats.summary import summarize
from flagbench.store import Store

T = datetime(2026, 11, 25, tzinfo=timezone.utc)


def test_plan_reverses_every_other_round(plugin_site: Path) -> None:
    specs = build_plan(Request(vendors=("cpu", "ort-cpu"), cases=("tiny-mlp",), rounds=3),
                       Registry.discover())
    assert [(s.round, s.vendor) for s in specs] == [
        (1, "cpu"), (1, "ort-cpu"), (2, "ort-cpu"), (2, "cpu"), (3, "cpu"), (3, "ort-cpu")]
    with pytest.raises(FlagbenchError, match="rounds must be 1 or more"):
        build_plan(Request(vendors=("cpu",), cases=("tiny-mlp",), rounds=0), Registry.discover())


def _ok(vendor: str, r: int, samples: tuple[float, ...]) -> RunResult:
    m = Measurement(samples, summarize(samples), "min_reached", 1, 0.1, 0.01, sum(samples),
                    energy_note="none")
    return RunResult(RunSpec(vendor=vendor, case="c", round=r), Status.OK, T, T,
                     measurement=m, actual=ActualRun("cpu", "fp32"))


def test_combine_pools_samples_and_reports_drift() -> None:
    results = [
        _ok("a", 1, (1.0, 1.0, 1.0)), _ok("b", 1, (2.0, 2.0, 2.0)),
        _ok("b", 2, (2.2, 2.2, 2.2)), _ok("a", 2, (1.1, 1.1, 1.1)),
        RunResult(RunSpec(vendor="c", case="c"), Status.SKIPPED, T, T, reason="absent"),
    ]
    cells = {c.spec.vendor: c for c in combine_rounds(results)}
    assert set(cells) == {"a", "b"}
    a = cells["a"]
    assert a.rounds == 2 and a.pooled.n == 6 and a.round_medians == (1.0, 1.1)
    assert a.pooled.median == pytest.approx(1.05)
    assert a.between_rounds_cv == pytest.approx(0.0673, rel=0.01)


def test_pooled_interval_covers_rounds_that_disagree() -> None:
    # Each round is steady on its own (its own interval is tight), but the second process
    # ran 30% slower: the pooled median's interval has to say that two rounds cannot
    # settle it, instead of treating the 60 samples as independent.
    fast = tuple(0.100 + 0.0001 * (i % 3) for i in range(30))
    slow = tuple(0.130 + 0.0001 * (i % 3) for i in range(30))
    (disagree,) = combine_rounds([_ok("a", 1, fast), _ok("a", 2, slow)])
    assert disagree.pooled.ci_low <= 0.100 and disagree.pooled.ci_high >= 0.130
    again = tuple(x * 1.002 for x in fast)
    (agree,) = combine_rounds([_ok("a", 1, fast), _ok("a", 2, again), _ok("a", 3, fast)])
    assert agree.pooled.ci_rel_halfwidth < 0.01
    (one,) = combine_rounds([_ok("a", 1, fast)])
    assert one.pooled == summarize(fast)


def test_cli_rounds(flagbench, quick, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    out = flagbench("run", "--vendor", "cpu,ort-cpu", "--case", "tiny-mlp", "--rounds", "2",
                    "--no-isolate", "--db", str(db), *quick)
    assert out.returncode == 0, out.stderr
    assert "rounds combined" in out.stdout and "between-round CV" in out.stdout
    store = Store.open(str(db), create=False)
    runs = sorted(store.runs(), key=lambda r: r.id)
    store.close()
    assert [(r.vendor, r.spec["round"]) for r in runs] == [
        ("cpu", 1), ("ort-cpu", 1), ("ort-cpu", 2), ("cpu", 2)]
    # One id for the whole invocation, so the report can pool its rounds.
    (matrix_id,) = {r.spec["matrix_id"] for r in runs}
    assert len(matrix_id) == 12


def _round(vendor: str, r: int, median_s: float, matrix_id: str, hours: int,
           watts: float | None = None) -> RunResult:
    from dataclasses import replace
    from datetime import timedelta

    from flagbench.api.energy import EnergyReading
    from seeding import ok_run

    energy = None if watts is None else EnergyReading(
        "fake_power_poller", "board", "sampled", watts, 1.0,
        power_samples=tuple((i * 0.05, watts) for i in range(8)))
    run = ok_run(vendor, "fp32", median_s, started=T + timedelta(hours=hours), seed=hours,
                 energy=energy)
    return replace(run, spec=replace(run.spec, round=r, matrix_id=matrix_id))


def test_report_pools_the_rounds_of_one_invocation(tmp_path: Path) -> None:
    from flagbench.report.render import ReportOptions, render_report
    from flagbench.report.selection import latest
    from flagbench.stats.comparisons import compare_runs

    store = Store.open(str(tmp_path / "r.db"))
    old_cpu = store.save(_round("cpu", 1, 0.300, "", 0))  # an older run, planned alone
    ids = {}
    for r, (cpu, ort) in enumerate([(0.100, 0.050), (0.120, 0.060), (0.110, 0.055)], 1):
        ids["cpu", r] = store.save(_round("cpu", r, cpu, "m1", 10 * r))
        ids["ort-cpu", r] = store.save(_round("ort-cpu", r, ort, "m1", 10 * r + 1))
    runs = store.runs()
    html = render_report(runs, store.label, store, ReportOptions(baseline="cpu"))
    samples = store.samples_for(sorted(ids.values()))
    kept = {r.id for r in latest(runs, with_rounds=True)}
    store.close()

    cpu_cell = re.search(rf'data-run="{ids["cpu", 3]}">(.*?)</td>', html, re.S)
    ort_cell = re.search(rf'data-run="{ids["ort-cpu", 3]}">(.*?)</td>', html, re.S)
    assert cpu_cell and ort_cell
    assert "3 rounds pooled" in cpu_cell.group(1) and "1 older" in cpu_cell.group(1)
    assert all(f'href="#run-{ids["cpu", r]}"' in cpu_cell.group(1) for r in (1, 2, 3))
    assert f'href="#run-{old_cpu}"' not in cpu_cell.group(1)
    # The speed-up is over every round of both sides, not the newest pair alone.
    pooled = compare_runs([samples[ids["cpu", r]] for r in (1, 2, 3)],
                          [samples[ids["ort-cpu", r]] for r in (1, 2, 3)])
    newest = compare_runs([samples[ids["cpu", 3]]], [samples[ids["ort-cpu", 3]]])
    assert pooled.speedup_text() != newest.speedup_text()
    assert html.count(pooled.speedup_text()) == 1
    # The latency chart plots every round too, and says so.
    assert "cpu fp32 · 3 rounds" in html and "ort-cpu fp32 · 3 rounds" in html
    assert kept == set(ids.values())


def test_report_shows_a_lone_newest_run_unpooled(tmp_path: Path) -> None:
    from flagbench.report.render import ReportOptions, render_report

    store = Store.open(str(tmp_path / "r.db"))
    for r in (1, 2):
        store.save(_round("cpu", r, 0.1, "m1", r))
    alone = store.save(_round("cpu", 1, 0.2, "m2", 5))  # a newer one-round run
    html = render_report(store.runs(), store.label, store, ReportOptions(baseline="cpu"))
    store.close()
    cell = re.search(rf'data-run="{alone}">(.*?)</td>', html, re.S)
    assert cell and "pooled" not in cell.group(1) and f"run {alone}" in cell.group(1)
    assert "2 older" in cell.group(1)


def test_power_chart_draws_every_pooled_round(tmp_path: Path) -> None:
    from flagbench.report.render import ReportOptions, render_report

    store = Store.open(str(tmp_path / "r.db"))
    for r, watts in enumerate([30.0, 45.0, 31.0], 1):
        store.save(_round("cpu", r, 0.1, "m1", r, watts=watts))
    html = render_report(store.runs(), store.label, store, ReportOptions())
    store.close()
    assert all(f"cpu fp32 · round {r}" in html for r in (1, 2, 3))


def test_pooled_median_counts_each_round_once() -> None:
    # A 15 s window holds three times the samples of a phase three times as fast: pooling the
    # samples would put the median in the fast round; each round counts once instead.
    fast, slow, mid = [0.01] * 300, [0.03] * 100, [0.02] * 150
    pooled = pooled_stats([fast, slow, mid])
    assert pooled.median == pytest.approx(0.02)
    assert summarize(fast + slow + mid).median == pytest.approx(0.01)  # what pooling said
    assert pooled.ci_low <= 0.02 <= pooled.ci_high
