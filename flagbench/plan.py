"""Expand a request into the matrix of RunSpecs, validating every name before anything runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from flagbench.errors import FlagbenchError
from flagbench.plugins import Registry
from flagbench.spec import MeasureConfig, RunSpec
from flagbench.weights import check_weights


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


def _unique(values: tuple[str, ...] | tuple[int, ...], what: str) -> None:
    if not values:
        raise FlagbenchError(f"no {what} given")
    dupes = sorted({str(v) for v in values if values.count(v) > 1})
    if dupes:
        raise FlagbenchError(f"{what} listed twice: {', '.join(dupes)}")


def build_plan(request: Request, registry: Registry) -> list[RunSpec]:
    """The matrix case × vendor × batch size × precision, in that nesting order.

    Unknown or broken plugins, bad values and weights that do not load or fit are refused
    here, so a bad request stores nothing.
    """
    _unique(request.vendors, "vendors")
    _unique(request.cases, "cases")
    _unique(request.batch_sizes, "batch sizes")
    _unique(request.precisions, "precisions")
    for name in request.vendors:
        registry.vendor(name)
    cases = {name: registry.case(name) for name in request.cases}
    for case_name, path in request.weights.items():
        if case_name not in cases:
            raise FlagbenchError(f"--weights names case {case_name!r}, which is not being run")
        check_weights(cases[case_name].build_model, path)
    return [
        RunSpec(
            vendor=vendor, case=case, batch_size=bs, precision=precision,
            measure=request.measure, weights=request.weights.get(case), tags=request.tags,
        )
        for case in request.cases
        for vendor in request.vendors
        for bs in request.batch_sizes
        for precision in request.precisions
    ]
