"""The bert case matches Hugging Face's BertModel layout, makes deterministic token inputs,
and runs through the CLI on the cpu and ort-cpu vendors with integer inputs left integer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from flagbench.api.errors import FlagbenchError
from flagbench.api.plugins import Registry
from flagbench.cases.bert import BertCase
from flagbench.run.plan import Request, build_plan
from flagbench.store import Store

# A sample of bert-base-uncased BertModel state-dict keys with their shapes.
HF_KEYS = {
    "embeddings.word_embeddings.weight": (30522, 768),
    "embeddings.position_embeddings.weight": (512, 768),
    "embeddings.token_type_embeddings.weight": (2, 768),
    "embeddings.LayerNorm.weight": (768,),
    "encoder.layer.0.attention.self.query.weight": (768, 768),
    "encoder.layer.0.attention.self.value.bias": (768,),
    "encoder.layer.5.attention.output.dense.weight": (768, 768),
    "encoder.layer.5.attention.output.LayerNorm.bias": (768,),
    "encoder.layer.11.intermediate.dense.weight": (3072, 768),
    "encoder.layer.11.output.dense.weight": (768, 3072),
    "encoder.layer.11.output.LayerNorm.weight": (768,),
    "pooler.dense.weight": (768, 768),
    "pooler.dense.bias": (768,),
}


def _params_from_geometry() -> int:
    """BERT-base's parameter count worked out from its geometry, independently of the code."""
    h, inter, layers = 768, 3072, 12
    embeddings = (30522 + 512 + 2) * h + 2 * h
    layer = 4 * (h * h + h) + 2 * h + (h * inter + inter) + (inter * h + h) + 2 * h
    pooler = h * h + h
    return embeddings + layers * layer + pooler


def test_state_dict_matches_bert_base_uncased() -> None:
    model = BertCase().build_model()
    state = model.state_dict()
    for key, shape in HF_KEYS.items():
        assert tuple(state[key].shape) == shape, key
    # 5 embedding tensors, 16 per layer, 2 for the pooler: BertModel's persistent entries.
    assert len(state) == 5 + 12 * 16 + 2
    assert sum(p.numel() for p in model.parameters()) == _params_from_geometry() == 109_482_240


def test_inputs_are_deterministic_int64_sentence_pairs() -> None:
    case = BertCase().with_options({"seq_len": 32})
    torch.manual_seed(1)
    before = torch.rand(1)
    torch.manual_seed(1)
    ids, mask, types = case.make_inputs(4, 7)
    assert torch.equal(torch.rand(1), before)  # the global RNG is left alone
    assert all(t.dtype == torch.int64 and t.shape == (4, 32) for t in (ids, mask, types))
    assert all(torch.equal(a, b) for a, b in zip(case.make_inputs(4, 7), (ids, mask, types),
                                                 strict=True))
    assert not torch.equal(ids, case.make_inputs(4, 8)[0])
    assert int(ids.min()) >= 0 and int(ids.max()) < 30522
    assert (ids[:, 0] == 101).all()  # [CLS]
    assert set(mask.unique().tolist()) <= {0, 1} and set(types.unique().tolist()) <= {0, 1}
    assert (ids[mask == 0] == 0).all()  # padding is [PAD]
    assert (mask.sum(dim=1) >= 24).all()  # at most a quarter padded


def test_seq_len_option_is_checked_and_changes_the_shape() -> None:
    registry = Registry.discover()
    (spec,) = build_plan(Request(vendors=("cpu",), cases=("bert",),
                                 case_options={"bert": {"seq_len": "64"}}), registry)
    assert spec.options == (("seq_len", 64),)
    assert BertCase().with_options({"seq_len": 64}).make_inputs(1, 0)[0].shape == (1, 64)
    for bad in ("0", "513", "long"):
        with pytest.raises(FlagbenchError, match="seq_len"):
            build_plan(Request(vendors=("cpu",), cases=("bert",),
                               case_options={"bert": {"seq_len": bad}}), registry)


def test_padding_does_not_reach_the_real_tokens() -> None:
    case = BertCase().with_options({"seq_len": 16})
    model = case.build_model()
    ids, mask, types = case.make_inputs(1, 0)
    mask[0, 12:] = 0
    other = ids.clone()
    other[0, 12:] = 4242  # different padded tokens, same mask
    with torch.inference_mode():
        a, b = model(ids, mask, types), model(other, mask, types)
    assert a.shape == (1, 16, 768)
    assert torch.allclose(a[0, :12], b[0, :12], atol=1e-5)
    assert not torch.allclose(a[0, 12:], b[0, 12:])


def _flops(s: int, layers: int = 12) -> int:
    """Matmul FLOPs of one BERT-base sequence of s tokens: the linear layers and the two
    attention products, 2 FLOPs per multiply-add (what torch's FlopCounterMode counts)."""
    h, inter = 768, 3072
    linear = s * (4 * h * h + 2 * h * inter)
    attention = 2 * s * s * h
    return layers * 2 * (linear + attention)


@pytest.mark.parametrize("vendor", ["cpu", "ort-cpu"])
def test_runs_through_the_cli(flagbench, quick, tmp_path: Path, vendor: str) -> None:
    # bert-2l (the test plugins) is bert with 2 of its 12 layers: the same code, a sixth of
    # the export.
    db = tmp_path / "b.db"
    out = flagbench("run", "--vendor", vendor, "--case", "bert-2l", "-o", "seq_len=16",
                    "--db", str(db), *quick)
    assert out.returncode == 0, out.stderr
    store = Store.open(str(db), create=False)
    (run,) = store.runs()
    store.close()
    assert run.status == "ok", run.reason
    assert run.spec["options"] == [["seq_len", 16]]
    assert run.metric("flops_per_sample") == _flops(16, layers=2)
    assert run.metric("fidelity_cosine") > 0.9999
    assert run.metric("fidelity_max_abs_err") < 1e-3


def test_list_shows_the_language_cases_and_their_options(flagbench) -> None:
    out = flagbench("list", "cases")
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    for expected in ("bert", "seq_len=128", "gpt-decode", "prompt_len=32", "new_tokens=32"):
        assert expected in text, expected
