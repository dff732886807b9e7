"""``python -m fastconv.nn``'s data and ``--json`` arguments, as a careless or hostile user gives them.

Outputs never replace an input, a small ``.npz`` that unpacks to a huge array is read only as far as
``--n`` asks (and refused from its header when the whole of it would be scored), bad files and
values are one ``error:`` line, and ``--json`` is written only when the figures are known.
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest

pytest.importorskip("h5py")

from test_hostile_nn import peak_rss, reference_forward, weights, write_keras  # noqa: E402 -- after the skip

from fastconv.nn import cli  # noqa: E402 -- after the h5py skip
from fastconv.nn.cli import main  # noqa: E402 -- after the h5py skip


@pytest.fixture
def model(tmp_path):
    w = weights()
    return write_keras(tmp_path / "m.keras", arrays=w), w


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "data.npz"
    rng = np.random.default_rng(1)
    np.savez(path, x=rng.random((6, 8, 8, 3), dtype=np.float32), y=rng.integers(0, 5, 6))
    return path


def one_line(capsys, *needles):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize("target", ["model", "data", "labels"])
def test_json_onto_an_input_is_refused_and_the_input_kept(tmp_path, model, capsys, target):
    path, _ = model
    x = np.random.default_rng(3).random((4, 8, 8, 3), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.arange(4))
    files = {"model": path, "data": tmp_path / "x.npy", "labels": tmp_path / "y.npy"}
    before = {k: p.read_bytes() for k, p in files.items()}
    # another spelling of the same file: through a symlink
    os.symlink(files[target], tmp_path / "alias")
    for spelling in (files[target], tmp_path / "alias"):
        argv = [str(path), str(files["data"]), "--labels", str(files["labels"]), "--json", str(spelling)]
        assert main(argv) == 2
        one_line(capsys, "--json", "is the input")
    assert {k: p.read_bytes() for k, p in files.items()} == before


def test_json_onto_the_npz_is_refused(tmp_path, model, data, capsys):
    path, _ = model
    before = data.read_bytes()
    assert main([str(path), str(data), "--json", str(data)]) == 2
    one_line(capsys, "is the input")
    assert data.read_bytes() == before


def write_zeros_npz(path, shape, dtype=np.float64, labels=None):
    """A deflated .npz of zeros written member by member (never the whole array in memory)."""
    n = shape[0]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("x.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(
                f, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
            )
            row = bytes(int(np.prod(shape[1:])) * np.dtype(dtype).itemsize * 1000)
            for i in range(0, n, 1000):
                f.write(row[: min(1000, n - i) * len(row) // 1000])
        y = np.zeros(n, np.int64) if labels is None else labels
        with z.open("y.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array(f, y)
    return path


@pytest.fixture(scope="module")
def big_npz(tmp_path_factory):
    """1.2 GB of float64 zeros, (800000, 8, 8, 3), in a .npz of about 5 MB: written once for the module."""
    big = write_zeros_npz(tmp_path_factory.mktemp("bomb") / "big.npz", (800_000, 8, 8, 3))
    assert big.stat().st_size < 10 << 20
    return big


def test_n_reads_only_the_first_images_of_an_npz(tmp_path, model, capsys, monkeypatch, big_npz):
    """--n 10 of a 5 MB .npz of 1.2 GB: the first ten images are scored as the NumPy forward pass says."""
    path, w = model
    big = big_npz
    out = tmp_path / "score.json"
    assert main([str(path), str(big), "--n", "10", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    want = reference_forward(np.zeros((10, 8, 8, 3), np.float32), w).argmax(1)
    assert record["images"] == 10 and record["fastconv"]["correct"] == int((want == 0).sum())
    # the whole array is refused from its header, before any of it is decompressed
    read = []
    monkeypatch.setattr(cli._Array, "read", lambda self, *a: read.append(self) or 1 / 0)
    assert main([str(path), str(big)]) == 2
    one_line(capsys, "more than fastconv.nn.cli.MAX_IMAGE_VALUES", "--n")
    assert read == []


@pytest.mark.slow
def test_npz_bomb_with_n_stays_below_1gb(tmp_path, model, big_npz):
    path, _ = model
    big = big_npz
    for args in ([path, big, "--n", "10"], [path, big]):
        rc, err, rss = peak_rss(args, tmp_path)
        assert rc in (0, 2) and "Traceback" not in err, err
        assert rss < 1 << 30, (args, rss)


@pytest.mark.parametrize("layout", ["npz", "npy", "npy-labels-n1"])
def test_first_n_images_of_every_layout_match_numpy(tmp_path, model, capsys, layout):
    path, w = model
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (9, 8, 8, 3), dtype=np.uint8)
    probs = reference_forward(x.astype(np.float32) / 255, w)
    y = probs.argmax(1)
    y[::2] = (y[::2] + 1) % 5  # some wrong
    if layout == "npz":
        np.savez_compressed(tmp_path / "d.npz", x=x, y=y)
        argv = [str(tmp_path / "d.npz")]
    else:
        np.save(tmp_path / "x.npy", x)
        np.save(tmp_path / "y.npy", y.reshape(-1, 1) if layout.endswith("n1") else y)
        argv = [str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy")]
    assert main([str(path), *argv, "--n", "7"]) == 0
    correct = int((probs[:7].argmax(1) == y[:7]).sum())
    assert f"({correct:,}/7)" in capsys.readouterr().out


def test_not_a_zip_npz_is_one_line(tmp_path, model, capsys):
    path, _ = model
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all" * 10)
    assert main([str(path), str(tmp_path / "junk.npz")]) == 2
    one_line(capsys, "not a zip archive")


def test_truncated_npz_member_is_one_line(tmp_path, model, capsys):
    path, _ = model
    x = np.zeros((6, 8, 8, 3), np.float32)
    with zipfile.ZipFile(tmp_path / "t.npz", "w") as z:
        raw = np.lib.format.header_data_from_array_1_0(x)
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, raw)
        z.writestr("x.npy", buf.getvalue() + bytes(100))  # header says 6 images, 100 bytes follow
        buf = io.BytesIO()
        np.save(buf, np.zeros(6, np.int64))
        z.writestr("y.npy", buf.getvalue())
    assert main([str(path), str(tmp_path / "t.npz")]) == 2
    one_line(capsys, "shorter than its header says")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_json_to_a_full_device_is_one_line(model, data, capsys):
    path, _ = model
    assert main([str(path), str(data), "--json", "/dev/full"]) == 2
    one_line(capsys, "cannot write --json /dev/full")


def test_failed_model_load_leaves_no_json(tmp_path, data, capsys):
    (tmp_path / "bad.keras").write_bytes(b"junk")
    out = tmp_path / "score.json"
    assert main([str(tmp_path / "bad.keras"), str(data), "--json", str(out)]) == 2
    one_line(capsys, "not a .keras file")
    assert sorted(os.listdir(tmp_path)) == ["bad.keras", "data.npz"]  # no score.json, no temporary file


@pytest.mark.parametrize("scale", ["0", "-1", "nan", "inf"])
def test_scale_must_be_finite_and_positive(model, data, capsys, scale):
    path, _ = model
    assert main([str(path), str(data), "--scale", scale]) == 2
    one_line(capsys, "--scale must be a finite number > 0")


@pytest.mark.parametrize("labels", [[0, 1, 2, 3, 4, 5], [0, 1, -1, 0, 0, 0]])
def test_labels_outside_the_models_classes_are_refused(tmp_path, model, capsys, labels):
    path, _ = model
    np.savez(tmp_path / "d.npz", x=np.zeros((6, 8, 8, 3), np.float32), y=np.array(labels))
    assert main([str(path), str(tmp_path / "d.npz")]) == 2
    one_line(capsys, "labels must be classes 0 to 4")


@pytest.mark.parametrize("layout", ["npz", "npy"])
def test_empty_image_arrays_are_one_line(tmp_path, model, capsys, layout):
    path, _ = model
    x, y = np.zeros((0, 8, 8, 3), np.float32), np.zeros(0, np.int64)
    if layout == "npz":
        np.savez(tmp_path / "d.npz", x=x, y=y)
        argv = [str(tmp_path / "d.npz")]
    else:
        np.save(tmp_path / "x.npy", x)
        np.save(tmp_path / "y.npy", y)
        argv = [str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy")]
    assert main([str(path), *argv]) == 2
    one_line(capsys, "holds no images")


def test_complex_images_are_refused_not_cast(tmp_path, model, capsys):
    path, _ = model
    np.savez(tmp_path / "d.npz", x=np.ones((2, 8, 8, 3), np.complex64), y=np.zeros(2, np.int64))
    assert main([str(path), str(tmp_path / "d.npz")]) == 2
    one_line(capsys, "images must be integers or real floats, got dtype complex64")
