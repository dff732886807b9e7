"""fastconv.dask against the in-memory functions, for every chunking.

The contract of ``fastconv.dask.convolve2d`` is ``fastconv.convolve2d`` on the
computed image (which tests/test_convolve2d.py checks against independent
references): equal element for element and in dtype, or the same error with the
same message. Random cases (hypothesis) draw the shape, the chunk boundaries
(1-pixel and uneven chunks included), kernel, stride, dilation, every padding
form and pad mode, 2-D and (H, W, C), integer, bool and float dtypes. Then the
same on a 2-process ``LocalCluster``, ``conv2d`` and ``Model.predict`` over
batch chunks, and ``fastconv filter`` out of core (TIFF in, zarr and tiled TIFF out).
"""

import numpy as np
import pytest
import scipy.signal

da = pytest.importorskip("dask.array")
hypothesis = pytest.importorskip("hypothesis")
tifffile = pytest.importorskip("tifffile")
zarr = pytest.importorskip("zarr")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fastconv  # noqa: E402
import fastconv.dask as fdask  # noqa: E402
from fastconv import kernels  # noqa: E402
from fastconv.cli import main  # noqa: E402

PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")
DTYPES = (np.uint8, np.int16, np.int32, np.bool_, np.float32, np.float64)
ASYMMETRIC = "1 2 0; -3 4 5; 0 -1 2"  # no symmetry: a flipped or transposed kernel gives another image


@st.composite
def chunking(draw, n):
    """Chunk sizes summing to ``n``: cut points drawn anywhere (1-pixel chunks included)."""
    cuts = draw(st.sets(st.integers(1, n - 1), max_size=min(n - 1, 6))) if n > 1 else set()
    if n > 1 and draw(st.booleans()):  # sometimes every chunk one pixel thick
        cuts = set(range(1, n))
    edges = [0, *sorted(cuts), n]
    return tuple(b - a for a, b in zip(edges, edges[1:], strict=False))


@st.composite
def padding(draw):
    small = st.integers(0, 4)
    return draw(
        st.one_of(
            st.sampled_from(["valid", "same", "full"]),
            small,
            st.tuples(small, small),
            st.tuples(st.tuples(small, small), st.tuples(small, small)),
        )
    )


@st.composite
def case(draw):
    h, w = draw(st.integers(1, 14)), draw(st.integers(1, 14))
    channels = draw(st.sampled_from([None, 1, 3]))
    dtype = draw(st.sampled_from(DTYPES))
    shape = (h, w) if channels is None else (h, w, channels)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dtype == np.bool_:
        img = rng.random(shape) < 0.5
    elif np.dtype(dtype).kind == "f":
        img = rng.standard_normal(shape).astype(dtype)
    else:
        info = np.iinfo(dtype)
        img = rng.integers(max(info.min, -1000), min(info.max, 1000), size=shape, endpoint=True).astype(dtype)
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kdtype = draw(st.sampled_from([np.int64, np.int8, np.float32, np.float64]))
    k = rng.integers(-5, 6, size=(kh, kw)).astype(kdtype)
    if kdtype in (np.float32, np.float64):
        k = (k + rng.random((kh, kw))).astype(kdtype)
    chunks = (draw(chunking(h)), draw(chunking(w))) + (() if channels is None else (draw(chunking(channels)),))
    kwargs = dict(
        stride=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        padding=draw(padding()),
        dilation=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        flip=draw(st.booleans()),
        pad_mode=draw(st.sampled_from(PAD_MODES)),
    )
    out_chunks = draw(st.one_of(st.none(), st.tuples(st.integers(1, 5), st.integers(1, 5))))
    return img, k, chunks, out_chunks, kwargs


def check_equal(img, k, in_chunks, out_chunks=None, **kwargs):
    """``fastconv.dask.convolve2d`` on ``img`` chunked as ``in_chunks`` equals ``fastconv.convolve2d`` on ``img``."""
    try:
        want = fastconv.convolve2d(img, k, **kwargs)
    except (ValueError, TypeError) as err:
        with pytest.raises(type(err)) as got:
            fdask.convolve2d(da.from_array(img, chunks=in_chunks), k, chunks=out_chunks, **kwargs)
        assert str(got.value) == str(err)
        return None
    lazy = fdask.convolve2d(da.from_array(img, chunks=in_chunks), k, chunks=out_chunks, **kwargs)
    assert lazy.shape == want.shape and lazy.dtype == want.dtype
    got = lazy.compute(scheduler="synchronous")
    assert got.dtype == want.dtype
    assert_same(got, want, img, k, **kwargs)
    return lazy


def assert_same(got, want, img, k, **kwargs):
    """Equal for integer results; for floats, within the rounding of a sum of kh*kw products.

    Float sums may be added in another order (the in-memory kernels skip zero
    padding taps, a chunk sees them as zeros), so each value may differ by the
    rounding of its sum: a few units in the last place of sum |k| |x| over the window.
    """
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want)
        return
    mag = fastconv.convolve2d(np.abs(np.asarray(img, np.float64)), np.abs(np.asarray(k, np.float64)), **kwargs)
    bound = 2 * np.size(k) * np.finfo(want.dtype).eps * mag
    assert np.all(np.abs(got.astype(np.float64) - want) <= bound), np.max(np.abs(got.astype(np.float64) - want) - bound)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case())
def test_equal_to_in_memory(c):
    img, k, chunks, out_chunks, kwargs = c
    lazy = check_equal(img, k, chunks, out_chunks, **kwargs)
    if lazy is not None and out_chunks is not None:  # the requested output chunks, but for the last
        for axis in range(2):
            assert all(c >= out_chunks[axis] for c in lazy.chunks[axis][:-1])


@pytest.mark.parametrize("mode", PAD_MODES)
@pytest.mark.parametrize("pad", [((7, 0), (0, 9)), ((0, 6), (5, 1)), "same"])
def test_pad_wider_than_image_and_chunks(mode, pad):
    """Padding wider than the image and than any chunk, 1-pixel chunks: numpy.pad's repeated reflections."""
    img = np.arange(20, dtype=np.int16).reshape(4, 5) * 3 - 17
    k = np.arange(1, 13).reshape(3, 4) - 6
    for chunks in [(1, 1), (3, 2), (4, 5)]:
        check_equal(img, k, chunks, padding=pad, pad_mode=mode, stride=(2, 3), dilation=(1, 2))


def test_large_kernel_small_chunks_rechunked():
    """A 9x9 kernel over 2-pixel chunks: the chunks thinner than the halo are merged, not refused."""
    rng = np.random.default_rng(1)
    img = rng.random((40, 37)).astype(np.float32)
    k = rng.random((9, 9)).astype(np.float32)
    lazy = check_equal(img, k, (2, 3), padding="same", pad_mode="reflect")
    assert min(min(c) for c in lazy.chunks) >= 1
    assert lazy.numblocks[0] > 1 and lazy.numblocks[1] > 1  # still cut into pieces


def test_strided_outputs_only(monkeypatch):
    """Each task computes only the strided outputs it owns: the outputs of all tasks add up to the result."""
    computed = []
    inner = fastconv.convolve2d

    def counting(*args, **kwargs):
        out = inner(*args, **kwargs)
        computed.append(out.shape)
        return out

    img = np.arange(61 * 47, dtype=np.float64).reshape(61, 47)
    lazy = fdask.convolve2d(da.from_array(img, chunks=(9, 5)), np.ones((3, 2)), stride=(3, 2), padding="same")
    monkeypatch.setattr(fastconv, "convolve2d", counting)
    lazy.compute(scheduler="synchronous")
    monkeypatch.undo()
    assert sum(a * b for a, b in computed) == lazy.shape[0] * lazy.shape[1]
    assert len(computed) == lazy.npartitions > 1


def test_output_chunks_option():
    img = np.random.default_rng(2).integers(0, 255, (50, 33), dtype=np.uint8)
    lazy = check_equal(img, np.ones((5, 3), int), (7, 11), (6, 4), stride=2, padding="same")
    assert lazy.chunks[0][:-1] == (6,) * (len(lazy.chunks[0]) - 1)
    assert lazy.chunks[1][:-1] == (4,) * (len(lazy.chunks[1]) - 1)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        (dict(stride=0), ValueError),
        (dict(stride=1.5), TypeError),
        (dict(padding=-1), ValueError),
        (dict(padding="fill"), ValueError),
        (dict(pad_mode="mirror"), ValueError),
        (dict(dilation=(1, 0)), ValueError),
        (dict(flip=1), TypeError),
        (dict(backend="gpu"), ValueError),
    ],
)
def test_errors_keep_in_memory_wording(kwargs, error):
    img = np.ones((6, 6))
    with pytest.raises(error) as want:
        fastconv.convolve2d(img, np.ones((3, 3)), **kwargs)
    with pytest.raises(error) as got:
        fdask.convolve2d(da.from_array(img, chunks=2), np.ones((3, 3)), **kwargs)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("img", [np.ones((2, 3, 4, 5)), np.ones((3, 3), complex), np.ones((0, 4))])
def test_bad_images_keep_in_memory_wording(img):
    with pytest.raises((TypeError, ValueError)) as want:
        fastconv.convolve2d(img, np.ones((1, 1)))
    with pytest.raises(want.type) as got:
        fdask.convolve2d(da.from_array(img), np.ones((1, 1)))
    assert str(got.value) == str(want.value)


def test_threads_per_task_restored(monkeypatch):
    import numba

    before = numba.get_num_threads()
    seen, inside = [], []
    inner = fastconv.convolve2d

    def recording(*args, **kwargs):
        inside.append(numba.get_num_threads())
        return inner(*args, **kwargs)

    monkeypatch.setattr(fastconv, "convolve2d", recording)
    img = da.from_array(np.ones((8, 8), np.float32), chunks=4)

    def probe(block):
        seen.append(numba.get_num_threads())
        return block

    fdask.convolve2d(img, np.ones((3, 3), np.float32)).map_blocks(probe).compute(scheduler="synchronous")
    with pytest.raises(ValueError, match="threads"):
        fdask.convolve2d(img, np.ones((3, 3)), threads=0)
    assert numba.get_num_threads() == before
    assert inside and all(n == 1 for n in inside)  # one Numba thread inside each task
    assert seen  # the probe ran after each task; the setting was back by then
    assert all(n == before for n in seen)


def test_conv2d_over_batch_chunks():
    rng = np.random.default_rng(3)
    x = rng.random((11, 9, 8, 3)).astype(np.float32)
    w = rng.random((3, 2, 3, 4)).astype(np.float32)
    b = rng.random(4).astype(np.float32)
    want = fastconv.conv2d(x, w, 2, "same", dilation=(1, 2), bias=b)
    lazy = fdask.conv2d(da.from_array(x, chunks=(4, 3, 8, 3)), w, 2, "same", dilation=(1, 2), bias=b)
    assert lazy.chunks[0] == (4, 4, 3) and lazy.dtype == want.dtype
    np.testing.assert_allclose(lazy.compute(scheduler="synchronous"), want, rtol=2e-6, atol=1e-6)
    with pytest.raises(ValueError) as got:
        fdask.conv2d(da.from_array(x), w[:, :, :2])
    with pytest.raises(ValueError) as expected:
        fastconv.conv2d(x[:1], w[:, :, :2])
    assert str(got.value) == str(expected.value)


def _model():
    from fastconv.nn.layers import Conv2D, Dense, Flatten, MaxPooling2D
    from fastconv.nn.model import Model

    rng = np.random.default_rng(4)
    layers = (
        Conv2D(
            "c",
            rng.standard_normal((3, 3, 3, 4)).astype(np.float32),
            np.ones(4, np.float32),
            padding="same",
            activation="relu",
        ),
        MaxPooling2D("p"),
        Flatten("f"),
        Dense("d", rng.standard_normal((4 * 4 * 4, 5)).astype(np.float32), np.zeros(5, np.float32), "softmax"),
    )
    return Model("m", layers, (8, 8, 3))


def test_model_predict_dask():
    model = _model()
    x = np.random.default_rng(5).random((13, 8, 8, 3)).astype(np.float32)
    lazy = model.predict(da.from_array(x, chunks=(5, 8, 4, 3)), batch_size=2)
    assert isinstance(lazy, da.Array) and lazy.chunks == ((5, 5, 3), (5,))
    np.testing.assert_allclose(
        lazy.compute(scheduler="synchronous"), model.predict(x, batch_size=2), rtol=1e-5, atol=1e-7
    )


@pytest.mark.slow
def test_local_cluster_two_processes():
    distributed = pytest.importorskip("dask.distributed")
    rng = np.random.default_rng(6)
    img = rng.integers(0, 256, (97, 83, 3), dtype=np.uint8)
    k = rng.integers(-3, 4, (5, 4))
    x = rng.random((9, 8, 8, 3)).astype(np.float32)
    model = _model()
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        lazy = fdask.convolve2d(
            da.from_array(img, chunks=(20, 17, 2)), k, 2, "same", dilation=(2, 1), pad_mode="symmetric"
        )
        got, probs = client.compute([lazy, model.predict(da.from_array(x, chunks=(3, 8, 8, 3)))], sync=True)
        workers = client.run(lambda: __import__("os").getpid())
    assert len(set(workers.values())) == 2
    np.testing.assert_array_equal(got, fastconv.convolve2d(img, k, 2, "same", dilation=(2, 1), pad_mode="symmetric"))
    np.testing.assert_allclose(probs, model.predict(x), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("rgb", [False, True])
def test_cli_tiff_to_zarr(tmp_path, capsys, rgb):
    rng = np.random.default_rng(7)
    shape = (53, 61, 3) if rgb else (53, 61)
    img = rng.integers(0, 256, shape, dtype=np.uint8)
    tifffile.imwrite(tmp_path / "in.tif", img, tile=(16, 16))
    out = tmp_path / "out.zarr"
    args = [
        "filter",
        str(tmp_path / "in.tif"),
        "-k",
        ASYMMETRIC,
        "-o",
        str(out),
        "--chunks",
        "8,12",
        "--stride",
        "2",
        "--padding",
        "same",
        "--pad-mode",
        "reflect",
        "--channel",
        "rgb" if rgb else "r",
    ]
    assert main(args) == 0
    printed = capsys.readouterr()
    assert "100%" in printed.out + printed.err  # Dask's progress bar
    got = zarr.open(out, mode="r")[...]
    want = fastconv.convolve2d(img, kernels.parse(ASYMMETRIC), 2, "same", pad_mode="reflect")
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_cli_zarr_to_tiled_tiff_chain(tmp_path):
    rng = np.random.default_rng(8)
    img = rng.integers(0, 256, (70, 45, 3), dtype=np.uint8)
    da.from_array(img, chunks=(16, 16, 3)).to_zarr(str(tmp_path / "in.zarr"))
    out = tmp_path / "out.tif"
    args = [
        "filter",
        str(tmp_path / "in.zarr"),
        "-k",
        "box:3",
        "-k",
        "emboss",
        "--chain",
        "-o",
        str(out),
        "--chunks",
        "20",
        "--channel",
        "g",
        "--padding",
        "1",
    ]
    assert main(args) == 0
    with tifffile.TiffFile(out) as tif:
        assert tif.pages[0].is_tiled and tif.pages[0].tilelength == 32
        got = tif.asarray()
    want = fastconv.convolve2d(img[:, :, 1], kernels.get("box:3"), padding=1)
    want = fastconv.convolve2d(want, kernels.get("emboss"), padding=1)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-10)  # box:3 is float64: sums in another order


def test_cli_out_of_core_errors(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "in.tif", np.ones((5, 5), np.uint8))
    assert main(["filter", str(tmp_path / "missing.tif"), "-k", "kernel1", "-o", str(tmp_path / "o.zarr")]) == 1
    assert main(["filter", str(tmp_path / "in.tif"), "-k", "box:9", "-o", str(tmp_path / "o.zarr")]) == 1
    assert (
        main(["filter", str(tmp_path / "in.tif"), "-k", "kernel1", "-o", str(tmp_path / "o.png"), "--chunks", "4"]) == 1
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("fastconv: error: ") for line in err)
    assert "missing.tif" in err[0] and "larger than the padded image" in err[1] and ".zarr" in err[2]


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
def test_out_of_core_padding_cannot_flood_the_disk(tmp_path, capsys, pad_mode):
    """A small file padded by 100000: one line, refused before any chunk is written, no output left behind."""
    tifffile.imwrite(tmp_path / "in.tif", np.ones((50, 40), np.uint8))
    out = tmp_path / "o.zarr"
    argv = ["filter", str(tmp_path / "in.tif"), "-k", "kernel1", "-o", str(out), "--chunks", "16"]
    assert main(argv + ["--padding", "100000", "--pad-mode", pad_mode]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "padding" in err[0] and "MAX_IMAGE_PIXELS" in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif"]
    # a little padding of the same file still runs out of core
    assert main(argv + ["--padding", "3", "--pad-mode", pad_mode]) == 0
    assert zarr.open(out, mode="r").shape == (54, 44)


def test_filter_file_hands_on_convolve2d_options_and_refuses_others(tmp_path):
    img = np.arange(12 * 11, dtype=np.uint8).reshape(12, 11)
    tifffile.imwrite(tmp_path / "in.tif", img)
    k = np.array([[1, 0, 2], [0, -1, 0]])
    options = {"dilation": 2, "flip": True, "pad_mode": "reflect", "backend": "naive"}
    fdask.filter_file(tmp_path / "in.tif", tmp_path / "o.zarr", k, padding=2, chunks=5, progress=False, **options)
    want = scipy.signal.correlate2d(
        np.pad(img, 2, mode="reflect").astype(np.int64), _dilated(k[::-1, ::-1], 2), "valid"
    )
    np.testing.assert_array_equal(zarr.open(tmp_path / "o.zarr", mode="r")[:], want)
    with pytest.raises(TypeError, match="filter_file.*'dilatation'"):
        fdask.filter_file(tmp_path / "in.tif", tmp_path / "p.zarr", k, dilatation=2, progress=False)
    assert not (tmp_path / "p.zarr").exists()


def _dilated(k, d):
    out = np.zeros(((k.shape[0] - 1) * d + 1, (k.shape[1] - 1) * d + 1), dtype=k.dtype)
    out[::d, ::d] = k
    return out
