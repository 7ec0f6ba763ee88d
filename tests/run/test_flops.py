"""flagbench.run.flops: torch counts once, the cache answers after, and a broken cache only
costs a recount."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from flagbench.run.flops import CACHED, COUNTED, counted, structure_digest


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLAGBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _linear(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Linear(4, 3)


def _count(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, float, str]:
    key = {"case": "t", "structure": structure_digest([model], (x,))}
    return counted(key, lambda: model(x))


def test_counts_once_then_reads_the_cache() -> None:
    model, x = _linear(), torch.ones(2, 4)
    out, flops, how = _count(model, x)
    assert (flops, how) == (2 * 2 * 4 * 3, COUNTED)  # one (2x4)·(4x3) matmul
    again, flops2, how2 = _count(model, x)
    assert (flops2, how2) == (flops, CACHED)
    assert torch.equal(out, again)  # the call still runs and its result comes back


def test_shape_structure_and_case_change_the_key_but_weight_values_do_not() -> None:
    x = torch.ones(2, 4)
    base = structure_digest([_linear(0)], (x,))
    assert structure_digest([_linear(1)], (x,)) == base
    assert structure_digest([_linear(0)], (torch.ones(5, 4),)) != base
    assert structure_digest([torch.nn.Linear(4, 5)], (x,)) != base
    _, flops, _ = _count(_linear(), x)
    _, bigger, how = _count(_linear(), torch.ones(5, 4))
    assert (bigger, how) == (flops * 5 / 2, COUNTED)
    _, _, other_case = counted({"case": "u", "structure": base}, lambda: None)
    assert other_case == COUNTED


def test_a_corrupt_cache_file_is_counted_again(_own_cache: Path) -> None:
    model, x = _linear(), torch.ones(2, 4)
    _, flops, _ = _count(model, x)
    (file,) = (_own_cache / "flops").glob("*.json")
    file.write_text("{not json")
    _, again, how = _count(model, x)
    assert (again, how) == (flops, COUNTED)
    _, _, how = _count(model, x)
    assert how == CACHED  # the recount repaired the file


def test_an_unusable_cache_only_costs_a_recount(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("FLAGBENCH_CACHE", str(blocker))
    model, x = _linear(), torch.ones(2, 4)
    for _ in range(2):
        _, flops, how = _count(model, x)
        assert (flops, how) == (48, COUNTED)
