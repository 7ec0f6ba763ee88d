"""One serving run: a case's requests against a vendor's HTTP endpoint, under the spec's
scenario, stored like every run (latency samples, their interval, and the serving figures).

The run's latency samples are end-to-end request latencies (from the scheduled arrival in the
server scenario); TTFT, TPOT and per-token ITL percentiles, output tokens/s, request errors
and the client's CPU share are case metrics beside them, with their definitions in
``measure/stream.py``.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from flagbench.api.contracts import ActualRun, Case, Vendor
from flagbench.api.errors import FlagbenchError
from flagbench.api.measurement import Measurement
from flagbench.api.result import Metric, RunResult, Status
from flagbench.api.spec import RunSpec
from flagbench.measure.serving import (
    STOP_ERRORS,
    ServingWindow,
    closed_loop,
    one_at_a_time,
    poisson,
)
from flagbench.measure.stream import RequestFigures, Slo, StreamRecord, goodput, request_figures
from flagbench.measure.window import CLOCK_HOST
from flagbench.run.progress import Phase, utc_now
from flagbench.stats.summary import percentile, summarize

_T = TypeVar("_T")

#: The client is likely the bottleneck above this share of one core over the window.
CLIENT_CPU_WARN = 0.8
#: Raw per-request figures kept in the run's environment, at most.
MAX_RECORDED = 10_000


def is_serving(case: Case) -> bool:
    """Whether a case is a serving workload (it has ``serving_request``)."""
    return callable(getattr(case, "serving_request", None))


def _percentiles(name: str, values: Sequence[float], unit: str = "s") -> list[Metric]:
    if not values:
        return []
    s = sorted(values)
    return [Metric(f"{name}_{label}_{unit}", percentile(s, q), unit)
            for label, q in (("median", 50), ("p90", 90), ("p99", 99))]


def serving_metrics(figures: Sequence[RequestFigures], window: ServingWindow,
                    from_arrival: bool, slo: Slo | None = None) -> list[Metric]:
    """TTFT, TPOT and ITL percentiles, output tokens/s, errors, the client's CPU share, and
    goodput where an SLO is given."""
    ttft = [f.ttft_from_arrival_s if from_arrival else f.ttft_s for f in figures]
    tokens = sum(f.output_tokens for f in figures)
    out = [*_percentiles("ttft", ttft),
           *_percentiles("tpot", [f.tpot_s for f in figures if f.tpot_s is not None]),
           *_percentiles("itl", [x for f in figures for x in f.itl_s]),
           Metric("output_tokens_per_s", tokens / window.window_s, "tokens/s"),
           Metric("output_tokens_mean", tokens / len(figures), "tokens"),
           Metric("requests_completed", float(len(figures)), "count"),
           Metric("request_errors", float(len(window.records) - len(figures)), "count"),
           Metric("client_cpu_share", window.client_cpu_s / window.window_s, "CPUs")]
    if from_arrival:
        out += _percentiles("client_delay", [f.client_delay_s for f in figures])
    if slo is not None:
        good = goodput(list(figures), slo, window.window_s)
        out += [Metric("goodput_rps", good, "1/s"),
                Metric("slo_met_share", sum(map(slo.met, figures)) / len(window.records),
                       "ratio")]
    return out


def _without_gc_pauses(work: Callable[[], _T]) -> _T:
    """Run ``work`` with Python's cyclic collector out of the way: what exists is collected
    and frozen first, so a collection during the load cannot stall every open stream (the
    asyncio client times chunks as it reads them; a pause shows as TTFT)."""
    gc.collect()
    gc.freeze()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return work()
    finally:
        if was_enabled:
            gc.enable()
        gc.unfreeze()


def _errors(records: Sequence[StreamRecord]) -> str:
    failed = [r.error or "no token in the stream" for r in records
              if request_figures(r) is None]
    if not failed:
        return ""
    return f"{len(failed)} of {len(records)} requests failed; the first: {failed[0]}"


def serve(vendor: Vendor, case: Case, spec: RunSpec, started: datetime,
          environment: dict[str, Any], phase: Phase) -> RunResult:
    """Run the spec's load against the vendor's endpoint and build its result."""
    import httpx

    endpoint_of = getattr(vendor, "endpoint", None)
    if not callable(endpoint_of):
        raise FlagbenchError(f"{spec.vendor} has no serving endpoint for {spec.case}")
    endpoint = endpoint_of(spec)
    serving_request = getattr(case, "serving_request")  # noqa: B009 (an optional member)
    from_arrival = spec.scenario == "server"

    async def main() -> tuple[dict[str, Any], ServingWindow]:
        timeout = httpx.Timeout(10.0, read=float(getattr(vendor, "timeout_s", 60.0)))
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
        async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
            phase("prepare", "asking the endpoint what it serves")
            described = await endpoint.describe(client)

            async def one(index: int, scheduled_s: float) -> StreamRecord:
                record: StreamRecord = await endpoint.stream(
                    client, serving_request(index, spec.seed), scheduled_s)
                return record

            phase("measure", f"{spec.scenario} load on {described.get('model', '?')}")
            if from_arrival:
                assert spec.target_qps is not None  # RunSpec enforces it
                window = await poisson(one, spec.measure, spec.target_qps, spec.seed)
            elif spec.concurrency is not None:
                window = await closed_loop(one, spec.measure, spec.concurrency)
            else:
                window = await one_at_a_time(one, spec.measure)
        return described, window

    described, window = _without_gc_pauses(lambda: asyncio.run(main()))
    environment["client_gc"] = ("collected and frozen before the load, disabled during it: a "
                                "full collection of a large process would stall every stream")
    figures = [f for f in map(request_figures, window.records) if f is not None]
    counts = sorted({r.count for r in window.records if r.count})
    actual = ActualRun(device=str(described.get("model", "?")), precision="as served",
                       details={**described, "client": f"httpx {httpx.__version__}",
                                "token_count": counts, "endpoint": endpoint.base})
    environment["serving"] = {
        "requests": len(window.records), "warmup_requests": len(window.warmup),
        "completed": len(figures), "errors": _errors(window.records),
        "latency_from": "scheduled arrival" if from_arrival else "send",
        "ttft_s": [f.ttft_from_arrival_s if from_arrival else f.ttft_s
                   for f in figures[:MAX_RECORDED]],
        "tpot_s": [f.tpot_s for f in figures[:MAX_RECORDED]],
        "output_tokens": [f.output_tokens for f in figures[:MAX_RECORDED]],
        "asked_tokens": [r.asked_tokens for r in window.records[:MAX_RECORDED]],
        "usage_tokens": [r.usage_tokens for r in window.records[:MAX_RECORDED]],
        "definitions": "flagbench.measure.stream (per-token ITL; TPOT = (E2E-TTFT)/(n-1))",
    }
    environment["clock"] = CLOCK_HOST
    environment["energy"] = {"available": False, "reason": _NO_ENERGY}
    if not figures or window.stop_rule == STOP_ERRORS:
        return RunResult(spec, Status.FAILED, started, utc_now(),
                         reason=_errors(window.records) or "no request completed",
                         actual=actual, environment=environment)
    latencies = [f.e2e_from_arrival_s if from_arrival else f.e2e_s for f in figures]
    warm = [f.e2e_s for f in map(request_figures, window.warmup) if f is not None]
    measurement = Measurement(
        samples=tuple(latencies), stats=summarize(latencies), stop_rule=window.stop_rule,
        warmup_iters=len(window.warmup), warmup_s=sum(warm),
        first_iter_s=warm[0] if warm else latencies[0], loop_s=window.window_s,
        clock=CLOCK_HOST, energy_note=_NO_ENERGY,
        achieved_qps=len(figures) / window.window_s if from_arrival else None,
        service_median_s=statistics.median(f.e2e_s for f in figures) if from_arrival else None,
        service_samples=tuple(f.e2e_s for f in figures) if from_arrival else (),
    )
    if from_arrival:
        environment["server_target_qps"] = spec.target_qps
    bounds = dict(spec.slo)
    slo = (Slo(ttft_s=bounds.get("ttft"), tpot_s=bounds.get("tpot"), e2e_s=bounds.get("e2e"))
           if bounds else None)
    if slo is not None:
        environment["slo"] = {f"{k}_s": v for k, v in bounds.items()}
    metrics = serving_metrics(figures, window, from_arrival, slo)
    result = RunResult(spec, Status.OK, started, utc_now(), measurement=measurement,
                       actual=actual, environment=environment, case_metrics=tuple(metrics),
                       scenario_warnings=tuple(client_warnings(window, spec)))
    return result


def client_warnings(window: ServingWindow, spec: RunSpec) -> list[str]:
    """Where the client, not the server, may have set the figures: it used most of a core,
    or it sent slower than the rate asked for."""
    out = []
    share = window.client_cpu_s / window.window_s
    if share > CLIENT_CPU_WARN:
        out.append(f"the client used {share:.2f} CPUs over the window: it may be the "
                   "bottleneck (run it on a host of its own, or lower the load)")
    if spec.target_qps and window.records:
        delays = sorted(r.sent_s - r.scheduled_s for r in window.records)
        late = percentile(delays, 90)
        if late > LATE_SEND_S:
            out.append(f"the client sent requests up to {late * 1e3:.1f} ms after their "
                       "scheduled arrival (p90): it fell behind the schedule (the latencies, "
                       "counted from the schedule, include it)")
    return out


#: Sending this much after the schedule (p90) means the client could not hold the rate.
LATE_SEND_S = 0.005


_NO_ENERGY = ("a serving engine is measured from its client: the server host's energy is "
              "not read here")
