"""training.data on each source kind, made tiny in tmp_path; errors; the decoded-array cache."""

import os
import pickle
import zipfile

import numpy as np
import pytest

pytest.importorskip("PIL")

from _training_fixtures import (  # noqa: E402  # after importorskip
    make_image_folder_images,
    write_image_folder_dir,
    write_image_folder_zip,
    write_python_batches,
)

from training import data as tdata  # noqa: E402  # after importorskip
from training.data import DataError, load, subset  # noqa: E402  # after importorskip


def decode_rows(rows: np.ndarray) -> np.ndarray:
    """The official layout by hand: row i holds 1024 R, then G, then B values, row-major."""
    out = np.zeros((len(rows), 32, 32, 3), dtype=np.uint8)
    for i in range(len(rows)):
        for ch in range(3):
            for r in range(32):
                for k in range(32):
                    out[i, r, k, ch] = rows[i, ch * 1024 + r * 32 + k]
    return out


def test_python_batches(tmp_path):
    rng = np.random.default_rng(1)
    (tr_data, tr_labels), (te_data, te_labels) = write_python_batches(tmp_path / "cifar-10-batches-py", rng)
    for path in (tmp_path / "cifar-10-batches-py", tmp_path):  # the directory or its parent
        d = load(path)
        assert d.kind == "python-batches" and not d.shuffled
        assert d.x_train.dtype == np.uint8 and d.x_train.shape == (12, 32, 32, 3)
        np.testing.assert_array_equal(d.x_train, decode_rows(tr_data))
        np.testing.assert_array_equal(d.y_train, tr_labels)
        np.testing.assert_array_equal(d.x_test, decode_rows(te_data))
        np.testing.assert_array_equal(d.y_test, te_labels)


def _pairs(x, y):
    return sorted((img.tobytes(), int(label)) for img, label in zip(x, y, strict=True))


@pytest.mark.parametrize("layout", ["zip", "zip-with-prefix", "directory"])
def test_image_folder(tmp_path, layout):
    rng = np.random.default_rng(2)
    images = make_image_folder_images(rng)
    if layout == "directory":
        src = write_image_folder_dir(tmp_path / "imgs", images)
    else:
        prefix = "cifar10/" if layout == "zip-with-prefix" else ""
        src = write_image_folder_zip(tmp_path / "imgs.zip", images, prefix=prefix)
    d = load(src, cache_dir=tmp_path / "cache")
    assert d.shuffled and d.kind.startswith("image-folder")
    for split, x, y in (("train", d.x_train, d.y_train), ("test", d.x_test, d.y_test)):
        expected = [(img.tobytes(), c) for (s, c, _), img in images.items() if s == split]
        assert _pairs(x, y) == sorted(expected)  # every image once, with its folder's label
    # Shuffled, not class-sorted; and the same order every time (fixed seed, no cache).
    assert not np.all(np.diff(d.y_train) >= 0)
    again = tdata.load_image_folder(src, use_cache=False)
    np.testing.assert_array_equal(again.y_train, d.y_train)
    np.testing.assert_array_equal(again.x_train, d.x_train)


def test_cache_written_reused_and_keyed(tmp_path):
    images = make_image_folder_images(np.random.default_rng(3))
    src = write_image_folder_zip(tmp_path / "imgs.zip", images)
    cache = tmp_path / "cache"
    first = load(src, cache_dir=cache)
    files = list(cache.glob("*.npz"))
    assert len(files) == 1 and "(cached)" not in first.source
    second = load(src, cache_dir=cache)
    assert "(cached)" in second.source
    np.testing.assert_array_equal(second.x_train, first.x_train)
    np.testing.assert_array_equal(second.y_test, first.y_test)
    # Touched but not changed: the key is the content, so the entry stays and serves.
    os.utime(src, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns + 10**9))
    third = load(src, cache_dir=cache)
    assert "(cached)" in third.source
    assert len(list(cache.glob("*.npz"))) == 1
    # A damaged cache file is rebuilt, not trusted.
    for f in cache.glob("*.npz"):
        f.write_bytes(b"garbage")
    fourth = load(src, cache_dir=cache)
    np.testing.assert_array_equal(fourth.x_train, first.x_train)


def test_cache_dir_env(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTCONV_CACHE", str(tmp_path / "a"))
    assert tdata.default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("FASTCONV_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert tdata.default_cache_dir() == tmp_path / "xdg" / "fastconv"


def test_truncated_zip_names_the_file(tmp_path):
    src = write_image_folder_zip(tmp_path / "imgs.zip", make_image_folder_images(np.random.default_rng(4)))
    raw = src.read_bytes()
    bad = tmp_path / "truncated.zip"
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="truncated.zip"):
        load(bad, cache_dir=tmp_path / "cache")


def test_undecodable_image_names_the_member(tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("train/cat/0000.jpg", b"not a jpeg")
        zf.writestr("test/cat/0000.jpg", b"not a jpeg")
    with pytest.raises(DataError, match=r"cannot decode image (train|test)/cat/0000\.jpg in .*bad\.zip"):
        load(bad, cache_dir=tmp_path / "cache")


def test_corrupt_pickle_names_the_batch(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    write_python_batches(root, np.random.default_rng(5))
    (root / "data_batch_2").write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)})[:20])
    with pytest.raises(DataError, match="data_batch_2"):
        load(root)


def test_unknown_directory_and_missing_path(tmp_path):
    with pytest.raises(DataError, match="neither"):
        load(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        load(tmp_path / "nope.zip")


def test_nothing_found_lists_places(tmp_path, monkeypatch):
    monkeypatch.delenv("CIFAR10_PATH", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(tdata, "SHARED_ZIP", tmp_path / "absent.zip")

    def offline():
        raise OSError("no network")

    monkeypatch.setattr(tdata, "_keras_download", offline)
    with pytest.raises(DataError) as err:
        load()
    msg = str(err.value)
    assert "absent.zip" in msg and str(tmp_path / "keras") in msg and "load_data" in msg
    assert "cifar-10-python.tar.gz" in msg and "no network" in msg


def test_search_order(tmp_path, monkeypatch):
    """$CIFAR10_PATH beats the shared zip; the Keras cache comes after the shared zip."""
    images = make_image_folder_images(np.random.default_rng(6))
    shared = write_image_folder_zip(tmp_path / "shared.zip", images)
    batches = tmp_path / "keras" / "datasets" / "cifar-10-batches-py"
    write_python_batches(batches, np.random.default_rng(7))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(tdata, "SHARED_ZIP", shared)
    monkeypatch.delenv("CIFAR10_PATH", raising=False)
    assert tdata.find_source()[:2] == ("image-folder-zip", shared)
    monkeypatch.setattr(tdata, "SHARED_ZIP", tmp_path / "absent.zip")
    assert tdata.find_source()[:2] == ("python-batches", batches)
    monkeypatch.setenv("CIFAR10_PATH", str(shared))
    assert tdata.find_source()[:2] == ("image-folder-zip", shared)


def test_subset_takes_the_first_n():
    x = np.arange(10 * 32 * 32 * 3, dtype=np.uint32).reshape(10, 32, 32, 3).astype(np.uint8)
    y = np.arange(10)
    xs, ys = subset(x, y, 4)
    assert ys.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(xs, x[:4])
    with pytest.raises(ValueError, match="n must be in 1..10, got 11"):
        subset(x, y, 11)


def test_cache_is_keyed_by_content_one_entry_per_dataset(tmp_path):
    """Two paths of the same zip share one cache entry; a changed zip replaces its old entry."""
    images = make_image_folder_images(np.random.default_rng(5), per_class_train=1, per_class_test=1)
    a = write_image_folder_zip(tmp_path / "a.zip", images)
    (tmp_path / "copy").mkdir()
    b = tmp_path / "copy" / "b.zip"
    b.write_bytes(a.read_bytes())
    cache = tmp_path / "cache"
    first = load(a, cache_dir=cache)
    second = load(b, cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 1 and "(cached)" in second.source
    np.testing.assert_array_equal(first.x_train, second.x_train)
    # Other images at both paths: the old entry goes, the new one is right.
    other = make_image_folder_images(np.random.default_rng(6), per_class_train=1, per_class_test=1)
    write_image_folder_zip(a, other)
    b.write_bytes(a.read_bytes())
    third = load(a, cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 2  # b still names the old entry until it is read again
    assert "(cached)" in load(b, cache_dir=cache).source
    assert len(list(cache.glob("*.npz"))) == 1
    assert not np.array_equal(third.x_train, first.x_train)
    expected = sorted(img.tobytes() for (split, _, _), img in other.items() if split == "train")
    assert sorted(x.tobytes() for x in third.x_train) == expected
