"""Hostile and careless inputs to ``fastconv filter``: outputs onto inputs, interruptions, bombs, odd files.

Every file is written here, in ``tmp_path``, and is small on disk (bombs are
small files that decode to large arrays).  Interruptions are real signals to a
real ``python -m fastconv`` process, sent once the process has started writing
its output; a job is made slow by its size only.  Memory is the peak resident
set size of the child process (``resource.getrusage(RUSAGE_CHILDREN)`` read in a
fresh interpreter that runs the command, so earlier children do not count).
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fastconv.cli import main

tifffile = pytest.importorskip("tifffile")
zarr = pytest.importorskip("zarr")

ROOT = Path(__file__).resolve().parents[1]
GIB = 1 << 30


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT), e.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return e


def run(args, cwd, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "fastconv", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env=env(),
        **kwargs,
    )


def one_line_error(proc, *needles):
    """A non-zero exit, one ``error:`` line on stderr naming every needle, no traceback."""
    err = proc.stderr.strip().splitlines()
    err = [line for line in err if not line.startswith("fastconv: compiling")]
    assert proc.returncode != 0, proc.stderr
    assert len(err) == 1 and "error:" in err[0], proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in err[0], err[0]


def peak_rss(module_args, cwd, timeout=600):
    """(returncode, stderr, peak RSS in bytes) of ``python -m MODULE ARGS`` run in a fresh child."""
    code = (
        "import resource, subprocess, sys, json;"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
        "print(json.dumps([p.returncode, p.stderr, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, sys.executable, "-m", *map(str, module_args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(),
    )
    rc, stderr, kib = json.loads(out.stdout)
    return rc, stderr, kib * 1024


def smooth(h, w):
    """A deterministic uint8 image that compresses well (small files, any size)."""
    y, x = np.mgrid[:h, :w]
    return ((x // 7 + y // 5) % 256).astype(np.uint8)


# --------------------------------------------------------------------------------------------------
# Outputs are never the input


def write_zarr(path, values, chunks=(64, 64)):
    z = zarr.create_array(str(path), shape=values.shape, chunks=chunks, dtype=values.dtype)
    z[:] = values
    return path


def read_zarr(path):
    return np.asarray(zarr.open(str(path), mode="r")[:])


@pytest.mark.parametrize(
    "name,extra",
    [("a.zarr", []), ("a.tif", ["--chunks", "64"]), ("a.tif", []), ("a.png", []), ("a.png", ["--scale", "none"])],
)
def test_output_onto_the_input_is_refused_and_the_input_kept(tmp_path, monkeypatch, capsys, name, extra):
    img = smooth(100, 120)
    src = tmp_path / name
    if name.endswith(".zarr"):
        write_zarr(src, img)
    elif name.endswith(".tif"):
        tifffile.imwrite(src, img, tile=(64, 64))
    else:
        Image.fromarray(img).save(src)
    monkeypatch.chdir(tmp_path)
    before = sorted((p.relative_to(tmp_path), p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file())
    (tmp_path / "link").mkdir()
    os.symlink(src, tmp_path / "link" / name)
    outs = [name, f"./{name}/" if name.endswith(".zarr") else f"./{name}", f"link/{name}", str(src)]
    if src.is_file():
        os.link(src, tmp_path / f"hard{src.suffix}")
        outs.append(f"hard{src.suffix}")
    for out in outs:
        for more in ([], ["--overwrite"]):
            assert main(["filter", name, "-k", "box:3", "-o", out, *extra, *more]) == 1
            err = capsys.readouterr().err
            assert err.startswith("fastconv: error: output ") and "is the input" in err and err.count("\n") == 1
    (tmp_path / "link" / name).unlink()
    if src.is_file():
        (tmp_path / f"hard{src.suffix}").unlink()
    after = sorted((p.relative_to(tmp_path), p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file())
    assert after == before


@pytest.mark.slow
def test_output_onto_the_input_in_a_real_process(tmp_path):
    write_zarr(tmp_path / "a.zarr", smooth(100, 120))
    one_line_error(run(["filter", "a.zarr", "-k", "box:3", "-o", "a.zarr"], tmp_path), "is the input")
    np.testing.assert_array_equal(read_zarr(tmp_path / "a.zarr"), smooth(100, 120))


def test_foreign_outputs_need_overwrite(tmp_path, monkeypatch, capsys):
    img = smooth(40, 50)
    Image.fromarray(img).save(tmp_path / "in.png")
    write_zarr(tmp_path / "in.zarr", img, chunks=(16, 16))
    folder = tmp_path / "other.zarr"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (tmp_path / "file.zarr").write_text("a file")
    (tmp_path / "text.png").write_text("not a picture")
    (tmp_path / "dir.png").mkdir()
    cases = [
        (["in.zarr", "-o", "other.zarr"], "folder with other files"),
        (["in.zarr", "-o", "file.zarr"], "is a file, not a zarr store"),
        (["in.png", "-o", "text.png"], "is not a .png file"),
    ]
    monkeypatch.chdir(tmp_path)
    for argv, message in cases:
        assert main(["filter", argv[0], "-k", "box:3", *argv[1:]]) == 1
        err = capsys.readouterr().err
        assert message in err and "--overwrite" in err and err.count("\n") == 1
    assert (folder / "notes.txt").read_text() == "mine"
    assert (tmp_path / "file.zarr").read_text() == "a file"
    assert (tmp_path / "text.png").read_text() == "not a picture"
    assert main(["filter", "in.png", "-k", "box:3", "-o", "dir.png", "--overwrite"]) == 1
    assert "is a folder" in capsys.readouterr().err and (tmp_path / "dir.png").is_dir()
    # a folder output around the input would be emptied with it, --overwrite or not
    inner = folder / "img.png"
    Image.fromarray(img).save(inner)
    assert main(["filter", str(inner), "-k", "box:3", "-o", "other.zarr", "--overwrite", "--chunks", "16"]) == 1
    assert "inside one another" in capsys.readouterr().err and inner.is_file()

    # with --overwrite each is replaced by a complete output of the right kind
    want = np.array(Image.open(tmp_path / "in.png"), dtype=np.int64)
    want = sum(want[a : a + 38, b : b + 48] for a in range(3) for b in range(3))
    for argv in (["in.zarr", "-o", "other.zarr"], ["in.zarr", "-o", "file.zarr"]):
        assert main(["filter", argv[0], "-k", "1 1 1; 1 1 1; 1 1 1", *argv[1:], "--overwrite"]) == 0
        np.testing.assert_array_equal(read_zarr(tmp_path / argv[-1]), want)
        assert not (tmp_path / argv[-1] / "notes.txt").exists()
    assert (
        main(["filter", "in.png", "-k", "1 1 1; 1 1 1; 1 1 1", "-o", "text.png", "--scale", "none", "--overwrite"]) == 0
    )
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "text.png")), want)
    # an output fastconv writes (a zarr store, a PNG) is replaced without --overwrite, as before
    assert main(["filter", "in.zarr", "-k", "box:3", "-o", "file.zarr"]) == 0
    assert read_zarr(tmp_path / "file.zarr").dtype == np.float64
    assert main(["filter", "in.png", "-k", "identity", "-o", "text.png"]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "text.png")), img[1:-1, 1:-1])
    capsys.readouterr()
    assert not list(tmp_path.glob(".*partial*")), "no temporary output is left behind"


# --------------------------------------------------------------------------------------------------
# Interrupted outputs: the old output or none, never a partial one


def _default_signals():
    """In the child: SIGINT, SIGHUP and SIGTERM as a shell gives them to a command.

    A child inherits ignored signals, and the process running the tests may have come to ignore
    SIGINT or SIGHUP (a library, or the way it was started); the command would then never see the
    signal sent to it and finish normally.  Ignored SIGHUP under nohup has its own test.
    """
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def _start(args, cwd):
    return subprocess.Popen(
        [sys.executable, "-m", "fastconv", *map(str, args)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
        start_new_session=True,
        preexec_fn=_default_signals,
    )


def _interrupt_when(proc, started, sig, timeout=400):
    """Send ``sig`` to ``proc`` once ``started()`` holds; fail if the job ends first."""
    deadline = time.monotonic() + timeout
    while not started():
        if proc.poll() is not None:
            pytest.fail(f"the job finished before it could be interrupted: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the job never started writing")
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def _partials(folder):
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name)


def _written_chunks(folder, name):
    """True once a temporary zarr store beside ``name`` holds a chunk, or a temporary file holds 1 MiB."""
    for p in folder.glob(f".{Path(name).stem}.partial-*"):
        if p.is_dir() and any(q.is_file() and q.name != "zarr.json" for q in p.rglob("*")):
            return True
        if p.is_file() and p.stat().st_size > (1 << 20):
            return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize("out", ["out.zarr", "out.tif"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_chunked_job_leaves_the_old_output(tmp_path, out, sig):
    img = smooth(2048, 2048)
    write_zarr(tmp_path / "big.zarr", img, chunks=(256, 256))
    np.save(tmp_path / "k.npy", np.ones((31, 31), np.int64))
    old = np.arange(12, dtype=np.int64).reshape(3, 4)
    if out.endswith(".zarr"):
        write_zarr(tmp_path / out, old, chunks=(3, 4))
    else:
        tifffile.imwrite(tmp_path / out, old)
    proc = _start(["filter", "big.zarr", "-k", "k.npy", "--chunks", "256", "-o", out], tmp_path)
    rc, err = _interrupt_when(proc, lambda: _written_chunks(tmp_path, out), sig)
    if sig == signal.SIGINT:
        assert rc == 130 and err.strip().endswith("fastconv: interrupted"), err
        assert _partials(tmp_path) == [], "Ctrl-C removes the temporary output"
    else:
        assert rc == -signal.SIGKILL
        assert all(name.startswith(f".{Path(out).stem}.partial-") for name in _partials(tmp_path))
    got = read_zarr(tmp_path / out) if out.endswith(".zarr") else tifffile.imread(tmp_path / out)
    np.testing.assert_array_equal(got, old)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_chunked_job_without_an_old_output_leaves_none(tmp_path, sig):
    write_zarr(tmp_path / "big.zarr", smooth(2048, 2048), chunks=(256, 256))
    np.save(tmp_path / "k.npy", np.ones((31, 31), np.int64))
    proc = _start(["filter", "big.zarr", "-k", "k.npy", "--chunks", "256", "-o", "new.zarr"], tmp_path)
    _interrupt_when(proc, lambda: _written_chunks(tmp_path, "new.zarr"), sig)
    assert not (tmp_path / "new.zarr").exists()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_in_memory_save_leaves_the_old_output(tmp_path, sig):
    """A large TIFF saved in memory (``--scale none``): killed while the file is being written."""
    Image.fromarray(smooth(4000, 4000)).save(tmp_path / "in.png")
    old = np.full((3, 4), 9, np.int32)
    tifffile.imwrite(tmp_path / "out.tif", old)
    proc = _start(
        # kernel1: the kernel of the pixel-limit test below, whose child then loads what this one compiled
        ["filter", "in.png", "--channel", "rgb", "-k", "kernel1", "--scale", "none", "-o", "out.tif"],
        tmp_path,
    )
    rc, err = _interrupt_when(proc, lambda: _written_chunks(tmp_path, "out.tif"), sig)
    assert rc == (130 if sig == signal.SIGINT else -signal.SIGKILL), err
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out.tif"), old)
    if sig == signal.SIGINT:
        assert _partials(tmp_path) == []


# --------------------------------------------------------------------------------------------------
# 16-bit colour PNGs at full depth


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def png16(samples: np.ndarray, colour: int, interlace: int = 0) -> bytes:
    """A 16-bit PNG of ``samples`` (H, W, C), written byte by byte here, row y with filter type y % 5."""
    h, w, c = samples.shape
    rows = [np.asarray(samples[y], dtype=">u2").tobytes() for y in range(h)]
    bpp = 2 * c
    out = bytearray()
    for y, row in enumerate(rows):
        kind = y % 5
        prior = rows[y - 1] if y else bytes(len(row))
        out.append(kind)
        for x, value in enumerate(row):
            a = row[x - bpp] if x >= bpp else 0
            b = prior[x]
            cc = prior[x - bpp] if x >= bpp else 0
            pred = [0, a, b, (a + b) // 2, _paeth(a, b, cc)][kind]
            out.append((value - pred) % 256)
    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour, 0, 0, interlace)
    data = zlib.compress(bytes(out))
    idat = _png_chunk(b"IDAT", data[: len(data) // 2]) + _png_chunk(b"IDAT", data[len(data) // 2 :])
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + idat + _png_chunk(b"IEND", b"")


@pytest.mark.parametrize("colour,channels", [(2, 3), (6, 4), (4, 2)])
def test_16bit_colour_png_is_read_at_full_depth(tmp_path, colour, channels):
    from fastconv.image import read_image

    rng = np.random.default_rng(colour)
    raw = rng.integers(0, 65536, size=(11, 13, channels)).astype(np.uint16)
    raw[0, 0] = [65535] * channels
    raw[1, 1] = [1] * channels  # a value whose high byte is 0: cut to 8 bits it would read 0
    path = tmp_path / "deep.png"
    path.write_bytes(png16(raw, colour))
    if channels == 2:
        got = read_image(path)
        assert got.dtype == np.uint16
        np.testing.assert_array_equal(got, raw[:, :, 0])
    else:
        got = read_image(path, channel="rgb")
        assert got.dtype == np.uint16
        np.testing.assert_array_equal(got, raw[:, :, :3])
        np.testing.assert_array_equal(read_image(path, channel="b"), raw[:, :, 2])
        # Pillow itself gives the high byte only: what fastconv used to read
        with Image.open(path) as im:
            np.testing.assert_array_equal(np.asarray(im.convert("RGB")), (raw[:, :, :3] >> 8).astype(np.uint8))


def test_16bit_colour_png_filtered_raw_by_the_command(tmp_path, monkeypatch, capsys):
    raw = np.random.default_rng(5).integers(0, 65536, size=(9, 10, 3)).astype(np.uint16)
    (tmp_path / "deep.png").write_bytes(png16(raw, 2))
    monkeypatch.chdir(tmp_path)
    assert main(["filter", "deep.png", "--channel", "g", "-k", "0 1; 1 0", "--scale", "none", "-o", "out.tif"]) == 0
    g = raw[:, :, 1].astype(np.int64)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out.tif"), g[:-1, 1:] + g[1:, :-1])
    capsys.readouterr()


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda b: b[:33] + b[33:60] + bytes([b[60] ^ 1]) + b[61:], "CRC"),
        (lambda b: b[:-40], "truncated"),
    ],
)
def test_corrupt_16bit_colour_png_is_one_line(tmp_path, monkeypatch, capsys, mutate, message):
    raw = np.random.default_rng(6).integers(0, 65536, size=(9, 10, 3)).astype(np.uint16)
    (tmp_path / "bad.png").write_bytes(mutate(png16(raw, 2)))
    monkeypatch.chdir(tmp_path)
    assert main(["filter", "bad.png", "-k", "box:3", "-o", "out.png"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read image bad.png" in err and message in err


def test_interlaced_16bit_colour_png_is_refused_with_what_to_use(tmp_path, monkeypatch, capsys):
    raw = np.zeros((4, 4, 3), np.uint16)
    (tmp_path / "il.png").write_bytes(png16(raw, 2, interlace=1))
    monkeypatch.chdir(tmp_path)
    assert main(["filter", "il.png", "-k", "box:3", "-o", "out.png"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interlaced" in err and "16-bit TIFF" in err


# --------------------------------------------------------------------------------------------------
# Decompression bombs: refused from the header, the process stays below 1 GB


def _png_bomb(path, side):
    """An 8-bit grey PNG of side x side zeros, compressed row by row (a few hundred kB)."""
    z = zlib.compressobj(9)
    row = bytes(side + 1)
    data = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")
    )


def _tiff_bomb(path, side, tile):
    blank = np.zeros((tile, tile), np.uint8)
    n = (-(-side // tile)) ** 2
    tifffile.imwrite(
        path, (blank for _ in range(n)), shape=(side, side), dtype=np.uint8, tile=(tile, tile), compression="zlib"
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["png", "jpg", "tif", "tif-chunks", "zarr"])
def test_decompression_bombs_are_refused_below_1gb(tmp_path, kind):
    side = 9000  # 81 million pixels: inside Pillow's own limit, far beyond fastconv's 2**24
    if kind == "png":
        _png_bomb(tmp_path / "bomb.png", side)
        args = ["bomb.png", "-o", "out.png"]
    elif kind == "jpg":
        Image.new("L", (side, side), 0).save(tmp_path / "bomb.jpg", quality=10)
        args = ["bomb.jpg", "-o", "out.png"]
    elif kind == "tif":
        _tiff_bomb(tmp_path / "bomb.tif", side, 1024)
        args = ["bomb.tif", "-o", "out.png"]
    elif kind == "tif-chunks":  # one strip of 6000 x 6000: the out-of-core reader decodes a strip whole
        tifffile.imwrite(tmp_path / "bomb.tif", np.zeros((6000, 6000), np.uint8), rowsperstrip=6000, compression="zlib")
        args = ["bomb.tif", "--chunks", "512", "-o", "out.zarr"]
    else:
        z = zarr.create_array(str(tmp_path / "bomb.zarr"), shape=(6000, 6000), chunks=(6000, 6000), dtype=np.uint8)
        z[:] = 1
        args = ["bomb.zarr", "-o", "out.zarr"]
    size = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert size < 10 << 20
    rc, err, rss = peak_rss(["fastconv", "filter", *args, "-k", "kernel1"], tmp_path)
    assert rc == 1 and "MAX_IMAGE_PIXELS" in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert rss < 1 << 30, rss
    assert not (tmp_path / args[-1]).exists()


def test_pixel_limit_is_one_setting_for_every_reader(tmp_path, monkeypatch, capsys):
    """--max-pixels (and MAX_IMAGE_PIXELS) moves the limit for PNG, JPEG, TIFF and zarr alike."""
    import fastconv.image

    img = smooth(30, 40)
    Image.fromarray(img).save(tmp_path / "a.png")
    Image.fromarray(img).save(tmp_path / "a.jpg")
    tifffile.imwrite(tmp_path / "a.tif", img)
    write_zarr(tmp_path / "a.zarr", img, chunks=(30, 40))
    (tmp_path / "d.png").write_bytes(png16(np.zeros((30, 40, 3), np.uint16), 2))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(fastconv.image, "MAX_IMAGE_PIXELS", fastconv.image.MAX_IMAGE_PIXELS)
    for name in ("a.png", "a.jpg", "a.tif", "a.zarr", "d.png"):
        out = "o.zarr" if name.endswith(".zarr") else "o.png"
        assert main(["filter", name, "-k", "box:3", "-o", out, "--max-pixels", "1199"]) == 1
        err = capsys.readouterr().err
        assert f"cannot read image {name}" in err and "40x30 pixels" in err and "MAX_IMAGE_PIXELS = 1199" in err
        assert main(["filter", name, "-k", "box:3", "-o", out, "--max-pixels", "1200"]) == 0
        capsys.readouterr()


@pytest.mark.parametrize("shape", [(3, 20, 30), (2, 3, 20, 30), (20, 30, 7)])
def test_stacks_of_planes_are_refused_not_cut_to_their_first_plane(tmp_path, monkeypatch, capsys, shape):
    stack = np.arange(np.prod(shape), dtype=np.uint16).reshape(shape)
    tifffile.imwrite(tmp_path / "stack.tif", stack, photometric="minisblack")
    monkeypatch.chdir(tmp_path)
    for extra in ([], ["--chunks", "16"]):
        assert main(["filter", "stack.tif", "-k", "box:3", "-o", "o.zarr" if extra else "o.png", *extra]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "cannot read image stack.tif" in err and str(shape) in err, err


# --------------------------------------------------------------------------------------------------
# Kernels: sizes checked before allocating, one-line errors, one-row kernels


@pytest.mark.parametrize(
    "spec,status,message",
    [
        ("gaussian:100001:1", 2, "gaussian kernel of 100001x100001 = 10000200001 weights is larger than"),
        ("box:5000", 2, "box kernel of 5000x5000"),
        ("4611686018427387904 1; 1 1", 1, "integer result can overflow int64"),
        ("99999999999999999999 1; 1 1", 2, "is an integer beyond int64"),
    ],
)
def test_kernel_sizes_and_values_are_one_line_errors(tmp_path, monkeypatch, capsys, spec, status, message):
    Image.fromarray(smooth(20, 20)).save(tmp_path / "a.png")
    monkeypatch.chdir(tmp_path)
    assert main(["filter", "a.png", "-k", spec, "-o", "o.png"]) == status
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("spec,want", [("1 2 1", [[1, 2, 1]]), ("-1, 0, 1", [[-1, 0, 1]]), ("0.5 0.25", [[0.5, 0.25]])])
def test_one_row_kernel_text_is_a_kernel(tmp_path, monkeypatch, capsys, spec, want):
    img = smooth(12, 15)
    Image.fromarray(img).save(tmp_path / "a.png")
    monkeypatch.chdir(tmp_path)
    assert main(["filter", "a.png", "-k", spec, "--scale", "none", "-o", "o.tif"]) == 0
    k = np.array(want, dtype=float)
    ref = sum(k[0, j] * img[:, j : 15 - k.shape[1] + 1 + j].astype(float) for j in range(k.shape[1]))
    np.testing.assert_allclose(tifffile.imread(tmp_path / "o.tif"), ref, rtol=1e-6)
    capsys.readouterr()


def test_kernel_text_and_files_are_size_checked_before_parsing(tmp_path, monkeypatch):
    from fastconv import filters

    monkeypatch.setattr(filters, "MAX_KERNEL_TEXT", 1000)
    with pytest.raises(ValueError, match="kernel text of 1001 characters is longer than the 1000"):
        filters.parse_text("1" * 1001)
    big = tmp_path / "big.txt"
    big.write_text("1 " * 600)
    with pytest.raises(ValueError, match=r"big.txt of 1200 bytes is larger than the 1000"):
        filters.parse(str(big))
    monkeypatch.setattr(filters, "MAX_KERNEL_ELEMENTS", 99)
    with pytest.raises(ValueError, match=r"kernel text of 10x10 = 100 weights"):
        filters.parse_text("\n".join(["0 " * 10] * 10))
    np.save(tmp_path / "big.npy", np.zeros((10, 10)))
    with pytest.raises(ValueError, match=r"big.npy of 10x10 = 100 weights"):
        filters.parse(str(tmp_path / "big.npy"))


def test_large_kernel_text_is_parsed_without_python_lists():
    """A 2000 x 2000 text kernel (8 MB of text): parsed within a few times its own size (tracemalloc)."""
    import tracemalloc

    from fastconv import filters

    rng = np.random.default_rng(7)
    k = rng.integers(-9, 10, size=(2000, 2000))
    text = "\n".join(" ".join(f"{v:d}" for v in row) for row in k)
    tracemalloc.start()
    try:
        got = filters.parse_text(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(got, k)
    assert got.dtype == np.int64
    assert peak < 20 * len(text), peak  # Python lists of 4 million strings and ints take far more


# --------------------------------------------------------------------------------------------------
# A fork after calls from threads: no TBB warning in the child, and the child computes


FORK_AFTER_THREADS = """
import os, threading, numpy as np, fastconv
img = np.random.default_rng(0).random((300, 300)).astype(np.float32); k = np.ones((5, 5), np.float32)
want = sum(img[a : a + 296, b : b + 296].astype(np.float64) for a in range(5) for b in range(5))
codes = []
for _ in range(5):  # the threads end just before each fork
    ts = [threading.Thread(target=lambda: [fastconv.convolve2d(img, k) for _ in range(3)]) for _ in range(3)]
    [t.start() for t in ts]; [t.join() for t in ts]
    pid = os.fork()
    if pid == 0:
        ok = np.allclose(fastconv.convolve2d(img, k), want, rtol=1e-5)
        os._exit(0 if ok else 3)
    codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
print(max(codes))
"""


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() only")
def test_fork_after_threaded_calls_is_quiet_and_works(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", FORK_AFTER_THREADS], capture_output=True, text=True, timeout=600, env=env(), cwd=tmp_path
    )
    assert proc.returncode == 0 and proc.stdout == "0\n", proc.stdout + proc.stderr
    assert proc.stderr == "", proc.stderr  # neither "fork from a non-main thread" nor "Unable to join threads"


# --------------------------------------------------------------------------------------------------
# Long first compilations are announced


@pytest.mark.slow
def test_chunked_filter_says_it_compiles_on_a_cold_cache(tmp_path):
    """A real first compilation (a cold NUMBA_CACHE_DIR; the naive backend, the quickest to compile)."""
    # the note from the first compile on: however quickly this machine compiles, a cold cache is announced
    cold = {**env(), "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "FASTCONV_COMPILE_NOTE_AFTER": "0"}
    write_zarr(tmp_path / "a.zarr", smooth(64, 64).astype(np.float32), chunks=(32, 32))
    args = ["filter", "a.zarr", "-k", "box:3", "--chunks", "32", "--backend", "naive", "-o", "b.zarr"]
    for times in (1, 0):  # cold: one note; warm: none
        proc = subprocess.run(
            [sys.executable, "-m", "fastconv", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
            env=cold,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.count("fastconv: compiling kernels") == times, proc.stderr


def test_demo_says_when_it_compiles(tmp_path, monkeypatch, capsys):
    """``fastconv demo`` watches for compilation as ``filter`` does (Numba's compile event, sent here)."""
    from numba.core import event

    import fastconv.demo
    from fastconv import precompile

    def compiling_demo(out, scale):
        with event.trigger_event("numba:compile"):
            time.sleep(2.0)
        return []

    def loading_demo(out, scale):
        time.sleep(2.0)  # slow, compiling nothing: no note
        return []

    monkeypatch.setattr(precompile, "_noted", False)
    monkeypatch.setattr(fastconv.demo, "demo", loading_demo)
    assert main(["demo", "--out", str(tmp_path)]) == 0
    assert "compiling" not in capsys.readouterr().err
    monkeypatch.setattr(fastconv.demo, "demo", compiling_demo)
    assert main(["demo", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().err.count("fastconv: compiling kernels") == 1


@pytest.mark.slow
def test_an_rgb_image_at_the_pixel_limit_is_filtered_below_1gb(tmp_path):
    """4096 x 4096 RGB (2**24 pixels, the default limit) filtered in memory: under 1 GB, the result right."""
    img = np.stack([smooth(4096, 4096), smooth(4096, 4096).T, smooth(4096, 4096)[::-1]], axis=-1)
    Image.fromarray(img).save(tmp_path / "big.png")
    assert (tmp_path / "big.png").stat().st_size < 10 << 20
    rc, err, rss = peak_rss(
        ["fastconv", "filter", "big.png", "--channel", "rgb", "-k", "kernel1", "-o", "o.png"], tmp_path
    )
    assert rc == 0, err
    assert rss < 1 << 30, rss
    got = np.asarray(Image.open(tmp_path / "o.png"))
    x = img[:64, :64].astype(np.int64)
    want = 9 * x[1:-1, 1:-1] - sum(x[a : a + 62, b : b + 62] for a in range(3) for b in range(3))
    np.testing.assert_array_equal(got[:62, :62], np.clip(np.abs(want), 0, 255))


@pytest.mark.parametrize("planar", [False, True])
def test_rgb_tiff_is_still_one_image_whichever_way_it_is_stored(tmp_path, planar):
    from fastconv.image import read_image

    rgb = np.random.default_rng(8).integers(0, 65536, (20, 30, 3)).astype(np.uint16)
    data = np.moveaxis(rgb, -1, 0) if planar else rgb
    tifffile.imwrite(tmp_path / "rgb.tif", data, photometric="rgb", planarconfig="separate" if planar else "contig")
    np.testing.assert_array_equal(read_image(tmp_path / "rgb.tif", channel="rgb"), rgb)
