"""Greedy generation over two vendor sessions (prefill and decode step), timed per token.

A case with ``generation(model)`` (see ``contracts.Generation``) is measured through
``GenerationSession``, which has the shape of an ordinary Session whose one ``run`` is one
whole request. The timed loop, stopping rule, scenarios and energy meters therefore work
unchanged, and its samples are request latencies; the session also keeps, per request, the
time to first token and each later token's time, from which TTFT, TPOT and tokens/s come.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flagbench.contracts import ActualRun, Case, Generation, Session, Vendor, Workload
from flagbench.errors import FlagbenchError
from flagbench.fidelity import Fidelity, compare_outputs
from flagbench.result import Metric, RunResult
from flagbench.spec import RunSpec
from flagbench.stats import percentile

if TYPE_CHECKING:
    import numpy as np
    import torch


def generation_of(case: Case, model: torch.nn.Module) -> Generation | None:
    """The case's generation stages over ``model``, or None for a single-forward case."""
    make = getattr(case, "generation", None)
    if not callable(make):
        return None
    generation = make(model)
    if not isinstance(generation, Generation):
        raise FlagbenchError(f"case {case.name!r}: generation() must return a Generation")
    return generation


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


def prepare_generation(vendor: Vendor, generation: Generation,
                       spec: RunSpec) -> GenerationSession:
    """Prepare both stages on the vendor, each with its ordinary ``prepare``."""
    prefill = vendor.prepare(Workload(generation.prefill, spec,
                                      generation.prefill.build_model()))
    try:
        step = vendor.prepare(Workload(generation.step, spec, generation.step.build_model()))
    except BaseException:
        prefill.close()
        raise
    return GenerationSession(prefill, step, generation.new_tokens)


class _ReferenceSession:
    """A float32 CPU torch module under inference_mode: the reference's side of a stage."""

    def __init__(self, model: torch.nn.Module) -> None:
        self._model = model
        self.actual = ActualRun(device="cpu", precision="fp32")

    def load(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        return tuple(inputs)

    def run(self, loaded: tuple[torch.Tensor, ...]) -> Any:
        import torch

        with torch.inference_mode():
            return self._model(*loaded)

    def synchronize(self) -> None:
        pass

    def to_numpy(self, outputs: Any) -> list[np.ndarray]:
        return [t.detach().numpy() for t in outputs]

    def close(self) -> None:
        pass


#: Fidelity of a generation compares at least this many token positions, over at least
#: FIDELITY_MIN_REQUESTS prompts: every position is a top-1 comparison, and a request of 32
#: tokens costs 32 forward passes on each side.
FIDELITY_MIN_POSITIONS = 32
FIDELITY_MIN_REQUESTS = 2


def fidelity_requests(generation: Generation) -> int:
    """How many requests (prompts) the fidelity check of a generation serves."""
    return max(FIDELITY_MIN_REQUESTS, -(-FIDELITY_MIN_POSITIONS // generation.new_tokens))


def reference_generation(generation: Generation,
                         prompts: Sequence[tuple[torch.Tensor, ...]],
                         key: Mapping[str, Any]) -> tuple[list[np.ndarray], float, str]:
    """Float32 CPU greedy generation of each prompt batch: [logits of every token
    [B, N, V], tokens [B, N]] over all batches, FLOPs per request (prefill and every step,
    as torch counts them; cached under ``key`` and the models' structure, see flops.py) and
    how the count was obtained."""
    import numpy as np

    from flagbench.flops import counted, structure_digest

    prefill, step = generation.prefill.build_model(), generation.step.build_model()
    session = GenerationSession(_ReferenceSession(prefill), _ReferenceSession(step),
                                generation.new_tokens)
    first, *rest = (session.load(batch) for batch in prompts)
    key = {**key, "new_tokens": generation.new_tokens,
           "structure": structure_digest([prefill, step], prompts[0])}
    out, flops, how = counted(key, lambda: session.generate(first, keep_logits=True))
    outs = [out, *(session.generate(loaded, keep_logits=True) for loaded in rest)]
    return [np.concatenate([o.logits for o in outs]),
            np.concatenate([o.tokens for o in outs])], flops / prompts[0][0].shape[0], how


@dataclass(frozen=True)
class TokenAgreement:
    """A vendor's next-token choices against the reference's, position by position."""

    fraction: float
    """Share of positions where the vendor picks the reference's token."""
    first_mismatch: int
    """Earliest position (0-based) where some request picks another token; the token count
    if none. Greedy decoding on the vendor first departs from the reference exactly here."""


def token_agreement(reference: np.ndarray, actual: np.ndarray) -> TokenAgreement:
    """Compare [requests, tokens] arrays of token ids."""
    import numpy as np

    if reference.shape != actual.shape:
        raise ValueError(f"tokens of shape {actual.shape}, reference has {reference.shape}")
    same = np.asarray(reference) == np.asarray(actual)
    differs = np.flatnonzero(~same.all(axis=0))
    return TokenAgreement(float(same.mean()),
                          int(differs[0]) if differs.size else int(reference.shape[1]))


def generation_fidelity(session: GenerationSession, prompts: Sequence[tuple[torch.Tensor, ...]],
                        reference: list[np.ndarray]) -> tuple[Fidelity, tuple[Metric, ...]]:
    """The vendor's generation fed the reference's tokens (teacher forcing), so every
    position sees the reference's context: logit errors and top-1 agreement over all
    positions, and the token-by-token agreement with its first mismatch.

    Free-running, one early flip would change every later context and make the rest of the
    comparison meaningless; forced, each position is judged on its own, and the first
    mismatch is still exactly where free-running greedy decoding would depart.
    """
    import numpy as np

    ref_logits, ref_tokens = reference
    served, start = len(session.timings), 0
    logits, picks = [], []
    for batch in prompts:
        rows = batch[0].shape[0]
        out = session.generate(session.load(batch), forced=ref_tokens[start:start + rows],
                               keep_logits=True)
        logits.append(out.logits)
        picks.append(out.logits.argmax(axis=-1))
        start += rows
    del session.timings[served:]  # not requests of the timed window
    got = np.concatenate(logits)
    vocab = ref_logits.shape[-1]
    # One "sample" per generated position: top-1 agreement is then per token.
    fidelity = compare_outputs([ref_logits.reshape(-1, vocab)], [got.reshape(-1, vocab)],
                               classification=True)
    agree = token_agreement(ref_tokens, np.concatenate(picks))
    return fidelity, (Metric("fidelity_token_agreement", agree.fraction, "ratio"),
                      Metric("fidelity_first_mismatch", float(agree.first_mismatch), "token"))


def with_generation_metrics(result: RunResult, session: GenerationSession) -> RunResult:
    """The result with TTFT, TPOT and tokens/s of the timed window's requests as case
    metrics, and their raw per-request values in the environment record.

    The timed window's requests are the last ``n`` the session served (the fidelity check
    does not record its requests). tokens/s is the run's throughput (requests/s, queueing
    included in the server scenario) times the tokens each request generates.
    """
    m = result.measurement
    if m is None or result.throughput is None:
        return result
    timings = session.timings[-m.stats.n:]
    ttft = sorted(t.ttft_s for t in timings)
    tpot = sorted(t.tpot_s for t in timings if t.tpot_s is not None)
    metrics = [Metric(f"ttft_{name}_s", percentile(ttft, q), "s")
               for name, q in (("median", 50), ("p90", 90), ("p99", 99))]
    if tpot:
        metrics += [Metric(f"tpot_{name}_s", percentile(tpot, q), "s")
                    for name, q in (("median", 50), ("p90", 90), ("p99", 99))]
    metrics += [
        Metric("tokens_per_s", result.throughput * session.new_tokens, "tokens/s"),
        Metric("new_tokens", float(session.new_tokens), "count"),
        Metric("prompt_tokens", float(session.prompt_len), "count"),
    ]
    record = {"requests": len(timings), "ttft_s": [t.ttft_s for t in timings],
              "tpot_s": [t.tpot_s for t in timings],
              "token_time": "from the previous token on the host to this one on the host"}
    return dataclasses.replace(
        result, case_metrics=(*result.case_metrics, *metrics),
        environment={**result.environment, "generation": record})
