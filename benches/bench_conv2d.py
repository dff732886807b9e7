"""fastconv.conv2d and fastconv.nn against TensorFlow/Keras on the seed's stride network.

Timed with ``pytest benches/bench_conv2d.py --benchmark-only --benchmark-json out.json``;
``python benches/bench_conv2d.py out.json`` then prints the per-layer and model
tables (ratios of medians, fastconv / peer, all from that one run).

Groups:

``conv2d|convN``
    Each convolution of the stride network (3x3, SAME) on a batch of 128
    float32 images: fastconv's two backends and ``tf.nn.conv2d``.
``model|latency``
    The whole network on one image: ``fastconv.nn`` vs Keras ``model(x, training=False)``.
``model|10000``
    The whole network on the 10,000 CIFAR-10 test images (random images if the
    data is not found): ``Model.predict`` vs Keras ``model.predict`` (its
    default batch of 32, and a batch of 1000 like fastconv's).

Inputs are made, and every implementation's output checked once, outside
the timing; each callable is run once before timing so that Numba and
``tf.function`` compilation are not timed. A plain ``pytest`` (benchmarks
disabled) runs each case once on small inputs as a smoke test.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fastconv.nhwc import conv2d  # noqa: E402 -- after TF_CPP_MIN_LOG_LEVEL is set

#: The stride network's convolutions: (H, W, C, F, stride); all 3x3, SAME, ReLU.
LAYERS = {
    "conv1": (32, 32, 3, 16, 1),
    "conv2": (32, 32, 16, 16, 2),
    "conv3": (16, 16, 16, 32, 1),
    "conv4": (16, 16, 32, 32, 2),
}
BATCH = 128
TEST_IMAGES = 10_000


def _conv_flops(n, h, w, c, f, s):
    oh, ow = -(-h // s), -(-w // s)
    return 2 * n * oh * ow * f * 9 * c


def _reference_conv(x, w, s):
    """SAME 3x3 convolution by windows and tensordot in float64 (independent of fastconv)."""
    from numpy.lib.stride_tricks import sliding_window_view

    n, h, wd, c = x.shape
    oh, ow = -(-h // s), -(-wd // s)
    ph = max((oh - 1) * s + 3 - h, 0)
    pw = max((ow - 1) * s + 3 - wd, 0)
    xp = np.pad(x.astype(np.float64), ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    win = sliding_window_view(xp, (3, 3), axis=(1, 2))[:, ::s, ::s]  # (n, oh, ow, c, 3, 3)
    return np.tensordot(win, w.astype(np.float64), axes=([4, 5, 3], [0, 1, 2]))


def _setup_fastconv(backend):
    def setup(x, w, s):
        return lambda: conv2d(x, w, s, "same", backend=backend)

    return setup


def _setup_tf(x, w, s):
    tf = pytest.importorskip("tensorflow")
    xt, wt = tf.constant(x), tf.constant(w)
    return lambda: tf.nn.conv2d(xt, wt, strides=s, padding="SAME").numpy()


#: Implementations of one convolution layer: name -> setup(x, w, stride) -> zero-argument callable.
CONV_IMPLS = {
    "fastconv-im2col": _setup_fastconv("im2col"),
    "fastconv-direct": _setup_fastconv("direct"),
    "tf.nn.conv2d": _setup_tf,
}


@pytest.mark.parametrize("impl", list(CONV_IMPLS))
@pytest.mark.parametrize("layer", list(LAYERS))
def test_conv_layer(benchmark, layer, impl):
    h, w_, c, f, s = LAYERS[layer]
    n = 8 if benchmark.disabled else BATCH
    rng = np.random.default_rng(0)
    x = rng.random((n, h, w_, c), dtype=np.float32)
    w = (rng.standard_normal((3, 3, c, f)) * 0.2).astype(np.float32)
    run = CONV_IMPLS[impl](x, w, s)
    got = run()  # also compiles / traces outside the timing
    want = _reference_conv(x, w, s)
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()
    benchmark.group = f"conv2d|{layer}"
    benchmark.extra_info.update(flops=_conv_flops(n, h, w_, c, f, s), batch=n, impl=impl)
    benchmark(run)


# ---------------------------------------------------------------------------------------------
# Whole model


@pytest.fixture(scope="module")
def stride_model(tmp_path_factory):
    """A stride network saved as .keras: a trained harness run's if FASTCONV_BENCH_MODEL names one, else fresh."""
    pytest.importorskip("tensorflow")
    import keras

    path = os.environ.get("FASTCONV_BENCH_MODEL")
    if not path:
        from training.models import build_stride

        keras.utils.set_random_seed(0)
        path = tmp_path_factory.mktemp("bench") / "stride.keras"
        build_stride().save(path)
    from fastconv.nn import load_model

    return load_model(path), keras.models.load_model(path, compile=False)


@pytest.fixture(scope="module")
def test_images():
    """The CIFAR-10 test images scaled to [0, 1], or random float32 images if no copy is found."""
    try:
        from training.data import load
        from training.pipeline import to_float

        return to_float(load().x_test[:TEST_IMAGES])
    except Exception:
        return np.random.default_rng(0).random((TEST_IMAGES, 32, 32, 3), dtype=np.float32)


def _check_model(ours, keras_model, x):
    want = np.asarray(keras_model(x[:64], training=False))
    got = ours(x[:64])
    assert np.abs(got - want).max() <= 1e-5
    assert (got.argmax(1) == want.argmax(1)).all()


@pytest.mark.parametrize("impl", ["fastconv.nn", "keras-call"])
def test_model_latency(benchmark, stride_model, test_images, impl):
    ours, km = stride_model
    _check_model(ours, km, test_images)
    x1 = test_images[:1]
    run = (lambda: ours(x1)) if impl == "fastconv.nn" else (lambda: np.asarray(km(x1, training=False)))
    run()
    benchmark.group = "model|latency"
    benchmark.extra_info.update(images=1, impl=impl)
    benchmark(run)


@pytest.mark.parametrize("impl", ["fastconv.nn", "keras-predict", "keras-predict-1000"])
def test_model_throughput(benchmark, stride_model, test_images, impl):
    ours, km = stride_model
    _check_model(ours, km, test_images)
    x = test_images[:200] if benchmark.disabled else test_images
    runs = {
        "fastconv.nn": lambda: ours.predict(x, batch_size=1000),
        "keras-predict": lambda: km.predict(x, verbose=0),
        "keras-predict-1000": lambda: km.predict(x, batch_size=1000, verbose=0),
    }
    run = runs[impl]
    run()
    benchmark.group = f"model|{len(x)}"
    benchmark.extra_info.update(images=len(x), impl=impl)
    benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=0)


# ---------------------------------------------------------------------------------------------
# Tables from a --benchmark-json file


def tables(results: dict) -> str:
    """Markdown tables of medians and ratios (fastconv / peer) from pytest-benchmark JSON."""
    groups: dict[str, dict[str, dict]] = {}
    for b in results["benchmarks"]:
        groups.setdefault(b["group"], {})[b["extra_info"]["impl"]] = b
    lines = [
        "| layer | fastconv im2col ms | GFLOP/s | fastconv direct ms | GFLOP/s | tf.nn.conv2d ms | GFLOP/s "
        "| best fastconv / tf |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for layer in LAYERS:
        g = groups.get(f"conv2d|{layer}")
        if not g:
            continue
        cells, meds = [], {}
        for impl in ("fastconv-im2col", "fastconv-direct", "tf.nn.conv2d"):
            if impl in g:
                med = g[impl]["stats"]["median"]
                meds[impl] = med
                cells += [f"{med * 1e3:.2f}", f"{g[impl]['extra_info']['flops'] / med / 1e9:.1f}"]
            else:
                cells += ["-", "-"]
        ours = min(meds.get("fastconv-im2col", np.inf), meds.get("fastconv-direct", np.inf))
        ratio = f"{ours / meds['tf.nn.conv2d']:.2f}" if "tf.nn.conv2d" in meds else "-"
        lines.append(f"| {layer} | " + " | ".join(cells) + f" | {ratio} |")
    lines += ["", "| case | fastconv.nn | Keras | ratio |", "| --- | --- | --- | --- |"]
    for name, g in groups.items():
        if not name.startswith("model|") or "fastconv.nn" not in g:
            continue
        ours = g["fastconv.nn"]["stats"]["median"]
        for impl, b in g.items():
            if impl == "fastconv.nn":
                continue
            peer = b["stats"]["median"]
            lines.append(f"| {name} vs {impl} | {ours * 1e3:.2f} ms | {peer * 1e3:.2f} ms | {ours / peer:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python benches/bench_conv2d.py RESULTS.json (from pytest --benchmark-json)")
    with open(sys.argv[1]) as fh:
        print(tables(json.load(fh)))
