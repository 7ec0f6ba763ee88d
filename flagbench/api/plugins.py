"""Find vendors and cases through entry points; built-ins are found the same way."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import logging
import signal
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from flagbench.api.contracts import CASE_MEMBERS, VENDOR_MEMBERS, Case, Vendor
from flagbench.api.errors import FlagbenchError

log = logging.getLogger(__name__)

VENDOR_GROUP = "flagbench.vendors"
CASE_GROUP = "flagbench.cases"
_MEMBERS = {VENDOR_GROUP: VENDOR_MEMBERS, CASE_GROUP: CASE_MEMBERS}
_KIND = {VENDOR_GROUP: "vendor", CASE_GROUP: "case"}


@dataclass(frozen=True)
class Plugin:
    """One discovered entry point: the loaded object, or why it could not be loaded."""

    group: str
    name: str
    target: str
    distribution: str
    obj: Any = None
    error: str | None = None

    @property
    def broken(self) -> bool:
        """True when the plugin failed to import or does not fit its contract."""
        return self.error is not None

    @property
    def description(self) -> str:
        """The plugin's own one-line description, or its error."""
        if self.error is not None:
            return self.error
        return str(getattr(self.obj, "description", ""))


#: How long one plugin may take to import and build its object. Generous: a plugin that
#: imports a framework at module level (TensorFlow, a vendor SDK) can take tens of seconds on
#: a busy host; past this it is taken for hung and listed as broken, and the rest still load.
LOAD_TIMEOUT_S = 120.0


class _LoadTimeout(BaseException):
    """Raised into a plugin's import when it overruns: a BaseException, so the plugin's own
    ``except Exception`` cannot swallow it."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` with _LoadTimeout (SIGALRM). Where no alarm is
    available (not the main thread, no SIGALRM, an alarm already set by someone else) the
    block runs unbounded: a hang there is the user's Ctrl-C, as before."""
    usable = (hasattr(signal, "setitimer") and signal.getitimer(signal.ITIMER_REAL)[0] == 0
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def overrun(_signum: int, _frame: Any) -> None:
        raise _LoadTimeout

    previous = signal.signal(signal.SIGALRM, overrun)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _load(group: str, ep: EntryPoint) -> Plugin:
    found_in = getattr(ep, "dist", None)
    dist = found_in.name if found_in is not None else "?"
    base = {"group": group, "name": ep.name, "target": ep.value, "distribution": dist}
    try:
        with _time_limit(LOAD_TIMEOUT_S):
            factory = ep.load()
            obj = factory()
    except KeyboardInterrupt:
        raise  # the user's, not the plugin's
    except _LoadTimeout:
        return Plugin(**base, error=f"failed to load: still loading after {LOAD_TIMEOUT_S:g} s")
    except BaseException as exc:  # SystemExit included: a plugin must never end the CLI
        log.debug("plugin %s failed to load", ep.name, exc_info=True)
        return Plugin(**base, error=f"failed to load: {type(exc).__name__}: {exc}")
    missing = [m for m in _MEMBERS[group] if not hasattr(obj, m)]
    if missing:
        return Plugin(**base, error=f"not a {_KIND[group]}: missing {', '.join(missing)}")
    if getattr(obj, "name", None) != ep.name:
        return Plugin(
            **base, error=f"entry point {ep.name!r} names a plugin called {obj.name!r}"
        )
    return Plugin(**base, obj=obj)


def _collect(group: str, eps: Iterable[EntryPoint]) -> dict[str, Plugin]:
    found: dict[str, Plugin] = {}
    for ep in sorted(eps, key=lambda e: e.name):
        plugin = _load(group, ep)
        if plugin.name in found:
            other = found[plugin.name]
            found[plugin.name] = Plugin(
                group, plugin.name, plugin.target, plugin.distribution,
                error=f"name clash: {other.target} ({other.distribution}) and "
                f"{plugin.target} ({plugin.distribution})",
            )
            continue
        found[plugin.name] = plugin
    return found


class Registry:
    """The vendors and cases installed in this environment."""

    def __init__(self, vendors: dict[str, Plugin], cases: dict[str, Plugin]) -> None:
        self.vendors = vendors
        self.cases = cases

    @classmethod
    def discover(cls) -> Registry:
        """Load every entry point in both groups, keeping broken ones with their errors."""
        return cls(
            _collect(VENDOR_GROUP, entry_points(group=VENDOR_GROUP)),
            _collect(CASE_GROUP, entry_points(group=CASE_GROUP)),
        )

    def probe_all(self) -> dict[str, dict[str, Any]]:
        """Every vendor's probe as plain data, broken plugins and misbehaving probes included."""
        result: dict[str, dict[str, Any]] = {}
        for name, plugin in sorted(self.vendors.items()):
            if plugin.broken:
                result[name] = {"available": False, "reason": f"broken plugin: {plugin.error}"}
                continue
            try:
                result[name] = dataclasses.asdict(plugin.obj.probe())
            except Exception as exc:  # the contract says never raise; say so if one does
                why = f"probe raised {type(exc).__name__}: {exc}"
                result[name] = {"available": False, "reason": why}
        return result

    def vendor(self, name: str) -> Vendor:
        """The working vendor called ``name``, or a FlagbenchError that suggests names."""
        obj: Vendor = _lookup(self.vendors, name, "vendor")
        return obj

    def case(self, name: str) -> Case:
        """The working case called ``name``, or a FlagbenchError that suggests names."""
        obj: Case = _lookup(self.cases, name, "case")
        return obj


def _lookup(plugins: dict[str, Plugin], name: str, kind: str) -> Any:
    plugin = plugins.get(name)
    if plugin is None:
        close = difflib.get_close_matches(name, list(plugins), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        known = ", ".join(sorted(plugins)) or "none installed"
        raise FlagbenchError(f"unknown {kind} {name!r}{hint} (known: {known})")
    if plugin.broken:
        raise FlagbenchError(f"{kind} {name!r} is broken: {plugin.error}")
    return plugin.obj
