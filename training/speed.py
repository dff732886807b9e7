"""Throughput of one ``stride`` training epoch under several input pipelines.

``python -m training.speed [--n 5000] [--epochs 4]`` trains a fresh ``stride``
model for each variant and prints training samples per second, counting only
epochs 2.. (epoch 1 includes tracing and compilation, which a long run pays once).
An epoch's time includes its validation pass (``validation_split`` = 0.1), as in
the real runs. The data are random uint8 images: throughput does not depend on
pixel values.

Variants: the published way (``model.fit`` on a float32 NumPy array), ``tf.data``
(uint8 tensors cast to float on the fly, batched, prefetched), and each with
``jit_compile=True`` (XLA) or ``steps_per_execution=8``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from training.pipeline import split_point

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def measure(variant: str, x, y, *, epochs: int, batch_size: int, seed: int = 0) -> list[float]:
    """Train a fresh ``stride`` model with ``variant``; return training samples/s of each epoch 2.."""
    import keras

    from training.checkpoint import EpochCheckpoint
    from training.models import build_stride, compile_model
    from training.pipeline import make_fit_inputs

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    pipeline, _, opt = variant.partition("+")
    jit = opt == "jit"
    spe = int(opt[3:]) if opt.startswith("spe") else 1
    model = compile_model(build_stride(), jit_compile=jit, steps_per_execution=spe)
    timer = EpochCheckpoint(Path("unused"), write=False)  # the harness' epoch timer; saves nothing
    fit_kwargs, n_train = make_fit_inputs(
        pipeline, x, y, batch_size=batch_size, validation_split=0.1, seed=seed, epochs=epochs
    )
    model.fit(epochs=epochs, verbose=0, callbacks=[timer], **fit_kwargs)
    return [n_train / t for t in timer.epoch_times[1:]]  # epoch 1 includes tracing


def main(argv: list[str] | None = None) -> int:
    """Print a throughput table; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m training.speed", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="samples (default 5000)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per variant; the first is not timed")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--variants",
        default="numpy,numpy+jit,numpy+spe8,tfdata,tfdata+jit,tfdata+spe8",
        help="comma-separated list",
    )
    parser.add_argument("--repeats", type=int, default=1, help="rounds over all variants (interleaved)")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch is not timed)")

    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(args.n, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, size=args.n).astype(np.int64)
    variants = args.variants.split(",")
    results: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(args.repeats):
        for v in variants:
            rates = measure(v, x, y, epochs=args.epochs, batch_size=args.batch_size)
            results[v].extend(rates)
            print(f"{v:14s} " + " ".join(f"{r:6.0f}" for r in rates) + " samples/s per epoch", flush=True)
    # On a shared machine other work slows some epochs down; the best epoch is the least disturbed.
    base_med = np.median(results[variants[0]])
    base_best = max(results[variants[0]])
    base = variants[0]
    print(f"\n| pipeline | median epoch, samples/s | best epoch, samples/s | median vs {base} | best vs {base} |")
    print("|:--|--:|--:|--:|--:|")
    for v in variants:
        med, best = float(np.median(results[v])), max(results[v])
        print(f"| {v} | {med:,.0f} | {best:,.0f} | {med / base_med:.2f}x | {best / base_best:.2f}x |")
    print(
        f"\n{args.n} samples ({split_point(args.n, 0.1)} fitted per epoch), batch {args.batch_size}, "
        f"{args.repeats} round(s) of {args.epochs} epochs per variant, epoch 1 excluded"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
