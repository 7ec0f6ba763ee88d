"""`flagbench run`: the matrix from options or a suite file, into the store, with progress."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from flagbench.api.errors import FlagbenchError
from flagbench.cli.options import (
    DB_HELP,
    FINITE,
    parse_case_options,
    parse_plugin_options,
    parse_slo,
    per_case,
    split_list,
    tag_pairs,
)
from flagbench.cli.output import StderrKeeper, markup_text, print_error, terminal_text

if TYPE_CHECKING:
    from flagbench.api.result import RunResult
    from flagbench.api.sink import Written
    from flagbench.api.spec import RunSpec
    from flagbench.run.runner import Runner

#: Options that may be given together with --config: where results go, and extra labels.
_WITH_CONFIG = {"config", "db", "tags"}


def _as_given(param: click.Parameter, value: object) -> str:
    """The option as the user spelled it: ``--no-isolate`` for the off side of a pair."""
    if value is False and param.secondary_opts:
        return param.secondary_opts[0]
    return param.opts[0]


@click.command()
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
@click.option("--target-qps", type=FINITE, default=None,
              help="Server scenario: Poisson arrival rate (requests/s).")
@click.option("--p99-bound-ms", type=FINITE, default=None,
              help="Server scenario: check p99 latency (from arrival) against this bound.")
@click.option("--concurrency", default=None, metavar="N[,N…]",
              help="Serving cases, throughput scenario: requests kept in flight (a closed "
              "loop), one cell per value.")
@click.option("--slo", default=None, metavar="NAME_ms=V[,…]",
              help="Serving cases: goodput counts requests within these bounds (ttft_ms, "
              "tpot_ms, e2e_ms; from the scheduled arrival).")
@click.option("--find-max-qps", is_flag=True,
              help="Server scenario: search the highest rate from --target-qps up whose p99 "
              "meets --p99-bound-ms (doubling, then bisecting).")
@click.option("--warmup", type=FINITE, default=1.0, show_default=True, help="Warm-up seconds.")
@click.option("--min-time", type=FINITE, default=2.0, show_default=True,
              help="Minimum seconds of timed loop.")
@click.option("--max-time", type=FINITE, default=15.0, show_default=True,
              help="Maximum seconds of timed loop.")
@click.option("--min-iters", type=int, default=10, show_default=True,
              help="Minimum timed iterations.")
@click.option("--target-ci", type=FINITE, default=0.01, show_default=True,
              help="Stop once the median's 95%% CI is within ± this fraction "
              "(0: stop at the minimums).")
@click.option("--weights", multiple=True, metavar="[CASE=]PATH",
              help="Local checkpoint (loaded with weights_only=True).")
@click.option("--data", multiple=True, metavar="[CASE=]DIR",
              help="Evaluation data for task accuracy (an ImageFolder directory for resnet50).")
@click.option("-o", "--case-option", "case_options", multiple=True, metavar="[CASE.]KEY=VALUE",
              help="Set a case's option (`flagbench list cases` shows them).")
@click.option("-O", "--vendor-option", "vendor_options", multiple=True,
              metavar="[VENDOR.]KEY=VALUE",
              help="Set a vendor's option, e.g. cuda.mode=inductor (`flagbench list vendors`).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Label the runs.")
@click.option("--rounds", type=int, default=1, show_default=True,
              help="Run the matrix N times, reversing the order every other round.")
@click.option("--cpu-tdp", type=FINITE, default=None, metavar="WATTS",
              help="CPU TDP: CPU vendors estimate energy from it where RAPL is unreadable.")
@click.option("--timeout", type=FINITE, default=600.0, show_default=True,
              help="Seconds a run may take (set-up included) before it is stopped.")
@click.option("--isolate/--no-isolate", default=True, show_default=True,
              help="Measure each run in its own child process.")
@click.option("--db", default=None, help=DB_HELP)
def run(config: str | None, vendors: str | None, cases: str | None, batch_size: str,
        precision: str, scenario: str, target_qps: float | None, p99_bound_ms: float | None,
        concurrency: str | None, slo: str | None, find_max_qps: bool, warmup: float,
        min_time: float, max_time: float, min_iters: int,
        target_ci: float, weights: tuple[str, ...], data: tuple[str, ...],
        case_options: tuple[str, ...], vendor_options: tuple[str, ...],
        tags: tuple[str, ...], rounds: int, cpu_tdp: float | None, timeout: float,
        isolate: bool, db: str | None) -> int:
    """Run the vendor × case matrix and store every run (skipped and failed ones too).

    A run that cannot be written to the database (it went away, the file became read-only) is
    kept in the spool, the matrix goes on, and the exit code is 3; `flagbench spool --replay`
    writes such runs later.
    """
    from flagbench.api.plugins import Registry
    from flagbench.api.spec import MeasureConfig
    from flagbench.run.execute import InProcessExecutor
    from flagbench.run.isolation import ChildProcessExecutor
    from flagbench.run.plan import Request, build_plan
    from flagbench.run.runner import Runner

    if config is not None:
        from flagbench.run.suite import load_suite

        ctx = click.get_current_context()
        given = [_as_given(p, ctx.params[p.name]) for p in ctx.command.params
                 if p.name not in _WITH_CONFIG and p.name is not None
                 and ctx.get_parameter_source(p.name) is click.core.ParameterSource.COMMANDLINE]
        if given:
            raise FlagbenchError(f"{given[0]} cannot be combined with --config: the suite "
                                 "describes the matrix (only --db and --tag may be added)")
        suite = load_suite(config)
        extra = tag_pairs(tags)
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
        case_names = split_list(cases, "--case", str)
        vendor_names = split_list(vendors, "--vendor", str)
        request = Request(
            vendors=vendor_names,
            cases=case_names,
            batch_sizes=split_list(batch_size, "--batch-size", int),
            precisions=split_list(precision, "--precision", str),
            measure=MeasureConfig(warmup_s=warmup, min_time_s=min_time, max_time_s=max_time,
                                  min_iters=min_iters, target_ci=target_ci, cpu_tdp_w=cpu_tdp),
            weights=per_case(weights, case_names, "--weights"),
            data=per_case(data, case_names, "--data"),
            case_options=parse_case_options(case_options, case_names),
            vendor_options=parse_plugin_options(vendor_options, vendor_names,
                                                "--vendor-option", "vendor"),
            tags=tag_pairs(tags),
            rounds=rounds,
            scenarios=split_list(scenario, "--scenario", str),
            target_qps=target_qps,
            p99_bound_s=None if p99_bound_ms is None else p99_bound_ms / 1e3,
            find_max_qps=find_max_qps,
            concurrency=() if concurrency is None else split_list(
                concurrency, "--concurrency", int),
            slo=() if slo is None else parse_slo(slo),
        )
    registry = Registry.discover()
    specs = build_plan(request, registry)
    in_child = ChildProcessExecutor(timeout)  # refuses a bad --timeout, isolated or not
    executor = in_child if isolate else InProcessExecutor(registry)
    return _run_and_print(specs, Runner(registry, executor), db, request.rounds)


def _run_and_print(specs: list[RunSpec], runner: Runner, db: str | None, rounds: int) -> int:
    """Run the matrix into the store, showing progress and each run's line; the exit code."""
    from flagbench.cli import console
    from flagbench.run.matrix import run_matrix
    from flagbench.store import Store
    from flagbench.store import spool as spool_
    from flagbench.store.engine import StoreError
    from flagbench.store.sink import StoreSink

    store = Store.open(db, create=True)
    out = console.console()
    out.print(f"{len(specs)} run(s) → {markup_text(store.label)}")

    def done(i: int, result: RunResult, written: Written) -> None:
        line = f"[{i}/{len(specs)}] {result.spec.label}: {result.status.value}"
        if result.measurement is not None:
            line += f", p50 {result.measurement.stats.median * 1e3:.2f} ms"
        if result.reason:
            line += f" ({result.reason})"
        if written.run_id is None:
            line += f" — NOT STORED ({written.error}); kept in {written.spooled_to}"
        out.print(terminal_text(line), markup=False)
        for warning in result.warnings:
            out.print(terminal_text(f"    warning: {warning}"), style="yellow", markup=False)

    on_stderr = StderrKeeper()  # where a run goes that not even the spool can take
    with console.progress_line(out) as show:
        outcome = run_matrix(specs, runner, StoreSink(store, on_stderr),
                             lambda i, spec, detail: show(i, len(specs), spec, detail), done)
    try:
        stored = [store.run(i) for i in outcome.stored_ids]
        out.print(console.runs_table(stored, "results", width=out.width))
    except StoreError as exc:
        out.print(terminal_text(f"cannot read the results back: {exc}"), markup=False)
    if rounds > 1:
        from flagbench.stats.rounds import combine_rounds

        out.print(console.rounds_table(combine_rounds(outcome.results), "rounds combined"))
    out.print(terminal_text(f"stored in {store.label}; `flagbench report --out report.html` "
                            "renders them"), markup=False)
    store.close()
    if outcome.spool_errors:
        where = (f"{on_stderr.kept} of them only on stderr, as JSON (above; save each in "
                 f"{spool_.spool_dir()} as the file its line names)" if on_stderr.kept
                 else f"they are kept in {spool_.spool_dir()}")
        print_error(f"{len(outcome.spool_errors)} of {len(outcome.results)} run(s) could not be "
                    f"written to the database ({outcome.spool_errors[-1]}); {where}: "
                    "`flagbench spool --replay` writes them")
    return outcome.exit_code
