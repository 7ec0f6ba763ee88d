"""FLOPs per call, counted by torch's FlopCounterMode once and then read from the cache.

Counting is not free: FlopCounterMode's module hooks import ``torch._dynamo`` on first use,
about 1.8 s in every fresh process on the development machine, a fifteenth of a default
ResNet-50 CPU run. For the static graphs of flagbench's cases the count depends only on the
models' structure, the input shapes and what the case does with them (its name and
options), so it is cached under a digest of those, torch's version and the caller's key
(the runner adds a ``--weights`` checkpoint's digest).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How the stored count was obtained, recorded with every run.
COUNTED = "counted"
CACHED = "cache"


def structure_digest(models: Sequence[torch.nn.Module],
                     inputs: Sequence[torch.Tensor]) -> str:
    """A digest of what the FLOP count depends on: each model's module tree and parameter
    and buffer shapes and dtypes, and the inputs' shapes and dtypes."""
    h = hashlib.sha256()
    for model in models:
        h.update(repr(model).encode())
        for name, tensor in model.state_dict().items():
            h.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
    for t in inputs:
        h.update(f"in:{tuple(t.shape)}:{t.dtype};".encode())
    return h.hexdigest()


def _cache_file(key: Mapping[str, Any]) -> Path:
    import torch

    from flagbench.run.cache import cache_dir

    material = json.dumps({**key, "torch": torch.__version__}, sort_keys=True, default=str)
    return cache_dir("flops") / f"{hashlib.sha256(material.encode()).hexdigest()[:24]}.json"


def _read(path: Path) -> float | None:
    """The cached count, or None for a file that is missing, corrupt or holds no count."""
    from flagbench.run.cache import verified

    if not verified(path):
        return None
    try:
        value = json.loads(path.read_text())["flops"]
        number = (float(value) if isinstance(value, (int, float))
                  and not isinstance(value, bool) else -1.0)
    except (OSError, ValueError, KeyError, TypeError, OverflowError, RecursionError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def counted(key: Mapping[str, Any], call: Callable[[], T]) -> tuple[T, float, str]:
    """Run ``call`` and return its result with the FLOPs it performs, counted by torch or
    read from the cache, and which of the two (``COUNTED`` or ``CACHED``).

    A cache that cannot be read or written costs only the time of counting again.
    """
    from flagbench.run.cache import write_atomic

    try:
        path: Path | None = _cache_file(key)
    except OSError as exc:
        log.warning("FLOP cache unavailable: %s", exc)
        path = None
    if path is not None and (flops := _read(path)) is not None:
        return call(), flops, CACHED

    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        result = call()
    total = float(counter.get_total_flops())
    if path is not None:
        record = json.dumps({"flops": total, "key": dict(key)}, sort_keys=True, default=str)

        def write(tmp: str) -> None:
            Path(tmp).write_text(record)

        try:
            write_atomic(path, write)
        except OSError as exc:
            log.warning("FLOP count not cached: %s", exc)
    return result, total, COUNTED
