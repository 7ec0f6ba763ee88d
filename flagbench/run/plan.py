"""Expand a request into the matrix of RunSpecs, validating every name before anything runs."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from flagbench.api.contracts import Case, Option, OptionValue, Vendor
from flagbench.api.errors import FlagbenchError
from flagbench.api.limits import MAX_ROUNDS, MAX_RUNS, check_count, check_label, printable
from flagbench.api.plugins import Registry
from flagbench.api.spec import MeasureConfig, RunSpec
from flagbench.run.weights import check_weights


@dataclass(frozen=True)
class Request:
    """What the user asked for, already parsed."""

    vendors: tuple[str, ...]
    cases: tuple[str, ...]
    batch_sizes: tuple[int, ...] = (1,)
    precisions: tuple[str, ...] = ("fp32",)
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    weights: Mapping[str, str] = field(default_factory=dict)
    """Checkpoint path per case name."""
    tags: tuple[tuple[str, str], ...] = ()
    rounds: int = 1
    """Run the whole matrix this many times, reversing the order every other round."""
    scenarios: tuple[str, ...] = ("latency",)
    target_qps: float | None = None
    p99_bound_s: float | None = None
    find_max_qps: bool = False
    case_options: Mapping[str, Mapping[str, str | OptionValue]] = field(default_factory=dict)
    """Raw ``KEY=VALUE`` case options per case name, parsed against what each case declares."""
    data: Mapping[str, str] = field(default_factory=dict)
    """Evaluation data directory per case name (``--data``), checked by the case."""
    vendor_options: Mapping[str, Mapping[str, str | OptionValue]] = field(default_factory=dict)
    """Raw ``KEY=VALUE`` vendor options per vendor name, parsed against what each declares."""
    concurrency: tuple[int, ...] = ()
    """Serving cases, throughput scenario: one cell per number of requests kept in flight."""
    slo: tuple[tuple[str, float], ...] = ()
    """Serving cases: goodput bounds (name, seconds), checked by RunSpec."""


def resolve_options(plugin: Case | Vendor, given: Mapping[str, str | OptionValue],
                    what: str = "case") -> tuple[tuple[str, OptionValue], ...]:
    """Every option the plugin declares, with the given value or its default, checked."""
    declared: Mapping[str, Option] = getattr(plugin, "options", None) or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise FlagbenchError(
            f"{what} {plugin.name!r} has no option {unknown[0]!r} (its options: {known})")
    return tuple(sorted(
        (key, opt.parse(key, given[key], f"{what} option") if key in given else opt.default)
        for key, opt in declared.items()
    ))


def changed_options(plugin: Case | Vendor, resolved: tuple[tuple[str, OptionValue], ...]
                    ) -> tuple[tuple[str, OptionValue], ...]:
    """The resolved options whose value is not the plugin's default."""
    declared: Mapping[str, Option] = getattr(plugin, "options", None) or {}
    return tuple((k, v) for k, v in resolved if k not in declared or v != declared[k].default)


def configured_vendor(vendor: Vendor, changed: tuple[tuple[str, OptionValue], ...]) -> Vendor:
    """The vendor set up with every declared option (defaults filled in for those not in
    ``changed``); a vendor without options is used as it is."""
    declared: Mapping[str, Option] = getattr(vendor, "options", None) or {}
    if not declared:
        if changed:
            raise FlagbenchError(f"vendor {vendor.name!r} has no options")
        return vendor
    configure = getattr(vendor, "with_options", None)
    if not callable(configure):
        raise FlagbenchError(f"vendor {vendor.name!r} declares options but has no with_options")
    values = {k: opt.default for k, opt in declared.items()} | dict(changed)
    result: Vendor = configure(values)
    return result


def vendor_option_values(vendor: Vendor, changed: tuple[tuple[str, OptionValue], ...]
                         ) -> dict[str, OptionValue]:
    """Every option the vendor declares with the value a run uses, for its record."""
    declared: Mapping[str, Option] = getattr(vendor, "options", None) or {}
    return {k: opt.default for k, opt in sorted(declared.items())} | dict(changed)


def configured(case: Case, options: tuple[tuple[str, OptionValue], ...]) -> Case:
    """The case set up with resolved options; a case without options is used as it is."""
    if not options:
        return case
    configure = getattr(case, "with_options", None)
    if not callable(configure):
        raise FlagbenchError(f"case {case.name!r} declares options but has no with_options")
    result: Case = configure(dict(options))
    return result


def check_data(case: Case, path: str) -> None:
    """Refuse a ``--data`` directory the case cannot evaluate on, before anything runs."""
    check = getattr(case, "check_data", None)
    if not callable(check):
        raise FlagbenchError(f"case {case.name!r} takes no --data")
    check(path)


def _check_pairs(name: str, case: Case, vendors: Mapping[str, Vendor], request: Request
                 ) -> None:
    """A serving case runs on endpoint vendors only, and a model case never on them."""
    serving = callable(getattr(case, "serving_request", None))
    for vendor_name, vendor in vendors.items():
        if serving != callable(getattr(vendor, "endpoint", None)):
            what = ("a serving workload, for a vendor with a serving endpoint" if serving
                    else "a model case, and this vendor runs serving cases only")
            raise FlagbenchError(f"{vendor_name} cannot run {name}: {name} is {what}")
    if serving and "throughput" in request.scenarios and not request.concurrency:
        raise FlagbenchError(f"{name}: the throughput scenario of a serving case is a closed "
                             "loop: give --concurrency N[,N…]")
    if not serving and (request.concurrency or request.slo):
        raise FlagbenchError(f"--concurrency and --slo apply to serving cases; {name} is not "
                             "one")
    if serving and request.find_max_qps:
        raise FlagbenchError(f"{name}: --find-max-qps is not supported for serving cases yet")


def _unique(values: tuple[str, ...] | tuple[int, ...], what: str) -> None:
    if not values:
        raise FlagbenchError(f"no {what} given")
    if len(values) > MAX_RUNS:
        raise FlagbenchError(f"{len(values)} {what}: at most {MAX_RUNS} runs may be planned")
    counts = Counter(values)
    dupes = sorted({str(v) for v, n in counts.items() if n > 1})
    if dupes:
        raise FlagbenchError(f"{what} listed twice: {', '.join(dupes)}")


#: Longest tag key the store holds (``tags.key`` is VARCHAR(128); PostgreSQL enforces it).
MAX_TAG_KEY = 128


def _check_tags(tags: tuple[tuple[str, str], ...]) -> None:
    for key, value in tags:
        if len(key) > MAX_TAG_KEY:
            raise FlagbenchError(f"tag key {key[:20]!r}… is longer than {MAX_TAG_KEY} characters")
        check_label(key, "tag key")
        check_label(value, f"tag {printable(key)}")


def _check_size(request: Request) -> None:
    """Refuse a matrix too big to finish before it is built (its plan alone would fill
    memory at a billion rounds)."""
    check_count(request.rounds, "rounds", MAX_ROUNDS)
    runs = request.rounds
    for axis in (request.vendors, request.cases, request.batch_sizes, request.precisions,
                 request.scenarios, request.concurrency or (None,)):
        runs *= len(axis)
    if runs > MAX_RUNS:
        raise FlagbenchError(f"the matrix holds {runs} runs; at most {MAX_RUNS} may be planned "
                             "(split it into several runs)")


def build_plan(request: Request, registry: Registry) -> list[RunSpec]:
    """The matrix case × scenario × vendor × batch size × precision, nested in that order,
    once per round.

    Unknown or broken plugins, bad values and weights that do not load or fit are refused
    here, so a bad request stores nothing.
    """
    _unique(request.vendors, "vendors")
    _unique(request.cases, "cases")
    _unique(request.batch_sizes, "batch sizes")
    _unique(request.precisions, "precisions")
    _unique(request.scenarios, "scenarios")
    _check_tags(request.tags)
    _check_size(request)
    server_options = request.target_qps or request.p99_bound_s or request.find_max_qps
    if server_options and "server" not in request.scenarios:
        raise FlagbenchError(
            "--target-qps, --p99-bound-ms and --find-max-qps apply to --scenario server")
    vendors = {name: registry.vendor(name) for name in request.vendors}
    for vendor_name in request.vendor_options:
        if vendor_name not in vendors:
            raise FlagbenchError(
                f"--vendor-option names vendor {vendor_name!r}, which is not being run")
    vendor_options = {
        name: changed_options(vendor, resolve_options(
            vendor, request.vendor_options.get(name, {}), "vendor"))
        for name, vendor in vendors.items()}
    for name, vendor in vendors.items():
        configured_vendor(vendor, vendor_options[name])  # constraints between options
    cases = {name: registry.case(name) for name in request.cases}
    for case_name in request.case_options:
        if case_name not in cases:
            raise FlagbenchError(
                f"--case-option names case {case_name!r}, which is not being run")
    options = {name: resolve_options(case, request.case_options.get(name, {}))
               for name, case in cases.items()}
    for name, case in cases.items():
        configured(case, options[name])  # constraints between options (FlagbenchError)
        _check_pairs(name, case, vendors, request)
        if request.find_max_qps and callable(getattr(case, "generation", None)):
            raise FlagbenchError(f"{name}: --find-max-qps is not supported for generation "
                                 "cases (TTFT and TPOT would mix the rates tried)")
    for case_name, path in request.weights.items():
        if case_name not in cases:
            raise FlagbenchError(f"--weights names case {case_name!r}, which is not being run")
        check_weights(configured(cases[case_name], options[case_name]).build_model, path)
    for case_name, path in request.data.items():
        if case_name not in cases:
            raise FlagbenchError(f"--data names case {case_name!r}, which is not being run")
        check_data(configured(cases[case_name], options[case_name]), path)
    if request.concurrency and "throughput" not in request.scenarios:
        raise FlagbenchError("--concurrency applies to --scenario throughput")
    _unique(request.concurrency or (1,), "concurrency values")
    matrix = [
        (vendor, case, bs, precision, scenario, concurrency)
        for case in request.cases
        for scenario in request.scenarios
        for concurrency in (request.concurrency if scenario == "throughput"
                            and request.concurrency else (None,))
        for vendor in request.vendors
        for bs in request.batch_sizes
        for precision in request.precisions
    ]
    specs = []
    matrix_id = uuid.uuid4().hex[:12]
    for r in range(1, request.rounds + 1):
        # A B, B A, A B …: a linear drift of the machine then weighs on every cell alike.
        order = matrix if r % 2 == 1 else matrix[::-1]
        specs += [
            RunSpec(vendor=vendor, case=case, batch_size=bs, precision=precision,
                    scenario=scenario, measure=request.measure,
                    weights=request.weights.get(case), tags=request.tags, round=r,
                    matrix_id=matrix_id,
                    target_qps=request.target_qps if scenario == "server" else None,
                    p99_bound_s=request.p99_bound_s if scenario == "server" else None,
                    find_max_qps=request.find_max_qps and scenario == "server",
                    options=options[case], data=request.data.get(case),
                    vendor_options=vendor_options[vendor], concurrency=concurrency,
                    slo=request.slo)
            for vendor, case, bs, precision, scenario, concurrency in order
        ]
    return specs
