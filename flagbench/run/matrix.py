"""The matrix loop: every spec in order through the runner into a sink, and the exit code the
outcome deserves. Ctrl-C stops the matrix after the interrupted run is kept."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from flagbench.api.exit_codes import EXIT_FAILED_RUNS, EXIT_INTERRUPTED, EXIT_OK, EXIT_SPOOLED
from flagbench.api.result import RunResult, Status
from flagbench.api.sink import ResultSink, Written
from flagbench.api.spec import RunSpec
from flagbench.run.runner import Runner

#: (1-based index of the spec, the spec, what it is doing now)
PhaseFn = Callable[[int, RunSpec, str], None]
#: (1-based index, its result, what the sink did with it)
DoneFn = Callable[[int, RunResult, Written], None]


@dataclass
class MatrixOutcome:
    """Every result in order, the ids the sink stored them under, and why any was not."""

    results: list[RunResult] = field(default_factory=list)
    stored_ids: list[int] = field(default_factory=list)
    spool_errors: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        """130 interrupted, else 3 if a run waits in the spool, else 1 if a run failed or
        timed out, else 0."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.spool_errors:
            return EXIT_SPOOLED
        if any(r.status in (Status.FAILED, Status.TIMEOUT) for r in self.results):
            return EXIT_FAILED_RUNS
        return EXIT_OK


def _no_phase(_i: int, _spec: RunSpec, _detail: str) -> None:
    pass


def _no_done(_i: int, _result: RunResult, _written: Written) -> None:
    pass


def run_matrix(specs: Sequence[RunSpec], runner: Runner, sink: ResultSink,
               phase: PhaseFn = _no_phase, done: DoneFn = _no_done) -> MatrixOutcome:
    """Run ``specs`` in order, handing each result to ``sink`` as soon as it exists."""
    outcome = MatrixOutcome()
    for i, spec in enumerate(specs, 1):

        def on_phase(_phase: str, detail: str, i: int = i, spec: RunSpec = spec) -> None:
            phase(i, spec, detail)

        result = runner.run(spec, on_phase)
        outcome.results.append(result)
        written = sink.put(result)
        if written.run_id is not None:
            outcome.stored_ids.append(written.run_id)
        else:
            outcome.spool_errors.append(written.error)
        done(i, result, written)
        if result.status is Status.INTERRUPTED:
            outcome.interrupted = True
            break
    return outcome
