"""Checkpoints load only through weights_only=True and must fit the model."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from flagbench.api.errors import FlagbenchError
from flagbench.run.weights import apply_state_dict, check_weights, load_state_dict


def _model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(4, 3))


def test_plain_wrapped_and_prefixed_checkpoints(tmp_path: Path) -> None:
    state = _model().state_dict()
    for i, obj in enumerate([
        state,
        {"state_dict": state, "epoch": 3},
        {f"module.{k}": v for k, v in state.items()},
    ]):
        path = tmp_path / f"c{i}.pt"
        torch.save(obj, path)
        loaded = load_state_dict(str(path))
        assert set(loaded) == set(state)
        check_weights(_model, str(path))


def test_arbitrary_pickles_are_refused(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (print, ("code ran",))

    path = tmp_path / "evil.pt"
    torch.save({"x": Payload()}, path)
    with pytest.raises(FlagbenchError, match="could not be loaded"):
        load_state_dict(str(path))


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", pickle.dumps([1, 2, 3])])
def test_malformed_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(FlagbenchError, match="weights file"):
        load_state_dict(str(path))


def test_non_tensor_content_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "dict.pt"
    torch.save({"a": 1}, path)
    with pytest.raises(FlagbenchError, match="state dict of tensors"):
        load_state_dict(str(path))
    with pytest.raises(FlagbenchError, match="does not exist"):
        load_state_dict(str(tmp_path / "absent.pt"))


def test_mismatch_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save(torch.nn.Sequential(torch.nn.Linear(5, 3)).state_dict(), path)
    with pytest.raises(FlagbenchError, match=r"shape mismatches \(e\.g\. 0\.weight") as err:
        check_weights(_model, str(path))
    assert "\n" not in str(err.value)
    with pytest.raises(FlagbenchError, match="does not fit"):
        apply_state_dict(_model(), load_state_dict(str(path)), str(path))
