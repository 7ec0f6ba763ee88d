"""One streamed request to an OpenAI-compatible server (``/v1/completions`` or
``/v1/chat/completions`` with ``stream: true``), timed chunk by chunk.

Tokens are counted per chunk from the chunk itself: ``logprobs`` lists each token it carries
(asked for with ``logprobs``), so a chunk of several tokens counts as several, with no
tokenizer on the client (re-tokenising text with another model's tokenizer miscounts).
Where a server sends no logprobs, each chunk with text counts as one token and the record
says so (``count``); ``usage`` (``stream_options.include_usage``) is kept beside it for the
check. The stream is read with httpx, its events parsed by httpx-sse (comments such as
``: ping`` are skipped there).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import SSEError, aconnect_sse

from flagbench.measure.stream import Chunk, StreamRecord

#: How tokens were counted: from each chunk's logprobs (exact), or one per chunk with text.
COUNT_LOGPROBS = "logprobs"
COUNT_CHUNKS = "one per chunk"


@dataclass(frozen=True)
class StreamResult:
    """A timed stream and how its tokens were counted."""

    record: StreamRecord
    count: str
    text: str


def chunk_tokens(event: Mapping[str, Any]) -> tuple[int, str, bool]:
    """(tokens, text, counted from logprobs) of one parsed chunk, completions or chat."""
    choices = event.get("choices") or []
    if not choices:
        return 0, "", False  # a usage-only chunk
    choice = choices[0]
    delta = choice.get("delta")
    text = (delta.get("content") or "") if isinstance(delta, Mapping) else (
        choice.get("text") or "")
    logprobs = choice.get("logprobs")
    if isinstance(logprobs, Mapping):
        listed = logprobs.get("tokens")  # completions: {"tokens": [...], ...}
        if listed is None:
            listed = logprobs.get("content")  # chat: {"content": [{"token": ...}, ...]}
        if isinstance(listed, list):
            return len(listed), text, True
    return (1 if text else 0), text, False


def _error_text(body: Any) -> str:
    if isinstance(body, Mapping) and "error" in body:
        err = body["error"]
        return str(err.get("message", err) if isinstance(err, Mapping) else err)
    return ""


async def stream_request(client: httpx.AsyncClient, url: str, payload: Mapping[str, Any],
                         headers: Mapping[str, str] | None = None,
                         scheduled_s: float | None = None,
                         clock: Callable[[], float] = time.perf_counter) -> StreamResult:
    """Send one streamed request and time every chunk on ``clock``; every failure (HTTP
    error, error event, malformed event, stall past the client's read timeout, lost
    connection) comes back as the record's ``error``, never raised."""
    sent = clock()
    scheduled = sent if scheduled_s is None else min(scheduled_s, sent)
    chunks: list[Chunk] = []
    texts: list[str] = []
    usage: int | None = None
    exact = True
    error = ""
    try:
        async with aconnect_sse(client, "POST", url, json=dict(payload),
                                headers=dict(headers or {})) as source:
            response = source.response
            if response.status_code != 200:
                body = (await response.aread()).decode(errors="replace")
                try:
                    detail = _error_text(json.loads(body)) or body
                except ValueError:
                    detail = body
                error = f"HTTP {response.status_code}: {detail.strip()[:200]}"
            else:
                async for sse in source.aiter_sse():
                    at = clock()
                    if sse.data.strip() == "[DONE]":
                        break
                    try:
                        event = json.loads(sse.data)
                    except ValueError:
                        error = f"malformed event: {sse.data[:80]!r}"
                        break
                    if not isinstance(event, Mapping):
                        error = f"malformed event: {sse.data[:80]!r}"
                        break
                    if _error_text(event):
                        error = f"error mid-stream: {_error_text(event)[:200]}"
                        break
                    tokens, text, counted = chunk_tokens(event)
                    exact = exact and (counted or tokens == 0)
                    chunks.append(Chunk(at, tokens))
                    texts.append(text)
                    u = event.get("usage")
                    if isinstance(u, Mapping) and isinstance(u.get("completion_tokens"), int):
                        usage = u["completion_tokens"]
    except httpx.TimeoutException as exc:
        error = f"timed out ({type(exc).__name__})"
    except SSEError as exc:  # not an event stream: not an OpenAI-compatible streaming API
        error = f"not a server-sent event stream: {exc}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    asked = payload.get("max_tokens")
    count = COUNT_LOGPROBS if exact else COUNT_CHUNKS
    record = StreamRecord(scheduled_s=scheduled, sent_s=sent, chunks=tuple(chunks),
                          error=error, asked_tokens=asked if isinstance(asked, int) else None,
                          usage_tokens=usage, count=count)
    return StreamResult(record, count, "".join(texts))
