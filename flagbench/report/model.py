"""What the report shows, computed from stored runs: the matrix with speed-ups, efficiency
and accuracy rows. Plain values for the template; escaping is left to Jinja."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from flagbench.api.measurement import LatencyStats
from flagbench.report.selection import (
    CellKey,
    by_series,
    cell_key,
    clock_mismatch,
    round_group,
    series_key,
)
from flagbench.stats.comparisons import Comparison, compare_runs
from flagbench.stats.rounds import between_rounds_cv, pooled_stats
from flagbench.store import StoredRun

RowKey = tuple[str, CellKey]  # host × cell


@dataclass(frozen=True)
class MatrixCell:
    """The newest run of one vendor in one row, pooled with the other rounds of the same
    ``flagbench run --rounds``, with its speed-up against the baseline."""

    run: StoredRun
    headline: str
    detail: str
    older_runs: int = 0
    is_baseline: bool = False
    comparison: Comparison | None = None
    """Against the baseline run named in ``vs``."""
    vs: str = ""
    no_comparison: str = ""
    """Why there is no speed-up where one was expected."""
    rounds: tuple[StoredRun, ...] = ()
    """The ok rounds pooled into the headline and the speed-up, in round order; empty when
    the newest run stands alone."""


@dataclass(frozen=True)
class MatrixRow:
    """One host × case × scenario × batch × precision; a cell per vendor (None: no run)."""

    host: str
    key: CellKey
    cells: list[MatrixCell | None]


@dataclass(frozen=True)
class Matrix:
    """The summary: vendors across, cells down."""

    vendors: list[str]
    baseline: str | None
    rows: list[MatrixRow]
    show_host: bool

    @property
    def cell_runs(self) -> list[StoredRun]:
        """The run behind every cell, row by row."""
        return [c.run for row in self.rows for c in row.cells if c is not None]

    @property
    def shown_runs(self) -> list[StoredRun]:
        """Every run a cell stands for: its newest run, or each round it pools."""
        return [r for row in self.rows for c in row.cells if c is not None
                for r in (c.rounds or (c.run,))]


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1e3:.4g} ms"


def headline(run: StoredRun) -> tuple[str, str]:
    """The scenario's headline figure and its supporting figures."""
    m = run.metric
    if run.status != "ok":
        return run.status, run.reason
    if run.scenario == "throughput":
        tput = m("throughput_sps")
        return (f"{tput:,.1f}/s" if tput is not None else "—",
                f"p50 {_ms(m('latency_median_s'))} · p99 {_ms(m('latency_p99_s'))}")
    if run.scenario == "server":
        achieved, target = m("server_achieved_qps"), m("server_target_qps")
        rate = f"{achieved:.3g} of {target:.3g} req/s" if achieved and target else ""
        met = m("p99_within_bound")
        bound = "" if met is None else (" · p99 bound met" if met else " · p99 bound missed")
        return f"p99 {_ms(m('latency_p99_s'))}", rate + bound
    return (_ms(m("latency_median_s")),
            f"p90 {_ms(m('latency_p90_s'))} · p99 {_ms(m('latency_p99_s'))} · "
            f"CI {run.median_ci_text()}")


def build_matrix(runs: Sequence[StoredRun], baseline: str | None,
                 samples: Mapping[int, Sequence[float]]) -> Matrix:
    """Newest run per row × vendor, pooled with its other rounds (``round_group``);
    speed-ups against ``baseline`` from raw samples.

    The baseline is the baseline vendor's run in the same row, or, when that is not ok, its
    fp32 run of the same case, scenario, batch size and host (named in the cell)."""
    grouped: dict[RowKey, dict[str, list[StoredRun]]] = {}
    for r in runs:
        grouped.setdefault((r.hostname, cell_key(r)), {}).setdefault(r.vendor_label, []).append(r)
    vendors = sorted({r.vendor_label for r in runs}, key=lambda v: (v != baseline, v))
    newest = {
        row: {v: max(rs, key=lambda r: (r.started_at, r.id)) for v, rs in by_vendor.items()}
        for row, by_vendor in grouped.items()
    }
    rows = []
    for (host, key) in sorted(newest, key=lambda rk: (
            rk[1].case, rk[1].options, rk[1].scenario, rk[1].batch_size, rk[1].precision,
            rk[1].target_qps or 0, rk[1].concurrency or 0, rk[0])):
        base_run, vs = _baseline_for(newest, host, key, baseline)
        cells: list[MatrixCell | None] = []
        for v in vendors:
            run = newest[(host, key)].get(v)
            if run is None:
                cells.append(None)
                continue
            group = round_group(run, grouped[(host, key)][v])
            base_group = ([] if base_run is None else round_group(
                base_run, grouped[(host, cell_key(base_run))][base_run.vendor_label]))
            cells.append(_cell(group, len(grouped[(host, key)][v]) - len(group),
                               v == baseline, base_group, vs, samples, baseline))
        rows.append(MatrixRow(host, key, cells))
    return Matrix(vendors, baseline if baseline in vendors else None, rows,
                  show_host=len({r.hostname for r in runs}) > 1)


def baseline_runs(runs: Sequence[StoredRun], baseline: str | None) -> list[StoredRun]:
    """The runs a matrix over ``runs`` compares against, with their other rounds (so their
    samples can be read)."""
    if not baseline:
        return []
    newest: dict[RowKey, dict[str, StoredRun]] = {}
    for r in runs:
        slot = newest.setdefault((r.hostname, cell_key(r)), {})
        if r.vendor_label not in slot or (r.started_at, r.id) > (slot[r.vendor_label].started_at,
                                                           slot[r.vendor_label].id):
            slot[r.vendor_label] = r
    out: dict[int, StoredRun] = {}
    series = by_series(runs)
    for host, key in newest:
        run, _ = _baseline_for(newest, host, key, baseline)
        if run is not None:
            out.update((r.id, r) for r in round_group(run, series[series_key(run)]))
    return list(out.values())


def _baseline_for(newest: Mapping[RowKey, Mapping[str, StoredRun]], host: str, key: CellKey,
                  baseline: str | None) -> tuple[StoredRun | None, str]:
    if not baseline:
        return None, ""
    same = newest.get((host, key), {}).get(baseline)
    if same is not None and same.status == "ok":
        return same, baseline
    fp32 = newest.get((host, key._replace(precision="fp32")), {}).get(baseline)
    if fp32 is not None and fp32.status == "ok":
        return fp32, f"{baseline} fp32"
    return None, ""


def _samples_of(runs: Iterable[StoredRun], samples: Mapping[int, Sequence[float]]
                ) -> list[Sequence[float]]:
    return [x for x in (samples.get(r.id, ()) for r in runs) if len(x) >= 2]


def pooled_headline(group: Sequence[StoredRun], pooled: LatencyStats) -> tuple[str, str]:
    """The headline of a cell pooled over rounds: the pooled median (latency) or the median
    of the rounds' rates (throughput), and each round's figure beside it."""
    medians = ", ".join(_ms(r.metric("latency_median_s")) for r in group)
    cv = between_rounds_cv([m for m in (r.metric("latency_median_s") for r in group) if m])
    spread = f"between rounds CV {cv * 100:.1f}%"
    if group[0].scenario == "throughput":
        rates = [t for t in (r.metric("throughput_sps") for r in group) if t is not None]
        head = f"{statistics.median(rates):,.1f}/s" if rates else "—"
        return head, (f"median of {len(group)} rounds ({', '.join(f'{t:,.1f}' for t in rates)}"
                      f"/s) · pooled p50 {_ms(pooled.median)} · {spread}")
    return _ms(pooled.median), (f"{len(group)} rounds pooled (p50 {medians}) · {spread} · "
                                f"CI ±{pooled.ci_rel_halfwidth * 100:.1f}%")


def _cell(group: Sequence[StoredRun], older: int, is_baseline: bool,
          base: Sequence[StoredRun], vs: str, samples: Mapping[int, Sequence[float]],
          baseline: str | None) -> MatrixCell:
    run = max(group, key=lambda r: (r.started_at, r.id))
    head, detail = headline(run)
    pooled_runs: tuple[StoredRun, ...] = ()
    own = _samples_of(group, samples)
    # The server scenario stays per run: its rate search and bound verdict are per process.
    if len(group) > 1 and run.scenario != "server" and len(own) == len(group):
        pooled_runs = tuple(group)
        head, detail = pooled_headline(group, pooled_stats(own))
    comparison, why = None, ""
    base_run = max(base, key=lambda r: (r.started_at, r.id)) if base else None
    if run.status == "ok" and base_run is not None and base_run.id != run.id:
        a = _samples_of(base, samples)
        b = own if pooled_runs else _samples_of([run], samples)
        why = clock_mismatch(base, pooled_runs or [run])
        if not why and a and b:
            comparison = compare_runs(a, b)
        elif not why:
            why = "too few samples to compare"
    elif run.status == "ok" and base_run is None and baseline and not is_baseline:
        why = f"no ok {baseline} run to compare with"
    return MatrixCell(run, head, detail, older, is_baseline and base_run is not None
                      and base_run.id == run.id, comparison, vs, why, pooled_runs)


@dataclass(frozen=True)
class EnergyRow:
    """Efficiency of one cell's run, with where its energy figure came from."""

    run: StoredRun
    source: str
    scope: str
    confidence: str
    estimate: bool
    unavailable: str
    """The reason when the run has no energy figure."""


def efficiency_rows(runs: Sequence[StoredRun]) -> list[EnergyRow]:
    """Ok runs with their energy provenance (measured, sampled, estimated or unavailable)."""
    out = []
    for r in runs:
        if r.status != "ok":
            continue
        e = dict(r.environment.get("energy") or {})
        conf = str(e.get("confidence", ""))
        out.append(EnergyRow(r, str(e.get("source", "")), str(e.get("scope", "")), conf,
                             conf == "estimated",
                             "" if r.metric("energy_j") is not None
                             else str(e.get("reason") or "no energy meter")))
    return out


@dataclass(frozen=True)
class AccuracyTable:
    """Task accuracy (accuracy_*) and fidelity (fidelity_*) of each cell's run."""

    accuracy_names: list[str]
    fidelity_names: list[str]
    runs: list[StoredRun] = field(default_factory=list)


_FIDELITY_ORDER = ["fidelity_top1_agreement", "fidelity_cosine", "fidelity_max_abs_err",
                   "fidelity_mean_abs_err"]


def accuracy_table(runs: Sequence[StoredRun]) -> AccuracyTable:
    """Columns are whatever accuracy_* and fidelity_* metrics the runs have."""
    ok = [r for r in runs if r.status == "ok"]
    acc = sorted({n for r in ok for n in r.metrics if n.startswith("accuracy_")})
    fid = {n for r in ok for n in r.metrics if n.startswith("fidelity_")} - {"fidelity_samples"}
    fid_names = [n for n in _FIDELITY_ORDER if n in fid] + sorted(fid - set(_FIDELITY_ORDER))
    ordered = sorted(ok, key=lambda r: (r.case, r.hostname, r.vendor_label, r.precision,
                                        r.batch_size, r.scenario))
    return AccuracyTable(acc, fid_names, ordered)


def accuracy_axis(runs: Sequence[StoredRun]) -> str | None:
    """The metric a speed-against-accuracy chart plots: task accuracy first, then fidelity."""
    names = {n for r in runs for n, v in r.metrics.items() if v is not None}
    for preferred in ("accuracy_top1",):
        if preferred in names:
            return preferred
    acc = sorted(n for n in names if n.startswith("accuracy_"))
    if acc:
        return acc[0]
    # Cosine before top-1 agreement: on a handful of fidelity samples agreement is coarse.
    for fallback in ("fidelity_cosine", "fidelity_top1_agreement"):
        if fallback in names:
            return fallback
    return None
