"""Generation cases in a run: the two stages prepared on the vendor, the float32 reference
generation, token fidelity (teacher forcing), and TTFT/TPOT/tokens-per-second metrics.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flagbench.api.contracts import ActualRun, Case, Generation, Vendor, Workload
from flagbench.api.errors import FlagbenchError
from flagbench.api.measurement import Fidelity
from flagbench.api.result import Metric, RunResult
from flagbench.api.spec import RunSpec
from flagbench.run.fidelity import compare_outputs
from flagbench.stats.summary import percentile

if TYPE_CHECKING:
    import numpy as np
    import torch

from flagbench.measure.generation import GenerationSession


def generation_of(case: Case, model: torch.nn.Module) -> Generation | None:
    """The case's generation stages over ``model``, or None for a single-forward case."""
    make = getattr(case, "generation", None)
    if not callable(make):
        return None
    generation = make(model)
    if not isinstance(generation, Generation):
        raise FlagbenchError(f"case {case.name!r}: generation() must return a Generation")
    return generation


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

    from flagbench.run.flops import counted, structure_digest

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

    The timed window's requests are the last ``m.batches`` the session served (the fidelity check
    does not record its requests). tokens/s is the run's throughput (requests/s, queueing
    included in the server scenario) times the tokens each request generates.
    """
    m = result.measurement
    if m is None or result.throughput is None:
        return result
    timings = session.timings[-m.batches:]
    # In the server scenario a request waits in the queue before its first token: TTFT runs
    # from its scheduled arrival, as its latency does (queue wait = latency − service).
    waits = ([lat - svc for lat, svc in zip(m.samples, m.service_samples, strict=True)]
             if m.service_samples else [0.0] * len(timings))
    ttfts = [t.ttft_s + w for t, w in zip(timings, waits, strict=True)]
    ttft = sorted(ttfts)
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
    record = {"requests": len(timings), "ttft_s": ttfts,
              "tpot_s": [t.tpot_s for t in timings],
              "ttft_from": ("the request's scheduled arrival (queueing included)"
                            if m.service_samples else "the start of the request"),
              "token_time": "from the previous token on the host to this one on the host"}
    return dataclasses.replace(
        result, case_metrics=(*result.case_metrics, *metrics),
        environment={**result.environment, "generation": record})
