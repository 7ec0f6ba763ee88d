"""The command line: parse, validate, call the core, print. It holds no measurement logic.

Heavy modules (torch, SQLAlchemy, rich) are imported inside the commands that need them,
so ``flagbench --help`` and ``flagbench list`` start quickly.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click

from flagbench import __version__
from flagbench.errors import FlagbenchError

if TYPE_CHECKING:
    from flagbench.runner import Runner
    from flagbench.spec import RunSpec
    from flagbench.store import RunQuery

T = TypeVar("T")

EXIT_USAGE = 2
EXIT_FAILED_RUNS = 1
EXIT_INTERRUPTED = 130
#: Some run could not be written to the database and waits in the spool.
EXIT_SPOOLED = 3

_DB_HELP = (
    "Database: a SQLite path or any SQLAlchemy URL [env FLAGBENCH_DB; default: user data dir]."
)


def _split(value: str, option: str, convert: Callable[[str], T]) -> tuple[T, ...]:
    items = [v.strip() for v in value.split(",")]
    if not value.strip() or any(not v for v in items):
        raise FlagbenchError(f"{option} needs a comma-separated list without empty items")
    out = []
    for item in items:
        try:
            out.append(convert(item))
        except ValueError:
            raise FlagbenchError(f"{option}: {item!r} is not valid") from None
    return tuple(out)


def _tags(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    tags: dict[str, str] = {}
    for raw in values:
        key, sep, val = raw.partition("=")
        if not sep or not key.strip():
            raise FlagbenchError(f"--tag {raw!r}: expected key=value")
        if key.strip() in tags:
            raise FlagbenchError(f"--tag {key.strip()!r} given twice")
        tags[key.strip()] = val.strip()
    return tuple(sorted(tags.items()))


def _per_case(values: tuple[str, ...], cases: tuple[str, ...], option: str) -> dict[str, str]:
    """``[CASE=]PATH`` values of a repeatable option, keyed by case name."""
    out: dict[str, str] = {}
    for raw in values:
        case, sep, path = raw.partition("=")
        if not sep:
            if len(cases) != 1:
                raise FlagbenchError(f"with several cases, give {option} as CASE=PATH")
            case, path = cases[0], raw
        if case in out:
            raise FlagbenchError(f"{option} given twice for {case!r}")
        out[case] = path
    return out


def _case_options(values: tuple[str, ...], cases: tuple[str, ...]
                  ) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for raw in values:
        target, sep, value = raw.partition("=")
        case, dot, key = target.rpartition(".")
        if not sep or not key.strip():
            raise FlagbenchError(f"--case-option {raw!r}: expected [CASE.]KEY=VALUE")
        if not dot:
            if len(cases) != 1:
                raise FlagbenchError("with several cases, give --case-option as CASE.KEY=VALUE")
            case = cases[0]
        options = out.setdefault(case.strip(), {})
        if key.strip() in options:
            raise FlagbenchError(f"--case-option {case}.{key.strip()} given twice")
        options[key.strip()] = value.strip()
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flagbench")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """flagbench: run standard AI cases on many vendors, store the results, compare them."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


#: Options that may be given together with --config: where results go, and extra labels.
_WITH_CONFIG = {"config", "db", "tags"}


@cli.command()
@click.option("--config", "config", default=None, metavar="SUITE.toml",
              help="Run the matrix a suite file describes (examples/suite.toml); only --db "
              "and --tag may be given with it.")
@click.option("--vendor", "vendors", default=None, help="Vendor(s), comma-separated.")
@click.option("--case", "cases", default=None, help="Case(s), comma-separated.")
@click.option("--batch-size", default="1", show_default=True,
              help="Batch size(s), comma-separated.")
@click.option("--precision", default="fp32", show_default=True,
              help="Precision(s), comma-separated: fp32, tf32, fp16, bf16, int8.")
@click.option("--scenario", default="latency", show_default=True,
              help="Scenario(s), comma-separated: latency, throughput, server.")
@click.option("--target-qps", type=float, default=None,
              help="Server scenario: Poisson arrival rate (requests/s).")
@click.option("--p99-bound-ms", type=float, default=None,
              help="Server scenario: check p99 latency (from arrival) against this bound.")
@click.option("--find-max-qps", is_flag=True,
              help="Server scenario: search the highest rate from --target-qps up whose p99 "
              "meets --p99-bound-ms (doubling, then bisecting).")
@click.option("--warmup", type=float, default=1.0, show_default=True, help="Warm-up seconds.")
@click.option("--min-time", type=float, default=2.0, show_default=True,
              help="Minimum seconds of timed loop.")
@click.option("--max-time", type=float, default=15.0, show_default=True,
              help="Maximum seconds of timed loop.")
@click.option("--min-iters", type=int, default=10, show_default=True,
              help="Minimum timed iterations.")
@click.option("--target-ci", type=float, default=0.01, show_default=True,
              help="Stop once the median's 95%% CI is within ± this fraction "
              "(0: stop at the minimums).")
@click.option("--weights", multiple=True, metavar="[CASE=]PATH",
              help="Local checkpoint (loaded with weights_only=True).")
@click.option("--data", multiple=True, metavar="[CASE=]DIR",
              help="Evaluation data for task accuracy (an ImageFolder directory for resnet50).")
@click.option("-o", "--case-option", "case_options", multiple=True, metavar="[CASE.]KEY=VALUE",
              help="Set a case's option (`flagbench list cases` shows them).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Label the runs.")
@click.option("--rounds", type=int, default=1, show_default=True,
              help="Run the matrix N times, reversing the order every other round.")
@click.option("--cpu-tdp", type=float, default=None, metavar="WATTS",
              help="CPU TDP: CPU vendors estimate energy from it where RAPL is unreadable.")
@click.option("--timeout", type=float, default=600.0, show_default=True,
              help="Seconds a run may take (set-up included) before it is stopped.")
@click.option("--isolate/--no-isolate", default=True, show_default=True,
              help="Measure each run in its own child process.")
@click.option("--db", default=None, help=_DB_HELP)
def run(config: str | None, vendors: str | None, cases: str | None, batch_size: str,
        precision: str, scenario: str, target_qps: float | None, p99_bound_ms: float | None,
        find_max_qps: bool, warmup: float, min_time: float, max_time: float, min_iters: int,
        target_ci: float, weights: tuple[str, ...], data: tuple[str, ...],
        case_options: tuple[str, ...],
        tags: tuple[str, ...], rounds: int, cpu_tdp: float | None, timeout: float,
        isolate: bool, db: str | None) -> int:
    """Run the vendor × case matrix and store every run (skipped and failed ones too).

    A run that cannot be written to the database (it went away, the file became read-only) is
    kept in the spool, the matrix goes on, and the exit code is 3; `flagbench spool --replay`
    writes such runs later.
    """
    from flagbench.plan import Request, build_plan
    from flagbench.plugins import Registry
    from flagbench.runner import Runner
    from flagbench.spec import MeasureConfig

    if config is not None:
        from flagbench.suite import load_suite

        ctx = click.get_current_context()
        given = [p.opts[0] for p in ctx.command.params
                 if p.name not in _WITH_CONFIG and p.name is not None
                 and ctx.get_parameter_source(p.name) is click.core.ParameterSource.COMMANDLINE]
        if given:
            raise FlagbenchError(f"{given[0]} cannot be combined with --config: the suite "
                                 "describes the matrix (only --db and --tag may be added)")
        suite = load_suite(config)
        extra = _tags(tags)
        clash = sorted(set(dict(extra)) & set(dict(suite.request.tags)))
        if clash:
            raise FlagbenchError(f"--tag {clash[0]!r} is also set in {config}")
        import dataclasses

        request = dataclasses.replace(
            suite.request, tags=tuple(sorted((*suite.request.tags, *extra))))
        timeout, isolate = suite.timeout_s, suite.isolate
    else:
        if vendors is None or cases is None:
            missing = "--vendor" if vendors is None else "--case"
            raise FlagbenchError(f"Missing option '{missing}' (or give --config SUITE.toml)")
        case_names = _split(cases, "--case", str)
        request = Request(
            vendors=_split(vendors, "--vendor", str),
            cases=case_names,
            batch_sizes=_split(batch_size, "--batch-size", int),
            precisions=_split(precision, "--precision", str),
            measure=MeasureConfig(warmup_s=warmup, min_time_s=min_time, max_time_s=max_time,
                                  min_iters=min_iters, target_ci=target_ci, cpu_tdp_w=cpu_tdp),
            weights=_per_case(weights, case_names, "--weights"),
            data=_per_case(data, case_names, "--data"),
            case_options=_case_options(case_options, case_names),
            tags=_tags(tags),
            rounds=rounds,
            scenarios=_split(scenario, "--scenario", str),
            target_qps=target_qps,
            p99_bound_s=None if p99_bound_ms is None else p99_bound_ms / 1e3,
            find_max_qps=find_max_qps,
        )
    registry = Registry.discover()
    specs = build_plan(request, registry)
    runner = Runner(registry, isolate=isolate, timeout_s=timeout)
    return _run_matrix(specs, runner, db, request.rounds)


def _run_matrix(specs: list[RunSpec], runner: Runner, db: str | None, rounds: int) -> int:
    """Run the specs in order, storing each result (or spooling it); the exit code."""
    from flagbench import console
    from flagbench.result import Status
    from flagbench.store import Store
    from flagbench.store import spool as spool_
    from flagbench.store.engine import StoreError
    from flagbench.store.record import record_of

    store = Store.open(db, create=True)
    out = console.console()
    out.print(f"{len(specs)} run(s) → {store.label}")
    ids: list[int] = []
    results = []
    spooled: list[str] = []
    interrupted = False
    with console.progress_line(out) as show:
        for i, spec in enumerate(specs, 1):

            def phase(_phase: str, detail: str, i: int = i, spec: RunSpec = spec) -> None:
                show(i, len(specs), spec, detail)

            result = runner.run(spec, phase)
            results.append(result)
            record = record_of(result)
            line = f"[{i}/{len(specs)}] {spec.label}: {result.status.value}"
            if result.measurement is not None:
                line += f", p50 {result.measurement.stats.median * 1e3:.2f} ms"
            if result.reason:
                line += f" ({result.reason})"
            try:
                ids.append(store.write(record))
            except KeyboardInterrupt:
                # Ctrl-C while writing (or waiting to retry): the transaction is rolled back;
                # keep the result (a replay of one that did commit adds nothing, same uid).
                spool_.put(record, store.label, "interrupted while writing")
                raise
            except StoreError as exc:
                path = spool_.put(record, store.label, str(exc))
                spooled.append(str(exc))
                line += f" — NOT STORED ({exc}); kept in {path}"
            out.print(line, markup=False)
            for warning in result.warnings:
                out.print(f"    warning: {warning}", style="yellow", markup=False)
            if result.status is Status.INTERRUPTED:
                interrupted = True
                break
    try:
        stored = [store.run(i) for i in ids]
        out.print(console.runs_table(stored, "results", width=out.width))
    except StoreError as exc:
        stored = []
        out.print(f"cannot read the results back: {exc}", markup=False)
    if rounds > 1:
        from flagbench.rounds import combine_rounds

        out.print(console.rounds_table(combine_rounds(results), "rounds combined"))
    out.print(f"stored in {store.label}; `flagbench report --out report.html` renders them",
              markup=False)
    store.close()
    if spooled:
        _error(f"{len(spooled)} of {len(results)} run(s) could not be written to the database "
               f"({spooled[-1]}); they are kept in {spool_.spool_dir()}: "
               "`flagbench spool --replay` writes them")
    if interrupted:
        return EXIT_INTERRUPTED
    if spooled:
        return EXIT_SPOOLED
    failed = any(r.status in (Status.FAILED, Status.TIMEOUT) for r in results)
    return EXIT_FAILED_RUNS if failed else 0


@cli.command(name="list")
@click.argument("what", type=click.Choice(["all", "vendors", "cases"]), default="all")
def list_plugins(what: str) -> int:
    """List installed vendors and cases, including broken plugins and why."""
    from flagbench import console
    from flagbench.plugins import Registry

    registry = Registry.discover()
    out = console.console()
    if what in ("all", "vendors"):
        out.print(console.plugins_table(list(registry.vendors.values()), "vendors"))
    if what in ("all", "cases"):
        out.print(console.plugins_table(list(registry.cases.values()), "cases"))
    return 0


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def env(as_json: bool) -> int:
    """Show this host's fingerprint and whether each vendor can run here, and why not."""
    import json

    from flagbench import console
    from flagbench.environment import host_facts
    from flagbench.plugins import Registry

    probes = Registry.discover().probe_all()
    out = console.console()
    if as_json:
        click.echo(json.dumps({"host": host_facts(), "vendors": probes}, indent=2, default=str))
        return 0
    out.print(console.facts_table(host_facts(), "host"))
    out.print(console.probes_table(probes, "vendors"))
    return 0


def _filter_options(func: Callable[..., int]) -> Callable[..., int]:
    """The run filters shared by report, export and compare."""
    for option in reversed([
        click.option("--case", "cases", multiple=True,
                     help="Only these cases (repeatable, or a,b)."),
        click.option("--vendor", "vendors", multiple=True,
                     help="Only these vendors (repeatable, or a,b)."),
        click.option("--host", "hosts", multiple=True, help="Only runs from these hostnames."),
        click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE",
                     help="Only runs carrying this tag (repeatable: all must match)."),
        click.option("--since", default=None, metavar="WHEN",
                     help="Runs started at or after: ISO date/time (UTC) or an age (7d, 12h)."),
        click.option("--until", default=None, metavar="WHEN",
                     help="Runs started before: ISO date/time (UTC) or an age (7d, 12h)."),
    ]):
        func = option(func)
    return func


def _query(cases: tuple[str, ...], vendors: tuple[str, ...], hosts: tuple[str, ...],
           tags: tuple[str, ...], since: str | None, until: str | None) -> RunQuery:
    from flagbench.selection import parse_tags, parse_time
    from flagbench.store import RunQuery

    def names(values: tuple[str, ...], option: str) -> tuple[str, ...]:
        return tuple(n for v in values for n in _split(v, option, str))

    query = RunQuery(
        cases=names(cases, "--case"), vendors=names(vendors, "--vendor"),
        hosts=names(hosts, "--host"), tags=parse_tags(tags),
        since=parse_time(since, "--since") if since else None,
        until=parse_time(until, "--until") if until else None,
    )
    if query.since and query.until and query.since >= query.until:
        raise FlagbenchError("--since must be before --until")
    return query


def _describe(query: RunQuery, latest: bool) -> str:
    parts = [f"{name} {', '.join(values)}" for name, values in (
        ("case", query.cases), ("vendor", query.vendors), ("host", query.hosts),
        ("tag", tuple(f"{k}={v}" for k, v in query.tags))) if values]
    if query.since:
        parts.append(f"since {query.since:%Y-%m-%d %H:%M} UTC")
    if query.until:
        parts.append(f"until {query.until:%Y-%m-%d %H:%M} UTC")
    if latest:
        parts.append("latest run of each vendor × case × spec")
    return "; ".join(parts)


@cli.command()
@click.option("--db", default=None, help=_DB_HELP)
@click.option("--out", "out_path", default="flagbench-report.html", show_default=True,
              help="HTML file to write.")
@_filter_options
@click.option("--latest", is_flag=True,
              help="Only the newest run of each host × vendor × case × spec, with the other "
              "rounds of its `flagbench run --rounds` (history charts still use every "
              "matching run).")
@click.option("--baseline", default="cpu", show_default=True,
              help="Vendor that speed-ups are measured against ('' for none).")
def report(db: str | None, out_path: str, cases: tuple[str, ...], vendors: tuple[str, ...],
           hosts: tuple[str, ...], tags: tuple[str, ...], since: str | None, until: str | None,
           latest: bool, baseline: str) -> int:
    """Render stored runs into one self-contained HTML file."""
    from flagbench import console
    from flagbench.report import ReportOptions, render_report, write_report
    from flagbench.selection import latest as newest_runs
    from flagbench.store import Store

    query = _query(cases, vendors, hosts, tags, since, until)
    store = Store.open(db, create=False)
    matching = store.runs(query=query)
    runs = newest_runs(matching, with_rounds=True) if latest else matching
    options = ReportOptions(baseline=baseline.strip() or None, filters=_describe(query, latest))
    html = render_report(runs, store.label, store, options, history_runs=matching)
    store.close()
    path = write_report(html, out_path)
    console.console().print(f"wrote {path} ({len(runs)} runs)", markup=False)
    return 0


@cli.command()
@click.option("--db", default=None, help=_DB_HELP)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--vendor", default=None, help="Only this vendor.")
@click.option("--case", default=None, help="Only this case.")
def history(db: str | None, limit: int, vendor: str | None, case: str | None) -> int:
    """Show the most recent runs, and step changes in their series."""
    from flagbench import console
    from flagbench.regressions import find_all_steps
    from flagbench.store import Store

    store = Store.open(db, create=False)
    runs = store.runs(limit=limit, vendor=vendor, case=case)
    # Steps are found over the whole history of the listed runs' series, not only the page.
    listed = {(r.vendor, r.case) for r in runs}
    everything = store.runs(vendor=vendor, case=case)
    store.close()
    steps = [s for s in find_all_steps(everything) if (s.vendor, s.cell.case) in listed]
    out = console.console()
    out.print(console.runs_table(runs, f"last {len(runs)} run(s) in {store.label}",
                                 step_runs={s.run_id for s in steps}, width=out.width))
    if steps:
        out.print(console.steps_table(steps, "step changes"))
    return 0


@cli.command()
@click.argument("run_id", type=int)
@click.option("--db", default=None, help=_DB_HELP)
def show(run_id: int, db: str | None) -> int:
    """Show one run in full: spec, metrics, what ran, environment."""
    from flagbench import console
    from flagbench.peaks import peak_shares
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


@cli.command()
@click.option("--replay", is_flag=True,
              help="Write the spooled runs to the database and remove them from the spool.")
@click.option("--db", default=None, help=_DB_HELP)
@click.option("--all", "all_targets", is_flag=True,
              help="With --replay: also write runs that were spooled for another database.")
def spool(replay: bool, db: str | None, all_targets: bool) -> int:
    """List the runs that could not be written to a database, or write them now (--replay).

    Replay writes the runs spooled for the database it is given and keeps the others, so a
    host that spooled for two databases does not mix them (--all writes them all there).
    Replaying is idempotent: a run already in the database (same uid) is not written twice.
    """
    from flagbench import console
    from flagbench.store import spool as spool_

    entries = spool_.entries()
    out = console.console()
    if not replay:
        if db is not None or all_targets:
            raise FlagbenchError(f"{'--db' if db is not None else '--all'} applies to "
                                 "--replay only")
        out.print(f"{len(entries)} run(s) in the spool {spool_.spool_dir()}", markup=False)
        for e in entries:
            what = e.record.label if e.record else e.path.name
            out.print(f"  {e.spooled_at} {what} → {e.target}: {e.error}", markup=False)
        return 0
    from flagbench.store import Store
    from flagbench.store.engine import StoreError

    store = Store.open(db, create=True)
    left = elsewhere = 0
    for e in entries:
        if e.record is None:
            left += 1
            out.print(f"  kept {e.path.name}: {e.error}", markup=False)
            continue
        if e.target != store.label and not all_targets:
            elsewhere += 1
            out.print(f"  kept {e.record.label}: spooled for {e.target} (replay with that "
                      "--db, or add --all to write it here)", markup=False)
            continue
        try:
            run_id = store.write(e.record)
        except StoreError as exc:
            left += 1
            out.print(f"  kept {e.record.label}: {exc}", markup=False)
            continue
        e.path.unlink(missing_ok=True)
        out.print(f"  wrote {e.record.label} as run {run_id}", markup=False)
    store.close()
    written = len(entries) - left - elsewhere
    out.print(f"{written} run(s) written to {store.label}, {left + elsewhere} left in the spool"
              + (f" ({elsewhere} for other databases)" if elsewhere else ""), markup=False)
    if left:
        _error(f"{left} spooled run(s) could not be written to {store.label}")
        return EXIT_SPOOLED
    return 0


@cli.command()
@click.argument("a")
@click.argument("b")
@click.option("--db", default=None, help=_DB_HELP)
@_filter_options
@click.option("--fail-above", type=float, default=None, metavar="PCT",
              help="Exit 1 when B is slower than A by more than PCT percent in any cell, "
              "with significance (for CI).")
def compare(a: str, b: str, db: str | None, cases: tuple[str, ...], vendors: tuple[str, ...],
            hosts: tuple[str, ...], tags: tuple[str, ...], since: str | None,
            until: str | None, fail_above: float | None) -> int:
    """Compare runs A and B cell by cell: latency ratio B/A with a 95% CI and a p-value.

    A and B are run ids (12, or run:12,15), tag:KEY=VALUE, host:NAME or vendor:NAME.
    Several runs of one cell on a side are pooled; the filters apply to both sides.
    """
    from flagbench import console
    from flagbench.compare import compare_sets
    from flagbench.selection import parse_selector
    from flagbench.store import Store

    if fail_above is not None and fail_above < 0:
        raise FlagbenchError("--fail-above must be 0 or more (a percentage)")
    base = _query(cases, vendors, hosts, tags, since, until)
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


@cli.command()
@click.option("--db", default=None, help=_DB_HELP)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True)
@click.option("--samples", "with_samples", is_flag=True,
              help="Raw per-iteration latencies: in JSON with each run; in CSV one row per "
              "sample instead of one per run.")
@click.option("--out", "out_path", default=None, help="File to write (default: stdout).")
@_filter_options
@click.option("--latest", is_flag=True,
              help="Only the newest run of each host × vendor × case × spec.")
def export(db: str | None, fmt: str, with_samples: bool, out_path: str | None,
           cases: tuple[str, ...], vendors: tuple[str, ...], hosts: tuple[str, ...],
           tags: tuple[str, ...], since: str | None, until: str | None, latest: bool) -> int:
    """Export runs with their metrics (and raw samples on request) as CSV or JSON."""
    from flagbench.export import export_runs
    from flagbench.report import write_report
    from flagbench.selection import latest as newest_runs
    from flagbench.store import Store

    query = _query(cases, vendors, hosts, tags, since, until)
    store = Store.open(db, create=False)
    runs = store.runs(query=query)
    runs = newest_runs(runs) if latest else runs
    text = export_runs(runs, fmt, store if with_samples else None)
    store.close()
    if out_path is None:
        click.echo(text, nl=False)
    else:
        path = write_report(text, out_path)
        click.echo(f"wrote {path} ({len(runs)} runs)", err=True)
    return 0


def _error(message: str) -> None:
    click.echo(f"error: {' '.join(message.split())}", err=True)


def main() -> None:
    """Entry point: a FlagbenchError or usage error becomes one line and exit code 2."""
    try:
        code = cli.main(standalone_mode=False)
    except FlagbenchError as exc:
        _error(str(exc))
        sys.exit(EXIT_USAGE)
    except click.UsageError as exc:
        _error(exc.format_message())
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        _error(exc.format_message())
        sys.exit(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        _error("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(code if isinstance(code, int) else 0)
