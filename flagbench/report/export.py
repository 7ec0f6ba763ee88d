"""Stored runs as CSV or JSON for other tools (pandas, spreadsheets, dashboards)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from flagbench.report.render import SampleSource
from flagbench.store import StoredRun

RUN_COLUMNS = ["id", "uid", "started_at", "finished_at", "host", "vendor", "vendor_options",
               "case", "scenario",
               "batch_size", "precision", "actual_precision", "status", "reason", "stop_rule",
               "tags", "warnings"]


#: What makes a spreadsheet read a cell as a formula (OWASP's CSV injection list): a cell of
#: text that starts with one of them gets a leading single quote, which the spreadsheet shows
#: as text. Numbers are written as numbers, so a negative figure stays a figure.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """``value`` as a CSV cell no spreadsheet runs as a formula (``'=cmd|…`` for ``=cmd|…``)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class _CsvWriter:
    """The only CSV writer of the exports: every cell passes ``spreadsheet_cell``."""

    def __init__(self, buf: io.StringIO) -> None:
        self._writer = csv.writer(buf, lineterminator="\n")

    def writerow(self, row: Sequence[Any]) -> None:
        self._writer.writerow([spreadsheet_cell(v) for v in row])


def _run_fields(r: StoredRun) -> dict[str, Any]:
    return {
        "id": r.id, "uid": r.uid, "started_at": r.started_at.isoformat(),
        "finished_at": r.finished_at.isoformat(), "host": r.hostname, "vendor": r.vendor,
        "vendor_options": ",".join(f"{k}={v}" for k, v in r.spec.get("vendor_options") or ()),
        "case": r.case, "scenario": r.scenario, "batch_size": r.batch_size,
        "precision": r.precision, "actual_precision": (r.actual or {}).get("precision"),
        "status": r.status, "reason": r.reason, "stop_rule": r.stop_rule,
    }


def export_runs(runs: Sequence[StoredRun], fmt: str, samples: SampleSource | None) -> str:
    """CSV: one row per run with a column per metric, or with ``samples`` one row per timed
    iteration. JSON: a list of runs with metrics, units, tags, spec, actual, environment and,
    with ``samples``, the raw latencies and power readings."""
    if fmt == "json":
        return _json(runs, samples)
    if fmt == "csv":
        return _csv_samples(runs, samples) if samples is not None else _csv_runs(runs)
    raise ValueError(f"unknown export format {fmt!r}")


def _json(runs: Sequence[StoredRun], samples: SampleSource | None) -> str:
    ids = [r.id for r in runs]
    lat = samples.samples_for(ids) if samples else {}
    power = samples.power_samples_for(ids) if samples else {}
    out = []
    for r in runs:
        item = _run_fields(r) | {
            "metrics": r.metrics, "units": r.units, "tags": r.tags, "warnings": r.warnings,
            "spec": r.spec, "actual": r.actual, "environment": r.environment,
            "host_facts": r.host_facts,
        }
        if samples is not None:
            item["latency_samples_s"] = lat.get(r.id, [])
            item["power_samples"] = [{"t_s": t, "watts": w} for t, w in power.get(r.id, [])]
        out.append(item)
    return json.dumps({"format": "flagbench-export-1", "runs": out}, indent=1, default=str) + "\n"


def _csv_runs(runs: Sequence[StoredRun]) -> str:
    names = sorted({n for r in runs for n in r.metrics})
    buf = io.StringIO()
    writer = _CsvWriter(buf)
    writer.writerow(RUN_COLUMNS + names)
    for r in runs:
        fields = _run_fields(r)
        fields["tags"] = ";".join(f"{k}={v}" for k, v in sorted(r.tags.items()))
        fields["warnings"] = " | ".join(r.warnings)
        values = [r.metrics.get(n) for n in names]
        # Numbers as numbers (csv writes their repr): never taken for a formula.
        writer.writerow([fields[c] for c in RUN_COLUMNS] + ["" if v is None else v
                                                            for v in values])
    return buf.getvalue()


def _csv_samples(runs: Sequence[StoredRun], samples: SampleSource) -> str:
    lat = samples.samples_for([r.id for r in runs if r.status == "ok"])
    buf = io.StringIO()
    writer = _CsvWriter(buf)
    writer.writerow(["run_id", "host", "vendor", "case", "scenario", "batch_size", "precision",
                     "idx", "latency_s"])
    for r in runs:
        for i, s in enumerate(lat.get(r.id, [])):
            writer.writerow([r.id, r.hostname, r.vendor, r.case, r.scenario, r.batch_size,
                             r.precision, i, s])
    return buf.getvalue()
