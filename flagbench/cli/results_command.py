"""Commands that read the store: report, history, show, compare, export."""

from __future__ import annotations

from pathlib import Path

import click

from flagbench.api.errors import FlagbenchError
from flagbench.api.exit_codes import EXIT_FAILED_RUNS
from flagbench.cli.options import (
    DB_HELP,
    FINITE,
    RUN_ID,
    describe_query,
    filter_options,
    run_query,
)
from flagbench.cli.output import terminal_text
from flagbench.report.output_file import STDOUT


def _checked_out(db: str | None, out_path: str, force: bool) -> tuple[Path, ...]:
    """Refuse a bad --out before the database is read; the database's files, which the
    write checks again."""
    from flagbench.report.output_file import check_output
    from flagbench.store.location import database_files, resolve

    protected = database_files(resolve(db))
    check_output(out_path, protected, force)
    return protected


@click.command()
@click.option("--db", default=None, help=DB_HELP)
@click.option("--out", "out_path", default="flagbench-report.html", show_default=True,
              help="HTML file to write ('-' for stdout).")
@click.option("--force", is_flag=True,
              help="Replace --out even if it is not a flagbench report or export (never the "
              "database).")
@filter_options
@click.option("--latest", is_flag=True,
              help="Only the newest run of each host × vendor × case × spec, with the other "
              "rounds of its `flagbench run --rounds` (history charts still use every "
              "matching run).")
@click.option("--baseline", default="cpu", show_default=True,
              help="Vendor that speed-ups are measured against ('' for none).")
def report(db: str | None, out_path: str, force: bool, cases: tuple[str, ...],
           vendors: tuple[str, ...], hosts: tuple[str, ...], tags: tuple[str, ...],
           since: str | None, until: str | None,
           latest: bool, baseline: str) -> int:
    """Render stored runs into one self-contained HTML file.

    An existing --out is replaced only if flagbench wrote it (or with --force); the
    database, its journal files, directories and special files never are."""
    from flagbench.cli import console
    from flagbench.report.output_file import write_output
    from flagbench.report.render import ReportOptions, render_report
    from flagbench.report.selection import latest as newest_runs
    from flagbench.store import Store

    to_stdout = out_path == STDOUT
    protected = () if to_stdout else _checked_out(db, out_path, force)
    query = run_query(cases, vendors, hosts, tags, since, until)
    store = Store.open(db, create=False)
    matching = store.runs(query=query)
    runs = newest_runs(matching, with_rounds=True) if latest else matching
    options = ReportOptions(baseline=baseline.strip() or None,
                            filters=describe_query(query, latest))
    html = render_report(runs, store.label, store, options, history_runs=matching)
    store.close()
    if to_stdout:
        click.echo(html, nl=False)
        return 0
    path = write_output(html, out_path, protected, force)
    console.console().print(terminal_text(f"wrote {path} ({len(runs)} runs)"), markup=False)
    return 0


@click.command()
@click.option("--db", default=None, help=DB_HELP)
@click.option("--limit", type=RUN_ID, default=20, show_default=True)
@click.option("--vendor", default=None, help="Only this vendor.")
@click.option("--case", default=None, help="Only this case.")
def history(db: str | None, limit: int, vendor: str | None, case: str | None) -> int:
    """Show the most recent runs, and step changes in their series."""
    from flagbench.cli import console
    from flagbench.report.history import find_all_steps
    from flagbench.store import Store

    store = Store.open(db, create=False)
    runs = store.runs(limit=limit, vendor=vendor, case=case)
    # Steps are found over the whole history of the listed runs' series, not only the page.
    listed = {(r.vendor_label, r.case) for r in runs}
    everything = store.runs(vendor=vendor, case=case)
    store.close()
    steps = [s for s in find_all_steps(everything) if (s.vendor, s.cell.case) in listed]
    out = console.console()
    out.print(console.runs_table(runs, f"last {len(runs)} run(s) in {store.label}",
                                 step_runs={s.run_id for s in steps}, width=out.width))
    if steps:
        out.print(console.steps_table(steps, "step changes"))
    return 0


@click.command()
@click.argument("run_id", type=RUN_ID)
@click.option("--db", default=None, help=DB_HELP)
def show(run_id: int, db: str | None) -> int:
    """Show one run in full: spec, metrics, what ran, environment."""
    from flagbench.cli import console
    from flagbench.report.peaks import peak_shares
    from flagbench.store import Store

    store = Store.open(db, create=False)
    run_ = store.run(run_id)
    samples = len(store.samples(run_id))
    peaks = peak_shares(run_, store.runs(vendor=run_.vendor))
    store.close()
    out = console.console()
    for part in console.run_detail(run_, samples, peaks):
        out.print(part)
    return 0


@click.command()
@click.argument("a")
@click.argument("b")
@click.option("--db", default=None, help=DB_HELP)
@filter_options
@click.option("--fail-above", type=FINITE, default=None, metavar="PCT",
              help="Exit 1 when B is slower than A by more than PCT percent in any cell, "
              "with significance (for CI).")
def compare(a: str, b: str, db: str | None, cases: tuple[str, ...], vendors: tuple[str, ...],
            hosts: tuple[str, ...], tags: tuple[str, ...], since: str | None,
            until: str | None, fail_above: float | None) -> int:
    """Compare runs A and B cell by cell: latency ratio B/A with a 95% CI and a p-value.

    A and B are run ids (12, or run:12,15), tag:KEY=VALUE, host:NAME or vendor:NAME.
    Several runs of one cell on a side are pooled; the filters apply to both sides.
    """
    from flagbench.cli import console
    from flagbench.report.pairing import compare_sets
    from flagbench.report.selection import parse_selector
    from flagbench.store import Store

    if fail_above is not None and fail_above < 0:
        raise FlagbenchError("--fail-above must be 0 or more (a percentage)")
    base = run_query(cases, vendors, hosts, tags, since, until)
    sel_a, sel_b = parse_selector(a, base), parse_selector(b, base)
    store = Store.open(db, create=False)
    runs_a, runs_b = store.runs(query=sel_a.query), store.runs(query=sel_b.query)
    for sel, found in ((sel_a, runs_a), (sel_b, runs_b)):
        if not found:
            store.close()
            raise FlagbenchError(f"selector {sel.text!r} matches no run in {store.label}")
    cells = compare_sets(
        runs_a, runs_b, store.samples_for,
        match_hosts=not (sel_a.by_host or sel_b.by_host),
        match_vendors=not (sel_a.by_vendor or sel_b.by_vendor))
    store.close()
    out = console.console()
    out.print(console.compare_table(cells, f"B = {b} against A = {a}", fail_above))
    if fail_above is not None:
        bad = [c for c in cells if c.regressed(fail_above)]
        if bad:
            out.print(f"{len(bad)} cell(s) slower than A by more than {fail_above:g}% "
                      "(significant)", style="red", markup=False)
            return EXIT_FAILED_RUNS
        out.print(f"no cell is significantly slower than A by more than {fail_above:g}%",
                  markup=False)
    return 0


@click.command()
@click.option("--db", default=None, help=DB_HELP)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True)
@click.option("--samples", "with_samples", is_flag=True,
              help="Raw per-iteration latencies: in JSON with each run; in CSV one row per "
              "sample instead of one per run.")
@click.option("--out", "out_path", default=None,
              help="File to write (default, or '-': stdout).")
@click.option("--force", is_flag=True,
              help="Replace --out even if it is not a flagbench report or export (never the "
              "database).")
@filter_options
@click.option("--latest", is_flag=True,
              help="Only the newest run of each host × vendor × case × spec.")
def export(db: str | None, fmt: str, with_samples: bool, out_path: str | None, force: bool,
           cases: tuple[str, ...], vendors: tuple[str, ...], hosts: tuple[str, ...],
           tags: tuple[str, ...], since: str | None, until: str | None, latest: bool) -> int:
    """Export runs with their metrics (and raw samples on request) as CSV or JSON."""
    from flagbench.report.export import export_runs
    from flagbench.report.output_file import write_output
    from flagbench.report.selection import latest as newest_runs
    from flagbench.store import Store

    if out_path == STDOUT:
        out_path = None
    protected = _checked_out(db, out_path, force) if out_path is not None else ()
    query = run_query(cases, vendors, hosts, tags, since, until)
    store = Store.open(db, create=False)
    runs = store.runs(query=query)
    runs = newest_runs(runs) if latest else runs
    text = export_runs(runs, fmt, store if with_samples else None)
    store.close()
    if out_path is None:
        click.echo(text, nl=False)
    else:
        path = write_output(text, out_path, protected, force)
        click.echo(terminal_text(f"wrote {path} ({len(runs)} runs)"), err=True)
    return 0


