"""The command line: parse, validate, call the core, print. It holds no measurement logic.

Heavy modules (torch, SQLAlchemy, rich) are imported inside the commands that need them,
so ``flagbench --help`` and ``flagbench list`` start quickly.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TypeVar

import click

from flagbench import __version__
from flagbench.errors import FlagbenchError

T = TypeVar("T")

EXIT_USAGE = 2
EXIT_FAILED_RUNS = 1
EXIT_INTERRUPTED = 130

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


@cli.command()
@click.option("--vendor", "vendors", required=True, help="Vendor(s), comma-separated.")
@click.option("--case", "cases", required=True, help="Case(s), comma-separated.")
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
def run(vendors: str, cases: str, batch_size: str, precision: str, scenario: str,
        target_qps: float | None, p99_bound_ms: float | None, find_max_qps: bool, warmup: float,
        min_time: float, max_time: float, min_iters: int, target_ci: float,
        weights: tuple[str, ...], data: tuple[str, ...], case_options: tuple[str, ...],
        tags: tuple[str, ...],
        rounds: int, cpu_tdp: float | None,
        timeout: float, isolate: bool, db: str | None) -> int:
    """Run the vendor × case matrix and store every run (skipped and failed ones too)."""
    from flagbench import console
    from flagbench.plan import Request, build_plan
    from flagbench.plugins import Registry
    from flagbench.result import Status
    from flagbench.runner import Runner
    from flagbench.spec import MeasureConfig, RunSpec
    from flagbench.store import Store

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
    store = Store.open(db, create=True)
    out = console.console()
    out.print(f"{len(specs)} run(s) → {store.label}")
    ids: list[int] = []
    results = []
    interrupted = False
    with console.progress_line(out) as show:
        for i, spec in enumerate(specs, 1):

            def phase(_phase: str, detail: str, i: int = i, spec: RunSpec = spec) -> None:
                show(i, len(specs), spec, detail)

            result = runner.run(spec, phase)
            ids.append(store.save(result))
            results.append(result)
            line = f"[{i}/{len(specs)}] {spec.label}: {result.status.value}"
            if result.measurement is not None:
                line += f", p50 {result.measurement.stats.median * 1e3:.2f} ms"
            if result.reason:
                line += f" ({result.reason})"
            out.print(line, markup=False)
            for warning in result.warnings:
                out.print(f"    warning: {warning}", style="yellow", markup=False)
            if result.status is Status.INTERRUPTED:
                interrupted = True
                break
    stored = [store.run(i) for i in ids]
    out.print(console.runs_table(stored, "results"))
    if rounds > 1:
        from flagbench.rounds import combine_rounds

        out.print(console.rounds_table(combine_rounds(results), "rounds combined"))
    out.print(f"stored in {store.label}; `flagbench report --out report.html` renders them")
    store.close()
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED_RUNS if any(r.status in ("failed", "timeout") for r in stored) else 0


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


@cli.command()
@click.option("--db", default=None, help=_DB_HELP)
@click.option("--out", "out_path", default="flagbench-report.html", show_default=True,
              help="HTML file to write.")
@click.option("--vendor", default=None, help="Only this vendor.")
@click.option("--case", default=None, help="Only this case.")
def report(db: str | None, out_path: str, vendor: str | None, case: str | None) -> int:
    """Render stored runs into one self-contained HTML file."""
    from flagbench import console
    from flagbench.report import render_report, write_report
    from flagbench.store import Store

    store = Store.open(db, create=False)
    runs = store.runs(vendor=vendor, case=case)
    path = write_report(render_report(runs, store.label), out_path)
    store.close()
    console.console().print(f"wrote {path} ({len(runs)} runs)", markup=False)
    return 0


@cli.command()
@click.option("--db", default=None, help=_DB_HELP)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--vendor", default=None, help="Only this vendor.")
@click.option("--case", default=None, help="Only this case.")
def history(db: str | None, limit: int, vendor: str | None, case: str | None) -> int:
    """Show the most recent runs."""
    from flagbench import console
    from flagbench.store import Store

    store = Store.open(db, create=False)
    runs = store.runs(limit=limit, vendor=vendor, case=case)
    store.close()
    console.console().print(console.runs_table(runs, f"last {len(runs)} run(s) in {store.label}"))
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
