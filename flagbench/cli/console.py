"""Terminal rendering for the CLI (rich): tables and the progress line. No logic lives here."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import IO, TYPE_CHECKING, Any, cast

from flagbench.cli.output import markup_text, terminal_text

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from flagbench.api.plugins import Plugin
    from flagbench.api.spec import RunSpec
    from flagbench.report.history import StepChange
    from flagbench.report.pairing import PairedCell
    from flagbench.report.peaks import PeakShare
    from flagbench.stats.rounds import CombinedCell
    from flagbench.store import StoredRun

_STATUS_STYLE = {
    "ok": "green", "skipped": "yellow", "failed": "red", "timeout": "red",
    "interrupted": "magenta",
}


class PipeSafeStream:
    """A text stream that, once its reader has gone (``flagbench run | head``), sends the
    rest to /dev/null instead of raising: the display is lost, never a run being measured."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _reader_gone(self) -> None:
        # The descriptor itself, so the interpreter's last flush and any C library writing
        # to it do not fail again.
        with suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        self._stream = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives on

    def write(self, text: str) -> int:
        """Write ``text``, or drop it once the reader has gone."""
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            self._reader_gone()
            return len(text)

    def flush(self) -> None:
        """Flush, or drop what is pending once the reader has gone."""
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._reader_gone()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding: rich asks for them
        return getattr(self._stream, name)


def console(stderr: bool = False) -> Console:
    """A rich console on a pipe-safe stream; imported lazily so ``--help`` stays fast."""
    import sys

    from rich.console import Console

    stream = cast("IO[str]", PipeSafeStream(sys.stderr if stderr else sys.stdout))
    out = Console(file=stream, highlight=False)
    if not out.is_terminal:
        # Logs and CI captures have no width; 80 columns would truncate every figure.
        out.width = max(out.width, 180)
    return out


def _ms(value: float | None) -> str:
    # Four significant figures: 105.8 for ResNet-50, 0.01234 for a micro case.
    return "—" if value is None else f"{value * 1e3:.4g}"


def _fidelity(run: StoredRun) -> str:
    cos, top1 = run.metric("fidelity_cosine"), run.metric("fidelity_top1_agreement")
    parts = []
    if cos is not None:
        parts.append(f"cos {cos:.5f}")
    if top1 is not None:
        parts.append(f"top-1 {top1 * 100:.0f}%")
    return ", ".join(parts) or "—"


def _accuracy(run: StoredRun) -> str:
    top1, top5 = run.metric("accuracy_top1"), run.metric("accuracy_top5")
    parts = [f"top-{k} {v * 100:.1f}%" for k, v in ((1, top1), (5, top5)) if v is not None]
    return ", ".join(parts) or "—"


def _achieved(run: StoredRun) -> str:
    from flagbench.report.peaks import format_rate

    parts = []
    for kind, metric, share in (("flops", "achieved_flops", "mfu"),
                                ("bytes", "achieved_bytes_per_s", "bandwidth_utilisation")):
        value, ratio = run.metric(metric), run.metric(share)
        if value:
            parts.append(format_rate(value, kind)
                         + (f" ({ratio * 100:.1f}% peak)" if ratio is not None else ""))
    return ", ".join(parts) or "—"


def _scenario(run: StoredRun) -> str:
    qps = run.metric("server_target_qps")
    return f"server@{qps:g}/s" if qps else markup_text(run.scenario)


def _status(status: str) -> str:
    return f"[{_STATUS_STYLE.get(status, 'white')}]{markup_text(status)}[/]"


#: Columns of the run table: (title, justify, drop order on a narrow console; 0 = never).
_RUN_COLUMNS = (
    ("id", "right", 0), ("vendor", "left", 0), ("case", "left", 0), ("scenario", "left", 5),
    ("bs", "right", 0), ("prec", "left", 0), ("status", "left", 0), ("p50 ms", "right", 0),
    ("CI p50", "right", 8), ("p90 ms", "right", 3), ("p99 ms", "right", 4),
    ("samples/s", "right", 6), ("fidelity", "left", 7), ("accuracy", "left", 2),
    ("achieved", "left", 1), ("reason", "left", 0),
)
#: Width the reason column keeps, at least, when the others are fitted to the console.
_REASON_MIN = 24


def _visible(cell: str) -> int:
    from rich.text import Text

    return Text.from_markup(cell).cell_len


def fit_columns(rows: Sequence[Sequence[str]], width: int | None) -> list[int]:
    """Indices of the run-table columns to show: columns with nothing in any row are left
    out, and on a console too narrow for the rest, the least needed go first (p90/p99,
    achieved, accuracy …; never id, vendor, case, batch, precision, status, p50 or reason)."""
    keep = [i for i, (_, _, order) in enumerate(_RUN_COLUMNS)
            if order == 0 or any(row[i] != "—" for row in rows)]
    if width is None:
        return keep

    def needed(cols: list[int]) -> int:
        # Each column takes its widest cell plus 3 for padding and the border.
        return sum(max([len(_RUN_COLUMNS[i][0])] + [_visible(r[i]) for r in rows]) + 3
                   for i in cols if _RUN_COLUMNS[i][0] != "reason") + _REASON_MIN + 4
    for i in sorted((i for i in keep if _RUN_COLUMNS[i][2]), key=lambda i: _RUN_COLUMNS[i][2]):
        if needed(keep) <= width:
            break
        keep.remove(i)
    return keep


def runs_table(runs: Sequence[StoredRun], title: str,
               step_runs: Collection[int] = (), width: int | None = None) -> Table:
    """The result table printed after ``run`` and by ``history``; ``step_runs`` are marked
    as the first run after a step change in their series. Given the console's ``width``,
    the table leaves out what does not fit (``fit_columns``) and its title says so."""
    from rich.table import Table

    rows = []
    for r in runs:
        tput = r.metric("throughput_sps")
        rows.append((
            str(r.id), markup_text(r.vendor_label), markup_text(r.case), _scenario(r),
            str(r.batch_size),
            markup_text(r.precision),
            _status(r.status), _ms(r.metric("latency_median_s")), markup_text(r.median_ci_text()),
            _ms(r.metric("latency_p90_s")), _ms(r.metric("latency_p99_s")),
            "—" if tput is None else f"{tput:.1f}", _fidelity(r), _accuracy(r), _achieved(r),
            markup_text(r.reason) + "".join(f"[yellow]⚠ {markup_text(w)}[/] " for w in r.warnings)
            + (" [bold magenta]◆ step change from here[/]" if r.id in step_runs else ""),
        ))
    shown = fit_columns(rows, width)
    hidden = [name for i, (name, _, order) in enumerate(_RUN_COLUMNS)
              if i not in shown and any(row[i] != "—" for row in rows)]
    if hidden:
        title += f" ({', '.join(hidden)} hidden to fit; `flagbench show ID` has every figure)"
    table = Table(title=markup_text(title), title_justify="left")
    for i in shown:
        name, justify, _ = _RUN_COLUMNS[i]
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    return table


def steps_table(steps: Sequence[StepChange], title: str) -> Table:
    """Step changes found in the history of each series."""
    from rich.table import Table

    table = Table(title=markup_text(title), title_justify="left")
    for col, justify in [("series", "left"), ("kind", "left"), ("change", "right"),
                         ("p50 before → after ms", "right"), ("from run", "right"),
                         ("runs before/after", "right")]:
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for s in steps:
        style = "red" if s.kind == "regression" else "green"
        table.add_row(markup_text(s.label), f"[{style}]{s.kind}[/]", f"{s.change * 100:+.1f}%",
                      f"{_ms(s.before_s)} → {_ms(s.after_s)}", str(s.run_id),
                      f"{s.runs_before}/{s.runs_after}")
    return table


def compare_table(cells: Sequence[PairedCell], title: str, fail_above: float | None) -> Table:
    """``flagbench compare``: per cell, B's latency against A's, with significance."""
    from rich.table import Table

    table = Table(title=markup_text(title), title_justify="left")
    for col, justify in [("cell", "left"), ("A runs", "right"), ("B runs", "right"),
                         ("B/A p50", "right"), ("change [95% CI]", "right"), ("p", "right"),
                         ("verdict", "left")]:
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for cell in cells:
        ids_a = ",".join(map(str, cell.a_ids)) or "—"
        ids_b = ",".join(map(str, cell.b_ids)) or "—"
        c = cell.comparison
        if c is None:
            table.add_row(markup_text(cell.label), ids_a, ids_b, "—", "—", "—",
                          f"[yellow]{markup_text(cell.note)}[/]")
            continue
        style = {"faster": "green", "slower": "red"}.get(c.verdict, "white")
        verdict = f"[{style}]B {c.verdict}[/]" if c.verdict != "within noise" else "within noise"
        if fail_above is not None and cell.regressed(fail_above):
            verdict += f" [bold red](> {fail_above:g}%)[/]"
        table.add_row(markup_text(cell.label), ids_a, ids_b, f"{c.ratio:.3f}", c.change_text(),
                      c.p_text(), verdict)
    return table


def rounds_table(cells: Sequence[CombinedCell], title: str) -> Table:
    """Each cell over all its rounds: pooled p50 and CI, and the drift between rounds."""
    from rich.table import Table

    table = Table(title=markup_text(title), title_justify="left")
    for col in ("vendor", "case", "bs", "prec", "rounds", "pooled p50 ms", "CI p50",
                "round medians ms", "between-round CV"):
        table.add_column(col)
    for c in cells:
        s = c.spec
        table.add_row(
            markup_text(s.vendor_label), markup_text(s.case), str(s.batch_size),
            markup_text(s.precision), str(c.rounds),
            _ms(c.pooled.median), f"±{c.pooled.ci_rel_halfwidth * 100:.1f}%",
            " ".join(_ms(m) for m in c.round_medians), f"{c.between_rounds_cv * 100:.1f}%",
        )
    return table


def plugins_table(plugins: Sequence[Plugin], title: str) -> Table:
    """The table of ``flagbench list``."""
    from rich.table import Table

    table = Table(title=markup_text(title), title_justify="left")
    for col in ("name", "state", "from", "description"):
        table.add_column(col)
    for p in plugins:
        state = "[red]broken[/]" if p.broken else "[green]loaded[/]"
        description = p.description
        options = getattr(p.obj, "options", None) if p.obj is not None else None
        if options:
            description += "\noptions: " + ", ".join(
                f"{key}={opt.default} ({opt.help})" for key, opt in sorted(options.items()))
        table.add_row(markup_text(p.name), state, markup_text(f"{p.distribution} ({p.target})"),
                      markup_text(description))
    return table


def facts_table(facts: dict[str, Any], title: str) -> Table:
    """Key/value facts, such as the host fingerprint."""
    from rich.table import Table

    table = Table(title=markup_text(title), title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in facts.items():
        table.add_row(markup_text(key), markup_text("—" if value is None else str(value)))
    return table


def probes_table(probes: dict[str, dict[str, Any]], title: str) -> Table:
    """The vendor table of ``flagbench env``: available or not, and why."""
    from rich.table import Table

    table = Table(title=markup_text(title), title_justify="left")
    for col in ("vendor", "available", "devices", "precisions", "versions / reason"):
        table.add_column(col)
    for name, p in probes.items():
        ok = bool(p.get("available"))
        versions = ", ".join(f"{k} {v}" for k, v in dict(p.get("versions") or {}).items())
        table.add_row(
            markup_text(name), "[green]yes[/]" if ok else "[yellow]no[/]",
            markup_text(", ".join(p.get("devices") or ())),
            markup_text(", ".join(p.get("precisions") or ())),
            markup_text(versions if ok else str(p.get("reason", ""))),
        )
    return table


def peaks_table(shares: Sequence[PeakShare]) -> Table:
    """Achieved FLOP/s and B/s against every known peak, with the peak's source."""
    from rich.table import Table

    from flagbench.report.peaks import format_rate

    table = Table(title="% of peak", title_justify="left")
    for col in ("achieved", "peak", "share", "peak source"):
        table.add_column(col)
    for s in shares:
        table.add_row(format_rate(s.achieved, s.kind), format_rate(s.peak, s.kind),
                      f"{s.share * 100:.1f}%", markup_text(s.source))
    return table


def run_detail(run: StoredRun, samples: int, peaks: Sequence[PeakShare] = ()) -> list[Any]:
    """Renderables for ``flagbench show``."""
    from rich.table import Table

    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    for k, v in [
        ("run", markup_text(f"{run.id} ({run.uid})")), ("vendor", markup_text(run.vendor_label)),
        ("case", markup_text(run.case)),
        ("scenario", markup_text(run.scenario)), ("batch size", str(run.batch_size)),
        ("precision", markup_text(run.precision)), ("status", _status(run.status)),
        ("reason", markup_text(run.reason) or "—"),
        ("stop rule", markup_text(run.stop_rule or "—")),
        ("started", run.started_at.isoformat(timespec="seconds")),
        ("finished", run.finished_at.isoformat(timespec="seconds")),
        ("host", markup_text(run.hostname)), ("raw samples", str(samples)),
        ("tags", markup_text(" ".join(f"{k}={v}" for k, v in sorted(run.tags.items()))) or "—"),
    ]:
        head.add_row(k, v)
    metrics = Table(title="metrics", title_justify="left")
    metrics.add_column("name")
    metrics.add_column("value", justify="right")
    metrics.add_column("unit")
    for name in sorted(run.metrics):
        value = run.metrics[name]
        metrics.add_row(markup_text(name), "NaN" if value is None else f"{value:.6g}",
                        markup_text(run.units.get(name, "")))
    facts = {"spec": run.spec, "actual": run.actual, "environment": run.environment,
             "host": run.host_facts}
    shown: list[Any] = [head, metrics]
    if peaks:
        shown.append(peaks_table(peaks))
    return [*shown, markup_text(json.dumps(facts, indent=2, default=str))]


@contextmanager
def progress_line(out: Console) -> Iterator[Callable[[int, int, RunSpec, str], None]]:
    """A single live status line; refreshed only when the runner reports, never by a thread,
    so that rendering cannot steal time from the measured loop."""
    from rich.live import Live
    from rich.text import Text

    with Live(Text(""), console=out, auto_refresh=False, transient=True) as live:

        def show(index: int, total: int, spec: RunSpec, detail: str) -> None:
            live.update(Text(terminal_text(f"[{index}/{total}] {spec.label}: {detail}")),
                        refresh=True)

        yield show
