"""The timed window a run's scenario asks for: one batch at a time, batches in flight, or
Poisson arrivals."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from flagbench.api.contracts import Session
from flagbench.api.energy import EnergyMeter
from flagbench.api.measurement import Measurement
from flagbench.api.spec import RunSpec
from flagbench.measure.latency import measure_latency
from flagbench.measure.throughput import measure_throughput
from flagbench.measure.window import LoopProgress

if TYPE_CHECKING:
    from flagbench.measure.server import ServerMeasurement


def timed_window(session: Session, loaded: Any, spec: RunSpec,
                 loop: Callable[[LoopProgress], None], meters: Sequence[EnergyMeter],
                 environment: dict[str, Any]) -> Measurement:
    """The scenario's timed window: back-to-back batches, or Poisson arrivals (server).

    A max-QPS search keeps the measurement at the best rate found and records every
    rate tried in the environment, so the search itself can be checked."""
    if spec.scenario == "throughput":
        return measure_throughput(session, loaded, spec.measure, loop, meters)
    if spec.scenario != "server":
        return measure_latency(session, loaded, spec.measure, loop, meters)
    import statistics

    from flagbench.measure.server import find_max_qps, measure_server

    assert spec.target_qps is not None  # RunSpec enforces it for server

    def run_at(qps: float) -> ServerMeasurement:
        return measure_server(session, loaded, spec.measure, qps, seed=spec.seed,
                              progress=loop, meters=meters)

    if spec.find_max_qps:
        assert spec.p99_bound_s is not None
        best, tried = find_max_qps(run_at, spec.p99_bound_s, spec.target_qps)
        environment["qps_search"] = [
            {"target_qps": m.target_qps, "achieved_qps": m.achieved_qps,
             "p99_s": m.measurement.stats.p99, "stop_rule": m.stop_rule} for m in tried]
        environment["max_qps_within_bound"] = best
        server = next((m for m in tried if m.target_qps == best), tried[0])
    else:
        server = run_at(spec.target_qps)
    environment["server_target_qps"] = server.target_qps
    return dataclasses.replace(server.measurement, achieved_qps=server.achieved_qps,
                               service_median_s=statistics.median(server.service_samples),
                               service_samples=server.service_samples)

