"""Runs specs one after another: probes each vendor once, skips what cannot run here, and hands
the rest to an executor (in this process, or one child process per run)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from flagbench.api.contracts import OptionValue, Probe
from flagbench.api.plugins import Registry
from flagbench.api.result import RunResult, Status
from flagbench.api.spec import RunSpec
from flagbench.run.environment import host_facts
from flagbench.run.execute import InProcessExecutor
from flagbench.run.guard import ended, guarded
from flagbench.run.plan import configured_vendor
from flagbench.run.progress import Phase, no_phase, utc_now


class Executor(Protocol):
    """Where a runnable spec is measured: ``InProcessExecutor`` (run/execute.py) or
    ``ChildProcessExecutor`` (run/isolation.py)."""

    def execute(self, spec: RunSpec, environment: Mapping[str, Any],
                phase: Phase = ...) -> RunResult:
        """Measure ``spec``; every outcome, a crash or a timeout included, as a RunResult."""


class Runner:
    """Runs specs one after another, probing each vendor once.

    Probing and skipping stay in this process, so a skip costs no start-up; what can run goes
    to the executor (by default ``InProcessExecutor``).
    """

    def __init__(self, registry: Registry, executor: Executor | None = None) -> None:
        self._registry = registry
        self._executor: Executor = executor or InProcessExecutor(registry)
        self._probes: dict[tuple[str, tuple[tuple[str, OptionValue], ...]], Probe] = {}

    def probe(self, vendor_name: str,
              options: tuple[tuple[str, OptionValue], ...] = ()) -> Probe:
        """The probe of the vendor under ``options`` (a device index changes what it finds),
        cached for the life of the runner."""
        key = (vendor_name, options)
        if key not in self._probes:
            vendor = configured_vendor(self._registry.vendor(vendor_name), options)
            self._probes[key] = vendor.probe()
        return self._probes[key]

    def run(self, spec: RunSpec, phase: Phase = no_phase) -> RunResult:
        """Run one spec; every outcome comes back as a RunResult, Ctrl-C as ``interrupted``."""
        started = utc_now()
        environment: dict[str, Any] = {"host": host_facts()}

        def attempt() -> RunResult:
            probe = self.probe(spec.vendor, spec.vendor_options)
            environment["versions"] = dict(probe.versions)
            environment["devices"] = list(probe.devices)
            if not probe.available:
                return ended(spec, started, environment, Status.SKIPPED, probe.reason)
            if spec.precision not in probe.precisions:
                why = probe.unsupported.get(spec.precision) or (
                    f"offers {', '.join(probe.precisions) or 'no precision'} here"
                )
                return ended(spec, started, environment, Status.SKIPPED,
                             f"{spec.vendor} cannot run {spec.precision}: {why}")
            return self._executor.execute(spec, environment, phase)

        return guarded(spec, started, environment, attempt)

