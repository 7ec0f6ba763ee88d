"""Per-request figures of a streamed generation (an LLM serving engine over HTTP): TTFT, ITL
per token, TPOT and end-to-end latency, from when each streamed chunk arrived and how many
tokens it carried.

One definition for every engine, written so the identities hold exactly:

- TTFT = arrival of the first chunk that carries a token − the request's send time (and, for
  open-loop load, − its scheduled arrival: queueing in the client cannot hide);
- E2E = arrival of the last chunk that carries a token − send time (− scheduled arrival);
- ITL is per token, not per chunk: a chunk of k tokens that arrives g after the previous
  token-carrying chunk gives k inter-token latencies of g / k each; tokens that arrive in the
  first chunk beside the first token have an ITL of 0 (they came with it). A stream of n
  tokens thus has n − 1 ITLs whose sum is E2E − TTFT;
- TPOT = (E2E − TTFT) / (n − 1), the mean ITL (vLLM's definition; TTFT is not in it), None
  for a one-token answer.

Counting per chunk instead of per token (vllm #27485) would make a 2-token chunk every 20 ms
read as a 20 ms ITL where the engine spends 10 ms per token.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    """One streamed event: when it arrived (seconds, the client's monotonic clock) and how
    many tokens it carried (0 for a role-only or usage-only event)."""

    at_s: float
    tokens: int

    def __post_init__(self) -> None:
        if self.tokens < 0:
            raise ValueError("a chunk carries no negative tokens")


@dataclass(frozen=True)
class StreamRecord:
    """What the client saw of one request: its scheduled arrival, when it was sent, each
    chunk, and how it ended ("" when it completed)."""

    scheduled_s: float
    """When the load schedule wanted it sent (= ``sent_s`` for closed-loop load)."""
    sent_s: float
    chunks: tuple[Chunk, ...]
    error: str = ""
    asked_tokens: int | None = None
    """The output length asked for (``max_tokens``)."""
    usage_tokens: int | None = None
    """The output length the server reported in ``usage``, where it reports one."""
    count: str = ""
    """How the chunks' tokens were counted (the client says: "logprobs", "one per chunk")."""

    def __post_init__(self) -> None:
        if self.sent_s < self.scheduled_s:
            raise ValueError("a request cannot be sent before its scheduled arrival")
        if any(b.at_s < a.at_s for a, b in zip(self.chunks, self.chunks[1:], strict=False)):
            raise ValueError("chunks arrive in order")
        if self.chunks and self.chunks[0].at_s < self.sent_s:
            raise ValueError("a chunk cannot arrive before the request was sent")


@dataclass(frozen=True)
class RequestFigures:
    """The per-request figures of one completed stream (see the module's definitions)."""

    output_tokens: int
    ttft_s: float
    ttft_from_arrival_s: float
    e2e_s: float
    e2e_from_arrival_s: float
    tpot_s: float | None
    itl_s: tuple[float, ...]
    client_delay_s: float
    """Send time − scheduled arrival: how late the client sent it."""


def request_figures(record: StreamRecord) -> RequestFigures | None:
    """The figures of a completed stream with at least one token; None for a failed or empty
    one (counted as a request error by the caller)."""
    carrying = [c for c in record.chunks if c.tokens > 0]
    if record.error or not carrying:
        return None
    first, last = carrying[0], carrying[-1]
    itl: list[float] = [0.0] * (first.tokens - 1)
    for prev, chunk in zip(carrying, carrying[1:], strict=False):
        gap = chunk.at_s - prev.at_s
        itl += [gap / chunk.tokens] * chunk.tokens
    n = sum(c.tokens for c in carrying)
    ttft, e2e = first.at_s - record.sent_s, last.at_s - record.sent_s
    return RequestFigures(
        output_tokens=n,
        ttft_s=ttft,
        ttft_from_arrival_s=first.at_s - record.scheduled_s,
        e2e_s=e2e,
        e2e_from_arrival_s=last.at_s - record.scheduled_s,
        tpot_s=(e2e - ttft) / (n - 1) if n > 1 else None,
        itl_s=tuple(itl),
        client_delay_s=record.sent_s - record.scheduled_s,
    )


@dataclass(frozen=True)
class Slo:
    """Service-level objectives a request must meet to count toward goodput; None: no bound."""

    ttft_s: float | None = None
    tpot_s: float | None = None
    e2e_s: float | None = None

    def met(self, f: RequestFigures) -> bool:
        """Whether one request met every bound, its latencies counted from scheduled arrival
        (TPOT has no queueing in it)."""
        if self.ttft_s is not None and f.ttft_from_arrival_s > self.ttft_s:
            return False
        if self.tpot_s is not None and f.tpot_s is not None and f.tpot_s > self.tpot_s:
            return False
        return not (self.e2e_s is not None and f.e2e_from_arrival_s > self.e2e_s)


def goodput(figures: list[RequestFigures], slo: Slo, window_s: float) -> float:
    """Requests per second of the window that completed and met the SLO (DistServe's
    goodput); failed requests never count."""
    if not window_s > 0:
        raise ValueError("a window has a positive length")
    return sum(1 for f in figures if slo.met(f)) / window_s
