"""One image pipeline: ``fastconv filter``, ``image.filter_image`` and ``dask.filter_file`` give the same pixels.

The same TIFF goes through the three front ends with the same channel, kernel
chain, geometry and scaling; each result is compared with the others and with
a reference built here (luminance by Pillow, correlation by the NumPy loop of
``tests/reference.py``, the 8-bit scaling written out below).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fastconv import filters
from fastconv.cli import main
from fastconv.image import filter_image
from tests.reference import correlate2d_loop, padding_pairs

tifffile = pytest.importorskip("tifffile")
zarr = pytest.importorskip("zarr")
fdask = pytest.importorskip("fastconv.dask")


def scale_ref(values, scale):
    v = np.asarray(values, dtype=np.float64)
    if scale == "abs":
        v = np.abs(v)
    elif scale == "normalize":
        v = (v - v.min()) * (255.0 / (v.max() - v.min()))
    return np.clip(np.rint(v), 0, 255).astype(np.uint8)


CASES = [
    # channel, kernels, stride, padding, pad_mode, scale
    ("gray", ["sobel-x"], 1, "same", "constant", "abs"),
    ("g", ["box:3", "emboss"], 2, "full", "reflect", "clip"),
    ("rgb", ["kernel1"], (1, 2), 1, "edge", "normalize"),
    ("r", ["gaussian:5:1"], 1, "full", "constant", "none"),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_three_front_ends_agree(tmp_path, case):
    channel, specs, stride, padding, pad_mode, scale = CASES[case]
    rng = np.random.default_rng(case)
    rgb = rng.integers(0, 256, (41, 53, 3), dtype=np.uint8)
    src = tmp_path / "in.tif"
    tifffile.imwrite(src, rgb, photometric="rgb")

    # the reference, built without fastconv's pipeline
    if channel == "gray":
        plane = np.asarray(Image.fromarray(rgb, "RGB").convert("L"))
    elif channel == "rgb":
        plane = rgb
    else:
        plane = rgb[:, :, "rgb".index(channel)]
    want = plane
    for spec in specs:
        k = filters.parse(spec)
        pads = padding_pairs(padding, want.shape[:2], k.shape, stride)
        st = (stride, stride) if isinstance(stride, int) else stride
        want = correlate2d_loop(want, k, stride=st, pad=pads, pad_mode=pad_mode)
    if scale != "none":
        want = scale_ref(want, scale)

    options = {"stride": stride, "padding": padding, "pad_mode": pad_mode}
    in_memory = filter_image(src, specs, channel=channel, scale=scale, **options)

    cli_out = tmp_path / ("cli.npy" if scale == "none" else "cli.png")
    argv = ["filter", str(src), "--channel", channel, "--scale", scale, "-o", str(cli_out), "--pad-mode", pad_mode]
    argv += ["--stride", ",".join(map(str, stride)) if isinstance(stride, tuple) else str(stride)]
    argv += ["--padding", str(padding)]
    for spec in specs:
        argv += ["-k", spec]
    if len(specs) > 1:
        argv.append("--chain")
    assert main(argv) == 0
    cli = np.load(cli_out) if scale == "none" else np.asarray(Image.open(cli_out))

    dst = tmp_path / "out.zarr"
    fdask.filter_file(src, dst, specs, channel=channel, scale=scale, chunks=16, progress=False, **options)
    lazy = zarr.open(dst, mode="r")[...]

    for name, got in (("filter_image", in_memory), ("cli", cli), ("filter_file", lazy)):
        assert got.shape == want.shape, name
        if scale == "none":
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max(), err_msg=name)
        else:
            # float kernels (box, gaussian) may round a value at .5 either way: at most one level, rarely
            diff = np.abs(got.astype(int) - want.astype(int))
            assert diff.max() <= 1 and (diff > 0).mean() < 0.01, name
    np.testing.assert_array_equal(in_memory, cli)
    if scale == "none":  # float kernels: chunks may take another loop path (sums in another order)
        np.testing.assert_allclose(in_memory, lazy, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    else:
        np.testing.assert_array_equal(in_memory, lazy)


def test_cli_padding_full_matches_the_library(tmp_path):
    img = np.random.default_rng(9).integers(0, 256, (17, 23), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "g.png")
    assert main(["filter", str(tmp_path / "g.png"), "-k", "kernel1", "--padding", "full", "--scale", "none",
                 "-o", str(tmp_path / "o.npy")]) == 0  # fmt: skip
    got = np.load(tmp_path / "o.npy")
    want = correlate2d_loop(img, filters.parse("kernel1"), pad=((2, 2), (2, 2)))
    np.testing.assert_array_equal(got, want)
