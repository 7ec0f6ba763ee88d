"""Task accuracy: top-k counting, short last batches, and the figure stored with each run."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
import torch

from flagbench.api.contracts import ActualRun, Batch, LabelledData
from flagbench.run.accuracy import Accuracy, evaluate, topk_correct
from flagbench.vendors.torch_eager import TorchSession


def test_topk_counts_by_hand() -> None:
    logits = np.array([[0.1, 0.9, 0.0],    # top-1 class 1, top-2 {1, 0}
                       [0.5, 0.2, 0.3],    # top-1 class 0, top-2 {0, 2}
                       [0.2, 0.3, 0.5],    # top-1 class 2, top-2 {2, 1}
                       [np.nan, 1.0, 0.0]])  # non-finite: always wrong
    labels = np.array([1, 2, 0, 1])
    assert topk_correct(logits, labels, 1) == 1
    assert topk_correct(logits, labels, 2) == 2
    assert topk_correct(logits, labels, 3) == 3  # k ≥ classes: every finite row


class StaticShapeSession(TorchSession):
    """A torch session that, like an ONNX session, takes only its own batch size."""

    def __init__(self, model: torch.nn.Module, batch_size: int) -> None:
        super().__init__(model, "cpu", torch.float32, ActualRun("cpu", "fp32"))
        self.batch_size = batch_size
        self.seen: list[int] = []

    def load(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        assert inputs[0].shape[0] == self.batch_size
        self.seen.append(inputs[0].shape[0])
        return super().load(inputs)


def _labelled(x: torch.Tensor, y: torch.Tensor) -> LabelledData:
    def batches(bs: int) -> Iterator[Batch]:
        for i in range(0, len(x), bs):
            yield (x[i:i + bs],), y[i:i + bs]

    return LabelledData("toy", "generated in the test", len(x), batches, top_k=(1, 2))


def test_evaluate_pads_a_short_last_batch_and_matches_torch() -> None:
    gen = torch.Generator().manual_seed(0)
    model = torch.nn.Linear(4, 3).eval()
    x = torch.randn(10, 4, generator=gen)
    y = torch.randint(3, (10,), generator=gen)
    session = StaticShapeSession(model, batch_size=4)
    result = evaluate(session, _labelled(x, y), batch_size=4)
    assert session.seen == [4, 4, 4]  # 10 samples: the last batch of 2 was padded to 4
    with torch.no_grad():
        logits = model(x)
    top1 = (logits.argmax(1) == y).float().mean().item()
    top2 = (logits.topk(2).indices == y[:, None]).any(1).float().mean().item()
    assert result.samples == 10
    assert dict(result.top_k) == {1: pytest.approx(top1), 2: pytest.approx(top2)}


def test_accuracy_metrics_and_validation() -> None:
    acc = Accuracy(360, ((1, 0.95), (5, 1.0)))
    names = {m.name: (m.value, m.unit) for m in acc.metrics()}
    assert names == {"accuracy_top1": (0.95, "ratio"), "accuracy_top5": (1.0, "ratio"),
                     "accuracy_samples": (360.0, "count")}
    with pytest.raises(ValueError):
        Accuracy(0, ((1, 0.5),))
    with pytest.raises(ValueError):
        Accuracy(3, ((1, 1.5),))
    with pytest.raises(ValueError):
        LabelledData("x", "y", 1, lambda bs: iter(()), top_k=(0,))


def test_runner_stores_accuracy_and_names_the_data() -> None:
    """A case with an evaluation set gets accuracy on every run, the set named in the record."""
    from flagbench.api.plugins import Registry
    from flagbench.api.spec import MeasureConfig, RunSpec
    from flagbench.run.runner import Runner

    class Toy:
        name, description, task = "toy", "toy", "classification"

        def build_model(self) -> torch.nn.Module:
            torch.manual_seed(0)
            return torch.nn.Linear(4, 3).eval()

        def make_inputs(self, batch_size: int, seed: int) -> tuple[torch.Tensor, ...]:
            return (torch.randn(batch_size, 4, generator=torch.Generator().manual_seed(seed)),)

        def evaluation(self, data: str | None) -> LabelledData:
            gen = torch.Generator().manual_seed(1)
            x, y = torch.randn(7, 4, generator=gen), torch.randint(3, (7,), generator=gen)
            return _labelled(x, y)

    from flagbench.api.plugins import Plugin

    registry = Registry.discover()
    case: Any = Toy()
    registry.cases["toy"] = Plugin("flagbench.cases", "toy", "test", "test", obj=case)
    spec = RunSpec(vendor="cpu", case="toy", batch_size=2,
                   measure=MeasureConfig(warmup_s=0, min_time_s=0, min_iters=2, target_ci=0))
    result = Runner(registry).run(spec)
    assert result.status.value == "ok", result.reason
    metrics = {m.name: m.value for m in result.metrics()}
    assert metrics["accuracy_samples"] == 7
    model = case.build_model()
    data = case.evaluation(None)
    (x,), y = next(iter(data.batches(7)))
    with torch.no_grad():
        expected = (model(x).argmax(1) == y).float().mean().item()
    assert metrics["accuracy_top1"] == pytest.approx(expected)
    assert result.environment["accuracy"] == {"dataset": "toy", "source": "generated in the test",
                                              "samples": 7}
