"""One runnable spec, measured in this process: build, reference, prepare, measure, fidelity,
accuracy. Every outcome, a vendor's exception or Ctrl-C included, comes back as a RunResult.

The executors run it here (``InProcessExecutor``) or in a spawned child (run/child.py).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flagbench.api.contracts import ActualRun, Case, LabelledData, Peak, Session, Vendor, Workload
from flagbench.api.plugins import Registry
from flagbench.api.result import Metric, RunResult, Status
from flagbench.api.spec import RunSpec
from flagbench.measure.generation import GenerationSession
from flagbench.measure.window import LoopProgress
from flagbench.run.generation import (
    fidelity_requests,
    generation_fidelity,
    generation_of,
    prepare_generation,
    reference_generation,
    with_generation_metrics,
)
from flagbench.run.guard import guarded
from flagbench.run.plan import configured, configured_vendor, vendor_option_values
from flagbench.run.progress import Phase, no_phase, utc_now
from flagbench.run.reference import (
    FIDELITY_MIN_SAMPLES,
    FIDELITY_SEED,
    reference_outputs,
    session_fidelity,
)
from flagbench.run.scenario import timed_window
from flagbench.run.serving import is_serving, serve
from flagbench.run.weights import apply_state_dict, file_digest, load_state_dict


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
    from flagbench.run.accuracy import evaluate

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


def execute(registry: Registry, spec: RunSpec, environment: Mapping[str, Any],
            phase: Phase = no_phase, isolation: str = "in process") -> RunResult:
    """Measure a spec the runner found runnable; ``environment`` holds what the runner
    recorded (host, probe versions and devices), ``isolation`` where this process runs."""
    started = utc_now()
    env = dict(environment)
    known = _SoFar()
    result = guarded(spec, started, env,
                     lambda: _measure(registry, spec, started, env, phase, isolation, known))
    if result.status is not Status.OK and (known.actual or known.setup_s is not None):
        # A run that failed after set-up keeps what set-up established: what ran, how long.
        result = dataclasses.replace(result, actual=known.actual, setup_s=known.setup_s)
    return result


@dataclasses.dataclass
class _SoFar:
    """What a run has established so far, for a failed run to keep."""

    actual: ActualRun | None = None
    setup_s: float | None = None


class InProcessExecutor:
    """Measures each spec in the calling process: no start-up cost, no protection from a
    vendor that crashes or hangs (``--no-isolate``)."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def execute(self, spec: RunSpec, environment: Mapping[str, Any],
                phase: Phase = no_phase) -> RunResult:
        """Measure ``spec`` here."""
        return execute(self._registry, spec, environment, phase, "in process")


def _measure(registry: Registry, spec: RunSpec, started: datetime,
             environment: dict[str, Any], phase: Phase, isolation: str,
             known: _SoFar) -> RunResult:
    plugin = registry.vendor(spec.vendor)
    vendor = configured_vendor(plugin, spec.vendor_options)
    if getattr(plugin, "options", None):
        environment["vendor_options"] = vendor_option_values(plugin, spec.vendor_options)
    case = configured(registry.case(spec.case), spec.options)
    if is_serving(case):  # an engine over HTTP: no model here, its requests timed instead
        return serve(vendor, case, spec, started, environment, phase)
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
        reference_outputs(model, fid_inputs, flops_key) if generation is None
        else reference_generation(generation, fid_inputs, flops_key))
    environment["flops"] = {"method": "torch.utils.flop_counter.FlopCounterMode",
                            "source": flops_how}

    phase("prepare", f"preparing on {spec.vendor}")
    workload = Workload(case=case, spec=spec, model=model)
    t0 = clock()
    session: Session = (vendor.prepare(workload) if generation is None
                        else prepare_generation(vendor, generation, spec))
    setup_s = clock() - t0
    known.actual, known.setup_s = session.actual, setup_s
    environment["build_s"] = build_s
    meters = vendor.meters(workload) if hasattr(vendor, "meters") else []
    try:
        loaded = session.load(case.make_inputs(spec.batch_size, spec.seed))

        def loop(p: LoopProgress) -> None:
            phase(p.phase, f"{p.iterations} iterations, {p.elapsed_s:.1f} s")

        phase("warmup", "warming up")
        measurement = timed_window(session, loaded, spec, loop, meters, environment)
        rss = _rss()
        measurement = dataclasses.replace(
            measurement, host_rss_bytes=rss, host_rss_peak_bytes=max(rss, _peak_rss() or 0),
            device_memory_peak_bytes=_call(session, "peak_memory_bytes"),
        )
        phase("fidelity", "checking outputs against the reference")
        if isinstance(session, GenerationSession):
            fidelity, generation_metrics = generation_fidelity(session, fid_inputs, reference)
        else:
            fidelity = session_fidelity(session, case, fid_inputs, reference)
            generation_metrics = ()
        accuracy = _task_accuracy(session, evaluation, spec, phase)
    finally:
        session.close()
    bytes_per_sample, peak = _work(vendor, case, spec, environment)
    environment["clock"] = measurement.clock
    if measurement.interference is not None:
        environment["interference"] = measurement.interference.as_dict()
    environment["isolation"] = isolation
    e = measurement.energy
    environment["energy"] = (
        {"source": e.source, "scope": e.scope, "confidence": e.confidence}
        if e is not None else {"available": False, "reason": measurement.energy_note}
    )
    result = RunResult(
        spec, Status.OK, started, utc_now(),
        measurement=measurement, fidelity=fidelity, actual=session.actual,
        setup_s=setup_s, flops_per_sample=flops or None, environment=environment,
        case_metrics=(*generation_metrics, *accuracy), bytes_per_sample=bytes_per_sample,
        peak=peak,
    )
    if isinstance(session, GenerationSession):
        result = with_generation_metrics(result, session)
    return result
