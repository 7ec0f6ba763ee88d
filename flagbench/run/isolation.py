"""Run one spec in a child process with a time limit.

A segfault, a hang or an out-of-memory kill inside a vendor library then ends only that run,
as a failed or timeout result, and the matrix goes on. The parent blocks on the pipe (a
``select`` with a timeout) while it waits: it never spins, so it takes no CPU from the
measured child.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from flagbench.api.limits import check_seconds
from flagbench.api.result import RunResult, Status
from flagbench.api.spec import RunSpec
from flagbench.run.child import child_main
from flagbench.run.progress import Phase, no_phase, utc_now

#: How long a child gets to exit after its result arrived, or after it was told to stop.
_GRACE_S = 10.0


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "the run's process did not exit"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"the run's process was killed by {name}{hint}"
    return f"the run's process exited with code {code} without a result"


class ChildProcessExecutor:
    """Measures each spec in its own spawned process under a time limit (the default)."""

    def __init__(self, timeout_s: float = 600.0) -> None:
        self.timeout_s = check_seconds(timeout_s, "timeout", positive=True)

    def execute(self, spec: RunSpec, environment: Mapping[str, Any],
                phase: Phase = no_phase) -> RunResult:
        """Measure ``spec`` in a child; its death, overrun or Ctrl-C becomes the result."""
        return run_in_child(spec, self.timeout_s, phase, environment)


def run_in_child(spec: RunSpec, timeout_s: float, phase: Phase,
                 environment: Mapping[str, Any]) -> RunResult:
    """Run ``spec`` in a fresh (spawned) process; failed, timeout or interrupted if it dies.

    ``environment`` is recorded with a run that ends without a result from the child.
    """
    started = utc_now()

    def ended(status: Status, reason: str) -> RunResult:
        return RunResult(spec, status, started, utc_now(), reason=reason,
                         environment={**environment, "isolation": "child process"})

    # spawn, not fork: forking a process that has started torch's or ONNX Runtime's thread
    # pools can deadlock the child.
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=child_main, args=(spec, dict(environment), sender),
                          name=f"flagbench {spec.label}")
    # The time limit runs on the monotonic clock: a wall-clock step (NTP) must not cut a run
    # short or let a hang run on.
    deadline = time.monotonic() + timeout_s
    try:
        with _ctrl_c_deferred():
            process.start()
        sender.close()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not receiver.poll(remaining):
                process.kill()
                process.join(_GRACE_S)
                return ended(Status.TIMEOUT, f"no result within the {timeout_s:g} s time limit")
            try:
                message = receiver.recv()
            except (EOFError, OSError):
                process.join(_GRACE_S)
                return ended(Status.FAILED, _describe_exit(process.exitcode))
            if message[0] == "phase":
                phase(message[1], message[2])
                continue
            result: RunResult = message[1]
            process.join(_GRACE_S)
            if process.is_alive():
                process.kill()
            return result
    except KeyboardInterrupt:
        if process.pid is not None:
            process.kill()
            process.join(_GRACE_S)
        return ended(Status.INTERRUPTED, "interrupted by the user (Ctrl-C)")
    finally:
        sender.close()
        receiver.close()


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Hold Ctrl-C until the block is done: one arriving halfway through starting the child
    would leave a process that the parent neither kills nor knows, and that multiprocessing
    then waits for at exit (forever, when the run hangs)."""
    block = getattr(signal, "pthread_sigmask", None)
    if block is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = block(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        block(signal.SIG_SETMASK, old)  # a held Ctrl-C is delivered here
