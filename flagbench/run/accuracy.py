"""Task accuracy: a vendor's session over a case's labelled evaluation set, top-k correct.

This is the second layer of accuracy (fidelity to the float32 reference is the first): it
says how often the model, as the vendor runs it at the run's precision, gets the label right.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flagbench.api.contracts import LabelledData, Session
from flagbench.api.result import Metric

if TYPE_CHECKING:
    import numpy as np
    import torch


@dataclass(frozen=True)
class Accuracy:
    """Top-k accuracy over ``samples`` labelled samples."""

    samples: int
    top_k: tuple[tuple[int, float], ...]
    """(k, fraction correct) for each k the evaluation set asks for."""

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError("accuracy needs at least one sample")
        if any(not 0 <= frac <= 1 for _, frac in self.top_k):
            raise ValueError("an accuracy is a fraction")

    def metrics(self) -> tuple[Metric, ...]:
        """``accuracy_top1`` (, ``accuracy_top5``) and ``accuracy_samples``."""
        return (*(Metric(f"accuracy_top{k}", frac, "ratio") for k, frac in self.top_k),
                Metric("accuracy_samples", float(self.samples), "count"))


def topk_correct(logits: np.ndarray, labels: np.ndarray, k: int) -> int:
    """How many rows have their label among the k largest logits (a NaN row is wrong)."""
    import numpy as np

    if k >= logits.shape[-1]:
        return int(np.isfinite(logits).all(axis=-1).sum())
    # The k largest; a tie goes to the lower class index, so the count is reproducible.
    top = np.argsort(-logits, axis=-1, kind="stable")[:, :k]
    hit = (top == labels[:, None]).any(axis=-1) & np.isfinite(logits).all(axis=-1)
    return int(hit.sum())


def _padded(inputs: Sequence[torch.Tensor], batch_size: int) -> tuple[torch.Tensor, ...]:
    """A short last batch filled up by repeating its last sample: sessions built for one batch
    size (ONNX, compiled engines) take no other shape. The extra outputs are dropped."""
    import torch

    missing = batch_size - inputs[0].shape[0]
    return tuple(torch.cat([t, t[-1:].expand(missing, *t.shape[1:])]) for t in inputs)


def evaluate(session: Session, data: LabelledData, batch_size: int,
             progress: Callable[[int, int], None] | None = None) -> Accuracy:
    """Run ``session`` over every labelled sample, ``batch_size`` at a time (the session's
    own batch size), and count top-k hits on its first output."""
    import numpy as np

    hits = dict.fromkeys(data.top_k, 0)
    seen = 0
    for inputs, labels in data.batches(batch_size):
        n = int(labels.shape[0])
        if n < batch_size:
            inputs = _padded(inputs, batch_size)
        outputs = session.run(session.load(inputs))
        session.synchronize()
        logits = session.to_numpy(outputs)[0][:n].reshape(n, -1)
        truth = labels.numpy().astype(np.int64)
        for k in hits:
            hits[k] += topk_correct(logits, truth, k)
        seen += n
        if progress is not None:
            progress(seen, data.samples)
    if seen == 0:
        raise ValueError(f"evaluation set {data.name!r} gave no samples")
    return Accuracy(seen, tuple((k, hits[k] / seen) for k in sorted(hits)))
