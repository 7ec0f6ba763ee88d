"""Load against a serving endpoint, in the scenarios flagbench speaks: one request at a time
(latency), N requests kept in flight (throughput, a closed loop) or Poisson arrivals at a
target rate (server), until the stopping rule fires.

Every request is a streamed generation timed by ``stream(index, scheduled_s)``; the stopping
rule sees end-to-end latencies, from the scheduled arrival in the server scenario, so a client
that falls behind its schedule shows in the figures instead of hiding (coordinated omission).
When the rule fires no new request is sent and those in flight are waited for (MLPerf
LoadGen drains its queue the same way). The client's own CPU use over the window is kept, so
a run can say when the client, not the server, was the bottleneck.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from flagbench.api.spec import MeasureConfig
from flagbench.measure.server import poisson_arrivals
from flagbench.measure.stream import StreamRecord, request_figures
from flagbench.measure.window import StoppingRule

StreamFn = Callable[[int, float], Coroutine[Any, Any, StreamRecord]]
"""Send request number ``index``, scheduled at ``scheduled_s`` on the clock, and time it."""

#: Stop early when at least this many requests failed and they are half of those sent: the
#: run measures errors, not the server.
MIN_ERRORS_TO_STOP = 5
STOP_ERRORS = "errors"


@dataclass(frozen=True)
class ServingWindow:
    """What one timed window of serving load produced."""

    records: tuple[StreamRecord, ...]
    """Every request of the window, in the order they were sent, failures included."""
    warmup: tuple[StreamRecord, ...]
    window_s: float
    """From the window's start to the last completion."""
    stop_rule: str
    target_qps: float | None
    client_cpu_s: float
    """CPU time the client process used over the window."""


def _cpu_s() -> float:
    import psutil

    t = psutil.Process().cpu_times()
    return float(t.user + t.system)


def _latency(record: StreamRecord, from_arrival: bool) -> float | None:
    f = request_figures(record)
    if f is None:
        return None
    return f.e2e_from_arrival_s if from_arrival else f.e2e_s


class _Tally:
    """Completed requests' latencies for the stopping rule, and the failures."""

    def __init__(self, config: MeasureConfig, from_arrival: bool) -> None:
        self.rule = StoppingRule(config)
        self.latencies: list[float] = []
        self.errors = 0
        self.from_arrival = from_arrival

    def add(self, record: StreamRecord) -> None:
        latency = _latency(record, self.from_arrival)
        if latency is None:
            self.errors += 1
        else:
            self.latencies.append(latency)

    def stop(self, elapsed: float) -> str | None:
        if self.errors >= MIN_ERRORS_TO_STOP and self.errors * 2 >= (
                self.errors + len(self.latencies)):
            return STOP_ERRORS
        return self.rule.check(self.latencies, elapsed)


async def _warm(stream: StreamFn, warmup: int, clock: Callable[[], float]
                ) -> list[StreamRecord]:
    return [await stream(i, clock()) for i in range(warmup)]


async def one_at_a_time(stream: StreamFn, config: MeasureConfig, warmup: int = 1,
                        clock: Callable[[], float] = time.perf_counter) -> ServingWindow:
    """The latency scenario: each request sent when the previous one has ended."""
    warm = await _warm(stream, warmup, clock)
    tally = _Tally(config, from_arrival=False)
    records: list[StreamRecord] = []
    cpu0, start = _cpu_s(), clock()
    while True:
        record = await stream(warmup + len(records), clock())
        records.append(record)
        tally.add(record)
        stop_rule = tally.stop(clock() - start)
        if stop_rule is not None:
            break
    return ServingWindow(tuple(records), tuple(warm), clock() - start, stop_rule, None,
                         _cpu_s() - cpu0)


async def closed_loop(stream: StreamFn, config: MeasureConfig, concurrency: int,
                      warmup: int = 1, clock: Callable[[], float] = time.perf_counter
                      ) -> ServingWindow:
    """The throughput scenario: ``concurrency`` workers, each sending its next request as
    soon as its last one has ended; latencies from each send."""
    warm = await _warm(stream, warmup, clock)
    tally = _Tally(config, from_arrival=False)
    records: list[StreamRecord] = []
    cpu0, start = _cpu_s(), clock()
    stop_rule: str | None = None

    async def worker() -> None:
        nonlocal stop_rule
        while stop_rule is None:
            index = warmup + len(records)
            records.append(StreamRecord(0.0, 0.0, ()))  # its slot, so indices stay unique
            record = await stream(index, clock())
            records[index - warmup] = record
            tally.add(record)
            stop_rule = stop_rule or tally.stop(clock() - start)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    assert stop_rule is not None  # every worker ends only once the rule has fired
    return ServingWindow(tuple(records), tuple(warm), clock() - start, stop_rule, None,
                         _cpu_s() - cpu0)


async def poisson(stream: StreamFn, config: MeasureConfig, qps: float, seed: int = 0,
                  warmup: int = 1, clock: Callable[[], float] = time.perf_counter
                  ) -> ServingWindow:
    """The server scenario: requests sent at seeded Poisson arrivals at ``qps``, whatever
    is still in flight; the window's latencies run from each scheduled arrival."""
    warm = await _warm(stream, warmup, clock)
    tally = _Tally(config, from_arrival=True)
    sent: list[asyncio.Task[StreamRecord]] = []
    cpu0, start = _cpu_s(), clock()
    last_done = start

    def done(task: asyncio.Task[StreamRecord]) -> None:
        nonlocal last_done
        if task.cancelled() or task.exception() is not None:
            tally.errors += 1  # a bug in the endpoint's client: counted, never lost silently
        else:
            tally.add(task.result())
        last_done = max(last_done, clock())

    stop_rule: str | None = None
    for at in poisson_arrivals(qps, seed):
        while True:  # wait for the arrival, checking the rule as completions come in
            stop_rule = tally.stop(clock() - start)
            wait = start + at - clock()
            if stop_rule is not None or wait <= 0:
                break
            await asyncio.sleep(min(wait, 0.05))
        if stop_rule is not None:
            break
        task = asyncio.create_task(stream(warmup + len(sent), start + at))
        task.add_done_callback(done)
        sent.append(task)
    assert stop_rule is not None  # the arrivals never end: only the rule ends the window
    await asyncio.gather(*sent, return_exceptions=True)  # drain what is in flight
    records = [t.result() for t in sent if not t.cancelled() and t.exception() is None]
    return ServingWindow(tuple(records), tuple(warm), max(last_done, clock()) - start
                         if records else clock() - start, stop_rule, qps, _cpu_s() - cpu0)
