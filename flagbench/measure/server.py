"""MLPerf's server scenario: requests arrive as a Poisson process and queue for one worker.

Single-stream latency hides queueing: a system can be fast per batch and still miss a latency
bound once requests arrive at random. Here each request's latency runs from its scheduled
arrival to its completion, so time spent waiting in the queue counts, as it does for a user.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from flagbench.api.contracts import Session
from flagbench.api.energy import EnergyMeter
from flagbench.api.errors import FlagbenchError
from flagbench.api.measurement import MIN_TAIL_SAMPLES, Measurement
from flagbench.api.spec import MeasureConfig
from flagbench.measure.window import (
    CLOCK_HOST,
    Clock,
    ProgressFn,
    StoppingRule,
    TimedWindow,
    no_progress,
)

#: The queue grew without bound; the run stopped early and its rate is not sustainable.
STOP_OVERLOADED = "overloaded"

log = logging.getLogger(__name__)

# Linux wakes a sleeper ~0.05-0.1 ms late (timer slack), more on a busy host; spinning the
# last millisecond keeps that out of the latencies and costs at most 1 ms of a core per request.
_SPIN_S = 0.001
# Ten seconds of arrivals waiting: no latency bound worth asking survives that queue. The floor
# of 100 keeps a random burst at a low rate from counting as overload.
_BACKLOG_S = 10.0
_MIN_BACKLOG = 100
# A request that has waited half the longest window means the run measures the queue's growth,
# not the system; stopping there saves the other half.
_MAX_WAIT_SHARE = 0.5


@dataclass(frozen=True)
class ServerMeasurement:
    """One server-scenario run: arrival-to-completion latencies and the rate actually served."""

    measurement: Measurement
    """Its samples are arrival-to-completion latencies (queueing included), host clock."""
    service_samples: tuple[float, ...]
    """Run + synchronize time of each request, in the same order as the latencies."""
    target_qps: float
    achieved_qps: float
    """Completed requests per second of the scheduled window."""
    stop_rule: str
    seed: int = 0
    """Seed of the arrival schedule: the same seed replays the same arrivals."""

    def __post_init__(self) -> None:
        if not (self.target_qps > 0 and math.isfinite(self.target_qps)):
            raise ValueError(f"target rate must be positive and finite, got {self.target_qps!r}")
        if not (self.achieved_qps > 0 and math.isfinite(self.achieved_qps)):
            raise ValueError(f"achieved rate must be positive, got {self.achieved_qps!r}")
        if len(self.service_samples) != len(self.measurement.samples):
            raise ValueError("every request needs a service time and a latency")
        if any(not 0 < s <= lat for s, lat in zip(self.service_samples,
                                                  self.measurement.samples, strict=True)):
            raise ValueError("service times must be positive and within their latencies")
        if self.stop_rule != self.measurement.stop_rule:
            raise ValueError("stop rule disagrees with the measurement's")


def poisson_arrivals(qps: float, seed: int = 0) -> Iterator[float]:
    """Arrival times (seconds from the window's start) of a Poisson process at ``qps``.

    Gaps are exponential draws from ``random.Random(seed)``: the same seed gives the same
    schedule, so two systems (or two runs) face identical traffic.
    """
    if not (qps > 0 and math.isfinite(qps)):
        raise FlagbenchError(f"request rate must be positive and finite, got {qps!r}")
    rng = random.Random(seed)
    t = 0.0
    while True:
        t += rng.expovariate(qps)
        yield t


def _wait_until(deadline: float) -> None:
    """Sleep until just before ``deadline``, then spin the rest (at most ``_SPIN_S``)."""
    remaining = deadline - time.perf_counter()
    if remaining > _SPIN_S:
        time.sleep(remaining - _SPIN_S)
    while time.perf_counter() < deadline:
        pass


def measure_server(
    session: Session, loaded: Any, config: MeasureConfig, target_qps: float, seed: int = 0,
    progress: ProgressFn = no_progress, meters: Sequence[EnergyMeter] = (),
    clock: Clock = time.perf_counter, wait_until: Callable[[float], None] = _wait_until,
) -> ServerMeasurement:
    """Serve Poisson arrivals at ``target_qps`` with one worker, in arrival order.

    Stops like ``measure_latency`` (minimum time and count, then the median's CI target, at
    the latest ``max_time_s`` or ``max_iters``), or early as ``"overloaded"`` once the backlog
    exceeds max(100, 10 s of arrivals) or its oldest request has waited half of ``max_time_s``.
    When the rule stops it, the requests that had arrived by then are served (drained) and
    counted; an overloaded run is not drained (its queue is the finding). ``clock`` and
    ``wait_until`` (sleep, then spin, until a time on that clock) are injectable so that
    tests can serve a scripted session on simulated time.
    """
    arrivals = poisson_arrivals(target_qps, seed)
    run, sync = session.run, session.synchronize
    window = TimedWindow(session, loaded, config, progress, meters, clock)
    max_backlog = max(_MIN_BACKLOG, _BACKLOG_S * target_qps)
    max_wait = _MAX_WAIT_SHARE * config.max_time_s

    latencies: list[float] = []
    services: list[float] = []
    rule = StoppingRule(config)
    start = window.open()
    # Arrived-but-unserved requests, plus the next future arrival as the last entry.
    pending = deque([start + next(arrivals)])

    def serve(arrival: float) -> float:
        """One request: its service and latency recorded; the time it completed."""
        t = clock()
        run(loaded)
        sync()
        done = clock()
        services.append(done - t)
        latencies.append(done - arrival)
        return done

    def arrived_by(now: float) -> None:
        """Extend ``pending`` with every arrival up to ``now``, and the next one after it."""
        if not pending:
            pending.append(start + next(arrivals))
        while pending[-1] <= now:
            pending.append(start + next(arrivals))

    while True:
        arrival = pending.popleft()
        wait_until(arrival)
        done = serve(arrival)
        stop = rule.check(latencies, done - start)
        if stop is not None:
            stop_rule = stop
            # Drain, as MLPerf's LoadGen does: the requests that had arrived when the rule
            # fired are served and counted. Dropping them would drop the ones that waited
            # longest, and bias the tail low exactly when a queue had formed.
            arrived_by(done)
            for waiting in list(pending)[:-1]:
                serve(waiting)
            break
        arrived_by(done)
        backlog = len(pending) - 1
        if backlog > max_backlog or (backlog and done - pending[0] > max_wait):
            stop_rule = STOP_OVERLOADED
            break
        window.tick(done, len(latencies))
    measurement = window.close(latencies, stop_rule, CLOCK_HOST)
    return ServerMeasurement(measurement, tuple(services), target_qps,
                             len(latencies) / measurement.loop_s, stop_rule, seed)


def find_max_qps(
    run_at: Callable[[float], ServerMeasurement], p99_bound_s: float, start_qps: float,
    max_steps: int = 8,
) -> tuple[float, list[ServerMeasurement]]:
    """The highest rate whose p99 latency meets the bound, with every measurement made.

    Doubles from ``start_qps`` until a rate fails, then bisects between the last good and
    first bad rate for the remaining steps. An overloaded run fails whatever its p99, since
    the requests it never served would have missed the bound, and so does one of fewer than
    ``MIN_TAIL_SAMPLES`` requests, whose p99 says nothing reliable. 0.0 if ``start_qps`` fails.
    """
    if not (p99_bound_s > 0 and math.isfinite(p99_bound_s)):
        raise FlagbenchError(f"p99 bound must be positive and finite, got {p99_bound_s!r}")
    if not (start_qps > 0 and math.isfinite(start_qps)):
        raise FlagbenchError(f"start rate must be positive and finite, got {start_qps!r}")
    if max_steps < 1:
        raise FlagbenchError(f"the search needs at least one step, got {max_steps}")
    runs: list[ServerMeasurement] = []
    good, bad = 0.0, math.inf
    for _ in range(max_steps):
        qps = start_qps if not runs else (good * 2 if bad == math.inf else (good + bad) / 2)
        m = run_at(qps)
        runs.append(m)
        stats = m.measurement.stats
        if (m.stop_rule != STOP_OVERLOADED and stats.n >= MIN_TAIL_SAMPLES
                and stats.p99 <= p99_bound_s):
            good = qps
        elif good == 0.0:
            break  # not even the starting rate holds the bound
        else:
            bad = qps
    return good, runs
