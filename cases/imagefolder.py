"""ImageFolder-layout labelled images and the standard ImageNet evaluation preprocessing.

The layout is torchvision's ``ImageFolder``: one sub-folder per class, class index = position
of the folder name in sorted order (for ImageNet's validation set the synset folders
``n01440764`` … give the usual 1,000 indices), images found recursively by extension. The
preprocessing is torchvision's evaluation transform, written with Pillow because PyPI's
torchvision is a CUDA build that fails beside CPU torch: resize the shorter side to 256
(bilinear), centre-crop 224, scale to [0, 1], normalise with ImageNet's mean and std.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flagbench.api.contracts import Batch, LabelledData
from flagbench.api.errors import FlagbenchError

if TYPE_CHECKING:
    import numpy as np

#: torchvision's IMG_EXTENSIONS, matched case-insensitively.
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
#: Folders walked per class: ImageNet has one per class; links that fan out (two links to
#: the next level, thirty levels deep) would otherwise make a finite tree walk for ever.
MAX_FOLDERS = 100_000
RESIZE = 256
CROP = 224
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ImageFolder:
    """A scanned ImageFolder directory: sorted class names and (image, class index) pairs."""

    root: Path
    classes: tuple[str, ...]
    samples: tuple[tuple[Path, int], ...]


def _need_pillow() -> None:
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise FlagbenchError("--data needs Pillow to read images: pip install "
                             "'flagbench[vision]'") from None


def scan(path: str, max_classes: int | None = None) -> ImageFolder:
    """Scan ``path`` as an ImageFolder; a one-line FlagbenchError for anything else."""
    root = Path(path)
    if not root.is_dir():
        raise FlagbenchError(f"--data {path}: no such directory")
    try:
        classes = tuple(sorted(e.name for e in os.scandir(root) if e.is_dir()))
    except OSError as exc:
        raise FlagbenchError(f"--data {path}: cannot be read ({exc.strerror})") from None
    if not classes:
        raise FlagbenchError(f"--data {path}: expected one sub-folder per class (ImageFolder "
                             "layout), found none")
    if max_classes is not None and len(classes) > max_classes:
        raise FlagbenchError(f"--data {path}: {len(classes)} class folders, but the model has "
                             f"{max_classes} classes")
    samples: list[tuple[Path, int]] = []
    for index, name in enumerate(classes):
        found = _images(root / name, path)
        if not found:
            raise FlagbenchError(f"--data {path}: class folder {name!r} holds no images "
                                 f"({', '.join(IMG_EXTENSIONS)})")
        samples += [(f, index) for f in found]
    return ImageFolder(root, classes, tuple(samples))


def _images(folder: Path, given: str) -> list[Path]:
    """The images under ``folder``, sorted, depth first. Links are followed (datasets are
    often linked in) but a link back to a folder being walked is a loop and refused; an image
    name that is not a regular file (a FIFO would block its read for ever) too."""
    found: list[Path] = []
    # Each entry: a folder and the (device, inode) of it and of every folder above it.
    stack: list[tuple[Path, frozenset[tuple[int, int]]]] = []
    info = folder.stat()
    stack.append((folder, frozenset({(info.st_dev, info.st_ino)})))
    walked = 0
    while stack:
        here, above = stack.pop()
        walked += 1
        if walked > MAX_FOLDERS:
            raise FlagbenchError(f"--data {given}: over {MAX_FOLDERS} folders under {folder} "
                                 "(links that fan out?)")
        try:
            entries = sorted(os.scandir(here), key=lambda e: e.name)
        except OSError as exc:
            raise FlagbenchError(f"--data {given}: {here} cannot be read ({exc.strerror})"
                                 ) from None
        subfolders = []
        for entry in entries:
            try:
                if entry.is_dir():
                    st = entry.stat()
                    if (st.st_dev, st.st_ino) in above:
                        raise FlagbenchError(f"--data {given}: {entry.path} links back to a "
                                             "folder above it (a symbolic-link loop)")
                    subfolders.append((Path(entry.path), above | {(st.st_dev, st.st_ino)}))
                elif entry.name.lower().endswith(IMG_EXTENSIONS):
                    if not entry.is_file():
                        raise FlagbenchError(f"--data {given}: {entry.path} is not a regular "
                                             "file")
                    found.append(Path(entry.path))
            except OSError as exc:  # a dangling or self-referencing link, say
                raise FlagbenchError(f"--data {given}: {entry.path} cannot be read "
                                     f"({exc.strerror})") from None
        # Files of a folder first, then its sub-folders in name order, as os.walk gave them.
        stack.extend(reversed(subfolders))
    return found


def resized_size(width: int, height: int, size: int = RESIZE) -> tuple[int, int]:
    """(width, height) with the shorter side at ``size``, as torchvision computes it."""
    if width <= height:
        return size, int(size * height / width)
    return int(size * width / height), size


def preprocess(path: Path) -> np.ndarray:
    """One image as the 3×224×224 float32 array the network takes."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as img:
        rgb = img.convert("RGB")
    rgb = rgb.resize(resized_size(*rgb.size), Image.Resampling.BILINEAR)
    w, h = rgb.size
    top, left = int(round((h - CROP) / 2.0)), int(round((w - CROP) / 2.0))
    rgb = rgb.crop((left, top, left + CROP, top + CROP))
    pixels = np.asarray(rgb, dtype=np.float32) / 255.0
    normalised = (pixels - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    return np.ascontiguousarray(normalised.transpose(2, 0, 1))


def _batches(folder: ImageFolder, batch_size: int) -> Iterator[Batch]:
    import numpy as np
    import torch

    items = folder.samples
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        images = np.stack([preprocess(p) for p, _ in chunk])
        yield (torch.from_numpy(images),), torch.tensor([c for _, c in chunk])


def imagenet_evaluation(path: str, max_classes: int) -> LabelledData:
    """The ImageFolder at ``path`` as a labelled set with ImageNet preprocessing, top-1/5."""
    _need_pillow()
    folder = scan(path, max_classes)
    return LabelledData(
        name=f"ImageFolder {folder.root.name}",
        source=f"{folder.root.resolve()} (resize {RESIZE} bilinear, centre crop {CROP}, "
               "ImageNet mean/std)",
        samples=len(folder.samples),
        batches=lambda batch_size: _batches(folder, batch_size),
        top_k=(1, 5),
        details={"classes": len(folder.classes)},
    )


def check_imagenet_folder(path: str, max_classes: int) -> None:
    """Refuse, in one line, a directory that is not a readable ImageFolder of images."""
    _need_pillow()
    scan(path, max_classes)
