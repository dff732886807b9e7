"""fastconv.conv2d and fastconv.nn against TensorFlow/Keras and PyTorch on the seed's CNN layers and networks.

Timed with ``pytest benches/bench_conv2d.py --benchmark-only --benchmark-json out.json``;
``python benches/bench_conv2d.py out.json`` then prints the per-layer and network
tables (ratios of medians, all from that one run) with each ratio beside the
target of issue 11.

Groups:

``conv2d|<layer>``
    One 3x3 SAME convolution (the layers of the stride and maxpool networks)
    on float32 NHWC images, at batch 128 and batch 1: fastconv's ``conv2d``
    (``"auto"``, which runs the register-tiled direct kernel for float32),
    its im2col backend (the evidence for auto's choice), ``tf.nn.conv2d`` and
    ``torch.nn.functional.conv2d``.
``sgemm``
    A 2048^3 float32 matrix product (NumPy's BLAS, 2 threads): the machine's
    reference GFLOP/s for the layers' efficiency targets.
``model|<net>|10000``
    A whole network (stride, maxpool, deeper; built by ``training.models``
    with fixed random weights) on the 10,000 CIFAR-10 test images (random
    images if the data is not found): ``fastconv.nn`` ``Model.predict``
    (batches of 1000) vs Keras ``predict`` (its default batch of 32, and
    1000) vs the same network in PyTorch (batches of 1000, ``no_grad``).
``model|<net>|latency``
    The stride network on one image.

Every implementation runs with 2 threads: Numba's (``benches/conftest.py``),
``torch.set_num_threads(2)``, BLAS through threadpoolctl; TensorFlow's own
pools default to the 2 cores.  PyTorch is optional (the ``torch`` extra):
its cases are skipped when it is not installed.  Inputs (NCHW tensors for
torch included) are made, and every implementation's output checked once
against an independent float64 reference, outside the timing; each callable
runs once before timing so that compilation and tracing are not timed.  A
plain ``pytest`` (benchmarks disabled) runs each case once on small inputs
as a smoke test.

Torch gets SAME padding as ``padding=1`` on both sides; for stride 2 on an
even size TensorFlow pads only the bottom/right, so torch's output there is
checked against the reference with its own padding (the same number of
multiply-adds either way).
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fastconv.nhwc import conv2d  # noqa: E402 -- after TF_CPP_MIN_LOG_LEVEL is set

THREADS = 2

#: The convolutions timed: name -> (batch, H, W, C, F, stride); all 3x3, SAME, float32.
LAYERS = {
    "N=128 32x32x3->16": (128, 32, 32, 3, 16, 1),
    "N=128 32x32x16->16 s2": (128, 32, 32, 16, 16, 2),
    "N=128 16x16x16->32": (128, 16, 16, 16, 32, 1),
    "N=128 16x16x32->32 s2": (128, 16, 16, 32, 32, 2),
    "N=128 32x32x16->16": (128, 32, 32, 16, 16, 1),
    "N=128 16x16x32->32": (128, 16, 16, 32, 32, 1),
    "N=1 32x32x3->16": (1, 32, 32, 3, 16, 1),
    "N=1 16x16x32->32 s2": (1, 16, 16, 32, 32, 2),
}
#: Layers whose GFLOP/s must reach this share of the same run's sgemm.
SGEMM_SHARE = {"N=128 16x16x16->32": 0.6, "N=128 32x32x16->16": 0.6}
NETWORKS = ("stride", "maxpool", "deeper")
TEST_IMAGES = 10_000
GEMM_N = 2048


def _conv_flops(n, h, w, c, f, s):
    oh, ow = -(-h // s), -(-w // s)
    return 2 * n * oh * ow * f * 9 * c


def _same_pads(n, s):
    total = max((-(-n // s) - 1) * s + 3 - n, 0)
    return total // 2, total - total // 2


def _reference_conv(x, w, s, pads=None):
    """3x3 convolution by windows and tensordot in float64 (independent of fastconv); SAME pads by default."""
    from numpy.lib.stride_tricks import sliding_window_view

    h, wd = x.shape[1:3]
    if pads is None:
        pads = (_same_pads(h, s), _same_pads(wd, s))
    (pt, pb), (pl, pr) = pads
    xp = np.pad(x.astype(np.float64), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    win = sliding_window_view(xp, (3, 3), axis=(1, 2))[:, ::s, ::s]  # (n, oh, ow, c, 3, 3)
    return np.tensordot(win, w.astype(np.float64), axes=([4, 5, 3], [0, 1, 2]))


def _setup_fastconv(backend):
    def setup(x, w, s):
        return (lambda: conv2d(x, w, s, "same", backend=backend)), None

    return setup


def _setup_tf(x, w, s):
    tf = pytest.importorskip("tensorflow")
    xt, wt = tf.constant(x), tf.constant(w)
    return (lambda: tf.nn.conv2d(xt, wt, strides=s, padding="SAME").numpy()), None


def _torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(THREADS)
    return torch


def _setup_torch(x, w, s):
    torch = _torch()
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # NCHW, made outside the timing
    wt = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))  # OIHW
    conv = torch.nn.functional.conv2d

    def run():
        with torch.no_grad():
            return conv(xt, wt, stride=s, padding=1).numpy().transpose(0, 2, 3, 1)

    return run, ((1, 1), (1, 1))


#: Implementations of one convolution layer: name -> setup(x, w, stride) -> (callable, padding it computes or None).
CONV_IMPLS = {
    "fastconv": _setup_fastconv("auto"),
    "fastconv-im2col": _setup_fastconv("im2col"),
    "tf.nn.conv2d": _setup_tf,
    "torch": _setup_torch,
}


@pytest.mark.parametrize("impl", list(CONV_IMPLS))
@pytest.mark.parametrize("layer", list(LAYERS))
def test_conv_layer(benchmark, layer, impl):
    n, h, w_, c, f, s = LAYERS[layer]
    if benchmark.disabled:
        n = min(n, 4)
    rng = np.random.default_rng(0)
    x = rng.random((n, h, w_, c), dtype=np.float32)
    w = (rng.standard_normal((3, 3, c, f)) * 0.2).astype(np.float32)
    run, pads = CONV_IMPLS[impl](x, w, s)
    got = run()  # also compiles / traces outside the timing
    want = _reference_conv(x, w, s, pads)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()
    benchmark.group = f"conv2d|{layer}"
    benchmark.extra_info.update(flops=_conv_flops(n, h, w_, c, f, s), batch=n, impl=impl)
    benchmark(run)


def test_sgemm(benchmark):
    """The machine's float32 matrix-product rate (2048^3 through NumPy's BLAS, 2 threads)."""
    from threadpoolctl import threadpool_limits

    m = 256 if benchmark.disabled else GEMM_N
    rng = np.random.default_rng(1)
    a = rng.random((m, m), dtype=np.float32)
    b = rng.random((m, m), dtype=np.float32)
    out = np.empty((m, m), np.float32)
    with threadpool_limits(limits=THREADS, user_api="blas"):
        np.matmul(a, b, out=out)
        assert np.allclose(out[:4, :4], a[:4].astype(np.float64) @ b[:, :4].astype(np.float64), rtol=1e-4)
        benchmark.group = "sgemm"
        benchmark.extra_info.update(flops=2 * m**3, impl="numpy.matmul")
        benchmark(np.matmul, a, b, out=out)


# ---------------------------------------------------------------------------------------------
# Whole networks


@pytest.fixture(scope="module")
def networks(tmp_path_factory):
    """name -> (fastconv.nn Model, Keras model), each saved as .keras with fixed random weights and read back."""
    pytest.importorskip("tensorflow")
    import keras

    from fastconv.nn import load_model
    from training import models

    out = {}
    for name in NETWORKS:
        keras.utils.set_random_seed(0)
        path = tmp_path_factory.mktemp("bench") / f"{name}.keras"
        getattr(models, f"build_{name}")().save(path)
        out[name] = (load_model(path), keras.models.load_model(path, compile=False))
    return out


@pytest.fixture(scope="module")
def test_images():
    """The CIFAR-10 test images scaled to [0, 1], or random float32 images if no copy is found."""
    try:
        from training.data import load
        from training.pipeline import to_float

        return to_float(load().x_test[:TEST_IMAGES])
    except Exception:
        return np.random.default_rng(0).random((TEST_IMAGES, 32, 32, 3), dtype=np.float32)


def torch_network(model):
    """The same network in PyTorch (NCHW), from a fastconv.nn Model's weights."""
    torch = _torch()
    from fastconv.nn import layers as L

    mods = []
    shape = model.input_shape  # (H, W, C), tracked to place TensorFlow's SAME padding and the flatten order
    h, w, c = shape
    for layer in model.layers:
        if isinstance(layer, L.Conv2D):
            kh, kw, ci, f = layer.kernel.shape
            s = layer.strides
            (pt, pb), (pl, pr) = (_pads(h, kh, s[0]), _pads(w, kw, s[1])) if layer.padding == "same" else ((0, 0),) * 2
            if (pt, pl) == (pb, pr):
                conv = torch.nn.Conv2d(ci, f, (kh, kw), stride=s, padding=(pt, pl))
            else:
                mods.append(torch.nn.ZeroPad2d((pl, pr, pt, pb)))
                conv = torch.nn.Conv2d(ci, f, (kh, kw), stride=s)
            conv.weight.data = torch.from_numpy(np.ascontiguousarray(layer.kernel.transpose(3, 2, 0, 1)))
            conv.bias.data = torch.from_numpy(np.asarray(layer.bias, np.float32))
            mods.append(conv)
            if layer.activation == "relu":
                mods.append(torch.nn.ReLU())
            h, w, c = (h + pt + pb - kh) // s[0] + 1, (w + pl + pr - kw) // s[1] + 1, f
        elif isinstance(layer, L.MaxPooling2D):
            assert layer.padding == "valid"
            mods.append(torch.nn.MaxPool2d(layer.pool_size, layer.strides))
            h, w = (h - layer.pool_size[0]) // layer.strides[0] + 1, (w - layer.pool_size[1]) // layer.strides[1] + 1
        elif isinstance(layer, L.Flatten):
            mods.append(torch.nn.Flatten())
        elif isinstance(layer, L.Dense):
            k = np.asarray(layer.kernel, np.float32)
            if k.shape[0] == h * w * c:  # Keras flattens (h, w, c); torch flattens (c, h, w)
                k = k.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
            dense = torch.nn.Linear(k.shape[0], k.shape[1])
            dense.weight.data = torch.from_numpy(np.ascontiguousarray(k.T))
            dense.bias.data = torch.from_numpy(np.asarray(layer.bias, np.float32))
            mods.append(dense)
            if layer.activation == "softmax":
                mods.append(torch.nn.Softmax(dim=1))
        elif not isinstance(layer, L.Dropout):
            raise NotImplementedError(type(layer).__name__)
    return torch.nn.Sequential(*mods).eval()


def _pads(n, k, s):
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _network_runs(name, ours, keras_model, x):
    runs = {
        "fastconv.nn": lambda: ours.predict(x, batch_size=1000),
        "keras-predict": lambda: keras_model.predict(x, verbose=0),
        "keras-predict-1000": lambda: keras_model.predict(x, batch_size=1000, verbose=0),
    }

    def torch_run():
        torch = _torch()
        net = torch_network(ours)
        xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # NCHW, made outside the timing

        def run():
            with torch.no_grad():
                return np.concatenate([net(xt[i : i + 1000]).numpy() for i in range(0, len(xt), 1000)])

        return run

    return runs, torch_run


@pytest.mark.parametrize("impl", ["fastconv.nn", "keras-predict", "keras-predict-1000", "torch"])
@pytest.mark.parametrize("net", NETWORKS)
def test_network_throughput(benchmark, networks, test_images, net, impl):
    ours, km = networks[net]
    x = test_images[:200] if benchmark.disabled else test_images
    runs, torch_run = _network_runs(net, ours, km, x)
    run = torch_run() if impl == "torch" else runs[impl]
    got = run()
    want = np.asarray(km(x[:256], training=False))
    assert np.abs(got[:256] - want).max() <= 1e-5
    assert (got[:256].argmax(1) == want.argmax(1)).all()
    benchmark.group = f"model|{net}|{len(x)}"
    benchmark.extra_info.update(images=len(x), impl=impl)
    benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=0)


@pytest.mark.parametrize("impl", ["fastconv.nn", "keras-call", "torch"])
def test_model_latency(benchmark, networks, test_images, impl):
    ours, km = networks["stride"]
    x1 = test_images[:1]
    if impl == "torch":
        torch = _torch()
        net = torch_network(ours)
        xt = torch.from_numpy(np.ascontiguousarray(x1.transpose(0, 3, 1, 2)))

        def run():
            with torch.no_grad():
                return net(xt).numpy()

    elif impl == "fastconv.nn":

        def run():
            return ours(x1)

    else:

        def run():
            return np.asarray(km(x1, training=False))

    assert np.abs(run() - np.asarray(km(x1, training=False))).max() <= 1e-5
    benchmark.group = "model|stride|latency"
    benchmark.extra_info.update(images=1, impl=impl)
    benchmark(run)


# ---------------------------------------------------------------------------------------------
# Tables from a --benchmark-json file


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def tables(results: dict) -> str:
    """Markdown tables of medians, ratios and targets from pytest-benchmark JSON."""
    groups: dict[str, dict[str, dict]] = {}
    for b in results["benchmarks"]:
        groups.setdefault(b["group"], {})[b["extra_info"]["impl"]] = b

    def med(group, impl):
        b = groups.get(group, {}).get(impl)
        return None if b is None else b["stats"]["median"]

    gemm = groups.get("sgemm", {}).get("numpy.matmul")
    gemm_rate = gemm["extra_info"]["flops"] / gemm["stats"]["median"] / 1e9 if gemm else None
    lines = [
        "| layer | fastconv ms (GFLOP/s) | im2col ms | tf.nn.conv2d ms (GFLOP/s) | torch ms (GFLOP/s) "
        "| fastconv / min(tf, torch) | target | |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    share_lines = []
    for layer in LAYERS:
        group = f"conv2d|{layer}"
        if group not in groups:
            continue
        flops = next(iter(groups[group].values()))["extra_info"]["flops"]
        cells = []
        for impl in CONV_IMPLS:
            m = med(group, impl)
            if m is None:
                cells.append("-")
            elif impl == "fastconv-im2col":
                cells.append(f"{m * 1e3:.3f}")
            else:
                cells.append(f"{m * 1e3:.3f} ({flops / m / 1e9:.0f})")
        ours = med(group, "fastconv")
        peers = [m for m in (med(group, "tf.nn.conv2d"), med(group, "torch")) if m is not None]
        if ours is not None and peers:
            ratio = ours / min(peers)
            cells += [f"{ratio:.2f}", "<= 1.0", _met(ratio <= 1.0)]
        else:
            cells += ["-", "<= 1.0", "-"]
        lines.append(f"| {layer} | " + " | ".join(cells) + " |")
        if layer in SGEMM_SHARE and ours is not None and gemm_rate:
            share = flops / ours / 1e9 / gemm_rate
            target = SGEMM_SHARE[layer]
            share_lines.append(
                f"| {layer} | {flops / ours / 1e9:.0f} | {gemm_rate:.0f} | {share:.0%} | >= {target:.0%} "
                f"| {_met(share >= target)} |"
            )
    if share_lines:
        lines += [
            "",
            f"| layer | fastconv GFLOP/s | sgemm {GEMM_N}^3 GFLOP/s | share | target | |",
            "| --- | --- | --- | --- | --- | --- |",
            *share_lines,
        ]
    lines += [
        "",
        "| network, 10,000 images | fastconv.nn s | Keras predict (32) s | Keras predict (1000) s | torch s "
        "| / best Keras | / torch | target | |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for net in NETWORKS:
        group = next((g for g in groups if g.startswith(f"model|{net}|") and not g.endswith("latency")), None)
        if group is None:
            continue
        ours = med(group, "fastconv.nn")
        k32, k1000, tt = med(group, "keras-predict"), med(group, "keras-predict-1000"), med(group, "torch")
        keras_best = min(m for m in (k32, k1000) if m is not None)
        vs_keras = ours / keras_best
        vs_torch = ours / tt if tt is not None else None
        ok = vs_keras < 1.0 and (vs_torch is None or vs_torch < 1.0)
        lines.append(
            f"| {net} | {ours:.3f} | {k32:.3f} | {k1000:.3f} | {'-' if tt is None else f'{tt:.3f}'} "
            f"| {vs_keras:.2f} | {'-' if vs_torch is None else f'{vs_torch:.2f}'} | < 1.0 and < 1.0 | {_met(ok)} |"
        )
    group = "model|stride|latency"
    if group in groups:
        lines += [
            "",
            "| stride network, 1 image | fastconv.nn ms | Keras call ms | torch ms |",
            "| --- | --- | --- | --- |",
        ]
        cells = [med(group, i) for i in ("fastconv.nn", "keras-call", "torch")]
        lines.append("| latency | " + " | ".join("-" if m is None else f"{m * 1e3:.3f}" for m in cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python benches/bench_conv2d.py RESULTS.json (from pytest --benchmark-json)")
    with open(sys.argv[1]) as fh:
        data = json.load(fh)
    cpu = data.get("machine_info", {}).get("cpu", {}).get("brand_raw", "an unknown CPU")
    print("# fastconv.conv2d and fastconv.nn against TensorFlow and PyTorch\n")
    print(
        f"Run {data.get('datetime', 'at an unknown time')} on {cpu}, 2 threads each, with "
        "`pytest benches/bench_conv2d.py --benchmark-only --benchmark-json conv2d.json` and "
        "`python benches/bench_conv2d.py conv2d.json`. Medians; every ratio divides two medians of this one run.\n"
    )
    print(tables(data))
