"""Streamed requests to an OpenAI-compatible server: every figure's definition pinned on a
recorded stream, and the client's timings checked against a scripted server's known ones."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from scripted_sse import Reply, ScriptedServer, completion_chunk, event, steady

from flagbench.measure.stream import Chunk, Slo, StreamRecord, goodput, request_figures
from flagbench.vendors.openai_stream import (
    COUNT_CHUNKS,
    COUNT_LOGPROBS,
    StreamResult,
    chunk_tokens,
    stream_request,
)


def test_a_recorded_stream_pins_every_definition() -> None:
    # Scheduled at 10.0, sent 0.5 s late; a role-only chunk; the first token at 10.8; then a
    # chunk of 3 tokens 0.3 s later and one of 1 token 0.1 s after that; a usage-only chunk.
    record = StreamRecord(scheduled_s=10.0, sent_s=10.5, chunks=(
        Chunk(10.6, 0), Chunk(10.8, 1), Chunk(11.1, 3), Chunk(11.2, 1), Chunk(11.25, 0)),
        asked_tokens=5, usage_tokens=5)
    f = request_figures(record)
    assert f is not None
    assert f.output_tokens == 5
    assert f.ttft_s == pytest.approx(0.3) and f.ttft_from_arrival_s == pytest.approx(0.8)
    assert f.e2e_s == pytest.approx(0.7) and f.e2e_from_arrival_s == pytest.approx(1.2)
    assert f.itl_s == pytest.approx((0.1, 0.1, 0.1, 0.1))  # per token: 0.3 s / 3, then 0.1
    assert f.tpot_s == pytest.approx(0.4 / 4)  # (E2E − TTFT) / (n − 1) = mean ITL
    assert f.tpot_s == pytest.approx(statistics.fmean(f.itl_s))
    assert f.client_delay_s == pytest.approx(0.5)
    # Tokens that come with the first one have no gap; a one-token answer has no TPOT.
    both = request_figures(StreamRecord(0.0, 0.0, (Chunk(0.2, 2), Chunk(0.4, 1))))
    assert both is not None and both.itl_s == pytest.approx((0.0, 0.2))
    one = request_figures(StreamRecord(0.0, 0.0, (Chunk(0.2, 1),)))
    assert one is not None and one.tpot_s is None and one.itl_s == ()
    assert request_figures(StreamRecord(0.0, 0.0, (Chunk(0.2, 1),), error="HTTP 500")) is None
    assert request_figures(StreamRecord(0.0, 0.0, (Chunk(0.2, 0),))) is None


def test_goodput_counts_requests_within_every_bound_from_arrival() -> None:
    fast = request_figures(StreamRecord(0.0, 0.0, (Chunk(0.1, 1), Chunk(0.2, 4))))
    queued = request_figures(StreamRecord(0.0, 0.3, (Chunk(0.4, 1), Chunk(0.5, 4))))
    assert fast is not None and queued is not None
    slo = Slo(ttft_s=0.2, tpot_s=0.05)
    assert slo.met(fast) and not slo.met(queued)  # its TTFT from arrival is 0.4 s
    assert goodput([fast, queued], slo, window_s=2.0) == pytest.approx(0.5)


@pytest.mark.parametrize(("chunk", "expected"), [
    (completion_chunk(["a", "b"]), (2, "ab", True)),
    ({"choices": [{"delta": {"role": "assistant"}}]}, (0, "", False)),
    ({"choices": [{"delta": {"content": "hi"}, "logprobs": {"content": [
        {"token": "h"}, {"token": "i"}]}}]}, (2, "hi", True)),
    ({"choices": [{"text": "x"}]}, (1, "x", False)),
    ({"choices": [], "usage": {"completion_tokens": 7}}, (0, "", False)),
])
def test_tokens_are_counted_per_chunk(chunk: dict[str, Any],
                                      expected: tuple[int, str, bool]) -> None:
    assert chunk_tokens(chunk) == expected


@pytest.fixture
def server() -> Iterator[list[ScriptedServer]]:
    made: list[ScriptedServer] = []
    yield made
    for s in made:
        s.close()


def _streams(url: str, times: int = 1, read_s: float = 5.0) -> list[StreamResult]:
    """``times`` requests one after another on one client (one kept-alive connection)."""
    async def go() -> list[StreamResult]:
        timeout = httpx.Timeout(5.0, read=read_s)
        payload = {"prompt": "x", "max_tokens": 21, "stream": True, "logprobs": 1}
        async with httpx.AsyncClient(timeout=timeout) as client:
            return [await stream_request(client, url + "/v1/completions", payload)
                    for _ in range(times)]
    return asyncio.run(go())


def _stream(url: str, read_s: float = 5.0) -> StreamResult:
    return _streams(url, 1, read_s)[0]


def test_timings_match_a_scripted_server_within_two_percent(
        server: list[ScriptedServer]) -> None:
    # TTFT 400 ms, then a chunk of 2 tokens every 20 ms: 10 ms per token, not 20.
    s = ScriptedServer(lambda request: steady(0.4, 0.02, chunks=10, per_chunk=2))
    server.append(s)
    figures, transit = [], []
    results = _streams(s.url, 4)
    for result, seen in list(zip(results, s.requests, strict=True))[1:]:  # 1st: connecting
        assert result.record.error == "" and result.count == COUNT_LOGPROBS
        f = request_figures(result.record)
        assert f is not None and f.output_tokens == 21
        figures.append(f)
        transit.append(seen["_received_at"] - result.record.sent_s)
    # The script's times run from the request's arrival at the server; the client's TTFT
    # from its send, so the request's way there (one shared monotonic clock) is taken off.
    # A busy machine only ever adds delay, so the least of three requests is held to the
    # script; per-token ITL is a median.
    assert min(f.ttft_s - t for f, t in zip(figures, transit, strict=True)) == pytest.approx(
        0.4, rel=0.02)
    assert min(f.tpot_s or 0 for f in figures) == pytest.approx(0.01, rel=0.02)
    itl = [x for f in figures for x in f.itl_s]
    assert statistics.median(itl) == pytest.approx(0.01, rel=0.02)
    assert s.requests[0]["max_tokens"] == 21


def _reply(*steps: tuple[float, bytes], **kw: Any) -> ScriptedServer:
    return ScriptedServer(lambda request: Reply(list(steps), **kw))


@pytest.mark.parametrize(("reply", "error"), [
    (dict(steps=[(0.0, b'{"error": {"message": "rate limited"}}')], status="429 Too Many",
          content_type="application/json"), "HTTP 429: rate limited"),
    (dict(steps=[(0.0, b"boom")], status="500 Internal Server Error",
          content_type="text/plain"), "HTTP 500: boom"),
    (dict(steps=[(0.0, event(completion_chunk(["a"]))),
                 (0.01, event({"error": {"message": "out of memory"}}))]),
     "error mid-stream: out of memory"),
    (dict(steps=[(0.0, b"data: {not json\n\n")]), "malformed event"),
    (dict(steps=[(0.0, b'{"text": "a plain JSON answer"}')], content_type="application/json"),
     "not a server-sent event stream"),
    (dict(steps=[(0.0, event(completion_chunk(["a"])))], hang_s=3.0), "timed out (ReadTimeout)"),
])
def test_every_failure_is_a_request_error_with_its_reason(
        server: list[ScriptedServer], reply: dict[str, Any], error: str) -> None:
    s = ScriptedServer(lambda request: Reply(**reply))
    server.append(s)
    result = _stream(s.url, read_s=0.3)
    assert result.record.error.startswith(error), result.record.error
    assert request_figures(result.record) is None


def test_pings_role_and_usage_chunks_carry_no_tokens(server: list[ScriptedServer]) -> None:
    s = _reply((0.0, b": ping\n\n"), (0.01, event({"choices": [{"delta": {"role": "a"}}]})),
               (0.02, event({"choices": [{"delta": {"content": "a"}}]})),
               (0.03, event({"choices": [{"delta": {"content": "b"}}]})),
               (0.04, event({"choices": [], "usage": {"completion_tokens": 2}})),
               (0.05, event("[DONE]")))
    server.append(s)
    result = _stream(s.url)
    assert result.record.error == "" and result.text == "ab"
    assert result.count == COUNT_CHUNKS  # no logprobs: one token per chunk with text
    assert [c.tokens for c in result.record.chunks] == [0, 1, 1, 0]
    assert result.record.usage_tokens == 2
