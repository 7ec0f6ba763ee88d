"""The digits case: offline data, a fixed split, a CNN trained once and cached, real accuracy."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from flagbench.api.errors import FlagbenchError
from flagbench.cases import digits
from flagbench.cases.digits import DigitsCase, load_split, trained_weights
from flagbench.store import Store


def test_split_is_fixed_and_disjoint() -> None:
    train_x, train_y, test_x, test_y = load_split()
    assert train_x.shape == (1437, 1, 8, 8) and test_x.shape == (360, 1, 8, 8)
    assert train_x.min() == -1.0 and train_x.max() == 1.0
    assert set(train_y.tolist()) == set(range(10)) == set(test_y.tolist())
    data = DigitsCase().evaluation(None)
    assert data.samples == 360 and data.top_k == (1,)
    batches = list(data.batches(100))
    assert [len(y) for _, y in batches] == [100, 100, 100, 60]
    assert torch.equal(torch.cat([y for _, y in batches]), torch.from_numpy(test_y))


def test_training_is_deterministic_and_cached(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAGBENCH_CACHE", str(tmp_path))
    first, note = trained_weights()
    assert "trained by flagbench in" in note
    files = list((tmp_path / "weights").glob("digits-cnn-*.pt"))
    assert len(files) == 1
    again = digits.train()  # a second training gives the very same weights
    assert all(torch.equal(first[k], again[k]) for k in first)

    def no_training() -> None:
        raise AssertionError("trained again instead of using the cache")

    monkeypatch.setattr(digits, "train", no_training)
    cached, note = trained_weights()
    assert note == f"trained by flagbench, cached at {files[0]}"
    assert all(torch.equal(first[k], cached[k]) for k in first)


def test_the_cache_key_follows_the_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    key = digits._cache_key()
    monkeypatch.setitem(digits.RECIPE, "epochs", digits.RECIPE["epochs"] + 1)
    assert digits._cache_key() != key


def test_trained_model_classifies_held_out_digits() -> None:
    case = DigitsCase()
    model = case.build_model()
    _, _, test_x, test_y = load_split()
    with torch.inference_mode():
        top1 = (model(torch.from_numpy(test_x)).argmax(1).numpy() == test_y).mean()
    assert top1 > 0.9  # a trained model, far above the 10% of a guess


def test_inputs_are_real_training_images_and_deterministic() -> None:
    case = DigitsCase()
    (a,), (b,) = case.make_inputs(4, 7), case.make_inputs(4, 7)
    assert a.shape == (4, 1, 8, 8) and torch.equal(a, b)
    train_x = torch.from_numpy(load_split()[0])
    assert all((train_x == img).flatten(1).all(1).any() for img in a)
    assert not torch.equal(a, case.make_inputs(4, 8)[0])


def test_meta_build_does_not_train() -> None:
    with torch.device("meta"):
        model = DigitsCase().build_model()
    assert next(model.parameters()).is_meta


def test_missing_scikit_learn_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    load_split.cache_clear()
    try:
        with pytest.raises(FlagbenchError, match=r"scikit-learn: pip install 'flagbench\[digits"):
            load_split()
    finally:
        load_split.cache_clear()


def test_accuracy_on_every_vendor_and_precision(flagbench, quick, tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    out = flagbench("run", "--vendor", "cpu,ort-cpu", "--case", "digits",
                    "--precision", "fp32,int8", "--batch-size", "16", "--db", str(db), *quick)
    assert out.returncode == 0, out.stderr
    store = Store.open(str(db), create=False)
    runs = {(r.vendor, r.precision): r for r in store.runs()}
    store.close()
    assert runs[("cpu", "int8")].status == "skipped"
    for key in [("cpu", "fp32"), ("ort-cpu", "fp32"), ("ort-cpu", "int8")]:
        run = runs[key]
        assert run.status == "ok", run.reason
        assert run.metric("accuracy_samples") == 360
        assert 0.9 < run.metric("accuracy_top1") <= 1
        assert run.environment["accuracy"]["dataset"] == "sklearn digits, held-out split"
        assert "trained by flagbench" in run.environment["weights"]["note"]
    # fp32 on torch and on ONNX Runtime run the same weights: the same answers
    assert runs[("cpu", "fp32")].metric("accuracy_top1") == runs[("ort-cpu", "fp32")].metric(
        "accuracy_top1")
    assert runs[("ort-cpu", "int8")].actual["details"]["quantization"]["format"] == "QDQ"
    assert "top-1" in out.stdout
