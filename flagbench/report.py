"""Render stored runs into one self-contained HTML file. Reads the store only; runs nothing."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from flagbench import __version__
from flagbench.errors import FlagbenchError
from flagbench.store import StoredRun


@dataclass(frozen=True)
class ReportRow:
    """One run as the report shows it: strings already formatted, escaping left to Jinja."""

    run: StoredRun
    p50_ms: str
    p90_ms: str
    p99_ms: str
    ci: str
    throughput: str
    fidelity: str
    setup: str


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1e3:.4g}"


def _row(run: StoredRun) -> ReportRow:
    med = run.metric("latency_median_s")
    tput = run.metric("throughput_sps")
    cos = run.metric("fidelity_cosine")
    top1 = run.metric("fidelity_top1_agreement")
    err = run.metric("fidelity_max_abs_err")
    parts = []
    if cos is not None:
        parts.append(f"cos {cos:.6f}")
    if top1 is not None:
        parts.append(f"top-1 {top1 * 100:.0f}%")
    if err is not None:
        parts.append(f"max|Δ| {err:.2e}")
    setup = run.metric("setup_s")
    return ReportRow(
        run=run, p50_ms=_ms(med), p90_ms=_ms(run.metric("latency_p90_s")),
        p99_ms=_ms(run.metric("latency_p99_s")), ci=run.median_ci_text(),
        throughput="—" if tput is None else f"{tput:,.1f}",
        fidelity=", ".join(parts) or "—",
        setup="—" if setup is None else f"{setup:.2f} s",
    )


def render_report(runs: Sequence[StoredRun], source: str) -> str:
    """The HTML text of a report over ``runs``; ``source`` names the database (no password)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("flagbench.reports", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    ordered = sorted(runs, key=lambda r: (r.case, r.vendor, r.batch_size, r.precision, r.id))
    statuses: dict[str, int] = {}
    for r in runs:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    return env.get_template("report.html.j2").render(
        rows=[_row(r) for r in ordered],
        statuses=statuses,
        source=source,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        version=__version__,
    )


def write_report(html: str, out: str) -> Path:
    """Write atomically, so an interrupted write never leaves half a report."""
    path = Path(out).expanduser()
    if path.is_dir():
        raise FlagbenchError(f"report path {path} is a directory")
    if not path.parent.is_dir():
        raise FlagbenchError(f"directory {path.parent} for the report does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".flagbench-report-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        # mkstemp creates the file private (0600); a report is for sharing: honour the umask.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        raise FlagbenchError(f"cannot write report {path}: {exc.strerror}") from None
    return path
