"""resnet50 task accuracy on an ImageFolder directory: layout, preprocessing, the figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from flagbench.api.errors import FlagbenchError
from flagbench.cases.imagefolder import CROP, MEAN, STD, preprocess, resized_size, scan
from flagbench.cases.resnet50 import ResNet50Case
from flagbench.store import Store


def _image(path: Path, size: tuple[int, int], seed: int, mode: str = "RGB") -> None:
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path)


def _folder(root: Path) -> Path:
    """Three classes, unsorted on disk, one nested image, mixed sizes, modes and cases."""
    for i, (cls, files) in enumerate({"n02": ["b.png", "a.PNG"], "n01": ["x.png"],
                                      "n03": ["deep/y.png", "z.bmp"]}.items()):
        for j, name in enumerate(files):
            target = root / cls / name
            target.parent.mkdir(parents=True, exist_ok=True)
            _image(target, (240 + 37 * j, 300 - 20 * i), seed=10 * i + j,
                   mode="L" if name == "z.bmp" else "RGB")
    (root / "n01" / "notes.txt").write_text("not an image")
    return root


def test_scan_follows_imagefolder(tmp_path: Path) -> None:
    folder = scan(str(_folder(tmp_path)))
    assert folder.classes == ("n01", "n02", "n03")  # sorted names give the class index
    assert [(p.relative_to(tmp_path).as_posix(), c) for p, c in folder.samples] == [
        ("n01/x.png", 0), ("n02/a.PNG", 1), ("n02/b.png", 1), ("n03/z.bmp", 2),
        ("n03/deep/y.png", 2)]


@pytest.mark.parametrize("layout, message", [
    ("missing", "no such directory"),
    ("file", "no such directory"),
    ("flat", "expected one sub-folder per class"),
    ("empty-class", "class folder 'cat' holds no images"),
    ("too-many", "4 class folders, but the model has 3 classes"),
])
def test_scan_refuses_what_is_not_an_imagefolder(tmp_path: Path, layout: str,
                                                  message: str) -> None:
    root = tmp_path / "data"
    if layout == "file":
        root.write_text("x")
    elif layout == "flat":
        root.mkdir()
        _image(root / "a.png", (10, 10), 0)
    elif layout == "empty-class":
        (root / "cat").mkdir(parents=True)
        (root / "cat" / "readme.txt").write_text("x")
    elif layout == "too-many":
        for c in "abcd":
            (root / c).mkdir(parents=True)
            _image(root / c / "i.png", (10, 10), 0)
    with pytest.raises(FlagbenchError, match=message) as err:
        scan(str(root), max_classes=3)
    assert "\n" not in str(err.value)


def test_resize_arithmetic_matches_torchvision() -> None:
    assert resized_size(500, 375) == (341, 256)  # landscape: height to 256
    assert resized_size(375, 500) == (256, 341)
    assert resized_size(256, 256) == (256, 256)


def test_preprocessing_by_hand(tmp_path: Path) -> None:
    # A uniform image: every output value is (c / 255 − mean) / std of its channel.
    path = tmp_path / "flat.png"
    Image.new("RGB", (400, 300), (200, 100, 50)).save(path)
    out = preprocess(path)
    assert out.shape == (3, CROP, CROP) and out.dtype == np.float32
    for ch, value in enumerate((200, 100, 50)):
        np.testing.assert_allclose(out[ch], (value / 255 - MEAN[ch]) / STD[ch], rtol=1e-6)
    # Shorter side already 256: no resampling, so the output is the centre 224×224 crop
    # (top round(76 / 2) = 38, left 16), scaled and normalised.
    path = tmp_path / "noise.png"
    _image(path, (256, 300), seed=3)
    pixels = np.asarray(Image.open(path), dtype=np.float64)[38:262, 16:240] / 255
    expected = ((pixels - MEAN) / STD).transpose(2, 0, 1)
    np.testing.assert_allclose(preprocess(path), expected, rtol=1e-5, atol=1e-6)


def test_accuracy_on_an_image_folder_equals_direct_evaluation(flagbench, quick,
                                                              tmp_path: Path) -> None:
    data = _folder(tmp_path / "val")
    case = ResNet50Case()
    model = case.build_model()
    with torch.no_grad():  # only classes 0..2 can win: top-5 is certain, top-1 is not
        model.fc.weight[3:] = 0
        model.fc.bias[3:] = -1e4
    ckpt = tmp_path / "r50.pt"
    torch.save(model.state_dict(), ckpt)
    db = tmp_path / "a.db"
    out = flagbench("run", "--vendor", "cpu", "--case", "resnet50", "--data", str(data),
                    "--weights", str(ckpt), "--batch-size", "2", "--db", str(db), *quick)
    assert out.returncode == 0, out.stderr
    store = Store.open(str(db), create=False)
    (run,) = store.runs()
    store.close()
    folder = scan(str(data))
    images = torch.from_numpy(np.stack([preprocess(p) for p, _ in folder.samples]))
    labels = torch.tensor([c for _, c in folder.samples])
    with torch.inference_mode():
        logits = model(images)
    assert run.metric("accuracy_samples") == 5
    assert run.metric("accuracy_top1") == pytest.approx(
        (logits.argmax(1) == labels).float().mean().item())
    assert run.metric("accuracy_top5") == 1.0
    assert run.spec["data"] == str(data)
    assert run.environment["accuracy"]["classes"] == 3
    assert str(data.resolve()) in run.environment["accuracy"]["source"]


def test_without_data_resnet50_has_no_accuracy() -> None:
    assert ResNet50Case().evaluation(None) is None


def test_missing_pillow_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    data = _folder(tmp_path)
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(FlagbenchError, match=r"needs Pillow.*flagbench\[vision\]"):
        ResNet50Case().check_data(str(data))
