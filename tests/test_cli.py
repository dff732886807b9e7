"""The ``fastconv`` command end to end.

``python -m fastconv`` runs in a subprocess on small images the tests write;
the saved pixels are checked against a plain NumPy correlation (padding,
stride, dilation and flip done by hand here) plus the chosen 8-bit scaling,
also written here.  User mistakes are checked for their one-line message and
exit status, in-process through ``main(argv)`` and, for a few, in a real
process (no traceback).  Tests that start a process are marked ``slow``.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fastconv import filters
from fastconv.cli import main
from tests.reference import correlate2d_loop, same_pads

F64 = np.float64  # the references of this file sum in float64, integer images too

KERNEL1 = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])
KERNEL2 = np.array([[0, -1, 0], [-1, 8, -1], [0, -1, 0]])
SHARPEN = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])


def ref_scale(v, scale):
    v = np.asarray(v, dtype=np.float64)
    if scale == "abs":
        v = np.abs(v)
    elif scale == "normalize":
        lo, hi = v.min(), v.max()
        v = np.zeros_like(v) if hi == lo else (v - lo) * 255.0 / (hi - lo)
    return np.clip(np.round(v), 0, 255).astype(np.uint8)


#: The one line ``fastconv filter`` prints on stderr when a first call compiles (a cold Numba cache).
COMPILE_NOTE = "fastconv: compiling kernels for these dtypes (once; `fastconv precompile` does it ahead of time)...\n"


def quiet(stderr: str) -> bool:
    """Nothing on stderr but, on a cold cache, the compile note."""
    return stderr in ("", COMPILE_NOTE)


def run(args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "fastconv", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def pixels(path):
    with Image.open(path) as im:
        return np.asarray(im)


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(11)
    rgb = rng.integers(0, 256, size=(10, 13, 3), dtype=np.uint8)
    rgb[3:7, 4:9] = 250  # a bright block, so there are edges
    path = tmp_path / "photo.png"
    Image.fromarray(rgb).save(path)
    return path, rgb


@pytest.mark.slow
def test_several_kernels_write_one_file_each(tmp_path, photo):
    path, rgb = photo
    res = run(
        ["filter", path, "-k", "kernel1", "-k", "kernel2", "-k", "gaussian:3:1", "--channel", "r", "-o", "out.png"],
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert quiet(res.stderr), res.stderr
    red = rgb[:, :, 0]
    expected = {
        "out-kernel1.png": correlate2d_loop(red, KERNEL1, dtype=F64),
        "out-kernel2.png": correlate2d_loop(red, KERNEL2, dtype=F64),
        "out-gaussian-3-1.png": correlate2d_loop(red, filters.gaussian(3, 1.0), dtype=F64),
    }
    for name, raw in expected.items():
        got = pixels(tmp_path / name)
        assert got.shape == (8, 11)
        np.testing.assert_array_equal(got, ref_scale(raw, "abs"), err_msg=name)
    assert not (tmp_path / "out.png").exists()
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("out-kernel1.png: 11x8, kernel1, values ")
    assert lines[0].endswith("scale abs")


@pytest.mark.slow
def test_rgb_same_padding_stride_clip(tmp_path, photo):
    path, rgb = photo
    res = run(
        [
            "filter",
            path,
            "--channel",
            "rgb",
            "-k",
            "sharpen",
            "--padding",
            "same",
            "--stride",
            "2",
            "--scale",
            "clip",
            "-o",
            "sharp.png",
        ],
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    got = pixels(tmp_path / "sharp.png")
    pad = (same_pads(10, 3, 2), same_pads(13, 3, 2))
    assert got.shape == (5, 7, 3)
    for c in range(3):
        raw = correlate2d_loop(rgb[:, :, c], SHARPEN, stride=(2, 2), pad=pad, dtype=F64)
        np.testing.assert_array_equal(got[:, :, c], ref_scale(raw, "clip"))


@pytest.mark.slow
def test_npy_kernel_dilation_flip_edge_padding_normalize(tmp_path, photo):
    path, rgb = photo
    k = np.array([[0.5, -1.0], [2.0, 0.25], [-0.75, 1.0]])
    np.save(tmp_path / "mine.npy", k)
    res = run(
        [
            "filter",
            path,
            "--channel",
            "g",
            "-k",
            "mine.npy",
            "--padding",
            "1,2",
            "--pad-mode",
            "edge",
            "--dilation",
            "2",
            "--flip",
            "--stride",
            "1,2",
            "--scale",
            "normalize",
            "-o",
            "g.bmp",
        ],
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    raw = correlate2d_loop(
        rgb[:, :, 1], k, stride=(1, 2), pad=((1, 1), (2, 2)), dilation=(2, 2), flip=True, pad_mode="edge", dtype=F64
    )
    with Image.open(tmp_path / "g.bmp") as im:
        assert im.format == "BMP"
    np.testing.assert_array_equal(pixels(tmp_path / "g.bmp"), ref_scale(raw, "normalize"))


@pytest.mark.slow
def test_chain_with_text_kernel_gray_and_resize(tmp_path, photo):
    path, rgb = photo
    (tmp_path / "edge.txt").write_text("-1 -1 -1\n-1 8 -1\n-1 -1 -1\n")
    res = run(
        [
            "filter",
            path,
            "--resize",
            "12x9",
            "--channel",
            "gray",
            "--chain",
            "-k",
            "edge.txt",
            "-k",
            "sobel_x",
            "-k",
            "1 1; 1 1",
            "-o",
            "chain.png",
        ],
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    # Resizing and luminance are Pillow's; the reference takes them from Pillow too.
    with Image.open(path) as im:
        gray = np.asarray(im.convert("RGB").resize((12, 9), Image.Resampling.BICUBIC).convert("L"))
    raw = correlate2d_loop(correlate2d_loop(correlate2d_loop(gray, KERNEL1, dtype=F64), SOBEL_X), np.ones((2, 2)))
    got = pixels(tmp_path / "chain.png")
    assert got.shape == (4, 7)
    np.testing.assert_array_equal(got, ref_scale(raw, "abs"))
    assert "edge.txt -> sobel_x -> 1 1; 1 1" in res.stdout


@pytest.mark.slow
def test_console_script_runs():
    script = Path(sys.executable).with_name("fastconv" + (".exe" if os.name == "nt" else ""))
    if not script.exists():
        pytest.skip("the fastconv console script is not installed next to this Python")
    res = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.startswith("fastconv ")


@pytest.mark.slow
def test_demo_writes_its_pngs(tmp_path):
    res = run(["demo", "--out", "figs"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    names = [
        "figures_1-3.png",
        "figure1_red.png",
        "figure2_kernel1.png",
        "figure3_kernel2.png",
        "seed_display_vs_abs.png",
    ]
    assert res.stdout.split() == [str(Path("figs") / n) for n in names]
    for name in names:
        with Image.open(tmp_path / "figs" / name) as im:
            assert im.format == "PNG"
            assert im.width >= 198 and im.height >= 198
    # The single panels are exact: red channel of the sample photo at 200x200,
    # kernel1 / kernel2 without padding, |v| clipped at 255.
    import matplotlib.cbook

    sample = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with Image.open(sample) as im:
        red = np.asarray(im.convert("RGB").resize((200, 200), Image.Resampling.BICUBIC))[:, :, 0]
    np.testing.assert_array_equal(pixels(tmp_path / "figs" / "figure1_red.png"), red)
    from scipy import signal

    for name, k in [("figure2_kernel1.png", KERNEL1), ("figure3_kernel2.png", KERNEL2)]:
        raw = signal.correlate2d(red.astype(np.int64), k, mode="valid")
        np.testing.assert_array_equal(pixels(tmp_path / "figs" / name), ref_scale(raw, "abs"))


# -- user mistakes -----------------------------------------------------------


@pytest.mark.slow
def test_missing_image_in_a_real_process(tmp_path):
    res = run(["filter", "nope.png", "-k", "kernel1", "-o", "o.png"], cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr == "fastconv: error: image not found: nope.png\n"
    assert res.stdout == ""


@pytest.mark.slow
def test_unknown_kernel_in_a_real_process(tmp_path, photo):
    path, _ = photo
    res = run(["filter", path, "-k", "kernel3", "-o", "o.png"], cwd=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "fastconv: error: argument -k/--kernel: unknown kernel 'kernel3'; known kernels: kernel1, kernel2,"
    )
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize(
    "argv,status,message",
    [
        (
            ["filter", "{photo}", "-k", "kernel1", "-o", "{tmp}/nodir/o.png"],
            1,
            r"cannot write .*nodir/o.png: folder .*nodir does not exist",
        ),
        (["filter", "{tmp}/missing.jpg", "-k", "kernel1", "-o", "o.png"], 1, r"image not found: .*missing.jpg"),
        (
            ["filter", "{tmp}/notes.txt", "-k", "kernel1", "-o", "{tmp}/o.png"],
            1,
            r"cannot read image .*notes.txt: not an image Pillow can read",
        ),
        (
            ["filter", "{photo}", "-k", "box:20", "-o", "{tmp}/o.png"],
            1,
            r"cannot filter .*photo.png with box:20: k of shape \(20, 20\)",
        ),
        (["filter", "{photo}", "-k", "kernel1", "-o", "{tmp}/o.xyz"], 1, r"Pillow does not know the extension '.xyz'"),
        (
            ["filter", "{photo}", "-k", "foo", "-o", "o.png"],
            2,
            r"argument -k/--kernel: unknown kernel 'foo'; known kernels: kernel1",
        ),
        (["filter", "{photo}", "-k", "gaussian:5:-2", "-o", "o.png"], 2, r"sigma must be a positive number, got -2.0"),
        (["filter", "{photo}", "-k", "{tmp}/k.npy", "-o", "o.png"], 2, r"kernel file not found: .*k.npy"),
        (["filter", "{photo}", "-k", "1 2; 3", "-o", "o.png"], 2, r"kernel rows must all have the same length"),
        (
            ["filter", "{photo}", "-k", "kernel1", "--stride", "0", "-o", "o.png"],
            2,
            r"argument --stride: stride must be an integer >= 1 or ROWS,COLS, got '0'",
        ),
        (
            ["filter", "{photo}", "-k", "kernel1", "--stride", "two", "-o", "o.png"],
            2,
            r"argument --stride: stride must be an integer or ROWS,COLS, got 'two'",
        ),
        (
            ["filter", "{photo}", "-k", "kernel1", "--padding", "-1", "-o", "o.png"],
            2,
            r"argument --padding: padding must be valid, same, full, N",
        ),
        (
            ["filter", "{photo}", "-k", "kernel1", "--resize", "200by200", "-o", "o.png"],
            2,
            r"argument --resize: resize must be WIDTHxHEIGHT",
        ),
        (
            ["filter", "{photo}", "-k", "kernel1", "--channel", "alpha", "-o", "o.png"],
            2,
            r"argument --channel: must be one of r, g, b, gray, rgb; got 'alpha'",
        ),
        (
            ["filter", "{photo}", "-k", "kernel1", "--scale", "wrap", "-o", "o.png"],
            2,
            r"argument --scale: must be one of abs, clip, normalize, none; got 'wrap'",
        ),
        (["filter", "{photo}", "-k", "kernel1"], 2, r"the following arguments are required: -o/--output"),
        (["filter", "{photo}", "-o", "o.png"], 2, r"the following arguments are required: -k/--kernel"),
        (["blur", "{photo}"], 2, r"argument COMMAND: invalid choice: 'blur'"),
    ],
)
def test_user_mistakes_give_one_line_and_status(tmp_path, photo, capsys, argv, status, message):
    (tmp_path / "notes.txt").write_text("not an image")
    argv = [a.format(photo=photo[0], tmp=tmp_path) for a in argv]
    assert main(argv) == status
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("fastconv: error: ")
    import re

    assert re.search(message, err), err


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "filter" in capsys.readouterr().err


def test_help_and_kernels_list(capsys):
    assert main(["filter", "--help"]) == 0
    text = capsys.readouterr().out
    for word in ("--scale", "abs", "clip", "normalize", "--chain", "gaussian", "-1 8 -1"):
        assert word in text
    assert main(["kernels"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(filters.NAMES)


# -- optional dependencies missing, 16-bit images ------------------------------------

_BLOCK = """
import sys
class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _Blocker())
from {module} import main
sys.exit(main({argv!r}))
"""


def run_without(blocked, module, argv, cwd):
    """Run ``module``'s ``main(argv)`` in a new process in which ``blocked`` cannot be imported."""
    code = _BLOCK.format(blocked=blocked, module=module, argv=[str(a) for a in argv])
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_filter_without_pillow_gives_the_install_hint(tmp_path, photo):
    path, _ = photo
    res = run_without("PIL", "fastconv.cli", ["filter", path, "-k", "kernel1", "-o", "o.png"], tmp_path)
    assert res.returncode == 1
    assert res.stderr.splitlines() == [
        "fastconv: error: reading and writing images needs Pillow: pip install 'fastconv[image]'"
    ]
    assert "training" not in res.stderr


@pytest.mark.slow
def test_nn_without_h5py_gives_the_install_hint(tmp_path):
    (tmp_path / "m.keras").write_bytes(b"PK")  # h5py is needed before the file is read
    np.savez(tmp_path / "d.npz", x=np.zeros((1, 4, 4, 3), np.float32), y=np.zeros(1, int))
    res = run_without("h5py", "fastconv.nn.cli", ["m.keras", "d.npz"], tmp_path)
    assert res.returncode == 2
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and "h5py" in lines[0] and "pip install 'fastconv[nn]'" in lines[0], res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.slow
def test_nn_unwritable_json_fails_before_loading(tmp_path):
    # The model file does not exist: a check made after loading would report that instead.
    res = run_without("h5py", "fastconv.nn.cli", ["no.keras", "d.npz", "--json", tmp_path / "no" / "r.json"], tmp_path)
    assert res.returncode == 2
    assert res.stderr.splitlines()[-1].endswith("No such file or directory"), res.stderr
    assert "cannot write --json" in res.stderr


@pytest.mark.slow
def test_16bit_png_filtered_raw_and_displayed(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    rng = np.random.default_rng(31)
    deep = rng.integers(0, 65536, size=(11, 14), dtype=np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    want = correlate2d_loop(deep, KERNEL1, dtype=F64)
    res = run(["filter", "deep.png", "-k", "kernel1", "--scale", "none", "-o", "raw.tif"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "raw.tif"), want)
    res = run(["filter", "deep.png", "-k", "box:3", "--scale", "none", "-o", "box.npy"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    np.testing.assert_allclose(np.load(tmp_path / "box.npy"), correlate2d_loop(deep, np.ones((3, 3)) / 9), rtol=1e-12)
    # negative values: a 16-bit PNG cannot hold them, one line says so
    res = run(["filter", "deep.png", "-k", "kernel1", "--scale", "none", "-o", "raw.png"], cwd=tmp_path)
    assert res.returncode == 1
    assert len(res.stderr.splitlines()) == 1 and "16-bit PNG" in res.stderr
    res = run(["filter", "deep.png", "-k", "kernel1", "-o", "shown.png"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    np.testing.assert_array_equal(pixels(tmp_path / "shown.png"), ref_scale(want / 257.0, "abs"))


# -- compiling: the note, and fastconv precompile --------------------------------------

#: The signatures a process compiled or loaded: ``module.function(types)`` of every kernel and parallel driver.
_SIGNATURES = """
import json
from fastconv.precompile import dispatchers

def signatures():
    return sorted(f"{d.py_func.__module__}.{d.py_func.__qualname__}{s}" for d in dispatchers() for s in d.signatures)
"""

#: What ``fastconv precompile`` puts in the cache: the signatures its process compiled or loaded (the block
#: functions its parallel calls ran among them, each compiled on its own).
_PRECOMPILE = (
    _SIGNATURES
    + """
from fastconv.cli import main
assert main(["precompile", "--dtype", "float32"]) == 0
print(json.dumps(signatures()))
"""
)

_FIRST_CALLS = (
    _SIGNATURES
    + """
import numpy as np
import fastconv
rng = np.random.default_rng(5)
f32 = np.float32
fastconv.convolve2d(rng.random((30, 20), f32), rng.random((3, 3), f32), stride=2, padding=1)
fastconv.convolve2d(rng.random((640, 640), f32), rng.random((3, 3), f32), padding=1)  # multi-threaded
fastconv.conv2d(rng.random((1, 9, 9, 3), f32), rng.random((3, 3, 3, 4), f32), padding="same")
compiled = sum(sum(d.stats.cache_misses.values()) for d in dispatchers())
loaded = sum(sum(d.stats.cache_hits.values()) for d in dispatchers())
print(json.dumps({"signatures": signatures(), "compiled": compiled, "loaded": loaded}))
"""
)


@pytest.mark.slow
def test_precompile_fills_the_cache_and_the_cli_notes_compiling(tmp_path, photo):
    import json

    # `fastconv precompile` in the cache the test run uses (NUMBA_CACHE_DIR, or __pycache__ next to the
    # modules), where the other tests' kernels are: whatever it already held, precompile's signatures must
    # include every signature the first calls of a new process take, and that process must load them all
    # and compile nothing (the dispatchers count a cache miss for each signature they compile).
    def python(code, **env):
        res = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, **env), capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout.splitlines()[-1])

    precompiled = set(python(_PRECOMPILE))
    first = python(_FIRST_CALLS)
    assert first["signatures"] and set(first["signatures"]) <= precompiled, set(first["signatures"]) - precompiled
    assert first["compiled"] == 0 and first["loaded"] > 0, first
    # The CLI says once that it compiles (on an empty cache of its own), and nothing on a warm cache.
    path, _ = photo
    argv = [sys.executable, "-m", "fastconv", "filter", str(path), "-k", "kernel1", "-k", "sobel-x", "-o", "o.png"]
    # the note from the first compilation on (a fast machine compiles these paths in under the default 1.5 s)
    cli_env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cli"), FASTCONV_COMPILE_NOTE_AFTER="0")
    res = subprocess.run(argv, env=cli_env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("compiling kernels") == 1, res.stderr
    res = subprocess.run(argv, env=cli_env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and res.stderr == "", res.stderr


def test_compile_note_only_while_compiling():
    import io

    from numba.core import event

    from fastconv import precompile

    precompile._noted = False
    quiet = io.StringIO()
    with precompile.compile_note(after=0.05, stream=quiet):
        time.sleep(0.3)  # slow, but compiling nothing
    assert quiet.getvalue() == ""
    noted = io.StringIO()
    for _ in range(2):  # once per process
        with precompile.compile_note(after=0.05, stream=noted), event.trigger_event("numba:compile"):
            time.sleep(0.3)  # what Numba sends while it compiles (a cache miss)
    assert noted.getvalue().count("compiling kernels") == 1
    precompile._noted = False
