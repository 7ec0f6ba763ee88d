"""The entry point of a run's child process (spawned by run/isolation.py, which it never
imports): discover the plugins once, measure, send the result back over the pipe."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from typing import Any

from flagbench.api.plugins import Registry
from flagbench.api.spec import RunSpec
from flagbench.run.execute import execute


class _ParentGone(BaseException):
    """The parent stopped listening (it was killed, or it is exiting): nobody wants the
    result any more. A BaseException, so a vendor's ``except Exception`` cannot keep it."""


def _quiet_stdout() -> None:
    # The child shows nothing itself (the parent owns the terminal), and the stdout it
    # inherits may be a pipe whose reader has gone (`flagbench run | head`): a plugin's print,
    # or a C library writing to descriptor 1, must not end the run with a broken pipe.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def child_main(spec: RunSpec, environment: Mapping[str, Any], conn: Any) -> None:
    """Measure ``spec`` and send ``("result", RunResult)``; progress goes over the same pipe as
    ``("phase", name, detail)``. ``environment`` is what the parent recorded when it probed,
    so the child neither probes again nor gathers the host's facts twice."""
    # The parent owns Ctrl-C: it stores the interrupted run and stops this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _quiet_stdout()

    def send(message: tuple[Any, ...]) -> None:
        try:
            conn.send(message)
        except OSError:  # a broken pipe or a reset: the parent is gone
            raise _ParentGone from None

    def phase(name: str, detail: str) -> None:
        send(("phase", name, detail))

    try:
        result = execute(Registry.discover(), spec, environment, phase, "child process")
        send(("result", result))
        conn.close()
    except _ParentGone:
        os._exit(0)  # quietly: no traceback to a terminal nobody reads, no cleanup to wait on
