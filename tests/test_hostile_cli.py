"""``fastconv filter`` and ``convolve2d`` against careless and hostile arguments, second round.

Each test names what went wrong before: a kernel read with its weights wrapped around, outputs sized
only when NumPy failed to allocate them, a truncated TIFF as a traceback or as zeros, SIGTERM and
SIGHUP leaving temporary outputs behind, messages that named the wrong thing.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

tifffile = pytest.importorskip("tifffile")

from test_hostile import (  # noqa: E402 -- after the skip
    GIB,
    _interrupt_when,
    _partials,
    _start,
    _written_chunks,
    env,
    one_line_error,
    peak_rss,
    read_zarr,
    smooth,
    write_zarr,
)

import fastconv  # noqa: E402
from fastconv import filters  # noqa: E402
from fastconv.cli import main  # noqa: E402


def error_line(capsys, *needles):
    err = capsys.readouterr().err.strip().splitlines()
    err = [line for line in err if not line.startswith("fastconv: compiling")]
    assert len(err) == 1 and err[0].startswith("fastconv: error:"), err
    for needle in needles:
        assert needle in err[0], err[0]
    return err[0]


@pytest.fixture
def png(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Image.fromarray(smooth(40, 50)).save(tmp_path / "in.png")
    return tmp_path / "in.png"


# -- item 4: a uint64 kernel beyond int64 is refused, not read as -1 -----------------------------


def test_uint64_kernel_beyond_int64_is_refused(tmp_path, png, capsys):
    np.save(tmp_path / "k.npy", np.full((3, 3), 2**64 - 1, np.uint64))
    with pytest.raises(ValueError, match="beyond int64"):
        filters.load(tmp_path / "k.npy")
    assert main(["filter", "in.png", "-k", "k.npy", "-o", "out.png"]) == 2
    error_line(capsys, "k.npy", "beyond int64")
    assert not (tmp_path / "out.png").exists()
    # within int64 a uint64 kernel keeps its values
    np.save(tmp_path / "k2.npy", np.full((3, 3), 2**63 - 1, np.uint64))
    assert filters.load(tmp_path / "k2.npy")[0, 0] == 2**63 - 1


@pytest.mark.parametrize("spec", ["nan", "inf", "-inf", "1 nan 1"])
def test_non_finite_kernel_text_is_named_as_such(png, capsys, spec):
    assert main(["filter", "in.png", f"--kernel={spec}", "-o", "out.png"]) == 2
    error_line(capsys, "finite")


# -- item 8: the output's size checked before anything is allocated ------------------------------


@pytest.mark.parametrize(
    "args,message",
    [
        (["--padding", "100000"], "padding 100000 makes a 200048x200038 result from 50x40 pixels"),
        (["--padding", "8000"], "padding 8000 makes a 16048x16038 result"),
        (["--padding", "3000", "--pad-mode", "reflect", "--stride", "4"], "padded copy"),
        (["--resize", "100000x100000"], "resized image of 100000x100000 pixels"),
    ],
)
def test_outputs_beyond_the_pixel_limit_are_refused_before_allocating(png, capsys, args, message):
    assert main(["filter", "in.png", "-k", "box", "-o", "out.png", *args]) == 1
    error_line(capsys, message, "MAX_IMAGE_PIXELS")


def test_padding_that_grows_an_image_a_little_is_kept(png, capsys, monkeypatch):
    """'same' on an image at the limit, and a wide padding once the limit is raised, still run."""
    from fastconv import image

    monkeypatch.setattr(image, "MAX_IMAGE_PIXELS", 40 * 50)
    assert main(["filter", "in.png", "-k", "box", "--padding", "same", "--pad-mode", "edge", "-o", "a.png"]) == 0
    assert main(["filter", "in.png", "-k", "box", "--padding", "60", "--max-pixels", "0", "-o", "b.png"]) == 0
    assert Image.open("b.png").size == (168, 158)


@pytest.mark.slow
def test_wide_padding_on_a_small_png_stays_below_1gb(png):
    rc, err, rss = peak_rss(
        ["fastconv", "filter", "in.png", "-k", "box", "--padding", "8000", "-o", "o.png"], png.parent
    )
    assert rc == 1 and "Traceback" not in err and "MAX_IMAGE_PIXELS" in err, err
    assert rss < GIB, rss


def test_padding_beyond_what_an_array_holds_names_the_padding():
    for call in (
        lambda: fastconv.convolve2d(np.ones((4, 4)), np.ones((3, 3)), padding=2**40),
        lambda: fastconv.convolve2d(np.ones((4, 4)), np.ones((3, 3)), padding=2**40, pad_mode="reflect"),
        lambda: fastconv.conv2d(np.ones((1, 4, 4, 1)), np.ones((3, 3, 1, 1)), padding=2**40),
    ):
        with pytest.raises(ValueError, match=r"padding 1099511627776 gives a padded image"):
            call()


# -- item 9: a truncated TIFF is one line, in memory and out of core -----------------------------


@pytest.mark.parametrize("keep", [8, 200, 1000, -10])
@pytest.mark.parametrize("out", ["out.zarr", "out.png"])
def test_truncated_tiff_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, keep, out):
    monkeypatch.chdir(tmp_path)
    tifffile.imwrite("full.tif", smooth(256, 256), tile=(64, 64))
    data = (tmp_path / "full.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[:keep])
    extra = ["--chunks", "64"] if out.endswith(".zarr") else []
    assert main(["filter", "cut.tif", "-k", "box", "-o", out, *extra]) == 1
    error_line(capsys, "cannot read image cut.tif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.tif", "full.tif"]


# -- item 11: SIGTERM and SIGHUP clean up as Ctrl-C does ------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "sig,out",
    # one handler for both signals: each output kind once, each signal at least once
    [(signal.SIGTERM, "old.zarr"), (signal.SIGHUP, "new.zarr"), (signal.SIGTERM, "new.tif")],
)
def test_terminated_chunked_job_leaves_no_partial_output(tmp_path, sig, out):
    write_zarr(tmp_path / "big.zarr", smooth(2048, 2048), chunks=(256, 256))
    np.save(tmp_path / "k.npy", np.ones((31, 31), np.int64))
    old = np.arange(12, dtype=np.int64).reshape(3, 4)
    if out.startswith("old"):
        write_zarr(tmp_path / out, old, chunks=(3, 4))
    proc = _start(["filter", "big.zarr", "-k", "k.npy", "--chunks", "256", "-o", out], tmp_path)
    rc, err = _interrupt_when(proc, lambda: _written_chunks(tmp_path, out), sig)
    assert rc == 128 + sig and err.strip().endswith(f"fastconv: stopped by {signal.Signals(sig).name}"), err
    assert _partials(tmp_path) == [], "the temporary output is removed"
    if out.startswith("old"):
        np.testing.assert_array_equal(read_zarr(tmp_path / out), old)
    else:
        assert not (tmp_path / out).exists()


@pytest.mark.slow
def test_terminated_in_memory_save_leaves_the_old_output(tmp_path):
    Image.fromarray(smooth(4000, 4000)).save(tmp_path / "in.png")
    old = np.full((3, 4), 9, np.int32)
    tifffile.imwrite(tmp_path / "out.tif", old)
    # kernel1, as test_hostile.py's interrupted save: the child loads the loops that test compiled
    args = ["filter", "in.png", "--channel", "rgb", "-k", "kernel1", "--scale", "none", "-o", "out.tif"]
    proc = _start(args, tmp_path)
    rc, err = _interrupt_when(proc, lambda: _written_chunks(tmp_path, "out.tif"), signal.SIGTERM)
    assert rc == 128 + signal.SIGTERM, err
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out.tif"), old)
    assert _partials(tmp_path) == []


def test_nohup_keeps_sighup_ignored(png):
    """Under nohup (SIGHUP ignored) the command does not take SIGHUP back."""
    code = (
        "import signal, sys; signal.signal(signal.SIGHUP, signal.SIG_IGN);"
        "from fastconv.cli import _stop_on_termination; restore = _stop_on_termination();"
        "print(signal.getsignal(signal.SIGHUP) is signal.SIG_IGN, signal.getsignal(signal.SIGTERM) is not "
        "signal.SIG_DFL); restore(); print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env(), timeout=120)
    assert out.stdout.split() == ["True", "True", "True"], out.stderr


# -- Low: messages that named the wrong thing -----------------------------------------------------


@pytest.mark.parametrize(
    "out,message",
    [("out", "has no extension"), ("/dev/null", "has no extension"), ("", "OUT must name a file")],
)
def test_output_names_without_a_format_are_refused_by_name(png, capsys, out, message):
    assert main(["filter", "in.png", "-k", "box", "-o", out]) == 2
    line = error_line(capsys, message)
    assert "partial" not in line and "inside one another" not in line


def test_negative_pixel_limit_in_the_environment_keeps_the_default(tmp_path):
    code = "import fastconv.image as i; print(i.MAX_IMAGE_PIXELS)"
    for value, want in (("-5", str(1 << 24)), ("0", "None"), ("1000", "1000")):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={**env(), "FASTCONV_MAX_IMAGE_PIXELS": value},
            timeout=120,
        )
        assert out.stdout.strip() == want, (value, out.stdout, out.stderr)
        assert ("FASTCONV_MAX_IMAGE_PIXELS must be an integer >= 0" in out.stderr) == (value == "-5")


def test_chunks_help_says_scale_is_taken(capsys):
    assert main(["filter", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "no --scale" not in text and "raw values unless --scale is given" in text


@pytest.mark.parametrize("argv", [["--help"], ["filter", "--help"], ["demo", "--help"], ["kernels"]])
def test_help_texts_call_the_assignment_the_published_report(capsys, argv):
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "seed" not in out.lower(), out


def test_scale_none_out_of_core(tmp_path, monkeypatch, capsys):
    """--scale is taken out of core: 8-bit pixels written to the zarr, as in memory."""
    monkeypatch.chdir(tmp_path)
    img = smooth(64, 64)
    write_zarr(tmp_path / "in.zarr", img, chunks=(32, 32))
    assert main(["filter", "in.zarr", "-k", "sobel-x", "--scale", "abs", "-o", "o.zarr"]) == 0
    got = read_zarr(tmp_path / "o.zarr")
    ref = np.zeros((62, 62))
    for a in range(3):
        for b in range(3):
            ref += filters.get("sobel-x")[a, b] * img[a : a + 62, b : b + 62].astype(np.int64)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, np.clip(np.abs(ref), 0, 255).astype(np.uint8))


def test_one_line_error_helper_is_used(tmp_path):
    """A real process: a bad -o gives one line, no traceback."""
    Image.fromarray(smooth(20, 20)).save(tmp_path / "in.png")
    proc = subprocess.run(
        [sys.executable, "-m", "fastconv", "filter", "in.png", "-k", "box", "-o", "noext"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env(),
        timeout=300,
    )
    one_line_error(proc, "has no extension")


@pytest.mark.parametrize("value", ["nan", "0.1,nan", "inf", "-1"])
def test_training_run_refuses_l1_weights_that_are_not_finite(value, capsys):
    """``--l1 nan`` used to be accepted (nan < 0 is false) and trained a model on a NaN loss."""
    run = pytest.importorskip("training.run")
    with pytest.raises(SystemExit) as stop:
        run.build_parser().parse_args(["l1", f"--l1={value}"])
    assert stop.value.code == 2
    assert "expected finite non-negative numbers" in capsys.readouterr().err
