"""Greedy generation over two vendor sessions (prefill and decode step), timed per token.

A case with ``generation(model)`` (see ``contracts.Generation``) is measured through
``GenerationSession``, which has the shape of an ordinary Session whose one ``run`` is one
whole request. The timed loop, stopping rule, scenarios and energy meters therefore work
unchanged, and its samples are request latencies; the session also keeps, per request, the
time to first token and each later token's time, from which TTFT, TPOT and tokens/s come.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flagbench.api.contracts import ActualRun, Session

if TYPE_CHECKING:
    import numpy as np
    import torch


@dataclass(frozen=True)
class RequestTiming:
    """One request: seconds to its first token, and to each later token from the one before."""

    ttft_s: float
    inter_token_s: tuple[float, ...]

    @property
    def tpot_s(self) -> float | None:
        """Time per output token after the first (vLLM's TPOT); None for one-token requests."""
        return statistics.fmean(self.inter_token_s) if self.inter_token_s else None


@dataclass(frozen=True)
class GenerationOutput:
    """What one request produced: logits and every generated token."""

    logits: np.ndarray  # [B, K, V] float32: the first token's (K = 1) or every token's
    tokens: np.ndarray  # [B, new_tokens] int64


class GenerationSession:
    """Prefill then ``new_tokens - 1`` decode steps, argmax on the host after each.

    Each token's time runs from the previous token being known on the host to this one being
    known: the step's inputs, its run and synchronisation, the logits' copy and the argmax.
    The decoding state moves from one run to the next with the step session's optional
    ``first_to_numpy`` and ``carry`` (it stays on the device), else through ``to_numpy`` and
    ``load`` (free on the CPU, where both are views).
    """

    def __init__(self, prefill: Session, step: Session, new_tokens: int) -> None:
        self.prefill = prefill
        self.step = step
        self.new_tokens = new_tokens
        self.timings: list[RequestTiming] = []
        self._prompt_len = 0
        # Both sessions come from one vendor; the fast path needs both to offer it.
        self._chained = all(callable(getattr(session, m, None)) for session in (prefill, step)
                            for m in ("first_to_numpy", "carry"))
        p, s = prefill.actual, step.actual
        self.actual = ActualRun(
            device=p.device, precision=p.precision, threads=p.threads,
            details={"prefill": dict(p.details), "step": dict(s.details),
                     "decoding": "greedy, argmax on the host",
                     "state_transfer": "carry (left on the device)" if self._chained
                     else "to_numpy + load"},
        )

    @property
    def prompt_len(self) -> int:
        """Tokens in the prompt last loaded."""
        return self._prompt_len

    def load(self, inputs: Sequence[torch.Tensor]) -> Any:
        """The prompt (int64 [B, P]), loaded by the prefill session."""
        self._prompt_len = int(inputs[0].shape[1])
        return self.prefill.load(inputs)

    def _next(self, session: Session, outputs: Any, position: int,
              forced: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, Any]:
        """This run's logits and token on the host (its argmax, or ``forced``), and the next
        step's inputs (None once ``position`` is past the last token to generate)."""
        import torch

        if self._chained:
            logits: np.ndarray = session.first_to_numpy(outputs)  # type: ignore[attr-defined]
        else:
            arrays = session.to_numpy(outputs)
            logits = arrays[0]
        token = logits.argmax(axis=-1).reshape(-1, 1) if forced is None else forced
        if position >= self._prompt_len + self.new_tokens - 1:
            return logits, token, None
        fresh = [torch.from_numpy(token), torch.tensor([position], dtype=torch.int64)]
        if self._chained:
            loaded = self.step.carry(outputs, fresh)  # type: ignore[attr-defined]
        else:
            loaded = self.step.load([*fresh, *(torch.from_numpy(a) for a in arrays[1:])])
        return logits, token, loaded

    def generate(self, loaded: Any, forced: np.ndarray | None = None,
                 keep_logits: bool = False) -> GenerationOutput:
        """One request: greedy, or fed the tokens ``forced`` [B, new_tokens] instead of its
        own (teacher forcing); with ``keep_logits`` the logits of every token, else the
        first's. Token times are appended to ``timings``."""
        import numpy as np

        clock = time.perf_counter
        start = clock()
        out = self.prefill.run(loaded)
        self.prefill.synchronize()
        position = self._prompt_len
        pick = None if forced is None else np.ascontiguousarray(forced[:, :1])
        logits, token, step_in = self._next(self.prefill, out, position, pick)
        kept, tokens = [np.array(logits, dtype=np.float32)], [token]
        now = clock()
        ttft, gaps = now - start, []
        for i in range(1, self.new_tokens):
            before = now
            out = self.step.run(step_in)
            self.step.synchronize()
            position += 1
            pick = None if forced is None else np.ascontiguousarray(forced[:, i:i + 1])
            logits, token, step_in = self._next(self.step, out, position, pick)
            tokens.append(token)
            if keep_logits:
                kept.append(np.array(logits, dtype=np.float32))
            now = clock()
            gaps.append(now - before)
        self.timings.append(RequestTiming(ttft, tuple(gaps)))
        return GenerationOutput(np.stack(kept, axis=1), np.concatenate(tokens, axis=1))

    def run(self, loaded: Any) -> GenerationOutput:
        """Serve one request greedily, as the timed loop does."""
        return self.generate(loaded)

    def synchronize(self) -> None:
        """Nothing left to wait for: every token was on the host before ``run`` returned."""

    def to_numpy(self, outputs: GenerationOutput) -> list[np.ndarray]:
        """The logits and the generated tokens (as float32, exact below 2**24)."""
        import numpy as np

        return [outputs.logits, outputs.tokens.astype(np.float32)]

    def close(self) -> None:
        """Close both sessions."""
        try:
            self.prefill.close()
        finally:
            self.step.close()
