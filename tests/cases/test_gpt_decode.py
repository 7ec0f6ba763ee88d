"""The gpt-decode case matches GPT-2's layout, its KV-cached step equals a full recompute,
and it runs through the CLI on cpu and ort-cpu with TTFT, TPOT and tokens/s stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from flagbench.api.errors import FlagbenchError
from flagbench.api.plugins import Registry
from flagbench.cases.gpt_decode import GptDecodeCase
from flagbench.run.plan import Request, build_plan
from flagbench.store import Store

GPT2_KEYS = {
    "wte.weight": (50257, 768),
    "wpe.weight": (1024, 768),
    "h.0.ln_1.weight": (768,),
    "h.0.attn.c_attn.weight": (768, 2304),  # Conv1D: [in, out]
    "h.0.attn.c_attn.bias": (2304,),
    "h.0.attn.c_proj.weight": (768, 768),
    "h.5.ln_2.bias": (768,),
    "h.11.mlp.c_fc.weight": (768, 3072),
    "h.11.mlp.c_proj.weight": (3072, 768),
    "ln_f.weight": (768,),
}


@pytest.fixture(scope="module")
def small() -> GptDecodeCase:
    return GptDecodeCase().with_options({"prompt_len": 8, "new_tokens": 4})


def test_state_dict_matches_gpt2_small() -> None:
    model = GptDecodeCase().build_model()
    state = model.state_dict()
    for key, shape in GPT2_KEYS.items():
        assert tuple(state[key].shape) == shape, key
    assert len(state) == 2 + 12 * 12 + 2  # GPT2Model: wte, wpe, 12 per block, ln_f
    assert not any("lm_head" in k for k in state)  # tied to wte
    assert sum(p.numel() for p in model.parameters()) == 124_439_808


def test_prompts_are_deterministic_int64(small: GptDecodeCase) -> None:
    (a,), (b,) = small.make_inputs(2, 3), small.make_inputs(2, 3)
    assert a.dtype == torch.int64 and a.shape == (2, 8) and torch.equal(a, b)
    assert not torch.equal(a, small.make_inputs(2, 4)[0])
    assert 0 <= int(a.min()) and int(a.max()) < 50257


def test_cached_steps_equal_a_full_recompute(small: GptDecodeCase) -> None:
    """Each decode step's logits, from the static KV cache, match running the whole sequence
    again; this is what makes the step graph a faithful replacement for the full model."""
    model = small.build_model()
    gen = small.generation(model)
    prefill, step = gen.prefill.build_model(), gen.step.build_model()
    (prompt,) = small.make_inputs(2, 0)
    tokens = torch.tensor([[11], [22]])
    with torch.no_grad():
        _, k, v = prefill(prompt)
        assert k.shape == (12, 2, 12, 8 + 4, 64)
        seq = prompt
        for i in range(3):
            logits, k, v = step(tokens, torch.tensor([8 + i]), k, v)
            seq = torch.cat([seq, tokens], dim=1)
            full = GptDecodeCase().with_options(
                {"prompt_len": seq.shape[1], "new_tokens": 2}).generation(model)
            expected, _, _ = full.prefill.build_model()(seq)
            assert torch.allclose(logits, expected, atol=1e-4), i
            tokens = tokens + 100


def test_step_inputs_are_a_real_cache(small: GptDecodeCase) -> None:
    gen = small.generation(small.build_model())
    token, position, k, v = gen.step.make_inputs(1, 0)
    assert token.dtype == torch.int64 and token.shape == (1, 1)
    assert position.tolist() == [8]
    assert k[:, :, :, :8].abs().sum() > 0 and k[:, :, :, 8:].abs().sum() == 0


def test_options_are_checked() -> None:
    registry = Registry.discover()
    (spec,) = build_plan(Request(vendors=("cpu",), cases=("gpt-decode",)), registry)
    assert spec.options == (("new_tokens", 32), ("prompt_len", 32))
    for given, message in (({"new_tokens": "1"}, "must be ≥ 2"),
                           ({"prompt_len": "0"}, "must be ≥ 1"),
                           ({"prompt_len": "1000", "new_tokens": "30"}, "exceeds")):
        with pytest.raises(FlagbenchError, match=message):
            build_plan(Request(vendors=("cpu",), cases=("gpt-decode",),
                               case_options={"gpt-decode": given}), registry)


def _flops_per_request(p: int, n: int, layers: int = 12) -> int:
    """Matmul FLOPs of a greedy request: prefill over p tokens (causal attention over
    themselves), then n - 1 steps of one token attending over the whole static cache."""
    h, v, t = 768, 50257, p + n
    per_token = layers * (4 * h * h + 8 * h * h) + h * v  # c_attn, c_proj, c_fc, mlp c_proj
    prefill = p * layers * (4 * h * h + 8 * h * h) + layers * 2 * p * p * h + h * v
    steps = (n - 1) * (per_token + layers * 2 * t * h)
    return 2 * (prefill + steps)


@pytest.mark.parametrize("vendor", ["cpu", "ort-cpu"])
def test_runs_through_the_cli(flagbench, quick, tmp_path: Path, vendor: str) -> None:
    # gpt-decode-2l (the test plugins) is gpt-decode with 2 of its 12 blocks: the same code,
    # an export a sixth the size.
    db = tmp_path / "g.db"
    out = flagbench("run", "--vendor", vendor, "--case", "gpt-decode-2l", "-o", "prompt_len=8",
                    "-o", "new_tokens=4", "--db", str(db), *quick)
    assert out.returncode == 0, out.stderr
    store = Store.open(str(db), create=False)
    (run,) = store.runs()
    store.close()
    assert run.status == "ok", run.reason
    ttft, tpot = run.metric("ttft_median_s"), run.metric("tpot_median_s")
    n = int(run.metric("iterations"))
    assert ttft > 0 and tpot > 0
    # tokens/s is the requests' throughput times the tokens each request makes
    assert run.metric("tokens_per_s") == pytest.approx(4 * run.metric("throughput_sps"))
    assert run.metric("new_tokens") == 4 and run.metric("prompt_tokens") == 8
    record = json.loads(json.dumps(run.environment["generation"]))
    assert record["requests"] == n and len(record["ttft_s"]) == n
    # a request's latency is its first token plus the later ones
    assert max(record["ttft_s"]) < run.metric("latency_max_s")
    assert run.metric("flops_per_sample") == _flops_per_request(8, 4, layers=2)
    assert run.metric("fidelity_samples") == 8 * 4  # one per generated position
    assert run.metric("fidelity_token_agreement") == 1.0
    assert run.metric("fidelity_first_mismatch") == 4
    assert run.metric("fidelity_cosine") > 0.9999
