"""Handwritten digits: a small CNN with real task accuracy, offline.

scikit-learn bundles the UCI digits set (1,797 8×8 greyscale images, 10 classes), so the case
needs no download. The first 1,437 images train, the last 360 are held out (no shuffle: the
split never depends on a random generator). The CNN is trained once, deterministically, on
first use and cached under flagbench's cache directory, keyed by everything that decides the
weights; every vendor and precision then reports top-1 accuracy on the held-out images.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from flagbench.api.contracts import Batch, LabelledData, OnnxExport
from flagbench.api.errors import FlagbenchError

if TYPE_CHECKING:
    import numpy as np
    import torch

log = logging.getLogger(__name__)

TRAIN_SAMPLES = 1437
"""The first 80% of the set (1,437 of 1,797 images); the remaining 360 are the test split."""
NUM_CLASSES = 10
# The training recipe. Changing any of it changes the weights, so it is part of the cache key.
RECIPE: dict[str, Any] = {
    "version": 1, "epochs": 15, "batch_size": 32, "optimizer": "Adam", "lr": 2e-3,
    "seed": 0, "threads": 1, "scale": "pixel / 8 - 1",
}


@functools.lru_cache(maxsize=1)
def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, test images, test labels): float32 N×1×8×8 in [-1, 1]."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise FlagbenchError("case digits needs scikit-learn: pip install 'flagbench[digits]'"
                             ) from None
    import numpy as np

    digits = load_digits()
    # Pixels are counts 0..16; centred on 0 as the network expects.
    images = (digits.images.astype(np.float32) / 8.0 - 1.0)[:, None, :, :]
    labels = digits.target.astype(np.int64)
    return (images[:TRAIN_SAMPLES], labels[:TRAIN_SAMPLES],
            images[TRAIN_SAMPLES:], labels[TRAIN_SAMPLES:])


def _build() -> torch.nn.Module:
    """Two 3×3 convolutions, a pooling and two linear layers: about 38k parameters."""
    from torch import Tensor, nn

    class DigitsCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
            self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.fc1 = nn.Linear(32 * 4 * 4, 64)
            self.fc2 = nn.Linear(64, NUM_CLASSES)
            self.relu = nn.ReLU()

        def forward(self, x: Tensor) -> Tensor:
            x = self.pool(self.relu(self.conv2(self.relu(self.conv1(x)))))
            logits: Tensor = self.fc2(self.relu(self.fc1(x.flatten(1))))
            return logits

    return DigitsCNN()


def _cache_key() -> str:
    """What decides the trained weights: recipe, data, split and torch's version."""
    import torch

    train_x, train_y, _, _ = load_split()
    data = hashlib.sha256(train_x.tobytes() + train_y.tobytes()).hexdigest()
    fields = {"recipe": RECIPE, "train_data": data, "train_samples": TRAIN_SAMPLES,
              "torch": torch.__version__}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def train() -> dict[str, torch.Tensor]:
    """Train the CNN on the training split; the same weights every time on a given torch.

    One thread and deterministic algorithms: a parallel reduction's order, and so its
    rounding, would otherwise depend on the core count.
    """
    import torch

    train_x, train_y, _, _ = load_split()
    x, y = torch.from_numpy(train_x), torch.from_numpy(train_y)
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(RECIPE["threads"])
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RECIPE["seed"])
            model = _build()
            order = torch.Generator().manual_seed(RECIPE["seed"])
            opt = torch.optim.Adam(model.parameters(), lr=RECIPE["lr"])
            model.train()
            for _ in range(RECIPE["epochs"]):
                perm = torch.randperm(len(x), generator=order)
                for idx in torch.split(perm, RECIPE["batch_size"]):
                    opt.zero_grad()
                    loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
                    loss.backward()  # type: ignore[no-untyped-call]
                    opt.step()
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def trained_weights() -> tuple[dict[str, torch.Tensor], str]:
    """The trained state dict from the cache, training and caching it on first use; and
    a note saying where it came from."""
    import torch

    from flagbench.run.cache import cache_dir, verified, write_atomic

    path = cache_dir("weights") / f"digits-cnn-{_cache_key()}.pt"
    if verified(path):
        try:
            state: dict[str, torch.Tensor] = torch.load(path, map_location="cpu",
                                                        weights_only=True)
            return state, f"trained by flagbench, cached at {path}"
        except Exception as exc:  # a file this torch cannot read: train again, replace it
            log.warning("cached digits weights %s unreadable (%s); training again", path, exc)
    t0 = time.perf_counter()
    state = train()
    seconds = time.perf_counter() - t0
    write_atomic(path, lambda tmp: torch.save(state, tmp))
    log.info("trained the digits CNN in %.1f s, cached at %s", seconds, path)
    return state, f"trained by flagbench in {seconds:.1f} s on this run, cached at {path}"


def _batches(images: np.ndarray, labels: np.ndarray, batch_size: int) -> Iterator[Batch]:
    import torch

    for start in range(0, len(images), batch_size):
        stop = start + batch_size
        yield ((torch.from_numpy(images[start:stop].copy()),),
               torch.from_numpy(labels[start:stop].copy()))


class DigitsCase:
    """Handwritten digit classification (sklearn digits, 8×8), a CNN trained on first use."""

    name = "digits"
    description = ("handwritten digits (scikit-learn's 8×8 set, offline): small CNN trained "
                   "on first use and cached; top-1 accuracy on 360 held-out images")
    task = "classification"
    onnx_export = OnnxExport(input_names=("image",), output_names=("logits",))

    def __init__(self) -> None:
        self.weights_note = "trained by flagbench on the first 1,437 digits images (cached)"

    def build_model(self) -> torch.nn.Module:
        """The CNN with its trained weights (training on first use); on the meta device (the
        plan's check of ``--weights``) only the architecture."""

        model = _build()
        if next(model.parameters()).is_meta:
            return model.eval()
        state, self.weights_note = trained_weights()
        model.load_state_dict(state)
        return model.eval()

    def make_inputs(self, batch_size: int, seed: int) -> tuple[torch.Tensor, ...]:
        """Real training-split images picked by the seed, so int8 calibration and timing see
        the data the model was made for (never the held-out images)."""
        import torch

        train_x = load_split()[0]
        gen = torch.Generator().manual_seed(seed)
        idx = torch.randint(len(train_x), (batch_size,), generator=gen).numpy()
        return (torch.from_numpy(train_x[idx]),)

    def evaluation(self, data: str | None) -> LabelledData:
        """The 360 held-out images with their labels."""
        _, _, test_x, test_y = load_split()
        return LabelledData(
            name="sklearn digits, held-out split",
            source=f"sklearn.datasets.load_digits(), images {TRAIN_SAMPLES}..1796 (no shuffle)",
            samples=len(test_x),
            batches=lambda batch_size: _batches(test_x, test_y, batch_size),
            top_k=(1,),
        )
