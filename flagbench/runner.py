"""Carry out one RunSpec: probe, build, reference, prepare, measure, check fidelity."""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from flagbench.contracts import Case, LabelledData, Peak, Probe, Session, Vendor, Workload
from flagbench.energy import EnergyMeter
from flagbench.environment import host_facts
from flagbench.errors import FlagbenchError
from flagbench.fidelity import Fidelity, compare_outputs
from flagbench.generation import (
    GenerationSession,
    fidelity_requests,
    generation_fidelity,
    generation_of,
    prepare_generation,
    reference_generation,
    with_generation_metrics,
)
from flagbench.measure import LoopProgress, measure_latency
from flagbench.plan import configured
from flagbench.plugins import Registry
from flagbench.result import Measurement, Metric, RunResult, Status
from flagbench.spec import RunSpec
from flagbench.weights import apply_state_dict, file_digest, load_state_dict

if TYPE_CHECKING:
    import numpy as np
    import torch

    from flagbench.scenarios import ServerMeasurement

log = logging.getLogger(__name__)

#: Seed of the fidelity inputs: fixed, and apart from the timing inputs' seed.
FIDELITY_SEED = 10_000
#: Fidelity compares at least this many samples (several batches when the batch is small),
#: so that top-1 agreement is a fraction and not a coin toss.
FIDELITY_MIN_SAMPLES = 8

Phase = Callable[[str, str], None]


def _quiet(_phase: str, _detail: str) -> None:
    pass


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _as_arrays(outputs: Any) -> list[np.ndarray]:
    import torch

    items = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
    return [t.detach().to("cpu", torch.float32).numpy() for t in items]


def _concat(batches: Sequence[list[np.ndarray]]) -> list[np.ndarray]:
    import numpy as np

    return [np.concatenate([b[i] for b in batches]) for i in range(len(batches[0]))]


def _reference(
    model: torch.nn.Module, inputs: Sequence[tuple[torch.Tensor, ...]], key: Mapping[str, Any]
) -> tuple[list[np.ndarray], float, str]:
    """Float32 CPU outputs of the untouched model, FLOPs per sample counted by torch (cached
    under ``key`` and the model's structure, see flops.py) and how the count was obtained."""
    import torch

    from flagbench.flops import counted, structure_digest

    first, *rest = inputs
    with torch.inference_mode():
        key = {**key, "structure": structure_digest([model], first)}
        out, flops, how = counted(key, lambda: _as_arrays(model(*first)))
        outs = [out, *(_as_arrays(model(*batch)) for batch in rest)]
    return _concat(outs), flops / first[0].shape[0], how


def _fidelity(
    session: Session, case: Case, inputs: Sequence[tuple[torch.Tensor, ...]],
    reference: list[np.ndarray],
) -> Fidelity:
    outs = []
    for batch in inputs:
        result = session.run(session.load(batch))
        session.synchronize()
        outs.append(session.to_numpy(result))
    return compare_outputs(reference, _concat(outs), classification=case.task == "classification")


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _peak_rss() -> int | None:
    """The process's peak RSS (kernel-sampled, so it can trail the current RSS by a few
    pages); in an isolated run that is the run's own peak."""
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # KiB on Linux


def _call(obj: object, method: str) -> Any:
    """Call an optional contract method, or None where the plugin does not have it."""
    fn = getattr(obj, method, None)
    return fn() if callable(fn) else None


def _evaluation(case: Case, spec: RunSpec, environment: dict[str, Any]) -> LabelledData | None:
    """The case's labelled evaluation set for this run, recorded in the environment."""
    evaluation = getattr(case, "evaluation", None)
    data: LabelledData | None = evaluation(spec.data) if callable(evaluation) else None
    if data is not None:
        environment["accuracy"] = {"dataset": data.name, "source": data.source,
                                   "samples": data.samples, **data.details}
    return data


def _task_accuracy(session: Session, data: LabelledData | None, spec: RunSpec,
                   phase: Phase) -> tuple[Metric, ...]:
    """Top-k accuracy of the session over the evaluation set, as case metrics."""
    if data is None:
        return ()
    from flagbench.accuracy import evaluate

    def progress(done: int, total: int) -> None:
        phase("accuracy", f"task accuracy, {done}/{total} samples")

    phase("accuracy", f"task accuracy on {data.name}")
    return evaluate(session, data, spec.batch_size, progress).metrics()


def _work(vendor: Vendor, case: Case, spec: RunSpec, environment: dict[str, Any]
          ) -> tuple[float | None, Peak | None]:
    """Bytes moved per sample (where the case says) and the vendor's declared peak."""
    bytes_moved = getattr(case, "bytes_moved", None)
    moved: float | None = bytes_moved(spec.precision) if callable(bytes_moved) else None
    peak_of = getattr(vendor, "peak", None)
    peak: Peak | None = peak_of(spec.precision) if callable(peak_of) else None
    if peak is not None:
        environment["peak"] = {"flops_per_s": peak.flops_per_s, "bytes_per_s": peak.bytes_per_s,
                               "source": peak.source, "confidence": peak.confidence}
    probe = getattr(case, "peak_probe", None)
    if probe:
        environment["peak_probe"] = probe
    return moved, peak


def _in_child() -> bool:
    import multiprocessing

    return multiprocessing.parent_process() is not None


class Runner:
    """Runs specs one after another, probing each vendor once.

    With ``isolate``, each run that can happen is measured in its own child process under
    ``timeout_s``; probing and skipping stay in this process, so a skip costs no start-up.
    """

    def __init__(self, registry: Registry, isolate: bool = False,
                 timeout_s: float = 600.0) -> None:
        if timeout_s <= 0:
            raise FlagbenchError(f"timeout must be above 0 s, got {timeout_s:g}")
        self._registry = registry
        self._isolate = isolate
        self._timeout_s = timeout_s
        self._probes: dict[str, Probe] = {}

    def probe(self, vendor_name: str) -> Probe:
        """The vendor's probe, cached for the life of the runner."""
        if vendor_name not in self._probes:
            self._probes[vendor_name] = self._registry.vendor(vendor_name).probe()
        return self._probes[vendor_name]

    def run(self, spec: RunSpec, phase: Phase = _quiet) -> RunResult:
        """Run one spec; every outcome comes back as a RunResult, Ctrl-C as ``interrupted``."""
        started = _now()
        environment: dict[str, Any] = {"host": host_facts()}

        def ended(status: Status, reason: str) -> RunResult:
            return RunResult(spec, status, started, _now(), reason=reason,
                             environment=environment)

        try:
            probe = self.probe(spec.vendor)
            environment["versions"] = dict(probe.versions)
            environment["devices"] = list(probe.devices)
            if not probe.available:
                return ended(Status.SKIPPED, probe.reason)
            if spec.precision not in probe.precisions:
                why = probe.unsupported.get(spec.precision) or (
                    f"offers {', '.join(probe.precisions) or 'no precision'} here"
                )
                return ended(Status.SKIPPED, f"{spec.vendor} cannot run {spec.precision}: {why}")
            if self._isolate:
                from flagbench.isolation import run_in_child

                return run_in_child(spec, self._timeout_s, phase, environment)
            return self._measure(spec, probe, started, environment, phase)
        except FlagbenchError as exc:
            return ended(Status.FAILED, str(exc))
        except Exception as exc:  # a vendor's bug becomes a failed run, the matrix goes on
            log.debug("run %s failed", spec.label, exc_info=True)
            return ended(Status.FAILED, f"{type(exc).__name__}: {exc}".splitlines()[0])
        except KeyboardInterrupt:
            return ended(Status.INTERRUPTED, "interrupted by the user (Ctrl-C)")

    @staticmethod
    def _timed(session: Session, loaded: Any, spec: RunSpec,
               loop: Callable[[LoopProgress], None], meters: Sequence[EnergyMeter],
               environment: dict[str, Any]) -> Measurement:
        """The scenario's timed window: back-to-back batches, or Poisson arrivals (server).

        A max-QPS search keeps the measurement at the best rate found and records every
        rate tried in the environment, so the search itself can be checked."""
        if spec.scenario != "server":
            return measure_latency(session, loaded, spec.measure, loop, meters)
        import statistics

        from flagbench.scenarios import find_max_qps, measure_server

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
                                   service_median_s=statistics.median(server.service_samples))

    def _measure(self, spec: RunSpec, probe: Probe, started: datetime,
                 environment: dict[str, Any], phase: Phase) -> RunResult:
        vendor = self._registry.vendor(spec.vendor)
        case = configured(self._registry.case(spec.case), spec.options)
        clock = time.perf_counter

        phase("build", "building the model")
        t0 = clock()
        model = case.build_model()
        if spec.weights:
            apply_state_dict(model, load_state_dict(spec.weights), spec.weights)
            environment["weights"] = {"path": spec.weights, "sha256": file_digest(spec.weights)}
        else:
            environment["weights"] = {"path": None,
                                      "note": getattr(case, "weights_note", "random, seeded")}
        build_s = clock() - t0
        evaluation = _evaluation(case, spec, environment)

        # An autoregressive case runs as whole generations over two sessions (generation.py).
        generation = generation_of(case, model)

        phase("reference", "float32 CPU reference")
        # A generation's fidelity samples are its token positions: a few requests suffice.
        samples = FIDELITY_MIN_SAMPLES if generation is None else fidelity_requests(generation)
        batches = math.ceil(samples / spec.batch_size)
        fid_inputs = [case.make_inputs(spec.batch_size, FIDELITY_SEED + i) for i in range(batches)]
        # The weights' digest too, for a model whose path depends on its weights (routing).
        flops_key = {"case": case.name, "options": [list(kv) for kv in spec.options],
                     "weights": environment["weights"].get("sha256")}
        reference, flops, flops_how = (
            _reference(model, fid_inputs, flops_key) if generation is None
            else reference_generation(generation, fid_inputs, flops_key))
        environment["flops"] = {"method": "torch.utils.flop_counter.FlopCounterMode",
                                "source": flops_how}

        phase("prepare", f"preparing on {spec.vendor}")
        workload = Workload(case=case, spec=spec, model=model)
        t0 = clock()
        session: Session = (vendor.prepare(workload) if generation is None
                            else prepare_generation(vendor, generation, spec))
        setup_s = clock() - t0
        environment["build_s"] = build_s
        meters = vendor.meters(workload) if hasattr(vendor, "meters") else []
        try:
            loaded = session.load(case.make_inputs(spec.batch_size, spec.seed))

            def loop(p: LoopProgress) -> None:
                phase(p.phase, f"{p.iterations} iterations, {p.elapsed_s:.1f} s")

            phase("warmup", "warming up")
            measurement = self._timed(session, loaded, spec, loop, meters, environment)
            rss = _rss()
            measurement = dataclasses.replace(
                measurement, host_rss_bytes=rss, host_rss_peak_bytes=max(rss, _peak_rss() or 0),
                device_memory_peak_bytes=_call(session, "peak_memory_bytes"),
            )
            phase("fidelity", "checking outputs against the reference")
            if isinstance(session, GenerationSession):
                fidelity, generation_metrics = generation_fidelity(session, fid_inputs, reference)
            else:
                fidelity = _fidelity(session, case, fid_inputs, reference)
                generation_metrics = ()
            accuracy = _task_accuracy(session, evaluation, spec, phase)
        finally:
            session.close()
        bytes_per_sample, peak = _work(vendor, case, spec, environment)
        environment["clock"] = measurement.clock
        if measurement.interference is not None:
            environment["interference"] = measurement.interference.as_dict()
        environment["isolation"] = "child process" if _in_child() else "in process"
        e = measurement.energy
        environment["energy"] = (
            {"source": e.source, "scope": e.scope, "confidence": e.confidence}
            if e is not None else {"available": False, "reason": measurement.energy_note}
        )
        result = RunResult(
            spec, Status.OK, started, _now(),
            measurement=measurement, fidelity=fidelity, actual=session.actual,
            setup_s=setup_s, flops_per_sample=flops or None, environment=environment,
            case_metrics=(*generation_metrics, *accuracy), bytes_per_sample=bytes_per_sample,
            peak=peak,
        )
        if isinstance(session, GenerationSession):
            result = with_generation_metrics(result, session)
        return result
