"""Reading an image-folder CIFAR-10 (``[prefix/]train/<class>/*.jpg``, ``test/...``), as a directory or a zip.

:mod:`training.data` shuffles and caches what this returns.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from zlib import error as zlib_error  # raised when a compressed zip member is damaged

import numpy as np

#: CIFAR-10 class names; a label is the index into this tuple.
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
#: File suffixes read as images.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class DataError(Exception):
    """CIFAR-10 could not be found or read; the message says where and what to do."""


def _split_member(name: str) -> tuple[str, str] | None:
    """``.../train/<class>/<file>.jpg`` -> ("train", class); anything else -> None."""
    parts = name.replace("\\", "/").split("/")
    if len(parts) < 3 or not parts[-1].lower().endswith(IMAGE_SUFFIXES):
        return None
    split, cls = parts[-3], parts[-2]
    if split not in ("train", "test"):
        return None
    return split, cls


def _decode(raw: bytes, what: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(raw)) as im:
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except Exception as e:  # Pillow raises several types for bad files
        raise DataError(f"cannot decode image {what}: {type(e).__name__}: {e}") from None
    if arr.shape != (32, 32, 3):
        raise DataError(f"image {what} has shape {arr.shape}, expected (32, 32, 3)")
    return arr


def _class_labels(classes: set[str], where: str) -> dict[str, int]:
    """Label class folders: the standard CIFAR-10 order when the names match, else sorted order."""
    if classes <= set(CLASSES):
        return {c: CLASSES.index(c) for c in classes}
    ordered = sorted(classes)
    if len(ordered) > len(CLASSES):
        raise DataError(f"{where}: {len(ordered)} class folders, expected at most 10: {ordered}")
    return {c: i for i, c in enumerate(ordered)}


def _assemble(entries, read, where: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Decode ``entries`` [(split, class, key)] with ``read(key) -> bytes``; sorted by key."""
    by_split: dict[str, list] = {"train": [], "test": []}
    for split, cls, key in entries:
        by_split[split].append((cls, key))
    for split, items in by_split.items():
        if not items:
            raise DataError(f"{where}: no images under {split}/<class>/")
    labels_of = _class_labels({c for items in by_split.values() for c, _ in items}, where)
    out = {}
    for split, items in by_split.items():
        items.sort(key=lambda it: str(it[1]))
        x = np.empty((len(items), 32, 32, 3), dtype=np.uint8)
        y = np.empty(len(items), dtype=np.int64)
        for i, (cls, key) in enumerate(items):
            x[i] = _decode(read(key), f"{key} in {where}")
            y[i] = labels_of[cls]
        out[split] = (x, y)
    return out


def read_image_folder(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if path.is_dir():
        entries = []
        for f in path.rglob("*"):
            m = _split_member(str(f.relative_to(path)))
            if m and f.is_file():
                entries.append((m[0], m[1], f))
        return _assemble(entries, lambda f: f.read_bytes(), str(path))
    try:
        with zipfile.ZipFile(path) as zf:
            entries = [(*m, info.filename) for info in zf.infolist() if (m := _split_member(info.filename))]

            def read(name):
                try:
                    return zf.read(name)
                except (zipfile.BadZipFile, OSError, EOFError, zlib_error) as e:
                    raise DataError(f"cannot read {name} in {path}: {e}") from None

            return _assemble(entries, read, str(path))
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise DataError(f"{path} is not a readable zip (corrupt or truncated?): {e}") from None
