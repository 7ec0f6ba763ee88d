"""A toy decoder as two ONNX graphs, built by hand (no export): its next token is the sum of
every token so far modulo ``VOCAB``, so a whole greedy generation is known in closed form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

VOCAB = 7  # prime: the running sum doubles each token and, unless it starts at 0, never gets there


def _logits(cache: str, nodes: list[onnx.NodeProto]) -> None:
    """logits = -|arange(VOCAB) - (sum(cache) mod VOCAB)|: argmax is that sum's residue."""
    nodes += [
        helper.make_node("ReduceSum", [cache, "axis1"], ["total"], keepdims=1),
        helper.make_node("Mod", ["total", "vocab"], ["residue"], fmod=1),
        helper.make_node("Sub", ["vocab_range", "residue"], ["gap"]),
        helper.make_node("Abs", ["gap"], ["distance"]),
        helper.make_node("Neg", ["distance"], ["logits"]),
    ]


def _constants(slots: int) -> list[onnx.TensorProto]:
    return [numpy_helper.from_array(np.array([1], np.int64), "axis1"),
            numpy_helper.from_array(np.array(VOCAB, np.float32), "vocab"),
            numpy_helper.from_array(np.arange(VOCAB, dtype=np.float32), "vocab_range"),
            numpy_helper.from_array(np.arange(slots, dtype=np.int64), "slot_range")]


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def build(folder: Path, batch: int, prompt: int, new_tokens: int) -> tuple[Path, Path]:
    """The prefill graph (input_ids -> logits, cache) and the step graph (token, position,
    cache -> logits, cache) over a cache of ``prompt + new_tokens`` float slots."""
    slots = prompt + new_tokens
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, VOCAB])
    cache_out = helper.make_tensor_value_info("cache_out", TensorProto.FLOAT, [batch, slots])
    consts = _constants(slots)
    pads = numpy_helper.from_array(np.array([0, 0, 0, new_tokens], np.int64), "pads")
    nodes = [helper.make_node("Cast", ["input_ids"], ["ids"], to=TensorProto.FLOAT),
             helper.make_node("Pad", ["ids", "pads"], ["cache_out"])]
    _logits("cache_out", nodes)
    prefill = helper.make_graph(
        nodes, "prefill",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [batch, prompt])],
        [logits, cache_out], [*(c for c in consts if c.name != "slot_range"), pads])
    nodes = [helper.make_node("Equal", ["slot_range", "position"], ["here"]),
             helper.make_node("Cast", ["here"], ["one_hot"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["token"], ["token_f"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["one_hot", "token_f"], ["written"]),
             helper.make_node("Add", ["cache", "written"], ["cache_out"])]
    _logits("cache_out", nodes)
    step = helper.make_graph(
        nodes, "step",
        [helper.make_tensor_value_info("token", TensorProto.INT64, [batch, 1]),
         helper.make_tensor_value_info("position", TensorProto.INT64, [1]),
         helper.make_tensor_value_info("cache", TensorProto.FLOAT, [batch, slots])],
        [logits, cache_out], consts)
    return _save(prefill, folder / "prefill.onnx"), _save(step, folder / "step.onnx")


def expected_tokens(prompt: np.ndarray, new_tokens: int) -> np.ndarray:
    """Greedy tokens [B, new_tokens]: each is the running sum modulo VOCAB."""
    total = prompt.sum(axis=1)
    out = []
    for _ in range(new_tokens):
        token = total % VOCAB
        out.append(token)
        total = total + token
    return np.stack(out, axis=1)
