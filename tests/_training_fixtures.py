"""Tiny CIFAR-10 look-alikes for the training tests, in each on-disk format the loader reads."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SHARED_ZIP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-jpeg.zip"


def write_python_batches(root: Path, rng: np.random.Generator, sizes=(7, 5), n_test=6):
    """Write ``data_batch_<i>`` (one per entry of ``sizes``) and ``test_batch`` pickles.

    Returns the raw ``(data, labels)`` arrays written, train then test, so a test can
    decode pixels itself: sample i, channel c, row r, column k is ``data[i, c*1024 + r*32 + k]``.
    """
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for i, n in enumerate([*sizes, n_test]):
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).tolist()
        name = f"data_batch_{i + 1}" if i < len(sizes) else "test_batch"
        with open(root / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"data": data, b"labels": labels}, f)
        written.append((data, np.array(labels)))
    train = (np.concatenate([w[0] for w in written[:-1]]), np.concatenate([w[1] for w in written[:-1]]))
    return train, written[-1]


def png_bytes(img: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def make_image_folder_images(rng: np.random.Generator, per_class_train=3, per_class_test=2):
    """{(split, class_index, file_index): image} with distinct random 32x32x3 uint8 images."""
    images = {}
    for split, per in (("train", per_class_train), ("test", per_class_test)):
        for c in range(10):
            for j in range(per):
                images[(split, c, j)] = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    return images


def write_image_folder_zip(path: Path, images: dict, prefix: str = "") -> Path:
    """Store ``images`` as lossless PNGs in ``[prefix/]split/class/NNNN.png`` inside a zip."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for (split, c, j), img in images.items():
            zf.writestr(f"{prefix}{split}/{CLASSES[c]}/{j:04d}.png", png_bytes(img))
    return path


def write_image_folder_dir(root: Path, images: dict) -> Path:
    for (split, c, j), img in images.items():
        d = root / split / CLASSES[c]
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{j:04d}.png").write_bytes(png_bytes(img))
    return root


def small_shared_zip(path: Path, per_class_train=50, per_class_test=20) -> Path:
    """Copy the first images of each class of the shared CIFAR-10 zip into a small zip."""
    with zipfile.ZipFile(SHARED_ZIP) as src, zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as dst:
        for split, per in (("train", per_class_train), ("test", per_class_test)):
            for cls in CLASSES:
                for j in range(per):
                    name = f"{split}/{cls}/{j:04d}.jpg"
                    dst.writestr(name, src.read(name))
    return path
