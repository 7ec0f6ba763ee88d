"""Render stored runs into one self-contained HTML file. Reads the store only; runs nothing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from flagbench.api.version import __version__
from flagbench.report.selection import cell_key, latest
from flagbench.store import StoredRun

MAX_RUN_ROWS = 500
"""Runs listed one by one (newest first); the matrix, charts and regressions use every run.
Bounds the file a report over a large fleet database produces (docs/architecture.md)."""


class SampleSource(Protocol):
    """Where the report reads raw samples from (the store)."""

    def samples_for(self, run_ids: Sequence[int]) -> dict[int, list[float]]:
        """Raw latencies per run id."""

    def power_samples_for(self, run_ids: Sequence[int]) -> dict[int, list[tuple[float, float]]]:
        """Polled (seconds, watts) per run id."""


@dataclass(frozen=True)
class ReportOptions:
    """How to render: the baseline vendor and a description of the filters applied."""

    baseline: str | None = "cpu"
    filters: str = ""


def _fmt(value: float | None, unit: str = "") -> str:
    """A figure with four significant digits and an SI prefix (12.3 G), or "—"."""
    if value is None:
        return "—"
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.4g} {prefix}{unit}".rstrip()
    return f"{value:.4g} {unit}".rstrip()


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1e3:.4g}"


def _share(run: StoredRun, name: str) -> str:
    """A fraction metric (unit "ratio") or a percentage (unit "%") as a percentage."""
    value = run.metric(name)
    if value is None:
        return "—"
    return f"{value if run.units.get(name) == '%' else value * 100:.1f}%"


def _json(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True, default=str)


def render_report(runs: Sequence[StoredRun], source: str, store: SampleSource,
                  options: ReportOptions | None = None,
                  history_runs: Sequence[StoredRun] | None = None) -> str:
    """The HTML text of a report over ``runs``; ``source`` names the database (no password).

    ``history_runs`` (default: ``runs``) feed history charts and step detection, so that a
    report of the latest runs still shows how each series got there."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    from flagbench.report import chart_plan as rc
    from flagbench.report.history import build_series, find_steps
    from flagbench.report.model import accuracy_table, baseline_runs, build_matrix, efficiency_rows

    opts = options or ReportOptions()
    ordered = sorted(runs, key=lambda r: (r.started_at, r.id), reverse=True)
    bases = baseline_runs(ordered, opts.baseline)
    cell_ids = {r.id for r in latest(ordered, with_rounds=True)} | {r.id for r in bases}
    samples = store.samples_for(sorted(cell_ids))
    matrix = build_matrix(ordered, opts.baseline, samples)
    power = store.power_samples_for([r.id for r in matrix.shown_runs if r.status == "ok"])
    series = build_series(history_runs if history_runs is not None else ordered)
    steps = [st for s in series for st in find_steps(s)]
    statuses: dict[str, int] = {}
    for r in ordered:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    hosts: dict[str, dict[str, Any]] = {}
    for r in ordered:
        hosts.setdefault(r.hostname, r.host_facts)
    env = Environment(
        loader=PackageLoader("flagbench.reports", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters.update(fmt=_fmt, ms=_ms, tojson_pretty=_json, share=_share,
                       case_label=lambda r: cell_key(r).case_label)
    return env.get_template("report.html.j2").render(
        matrix=matrix,
        efficiency=efficiency_rows(matrix.cell_runs),
        accuracy=accuracy_table(matrix.cell_runs),
        streaming=[r for r in matrix.cell_runs
                   if r.status == "ok" and r.metric("ttft_median_s") is not None],
        latency_charts=rc.latency_charts(matrix, samples),
        throughput_charts=rc.throughput_charts(matrix),
        power_charts=rc.power_charts(matrix, power),
        accuracy_charts=rc.accuracy_charts(matrix),
        history_charts=rc.history_charts(series, steps),
        steps=sorted(steps, key=lambda s: (s.kind != "regression", -abs(s.change))),
        series_count=len(series),
        failures=[r for r in ordered if r.status != "ok"][:MAX_RUN_ROWS],
        failures_total=sum(1 for r in ordered if r.status != "ok"),
        runs=ordered[:MAX_RUN_ROWS],
        runs_total=len(ordered),
        max_rows=MAX_RUN_ROWS,
        hosts=hosts,
        statuses=statuses,
        options=opts,
        source=source,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        version=__version__,
    )
