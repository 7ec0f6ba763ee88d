"""Only floating-point inputs follow the run's precision: token ids, masks and positions
keep their integer dtype in every vendor's ``load`` (the contract of Session.load)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from flagbench.api.contracts import ActualRun
from flagbench.vendors.onnxruntime_ep import OrtSession
from flagbench.vendors.torch_eager import TorchSession

ACTUAL = ActualRun(device="cpu", precision="bf16")


def test_torch_session_converts_floats_only() -> None:
    session = TorchSession(torch.nn.Identity(), "cpu", torch.bfloat16, ACTUAL)
    x, ids = session.load([torch.randn(2, 3), torch.tensor([[5, 70000]])])
    assert x.dtype == torch.bfloat16
    assert ids.dtype == torch.int64 and ids.tolist() == [[5, 70000]]


def _gather_model(path: Path) -> None:
    """A real two-input ONNX graph: rows of a float table picked by int64 ids."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["rows"], axis=0)], "gather",
        [helper.make_tensor_value_info("table", TensorProto.FLOAT, [4, 3]),
         helper.make_tensor_value_info("ids", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("rows", TensorProto.FLOAT, [2, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_ort_session_converts_floats_only(tmp_path: Path) -> None:
    import onnxruntime as ort

    _gather_model(tmp_path / "g.onnx")
    inference = ort.InferenceSession(str(tmp_path / "g.onnx"),
                                     providers=["CPUExecutionProvider"])
    table, ids = torch.arange(12, dtype=torch.float32).view(4, 3), torch.tensor([3, 1])
    fp32 = OrtSession(inference, ["table", "ids"], np.float32, None, ACTUAL)
    (rows,) = fp32.to_numpy(fp32.run(fp32.load([table, ids])))
    assert rows.tolist() == [[9, 10, 11], [3, 4, 5]]  # ids reached the graph as int64
    half = OrtSession(inference, ["table", "ids"], np.float16, None, ACTUAL)
    feeds = half.load([table, ids])
    assert feeds["table"].dtype == np.float16 and feeds["ids"].dtype == np.int64
