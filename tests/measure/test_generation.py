"""The generation loop: token agreement, teacher-forced fidelity that fails when a vendor
picks other tokens, and state passed between runs with or without ``carry``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from flagbench.api.contracts import ActualRun
from flagbench.cases.gpt_decode import GptDecodeCase
from flagbench.measure.generation import GenerationSession
from flagbench.run.generation import generation_fidelity, reference_generation, token_agreement


def test_token_agreement_counts_positions_and_finds_the_first_mismatch() -> None:
    ref = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert token_agreement(ref, ref.copy()).fraction == 1.0
    assert token_agreement(ref, ref.copy()).first_mismatch == 4  # none: the token count
    got = ref.copy()
    got[1, 2] = 0
    got[0, 3] = 0
    agree = token_agreement(ref, got)
    assert agree.fraction == 6 / 8 and agree.first_mismatch == 2
    with pytest.raises(ValueError, match="shape"):
        token_agreement(ref, ref[:, :3])


class TorchCpuSession:
    """A float32 torch module as a vendor would run it (no ``carry``: the host path)."""

    def __init__(self, model: torch.nn.Module, bias_from: int | None = None) -> None:
        self.model = model
        self.actual = ActualRun(device="cpu", precision="fp32")
        self.bias_from = bias_from  # from this position on, token 7 wins every argmax

    def load(self, inputs: Any) -> Any:
        return tuple(inputs)

    def run(self, loaded: Any) -> Any:
        with torch.inference_mode():
            logits, *state = self.model(*loaded)
        if self.bias_from is not None and int(loaded[1]) >= self.bias_from:
            logits = logits.clone()
            logits[:, 7] += 1e4
        return (logits, *state)

    def synchronize(self) -> None:
        pass

    def to_numpy(self, outputs: Any) -> list[np.ndarray]:
        return [t.numpy() for t in outputs]

    def close(self) -> None:
        pass


class CarryingSession(TorchCpuSession):
    """The same with ``first_to_numpy`` and ``carry``: state never goes through numpy."""

    def first_to_numpy(self, outputs: Any) -> np.ndarray:
        return np.asarray(outputs[0].numpy())

    def carry(self, outputs: Any, fresh: Any) -> Any:
        return (*fresh, *outputs[1:])


@pytest.fixture(scope="module")
def setup() -> Any:
    case = GptDecodeCase().with_options({"prompt_len": 6, "new_tokens": 4})
    gen = case.generation(case.build_model())
    prompts = [case.make_inputs(1, 100 + i) for i in range(2)]
    reference, flops, _ = reference_generation(gen, prompts, {"case": "test"})
    return gen, prompts, reference, flops


def _session(gen: Any, step_cls: type = TorchCpuSession, bias_from: int | None = None
             ) -> GenerationSession:
    session = GenerationSession(step_cls(gen.prefill.build_model()),
                                step_cls(gen.step.build_model(), bias_from), gen.new_tokens)
    assert session.actual.details["state_transfer"] == (
        "to_numpy + load" if step_cls is TorchCpuSession else "carry (left on the device)")
    return session


@pytest.mark.parametrize("step_cls", [TorchCpuSession, CarryingSession])
def test_a_faithful_vendor_agrees_fully(setup: Any, step_cls: type) -> None:
    gen, prompts, reference, flops = setup
    assert reference[0].shape == (2, 4, 50257) and reference[1].shape == (2, 4)
    assert flops > 0
    session = _session(gen, step_cls)
    fidelity, metrics = generation_fidelity(session, prompts, reference)
    values = {m.name: m.value for m in metrics}
    assert values == {"fidelity_token_agreement": 1.0, "fidelity_first_mismatch": 4.0}
    assert fidelity.samples == 8 and fidelity.top1_agreement == 1.0
    assert fidelity.max_abs_err < 1e-4
    assert session.timings == []  # fidelity requests are not timed requests
    out = session.run(session.load(prompts[0]))
    assert np.array_equal(out.tokens, reference[1][:1])  # greedy reproduces the reference
    assert len(session.timings) == 1 and len(session.timings[0].inter_token_s) == 3


def test_token_fidelity_fails_when_the_vendor_picks_other_tokens(setup: Any) -> None:
    gen, prompts, reference, _ = setup
    # Token 0 comes from prefill, token i from the step fed position 6 + i - 1. From the
    # step at position 7 on, token 7 wins: tokens 0-1 agree, 2-3 do not (the reference did
    # not pick 7 there, checked first).
    assert not (reference[1][:, 2:] == 7).any()
    fidelity, metrics = generation_fidelity(_session(gen, bias_from=7), prompts, reference)
    values = {m.name: m.value for m in metrics}
    assert values["fidelity_first_mismatch"] == 2
    assert values["fidelity_token_agreement"] == 0.5
    assert fidelity.top1_agreement == 0.5 and fidelity.max_abs_err > 1e3


def test_ttft_of_a_server_run_counts_the_queue() -> None:
    # Two requests of 50 ms service, the second after 30 ms in the queue; first tokens 10 ms
    # after service began. TTFT runs from arrival, as latency does: 10 ms and 40 ms.
    from datetime import datetime, timezone
    from types import SimpleNamespace

    from flagbench.api.contracts import ActualRun
    from flagbench.api.measurement import Measurement
    from flagbench.api.result import RunResult, Status
    from flagbench.api.spec import RunSpec
    from flagbench.measure.generation import RequestTiming
    from flagbench.run.generation import with_generation_metrics
    from flagbench.stats.summary import summarize

    samples = (0.050, 0.080)
    m = Measurement(samples, summarize(samples), "min_reached", 1, 0.1, 0.05, 0.2,
                    energy_note="none", achieved_qps=10.0, service_samples=(0.050, 0.050))
    now = datetime.now(timezone.utc)
    spec = RunSpec(vendor="cpu", case="g", scenario="server", target_qps=10.0)
    result = RunResult(spec, Status.OK, now, now, measurement=m, actual=ActualRun("cpu", "fp32"))
    session = SimpleNamespace(timings=[RequestTiming(0.010, (0.02, 0.02))] * 2, new_tokens=3,
                              prompt_len=8)
    out = with_generation_metrics(result, session)  # type: ignore[arg-type]
    metrics = {x.name: x.value for x in out.case_metrics}
    assert out.environment["generation"]["ttft_s"] == pytest.approx([0.010, 0.040])
    assert metrics["ttft_median_s"] == pytest.approx(0.025)
    assert metrics["tpot_median_s"] == pytest.approx(0.02)  # queueing is not per token
    assert "scheduled arrival" in out.environment["generation"]["ttft_from"]
