"""flagbench.run.cache: a cached file is used only while it matches the digest written with
it; every kind of damage is noticed, and each cache's user rebuilds instead of failing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from flagbench.run.cache import digest_file, verified, write_atomic
from flagbench.run.flops import CACHED, COUNTED, counted


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLAGBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[:-1])


def _flip(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))


#: (damage, what it does to a cached file and its digest)
DAMAGE: list[tuple[str, Callable[[Path], None]]] = [
    ("truncated", _truncate),
    ("one bit flipped", _flip),
    ("emptied", lambda p: p.write_bytes(b"")),
    ("digest removed", lambda p: digest_file(p).unlink()),
    ("digest garbage", lambda p: digest_file(p).write_bytes(b"\xff\xfe")),
    ("digest a directory", lambda p: (digest_file(p).unlink(), digest_file(p).mkdir())),
    ("file a directory", lambda p: (p.unlink(), p.mkdir())),
]


@pytest.mark.parametrize(("damage", "do"), DAMAGE, ids=[d for d, _ in DAMAGE])
def test_damage_is_noticed(tmp_path: Path, damage: str, do: Callable[[Path], None]) -> None:
    target = tmp_path / "model.onnx"
    write_atomic(target, lambda tmp: Path(tmp).write_bytes(b"0123456789" * 100))
    assert verified(target)
    do(target)
    assert not verified(target)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_planted_file_without_digest_is_not_trusted(tmp_path: Path) -> None:
    target = tmp_path / "planted.onnx"
    target.write_bytes(b"anything")
    assert not verified(target)


def test_a_flop_count_edited_by_hand_is_counted_again(_own_cache: Path) -> None:
    model, x = torch.nn.Linear(4, 3), torch.ones(2, 4)
    key = {"case": "t", "structure": "s"}
    _, flops, _ = counted(key, lambda: model(x))
    (file,) = (_own_cache / "flops").glob("*.json")
    file.write_text(json.dumps({"flops": 1.0, "key": key}))  # valid JSON, wrong count
    assert counted(key, lambda: model(x))[1:] == (flops, COUNTED)
    assert counted(key, lambda: model(x))[1:] == (flops, CACHED)


def test_corrupt_digits_weights_are_trained_again(_own_cache: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from flagbench.cases import digits

    trained: list[int] = []

    def train() -> dict[str, torch.Tensor]:  # the recipe takes seconds; the cache is the subject
        trained.append(1)
        return {"w": torch.arange(4.0)}

    monkeypatch.setattr(digits, "train", train)
    monkeypatch.setattr(digits, "_cache_key", lambda: "test")
    first, _ = digits.trained_weights()
    (file,) = (_own_cache / "weights").glob("*.pt")
    _flip(file)
    again, note = digits.trained_weights()
    assert len(trained) == 2 and torch.equal(again["w"], first["w"]) and "this run" in note
    _, note = digits.trained_weights()
    assert len(trained) == 2 and "this run" not in note  # the rebuilt file is used
