"""Comparisons: ratio of medians, bootstrap interval, Mann-Whitney U, pairing of cells."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from flagbench.api.result import Status
from flagbench.report.pairing import compare_sets
from flagbench.stats.comparisons import compare_runs, compare_samples
from flagbench.store import Store
from seeding import not_run, ok_run


def _noisy(median: float, n: int, seed: int, spread: float = 0.03) -> list[float]:
    rng = random.Random(seed)
    return [median * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


def test_a_real_difference_is_significant_with_an_interval_around_it() -> None:
    c = compare_samples(_noisy(0.050, 200, 1), _noisy(0.040, 200, 2))
    assert c.ratio == pytest.approx(0.8, rel=0.02)
    assert c.ci_low < c.ratio < c.ci_high < 1.0
    assert c.p_value < 1e-6 and c.significant and c.verdict == "faster"
    assert c.speedup == pytest.approx(1.25, rel=0.02)
    assert c.speedup_text().startswith("×1.2")


def test_same_distribution_is_within_noise() -> None:
    c = compare_samples(_noisy(0.050, 200, 3), _noisy(0.050, 200, 4))
    assert not c.significant and c.verdict == "within noise"
    assert c.ci_low <= 1.0 <= c.ci_high


def _drifting(median: float, seed: int, n: int = 300, phi: float = 0.95) -> list[float]:
    """Timings that share most of the previous one's deviation, as on a drifting machine."""
    rng = random.Random(seed)
    x, out = 0.0, []
    for _ in range(n):
        x = phi * x + rng.gauss(0, 0.03 * math.sqrt(1 - phi * phi))
        out.append(median * (1 + x))
    return out


def test_drift_is_not_called_a_difference() -> None:
    # Twenty pairs of runs of the same thing on a drifting machine: treating iterations as
    # independent calls most of them different; the run-aware comparison does not.
    pairs = [(_drifting(0.05, s), _drifting(0.05, s + 1)) for s in range(1, 40, 2)]
    assert sum(compare_samples(a, b).significant for a, b in pairs) >= 10
    assert sum(compare_runs([a], [b]).significant for a, b in pairs) <= 3  # 5% nominal
    # A real 20% difference under the same drift still shows.
    real = compare_runs([_drifting(0.05, 1)], [_drifting(0.04, 2)])
    assert real.significant and real.verdict == "faster"


def test_runs_that_disagree_widen_the_interval() -> None:
    fast, slow = _noisy(0.050, 100, 7, 0.002), _noisy(0.065, 100, 8, 0.002)
    steady = compare_runs([fast, _noisy(0.050, 100, 9, 0.002)], [_noisy(0.050, 100, 10, 0.002)])
    split = compare_runs([fast, slow], [_noisy(0.050, 100, 10, 0.002)])
    assert steady.ci_high - steady.ci_low < 0.02
    assert split.ci_high - split.ci_low > 0.2  # two processes 30% apart settle nothing
    assert not split.significant
    # The U test over the pooled samples alone would call it a difference; the p-value
    # shown follows the widened interval instead, so the two never disagree.
    assert compare_samples(fast + slow, _noisy(0.050, 100, 10, 0.002)).p_value < 0.001
    assert split.p_value > 0.05


def test_interval_p_value_reads_the_half_facing_one() -> None:
    from flagbench.stats.comparisons import Comparison, interval_p_value

    # ratio 1.10 with its lower end at 1.00 on a symmetric log scale: p = 0.05 exactly.
    lo = 1.10 / math.exp(math.log(1.10))
    at_edge = Comparison(1.10, lo, 1.10 * 1.10, 0.5, 10, 10)
    assert interval_p_value(at_edge) == pytest.approx(0.05, rel=1e-3)
    faster = Comparison(0.8, 0.75, 0.85, 0.0, 10, 10)
    assert interval_p_value(faster) < 1e-6
    assert interval_p_value(Comparison(1.0, 0.9, 1.1, 0.0, 10, 10)) == pytest.approx(1.0)


def test_seeded_bootstrap_is_reproducible() -> None:
    a, b = _noisy(0.05, 80, 5), _noisy(0.052, 80, 6)
    assert compare_samples(a, b) == compare_samples(a, b)


def test_constant_samples_and_too_few() -> None:
    assert compare_samples([1.0, 1.0, 1.0], [2.0, 2.0, 2.0]).verdict == "slower"
    assert compare_samples([1.0, 1.0], [1.0, 1.0]).verdict == "within noise"
    with pytest.raises(ValueError, match="at least two"):
        compare_samples([1.0], [1.0, 2.0])


def test_sets_pair_by_cell_pool_and_say_what_is_missing(db_path: Path) -> None:
    store = Store.open(str(db_path))
    a1 = store.save(ok_run("cpu", "fp32", 0.050, seed=1, tags=(("commit", "a"),)))
    a2 = store.save(ok_run("cpu", "fp32", 0.050, seed=2, tags=(("commit", "a"),)))
    b1 = store.save(ok_run("cpu", "fp32", 0.060, seed=3, tags=(("commit", "b"),)))
    store.save(ok_run("ort-cpu", "fp32", 0.040, seed=4, tags=(("commit", "a"),)))
    store.save(not_run("ort-cpu", "fp32", Status.FAILED, "boom"))
    side_a = [r for r in store.runs() if r.tags.get("commit") == "a"]
    side_b = [r for r in store.runs() if r.tags.get("commit") == "b" or r.status == "failed"]
    cells = {c.label.split(" · ", 1)[1]: c for c in compare_sets(side_a, side_b,
                                                                   store.samples_for)}
    cpu = cells["cpu · resnet50 latency bs1 fp32"]
    assert set(cpu.a_ids) == {a1, a2} and cpu.b_ids == (b1,)  # two runs of A pooled
    assert cpu.comparison is not None and cpu.comparison.verdict == "slower"
    assert cpu.regressed(10.0) and not cpu.regressed(25.0)
    ort = cells["ort-cpu · resnet50 latency bs1 fp32"]
    assert ort.comparison is None and "no ok run in B" in ort.note and "boom" in ort.note
    store.close()


def test_two_single_runs_compare_directly_across_vendors(db_path: Path) -> None:
    store = Store.open(str(db_path))
    store.save(ok_run("cpu", "fp32", 0.050, seed=1))
    store.save(ok_run("ort-cpu", "int8", 0.013, seed=2))
    cpu, ort = sorted(store.runs(), key=lambda r: r.vendor)
    (cell,) = compare_sets([cpu], [ort], store.samples_for)
    assert cell.comparison is not None and cell.comparison.verdict == "faster"
    assert not cell.regressed(0.0)
    store.close()


def test_runs_with_other_case_options_are_other_cells(db_path: Path) -> None:
    # A 1024 GEMM and a 2048 GEMM are not one thing measured twice: pairing or pooling them
    # would call the size change a slow-down.
    from dataclasses import replace

    from flagbench.report.render import ReportOptions, render_report
    from flagbench.report.selection import cell_key

    def gemm(size: int, median: float, seed: int) -> int:
        run = ok_run("cpu", "fp32", median, case="gemm", seed=seed)
        return store.save(replace(run, spec=replace(run.spec, options=(("size", size),))))

    store = Store.open(str(db_path))
    small = [gemm(1024, 0.010, 1), gemm(1024, 0.010, 2)]
    big = [gemm(2048, 0.080, 3), gemm(2048, 0.080, 4)]
    runs = {r.id: r for r in store.runs()}
    assert cell_key(runs[small[0]]).label == "gemm[size=1024] latency bs1 fp32"
    cells = compare_sets([runs[i] for i in small], [runs[i] for i in big], store.samples_for)
    assert {c.label.split(" · ", 1)[1] for c in cells} == {
        "cpu · gemm[size=1024] latency bs1 fp32", "cpu · gemm[size=2048] latency bs1 fp32"}
    assert all(c.comparison is None for c in cells)
    html = render_report(list(runs.values()), store.label, store, ReportOptions(baseline="cpu"))
    store.close()
    assert html.count('class="matrix-row"') == 2
    assert "gemm[size=1024]" in html and "gemm[size=2048]" in html


def test_a_large_slow_down_is_printed_with_its_digits() -> None:
    # B 250 times slower than A: ×0.0040, never ×0.00.
    a = [0.001 * (1 + 0.01 * (i % 5)) for i in range(40)]
    c = compare_samples(a, [x * 250 for x in a])
    assert c.speedup == pytest.approx(0.004)
    assert c.speedup_text().startswith("×0.004")
    assert "0.00 " not in c.speedup_text() and "×0.00 " not in c.speedup_text()
    assert compare_samples(a, a).speedup_text().startswith("×1.00")
