"""Which charts a report draws, aggregated per case (never one per run), so a report over
thousands of runs holds a bounded number of charts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flagbench.report import charts
from flagbench.report.history import Series, StepChange
from flagbench.report.model import Matrix, accuracy_axis
from flagbench.report.selection import cell_key
from flagbench.store import StoredRun

MAX_CHARTS = 6
"""Per kind of chart; the report says how many more it left out. A chart costs about 0.1 to
0.4 s to draw, so this bounds a report's rendering time whatever the database holds."""


@dataclass(frozen=True)
class Chart:
    """One inline SVG chart with its title."""

    title: str
    svg: str


@dataclass(frozen=True)
class ChartSet:
    """Charts of one kind, and how many were left out, or why there are none."""

    charts: list[Chart]
    omitted: int = 0
    empty_reason: str = ""


def _label(r: StoredRun) -> str:
    return f"{r.vendor_label} {r.precision}"


def _group(runs: Sequence[StoredRun], *, with_batch: bool) -> dict[str, list[StoredRun]]:
    out: dict[str, list[StoredRun]] = {}
    hosts = {r.hostname for r in runs}
    for r in runs:
        parts = [cell_key(r).case_label, r.scenario] + ([f"bs{r.batch_size}"] if with_batch
                                                        else [])
        if len(hosts) > 1:
            parts.append(f"on {r.hostname}")
        out.setdefault(" ".join(parts), []).append(r)
    return out


def _pooled_rounds(matrix: Matrix) -> dict[int, tuple[StoredRun, ...]]:
    """The rounds behind each pooled cell, by the id of the run the cell is keyed on."""
    return {c.run.id: c.rounds for row in matrix.rows for c in row.cells
            if c is not None and c.rounds}


def _capped(charts_: list[Chart], total: int, empty_reason: str) -> ChartSet:
    return ChartSet(charts_[:MAX_CHARTS], max(0, total - MAX_CHARTS),
                    "" if charts_ else empty_reason)


def latency_charts(matrix: Matrix, samples: Mapping[int, Sequence[float]]) -> ChartSet:
    """Latency distribution per vendor × precision, one chart per case, scenario and batch;
    a cell pooled over rounds plots every round's samples, as its headline does."""
    pooled = {run_id: (len(rounds), [x for r in rounds for x in samples.get(r.id, ())])
              for run_id, rounds in _pooled_rounds(matrix).items()}

    def series(r: StoredRun) -> tuple[str, Sequence[float]]:
        if r.id in pooled:
            rounds, values = pooled[r.id]
            return f"{_label(r)} · {rounds} rounds", values
        return _label(r), samples[r.id]

    ok = [r for r in matrix.cell_runs if r.status == "ok" and len(samples.get(r.id, ())) > 0]
    groups = _group(ok, with_batch=True)
    out = [
        Chart(title, charts.latency_distribution([series(r) for r in rs], title))
        for title, rs in list(groups.items())[:MAX_CHARTS]
    ]
    return _capped(out, len(groups), "no ok run with stored latencies")


def throughput_charts(matrix: Matrix) -> ChartSet:
    """Throughput against batch size where a case ran at two or more batch sizes."""
    ok = [r for r in matrix.cell_runs if r.status == "ok" and r.metric("throughput_sps")]
    groups = {t: rs for t, rs in _group(ok, with_batch=False).items()
              if len({r.batch_size for r in rs}) > 1}
    out = []
    for title, rs in list(groups.items())[:MAX_CHARTS]:
        lines: dict[str, list[tuple[int, float]]] = {}
        for r in rs:
            lines.setdefault(_label(r), []).append((r.batch_size, r.metric("throughput_sps") or 0))
        out.append(Chart(title, charts.throughput_vs_batch(lines, title)))
    return _capped(out, len(groups), "every case ran at a single batch size "
                   "(run with --batch-size 1,8,32 for this chart)")


def power_charts(matrix: Matrix, power: Mapping[int, Sequence[tuple[float, float]]]) -> ChartSet:
    """Polled power over the timed window, one chart per case and scenario; a cell pooled
    over rounds draws one line per round, so a round that ran hot shows."""
    pooled = _pooled_rounds(matrix)

    def lines(r: StoredRun) -> dict[str, Sequence[tuple[float, float]]]:
        if r.id not in pooled:
            return {_label(r): power[r.id]} if power.get(r.id) else {}
        return {f"{_label(r)} · round {x.spec.get('round', i)}": power[x.id]
                for i, x in enumerate(pooled[r.id], 1) if power.get(x.id)}

    with_power = [r for r in matrix.cell_runs if lines(r)]
    groups = _group(with_power, with_batch=True)
    out = [
        Chart(title, charts.power_over_time({k: v for r in rs for k, v in lines(r).items()},
                                            title))
        for title, rs in list(groups.items())[:MAX_CHARTS]
    ]
    return _capped(out, len(groups), "no run has polled power samples (counter meters such "
                   "as NVML total energy or RAPL give energy without a power trace; "
                   "runs without a meter have neither)")


def history_charts(series: Sequence[Series], steps: Sequence[StepChange]) -> ChartSet:
    """Median latency over time per series with three or more runs; series with a step first."""
    stepped = {(s.host, s.vendor, s.cell) for s in steps}
    long = [s for s in series if len(s.runs) >= 3]
    long.sort(key=lambda s: ((s.host, s.vendor, s.cell) not in stepped, -len(s.runs)))
    out = []
    for s in long[:MAX_CHARTS]:
        at = {st.run_id for st in steps if (st.host, st.vendor, st.cell)
              == (s.host, s.vendor, s.cell)}
        points = [(r.started_at, r.metric("latency_median_s") or 0.0) for r in s.runs]
        marks = [r.started_at for r in s.runs if r.id in at]
        out.append(Chart(s.label, charts.history(points, marks, s.label)))
    return _capped(out, len(long), "no series has three or more ok runs yet")


def accuracy_charts(matrix: Matrix) -> ChartSet:
    """Speed against accuracy across vendors and precisions, per case (latency scenario,
    smallest batch size, so that points are comparable)."""
    ok = [r for r in matrix.cell_runs if r.status == "ok" and r.scenario == "latency"]
    out = []
    groups = _group(ok, with_batch=False)
    for title, rs in list(groups.items())[:MAX_CHARTS]:
        smallest = min(r.batch_size for r in rs)
        rs = [r for r in rs if r.batch_size == smallest]
        axis = accuracy_axis(rs)
        if axis is None:
            continue
        points = [(_label(r), r.metric("latency_median_s") or 0.0, r.metric(axis))
                  for r in rs]
        pts = [(lbl, lat, float(acc)) for lbl, lat, acc in points if acc is not None]
        out.append(Chart(f"{title} bs{smallest}", charts.speed_vs_accuracy(
            pts, axis, f"{title} bs{smallest}: speed against {axis}")))
    return _capped(out, len(groups), "no ok latency run with an accuracy or fidelity figure")
