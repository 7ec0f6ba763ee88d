"""The entry point of a run's child process (spawned by run/isolation.py, which it never
imports): discover the plugins once, measure, send the result back over the pipe."""

from __future__ import annotations

import signal
from collections.abc import Mapping
from typing import Any

from flagbench.api.plugins import Registry
from flagbench.api.spec import RunSpec
from flagbench.run.execute import execute


def child_main(spec: RunSpec, environment: Mapping[str, Any], conn: Any) -> None:
    """Measure ``spec`` and send ``("result", RunResult)``; progress goes over the same pipe as
    ``("phase", name, detail)``. ``environment`` is what the parent recorded when it probed,
    so the child neither probes again nor gathers the host's facts twice."""
    # The parent owns Ctrl-C: it stores the interrupted run and stops this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def phase(name: str, detail: str) -> None:
        conn.send(("phase", name, detail))

    result = execute(Registry.discover(), spec, environment, phase, "child process")
    conn.send(("result", result))
    conn.close()
