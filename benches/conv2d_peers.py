"""conv2d against PyTorch and TensorFlow on the CNN layers, alternating call by call in one process.

``python -m benches.conv2d_peers [--rounds N] [--threads T]`` prints, per layer of
:data:`benches.bench_conv2d.LAYERS`, each implementation's median time and fastconv's time over
the faster peer's, as the median of the rounds' ratios with their quartiles (every round times
fastconv, torch and ``tf.nn.conv2d`` once each, the order rotated: :mod:`benches.alternate`).
Every peer's result is checked against fastconv's first.  A peer that is not installed is left
out.  Each library runs on ``T`` threads (default 2).
"""

from __future__ import annotations

import argparse
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benches.alternate import calls_per_turn, interleave  # noqa: E402
from benches.first_call import cpu  # noqa: E402


def _peers(threads: int) -> dict:
    import numba

    numba.set_num_threads(threads)
    out = {}
    try:
        import torch

        torch.set_num_threads(threads)
        out["torch"] = torch
    except ImportError:
        pass
    try:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        out["tf"] = tf
    except ImportError:
        pass
    return out


def layer_funcs(x, w, s, peers: dict) -> dict:
    """Zero-argument callables of one 3x3 layer (SAME; torch: padding 1), each returning NHWC float32."""
    from fastconv import conv2d

    funcs = {"fastconv": lambda: conv2d(x, w, s, "same")}
    if "torch" in peers:
        torch = peers["torch"]
        xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        wt = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
        conv = torch.nn.functional.conv2d

        def run_torch():  # padding 1 on every side (at stride 2, SAME pads only the bottom/right: checked apart)
            with torch.no_grad():
                return conv(xt, wt, stride=s, padding=1).numpy().transpose(0, 2, 3, 1)

        funcs["torch"] = run_torch
    if "tf" in peers:
        tf = peers["tf"]
        xf, wf = tf.constant(x), tf.constant(w)
        funcs["tf.nn.conv2d"] = lambda: tf.nn.conv2d(xf, wf, strides=s, padding="SAME").numpy()
    return funcs


def main(argv=None) -> int:
    from benches.bench_conv2d import LAYERS

    p = argparse.ArgumentParser(prog="python -m benches.conv2d_peers", description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    peers = _peers(args.threads)
    print(f"{cpu()}; {args.threads} threads each; {args.rounds} rounds; peers: {', '.join(peers) or 'none'}\n")
    print("| layer | fastconv | torch | tf.nn.conv2d | fastconv / faster peer (median [q1, q3]) |")
    print("| --- | ---: | ---: | ---: | --- |")
    rng = np.random.default_rng(0)
    for name, (n, h, wd, c, f, s) in LAYERS.items():
        x = rng.random((n, h, wd, c), dtype=np.float32)
        w = ((rng.random((3, 3, c, f), dtype=np.float32) - 0.5) / 3).astype(np.float32)
        funcs = layer_funcs(x, w, s, peers)
        from fastconv import conv2d

        for peer, fn in funcs.items():
            got = fn()
            want = conv2d(x, w, s, 1 if peer == "torch" else "same")
            if got.shape != want.shape or not np.allclose(got, want, rtol=1e-4, atol=1e-4):
                raise SystemExit(f"{peer} disagrees with fastconv on {name}")
        times = interleave(funcs, args.rounds, calls_per_turn(funcs, 0.02))
        med = {k: float(np.median(v)) for k, v in times.items()}
        others = [k for k in funcs if k != "fastconv"]
        cell = ""
        if others:
            best = [min(times[k][r] for k in others) for r in range(args.rounds)]
            ratios = np.array(times["fastconv"]) / np.array(best)
            q1, m, q3 = np.quantile(ratios, [0.25, 0.5, 0.75])
            cell = f"{m:.2f} [{q1:.2f}, {q3:.2f}]"
        row = [f"{med[k] * 1e3:.2f} ms" if k in med else "-" for k in ("fastconv", "torch", "tf.nn.conv2d")]
        print(f"| {name} | {' | '.join(row)} | {cell} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
