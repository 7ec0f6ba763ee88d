"""Load a local checkpoint safely and check that it fits a case's model."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flagbench.api.errors import FlagbenchError
from flagbench.api.files import is_regular

if TYPE_CHECKING:
    import torch

# Wrappers that training scripts commonly put around the state dict.
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")
_PREFIXES = ("module.", "_orig_mod.")


def load_state_dict(path: str) -> dict[str, torch.Tensor]:
    """Read a checkpoint with ``weights_only=True`` (never arbitrary pickles) into a state dict."""
    p = Path(path)
    if not is_regular(p):  # a FIFO would block torch.load for ever
        raise FlagbenchError(f"weights file {path} does not exist or is not a file")
    if not os.access(p, os.R_OK):
        raise FlagbenchError(f"weights file {path} is not readable")
    import pickle
    import warnings

    import torch
    try:
        # torch warns about, and advises, weights_only=False: advice flagbench never takes.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj: Any = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise FlagbenchError(f"weights file {path} could not be loaded: it holds Python objects "
                             "besides tensors, which flagbench never unpickles (they can run "
                             "code); save a state dict with torch.save(model.state_dict(), PATH)"
                             ) from None
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FlagbenchError(f"weights file {path} could not be loaded: {first}") from None
    for key in _WRAPPER_KEYS:
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in obj.values()
    ):
        raise FlagbenchError(f"weights file {path} does not hold a state dict of tensors")
    state: dict[str, torch.Tensor] = {}
    for key, value in obj.items():
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix):]
        state[key] = value
    return state


def _mismatches(model: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> list[str]:
    """What keeps ``state`` from loading strictly into ``model`` (keys and shapes only)."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(state[k].shape) != expected[k])
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
    if wrong:
        k = wrong[0]
        problems.append(
            f"{len(wrong)} shape mismatches (e.g. {k}: {tuple(state[k].shape)} vs {expected[k]})"
        )
    return problems


def apply_state_dict(model: torch.nn.Module, state: Mapping[str, torch.Tensor], path: str) -> None:
    """Load ``state`` into ``model`` strictly, with one line saying what does not fit."""
    problems = _mismatches(model, state)
    if problems:
        raise FlagbenchError(f"weights file {path} does not fit the model: {'; '.join(problems)}")
    model.load_state_dict(state, strict=True)


def check_weights(build_model: Callable[[], torch.nn.Module], path: str) -> None:
    """Check, before any run, that ``path`` loads and fits; the model is built on the meta
    device so this costs no memory or initialisation time."""
    state = load_state_dict(path)
    import torch

    with torch.device("meta"):
        model = build_model()
    problems = _mismatches(model, state)
    if problems:
        raise FlagbenchError(f"weights file {path} does not fit the model: {'; '.join(problems)}")


def file_digest(path: str) -> str:
    """SHA-256 of a file, recorded so that runs name the exact weights they used."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_seeded(build: Callable[[], torch.nn.Module], seed: int) -> torch.nn.Module:
    """``build()`` under a private RNG seeded with ``seed``, in eval mode: the same random
    weights every time, without disturbing the caller's global RNG."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build()
    return model.eval()
