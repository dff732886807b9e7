"""fastconv.image: reading, 8-bit scaling, saving, filter_image.

References are plain NumPy written here (scaling) and
scipy.signal.correlate2d (filtering); images are small files the tests write.
"""

import numpy as np
import pytest
from PIL import Image
from scipy import signal

from fastconv import filters
from fastconv import image as fimg


def ref_scale(values, scale):
    """8-bit mapping written independently of fastconv.image.to_uint8."""
    v = np.asarray(values, dtype=np.float64)
    if scale == "abs":
        v = np.abs(v)
    elif scale == "normalize":
        lo, hi = v.min(), v.max()
        if hi == lo:
            return np.zeros(v.shape, np.uint8)
        v = (v - lo) / (hi - lo) * 255
    out = np.empty(v.shape, np.uint8)
    flat_in, flat_out = v.ravel(), out.reshape(-1)
    for i, x in enumerate(flat_in):
        r = round(float(x))  # Python rounds half to even, as np.rint
        flat_out[i] = min(max(r, 0), 255)
    return out


@pytest.fixture
def rgb_pixels():
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, size=(9, 11, 3), dtype=np.uint8)


@pytest.fixture
def rgb_png(tmp_path, rgb_pixels):
    path = tmp_path / "small.png"
    Image.fromarray(rgb_pixels, mode="RGB").save(path)
    return path


# -- reading -----------------------------------------------------------------


@pytest.mark.parametrize("channel,index", [("r", 0), ("g", 1), ("b", 2), ("red", 0), ("Green", 1), ("BLUE", 2)])
def test_read_single_channel(rgb_png, rgb_pixels, channel, index):
    got = fimg.read_image(rgb_png, channel=channel)
    assert got.dtype == np.uint8 and got.shape == (9, 11)
    np.testing.assert_array_equal(got, rgb_pixels[:, :, index])


@pytest.mark.parametrize("channel", ["rgb", "all"])
def test_read_all_channels(rgb_png, rgb_pixels, channel):
    np.testing.assert_array_equal(fimg.read_image(rgb_png, channel=channel), rgb_pixels)


@pytest.mark.parametrize("channel", ["gray", "grey", "luminance", "l"])
def test_read_gray_is_itu601_luminance(rgb_png, rgb_pixels, channel):
    p = rgb_pixels.astype(np.float64)
    expected = 0.299 * p[..., 0] + 0.587 * p[..., 1] + 0.114 * p[..., 2]
    got = fimg.read_image(rgb_png, channel=channel).astype(np.float64)
    # Pillow computes it in 16-bit fixed point: within one grey level.
    assert np.abs(got - expected).max() <= 1.0


def test_read_jpeg_and_other_modes(tmp_path, rgb_pixels):
    Image.fromarray(rgb_pixels).save(tmp_path / "a.jpg", quality=95)
    assert fimg.read_image(tmp_path / "a.jpg", channel="rgb").shape == (9, 11, 3)
    grey = rgb_pixels[:, :, 1]
    Image.fromarray(grey, mode="L").save(tmp_path / "grey.png")
    for channel in ("r", "g", "b", "gray"):
        np.testing.assert_array_equal(fimg.read_image(tmp_path / "grey.png", channel=channel), grey)
    rgba = np.dstack([rgb_pixels, np.full((9, 11), 17, np.uint8)])
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "alpha.png")
    np.testing.assert_array_equal(fimg.read_image(tmp_path / "alpha.png", channel="rgb"), rgb_pixels)
    deep = grey.astype(np.uint16) * 257 + 1  # 16-bit grey, full range: read at its own depth
    Image.fromarray(deep).save(tmp_path / "deep.png")
    got = fimg.read_image(tmp_path / "deep.png", channel="gray")
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got, deep)


@pytest.mark.parametrize("resize", ["7x5", (7, 5), "7X5"])
def test_resize_is_width_by_height(rgb_png, resize):
    assert fimg.read_image(rgb_png, resize=resize).shape == (5, 7)


def test_resize_keeps_a_flat_image_flat(tmp_path):
    Image.fromarray(np.full((10, 10, 3), 90, np.uint8)).save(tmp_path / "flat.png")
    got = fimg.read_image(tmp_path / "flat.png", resize="4x6")
    assert got.shape == (6, 4) and (got == 90).all()


def test_read_errors(tmp_path, rgb_png):
    with pytest.raises(FileNotFoundError, match="image not found: .*nope.png"):
        fimg.read_image(tmp_path / "nope.png")
    text = tmp_path / "notes.png"
    text.write_text("this is not a PNG")
    with pytest.raises(ValueError, match="cannot read image .*notes.png: not an image Pillow can read"):
        fimg.read_image(text)
    with pytest.raises(ValueError, match="it is a directory"):
        fimg.read_image(tmp_path)
    with pytest.raises(ValueError, match="channel must be one of r, g, b, gray, rgb; got 'x'"):
        fimg.read_image(rgb_png, channel="x")
    with pytest.raises(ValueError, match="size must be WIDTHxHEIGHT"):
        fimg.read_image(rgb_png, resize="0x3")
    with pytest.raises(ValueError, match="resize must be"):
        fimg.read_image(rgb_png, resize=(3,))


def test_truncated_png_is_a_value_error(tmp_path, rgb_png):
    cut = tmp_path / "cut.png"
    cut.write_bytes(rgb_png.read_bytes()[:60])
    with pytest.raises(ValueError, match="cannot read image .*cut.png"):
        fimg.read_image(cut)


@pytest.mark.parametrize(
    "text,expected", [("200x200", (200, 200)), ("320x200", (320, 200)), ("64", (64, 64)), (" 3 x 4 ", (3, 4))]
)
def test_parse_size(text, expected):
    assert fimg.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "x", "0x3", "3x0", "3x", "-3x3", "2.5x3", "3x3x3"])
def test_parse_size_errors(text):
    with pytest.raises(ValueError, match="size must be WIDTHxHEIGHT with positive integers"):
        fimg.parse_size(text)


# -- scaling -----------------------------------------------------------------


@pytest.mark.parametrize("scale", ["abs", "clip", "normalize"])
@pytest.mark.parametrize("dtype", [np.int64, np.float64, np.float32])
def test_to_uint8_matches_plain_reference(scale, dtype):
    rng = np.random.default_rng(3)
    values = rng.integers(-2040, 2041, size=(13, 7)).astype(dtype)
    values[0, :6] = [-0.5, 0.5, 1.5, 254.5, -255.5, 255.49] if dtype != np.int64 else values[0, :6]
    got = fimg.to_uint8(values, scale)
    assert got.dtype == np.uint8 and got.shape == values.shape
    np.testing.assert_array_equal(got, ref_scale(values, scale))


def test_to_uint8_rgb_normalize_uses_one_map_for_all_channels():
    values = np.zeros((2, 2, 3))
    values[..., 0] = 10.0
    values[..., 1] = 20.0
    values[0, 0, 2] = 30.0
    got = fimg.to_uint8(values, "normalize")
    # One map 0..30 -> 0..255 (per channel, red and green would be flat).
    np.testing.assert_array_equal(got[1, 1], [85, 170, 0])
    assert got[0, 0, 2] == 255


def test_to_uint8_constant_normalize_is_zero_and_default_is_abs():
    assert (fimg.to_uint8(np.full((3, 3), 42.0), "normalize") == 0).all()
    np.testing.assert_array_equal(fimg.to_uint8(np.array([-7, 300])), [7, 255])
    assert fimg.DEFAULT_SCALE == "abs"


def test_to_uint8_errors():
    with pytest.raises(ValueError, match="scale must be one of abs, clip, normalize; got 'wrap'"):
        fimg.to_uint8(np.zeros(3), "wrap")
    with pytest.raises(ValueError, match="values contain NaN"):
        fimg.to_uint8(np.array([1.0, np.nan]))
    with pytest.raises(TypeError, match="values must be real numbers"):
        fimg.to_uint8(np.array(["a"]))


# -- saving ------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 5), (6, 5, 3)])
def test_save_png_round_trip_is_exact(tmp_path, shape):
    pixels = np.random.default_rng(1).integers(0, 256, size=shape, dtype=np.uint8)
    path = fimg.save_image(pixels, tmp_path / "out.png")
    with Image.open(path) as im:
        assert im.format == "PNG"
        np.testing.assert_array_equal(np.asarray(im), pixels)


def test_save_other_formats_by_extension(tmp_path):
    pixels = np.full((4, 4), 100, np.uint8)
    for ext, fmt in [(".jpg", "JPEG"), (".bmp", "BMP"), (".tif", "TIFF")]:
        path = fimg.save_image(pixels, tmp_path / f"out{ext}")
        with Image.open(path) as im:
            assert im.format == fmt
    with Image.open(fimg.save_image(pixels, tmp_path / "noext")) as im:
        assert im.format == "PNG"


def test_save_errors(tmp_path):
    with pytest.raises(TypeError, match="pixels must be uint8 .* got dtype int64"):
        fimg.save_image(np.zeros((2, 2), np.int64), tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"pixels must have shape \(H, W\) or \(H, W, 3\), got \(2, 2, 4\)"):
        fimg.save_image(np.zeros((2, 2, 4), np.uint8), tmp_path / "a.png")
    with pytest.raises(ValueError, match="cannot write .*a.png: folder .*missing does not exist"):
        fimg.save_image(np.zeros((2, 2), np.uint8), tmp_path / "missing" / "a.png")
    with pytest.raises(ValueError, match="Pillow does not know the extension '.xyz'"):
        fimg.save_image(np.zeros((2, 2), np.uint8), tmp_path / "a.xyz")


# -- filter_image ------------------------------------------------------------


@pytest.mark.parametrize("name", ["kernel1", "kernel2", "sobel-y", "gaussian:3:0.8"])
@pytest.mark.parametrize("scale", ["abs", "clip", "normalize"])
def test_filter_image_file_matches_scipy(rgb_png, rgb_pixels, name, scale):
    got = fimg.filter_image(rgb_png, name, channel="r", scale=scale)
    raw = signal.correlate2d(rgb_pixels[:, :, 0].astype(np.float64), filters.get(name).astype(np.float64), mode="valid")
    np.testing.assert_array_equal(got, ref_scale(raw, scale))


def test_filter_image_rgb_filters_each_channel(rgb_pixels):
    got = fimg.filter_image(rgb_pixels, "laplacian", scale="clip")
    assert got.shape == (7, 9, 3)
    for c in range(3):
        raw = signal.correlate2d(rgb_pixels[:, :, c].astype(np.int64), filters.get("laplacian"), mode="valid")
        np.testing.assert_array_equal(got[:, :, c], ref_scale(raw, "clip"))


def test_filter_image_chain_applies_kernels_in_order_without_rounding(rgb_pixels):
    red = rgb_pixels[:, :, 0].astype(np.float64)
    got = fimg.filter_image(red, ["gaussian:3:1", "sobel-x"], scale="abs")
    step = signal.correlate2d(red, filters.gaussian(3, 1.0), mode="valid")
    raw = signal.correlate2d(step, filters.get("sobel-x").astype(float), mode="valid")
    np.testing.assert_array_equal(got, ref_scale(raw, "abs"))


def test_filter_image_same_padding_stride_and_array_kernel(rgb_pixels):
    red = rgb_pixels[:, :, 0].astype(np.int64)
    k = np.array([[1, 2], [3, -4]])
    got = fimg.filter_image(red, k, padding=((0, 1), (0, 1)), stride=2, scale="normalize")
    padded = np.pad(red, ((0, 1), (0, 1)))
    raw = signal.correlate2d(padded, k, mode="valid")[::2, ::2]
    np.testing.assert_array_equal(got, ref_scale(raw, "normalize"))


def test_filter_image_errors_name_the_argument(rgb_pixels):
    with pytest.raises(ValueError, match="unknown kernel 'nope'"):
        fimg.filter_image(rgb_pixels, "nope")
    with pytest.raises(ValueError, match="kernel must name at least one kernel"):
        fimg.filter_image(rgb_pixels, [])
    with pytest.raises(ValueError, match="stride"):
        fimg.filter_image(rgb_pixels, "kernel1", stride=0)
    with pytest.raises(ValueError, match="scale must be one of"):
        fimg.filter_image(rgb_pixels, "kernel1", scale="sqrt")


# -- 16-bit and float images at their own depth -------------------------------


def _deep_grey(seed=21, shape=(12, 15)):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 65536, size=shape, dtype=np.uint16)


def test_16bit_png_is_filtered_at_full_depth(tmp_path):
    deep = _deep_grey()
    Image.fromarray(deep).save(tmp_path / "deep.png")
    k = filters.get("sobel-x")
    got = fimg.filter_image(tmp_path / "deep.png", k, scale="none")
    want = signal.correlate2d(deep.astype(np.int64), k, mode="valid")
    np.testing.assert_array_equal(got, want)
    # the 8-bit display of a 16-bit file: its values over 257, then the usual scaling
    shown = fimg.filter_image(tmp_path / "deep.png", k, scale="abs")
    np.testing.assert_array_equal(shown, ref_scale(want / 257.0, "abs"))


def test_16bit_rgb_tiff_and_float_tiff(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    rng = np.random.default_rng(22)
    rgb = rng.integers(0, 65536, size=(9, 10, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "rgb16.tif", rgb, photometric="rgb")
    assert fimg.read_image(tmp_path / "rgb16.tif", channel="rgb").dtype == np.uint16
    k = np.array([[1, 2], [-3, 4]])
    got = fimg.filter_image(tmp_path / "rgb16.tif", k, channel="rgb", scale="none")
    for c in range(3):
        np.testing.assert_array_equal(got[:, :, c], signal.correlate2d(rgb[:, :, c].astype(np.int64), k, "valid"))
    np.testing.assert_array_equal(fimg.read_image(tmp_path / "rgb16.tif", channel="b"), rgb[:, :, 2])
    flt = rng.normal(size=(8, 7)).astype(np.float32) * 1e5
    tifffile.imwrite(tmp_path / "f.tif", flt)
    read = fimg.read_image(tmp_path / "f.tif")
    assert read.dtype == np.float32
    np.testing.assert_array_equal(read, flt)
    got = fimg.filter_image(tmp_path / "f.tif", k.astype(np.float64), scale="none")
    np.testing.assert_allclose(got, signal.correlate2d(flt.astype(np.float64), k, "valid"), rtol=1e-12)


def test_resize_keeps_16_bits(tmp_path):
    Image.fromarray(np.full((10, 10), 40000, np.uint16)).save(tmp_path / "flat16.png")
    got = fimg.read_image(tmp_path / "flat16.png", resize="4x6")
    assert got.dtype == np.uint16 and got.shape == (6, 4) and (got == 40000).all()


def test_save_raw_round_trips_and_refuses_what_a_format_cannot_hold(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    deep = _deep_grey(23, (5, 6)).astype(np.int64)
    with Image.open(fimg.save_raw(deep, tmp_path / "a.png")) as im:
        assert im.mode.startswith("I")
        np.testing.assert_array_equal(np.asarray(im), deep)
    signed = deep - 40000
    with pytest.raises(ValueError, match=r"16-bit PNG: values -\d+\.\.\d+ .*\.tif"):
        fimg.save_raw(signed, tmp_path / "b.png")
    np.testing.assert_array_equal(tifffile.imread(fimg.save_raw(signed, tmp_path / "b.tif")), signed)
    assert tifffile.imread(tmp_path / "b.tif").dtype == np.int32
    with pytest.raises(ValueError, match="int32"):
        fimg.save_raw(signed * 2**40, tmp_path / "c.tif")
    np.testing.assert_array_equal(np.load(fimg.save_raw(signed * 2**40, tmp_path / "c.npy")), signed * 2**40)
    floats = np.linspace(-1, 1, 12).reshape(3, 4)
    assert tifffile.imread(fimg.save_raw(floats, tmp_path / "f.tif")).dtype == np.float32
    with pytest.raises(ValueError, match="without scaling"):
        fimg.save_raw(deep, tmp_path / "a.jpg")
