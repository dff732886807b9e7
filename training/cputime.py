"""CPU time per training sample of each network, one thread, measured apart from the machine's load.

``python -m training.cputime [--out DIR] [--rounds 7] [--batches 8]`` runs TensorFlow on one
thread (intra- and inter-op) and times ``model.train_on_batch`` on batches of the published size
(128) for each network of :data:`training.registry.NETWORKS`, alternating network by network
within each round after a warm-up (tracing). It counts the process's CPU time
(:func:`time.process_time`), which other processes on the machine do not add to, beside the
wall time and the load average. The result goes to ``DIR/cpu_time.json``, which the report reads
for the published time claims (Tables 5, 7-9).

The images are random uint8 values scaled as in training: the work of a training step does not
depend on pixel values.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Where the report reads the measurement.
FILE = "cpu_time.json"


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (else :func:`platform.processor`)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def measure(rounds: int, batches: int, batch_size: int = 128, seed: int = 0) -> dict:
    """CPU and wall seconds per training sample of each network, per round; see the module docstring."""
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    from training.models import MODELS as BUILDERS
    from training.models import compile_model
    from training.registry import NETWORKS

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = (rng.integers(0, 256, size=(batch_size, 32, 32, 3), dtype=np.uint8).astype("float32")) / 255
    y = rng.integers(0, 10, size=batch_size).astype("int64")
    models = {name: compile_model(BUILDERS[name]()) for name in NETWORKS}
    for m in models.values():  # tracing and the first steps outside the timing
        for _ in range(3):
            m.train_on_batch(x, y)
    cpu = {n: [] for n in models}
    wall = {n: [] for n in models}
    load = [os.getloadavg()[0]]
    for _ in range(rounds):
        for name, m in models.items():
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(batches):
                m.train_on_batch(x, y)
            cpu[name].append((time.process_time() - c0) / (batches * batch_size))
            wall[name].append((time.perf_counter() - w0) / (batches * batch_size))
        load.append(os.getloadavg()[0])
    return {
        "what": "seconds per training sample (train_on_batch, no validation pass), one TensorFlow thread",
        "batch_size": batch_size,
        "batches_per_round": batches,
        "rounds": rounds,
        "cpu_s_per_sample": cpu,
        "wall_s_per_sample": wall,
        "load_average_1min": load,
        "cpu": cpu_name(),
        "logical_cores": os.cpu_count(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure and write ``DIR/cpu_time.json``; print a summary."""
    p = argparse.ArgumentParser(prog="python -m training.cputime", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("."), metavar="DIR", help="where cpu_time.json goes")
    p.add_argument("--rounds", type=int, default=7, help="rounds over the networks (default 7)")
    p.add_argument("--batches", type=int, default=8, help="batches per network and round (default 8)")
    args = p.parse_args(argv)
    if args.rounds < 2:
        p.error(f"--rounds: must be >= 2, got {args.rounds}")
    if args.batches < 1:
        p.error(f"--batches: must be >= 1, got {args.batches}")
    if not args.out.is_dir():
        p.error(f"--out: no such directory: {args.out}")
    import numpy as np

    from training.files import write_json

    res = measure(args.rounds, args.batches)
    write_json(args.out / FILE, res)
    for name, v in res["cpu_s_per_sample"].items():
        print(f"{name:8s} CPU {1e6 * float(np.median(v)):8.0f} us/sample (median of {len(v)} rounds)")
    print(f"load average {res['load_average_1min'][0]:.1f} -> {res['load_average_1min'][-1]:.1f}; {res['cpu']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
