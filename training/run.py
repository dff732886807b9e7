"""``python -m training.run [EXPERIMENT ...]``: the seed's CIFAR-10 experiments, resumable.

Experiments: baseline, history, train-size, l1, maxpool, deeper, or all. With none
named, baseline + history run (one 5k-sample training, a couple of minutes on a
2-core CPU). Results go to ``--out`` (default ``results/<timestamp>/``): one JSON
record and one ``.keras`` model per run, CSV tables, PNG plots, classification
reports and REPORT.md. Rerunning with the same ``--out`` skips finished runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from training.config import Config
from training.data import DataError, load
from training.experiments import (
    ALL_ORDER,
    DEFAULT_EXPERIMENTS,
    EXPERIMENTS,
    RunEnv,
    SettingsMismatch,
    execute,
    plan,
)
from training.files import write_json
from training.launch import Task, launch, task_from_env, without_worker_index
from training.quiet import filter_stderr
from training.report import display_path, write_report


class DeviceError(Exception):
    """The requested device is not available."""


def setup_device(choice: str, replicas: int = 1, task: Task | None = None) -> tuple[str, object | None]:
    """Pick the device before TensorFlow touches any; return (description, strategy or None).

    ``"cpu"`` hides every GPU; ``"gpu"`` requires one; ``"auto"`` uses GPUs when
    TensorFlow sees any. GPUs get memory growth (allocate as needed, not all at
    start); with more than one, training runs under ``tf.distribute.MirroredStrategy``.
    On the CPU, ``replicas > 1`` splits it into that many logical devices and trains
    under ``MirroredStrategy`` over them (the multi-device path, testable without a GPU).
    With ``task`` (this process is one worker of a ``TF_CONFIG`` cluster), training runs
    under ``tf.distribute.MultiWorkerMirroredStrategy`` over every worker's devices; it is
    created here, before any other TensorFlow operation, as TensorFlow requires.

    Examples
    --------
    >>> setup_device("cpu")[0].startswith("CPU")  # doctest: +SKIP
    True
    """
    import tensorflow as tf

    cpu = f"CPU ({os.cpu_count()} logical cores)"
    gpus = tf.config.list_physical_devices("GPU")

    def multi_worker(text):
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        return (
            f"{text}; {task.kind} {task.index} of {task.workers} workers under MultiWorkerMirroredStrategy "
            f"({strategy.num_replicas_in_sync} replicas)",
            strategy,
        )

    def on_cpu(text):
        if task is not None:
            return multi_worker(text)
        if replicas == 1:
            return text, None
        physical = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(physical, [tf.config.LogicalDeviceConfiguration()] * replicas)
        names = [d.name for d in tf.config.list_logical_devices("CPU")]
        return f"{text} as {replicas} logical devices under MirroredStrategy", tf.distribute.MirroredStrategy(names)

    if choice == "cpu":
        if gpus:
            tf.config.set_visible_devices([], "GPU")
            return on_cpu(f"{cpu}; {len(gpus)} GPU(s) hidden by --device cpu")
        return on_cpu(cpu)
    if not gpus:
        if choice == "gpu":
            raise DeviceError("--device gpu: TensorFlow sees no GPU (is the CUDA build of TensorFlow installed?)")
        return on_cpu(cpu)
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)
    names = []
    for gpu in gpus:
        try:
            names.append(tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name))
        except Exception:
            names.append(gpu.name)
    if task is not None:
        return multi_worker(f"{len(gpus)} GPU(s): {', '.join(names)}")
    if len(gpus) > 1:
        return f"{len(gpus)} GPUs under MirroredStrategy: {', '.join(names)}", tf.distribute.MirroredStrategy()
    return f"GPU: {names[0]}", None


def version() -> str:
    """The installed fastconv distribution's version (the harness ships with it)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("fastconv")
    except PackageNotFoundError:
        return "(not installed)"


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _quiet_tensorflow() -> None:
    """Hide TensorFlow's Python-side warnings (e.g. retracing notices after clear_session)."""
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _int_list(text: str) -> tuple[int, ...]:
    return tuple(_positive_int(t) for t in text.split(",") if t.strip())


def _seed_list(text: str) -> tuple[int, ...]:
    """``0,1,2`` or a range ``0-4`` (both ends included) of non-negative seeds, no repeats."""
    seeds: list[int] = []
    try:
        for part in (t.strip() for t in text.split(",")):
            lo, dash, hi = part.partition("-")
            seeds += range(int(lo), int(hi) + 1) if dash else [int(part)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds like 0,1,2 or 0-4, got {text!r}") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct non-negative seeds, got {text!r}")
    return tuple(seeds)


def _float_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected non-negative numbers, got {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (see ``python -m training.run --help``)."""
    d = Config()
    p = argparse.ArgumentParser(
        prog="python -m training.run",
        description="Run the seed's CIFAR-10 experiments (Part 2); rerun with the same --out to resume.",
        epilog="Experiments: " + ", ".join(EXPERIMENTS) + ", all (default: baseline history). "
        "`python -m training.report DIR` rebuilds REPORT.md, tables and plots from DIR's run records.",
    )
    p.add_argument("experiments", nargs="*", metavar="EXPERIMENT", help="default: baseline history")
    p.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    p.add_argument("--epochs", type=_positive_int, help=f"epochs per run (default {d.epochs})")
    p.add_argument("--batch-size", type=_positive_int, help=f"default {d.batch_size}")
    p.add_argument(
        "--train-sizes",
        type=_int_list,
        help="comma-separated training sizes for train-size and deeper (default 5000,10000,20000,40000)",
    )
    p.add_argument("--base-size", type=_positive_int, help="samples of baseline/history/l1/maxpool runs (default 5000)")
    p.add_argument("--l1", type=_float_list, help="comma-separated L1 weights of the l1 sweep (default the seed's 8)")
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seeds",
        type=_seed_list,
        help="training seeds (initialisation, batch order, dropout): every run once per seed, e.g. 0,1,2 or 0-4 "
        "(default 0)",
    )
    seeds.add_argument("--seed", type=_seed_list, dest="seeds", help="the same as --seeds")
    seeds.add_argument("--repeats", type=_positive_int, help="the same as --seeds 0-(N-1)")
    p.add_argument(
        "--size-seeds",
        type=_seed_list,
        help="seeds of the train-size and deeper runs, the expensive ones (default: as --seeds)",
    )
    p.add_argument(
        "--subset-seed",
        type=int,
        help="train on a seeded random n of the training images instead of the first n (default: the first n)",
    )
    p.add_argument("--deterministic", action="store_true", help="TF op determinism: same seed, same CPU -> same result")
    p.add_argument("--out", type=Path, default=None, help="output directory (default results/<UTC timestamp>/)")
    p.add_argument("--data", default=None, help="CIFAR-10 path: python batches dir, image-folder dir or zip")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto", help="default auto")
    p.add_argument(
        "--replicas",
        type=_positive_int,
        default=1,
        help="on the CPU: split it into N logical devices and train under MirroredStrategy (default 1)",
    )
    p.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="train as N worker processes on this machine under MultiWorkerMirroredStrategy (default 1); "
        "across machines, set TF_CONFIG on each and run the same command without --workers",
    )
    p.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)  # set by --workers' launcher
    p.add_argument("--quick", action="store_true", help="smoke run: a few hundred samples, 1 epoch")
    p.add_argument("--force", action="store_true", help="redo runs that already finished in --out")
    p.add_argument(
        "--warm-start",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train-size also replays the seed's cumulative training, and deeper the seed's Table 9 scoring "
        "(default: on for 'all', off otherwise)",
    )
    p.add_argument("--pipeline", choices=("tfdata", "numpy"), help=f"input pipeline (default {d.pipeline})")
    p.add_argument(
        "--test-size", type=_positive_int, default=None, help="score on the first N test images (default all)"
    )
    p.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=None,
        help="Keras fit verbosity (default 1 on a terminal, else 2)",
    )
    return p


def config_from_args(args: argparse.Namespace) -> Config:
    """Build the :class:`Config`: the defaults (``--quick``'s with ``--quick``), then every option given.

    ``all`` turns ``--warm-start`` on by default.
    """
    cfg = Config().quick_version() if args.quick else Config()
    given = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "base_size": args.base_size,
        "train_sizes": args.train_sizes,
        "l1_weights": args.l1,
        "test_size": args.test_size,
        "seeds": tuple(range(args.repeats)) if args.repeats else args.seeds,
        "size_seeds": args.size_seeds,
        "subset_seed": args.subset_seed,
        "pipeline": args.pipeline,
    }
    warm = args.warm_start if args.warm_start is not None else ("all" in args.experiments)
    return cfg.replace(
        **{k: v for k, v in given.items() if v is not None},
        deterministic=args.deterministic,
        warm_start=warm,
        device=args.device,
        data=args.data,
        force=args.force,
        verbose=args.verbose if args.verbose is not None else (1 if sys.stdout.isatty() else 2),
    )


def _experiment_names(raw: list[str]) -> list[str]:
    if not raw:
        return list(DEFAULT_EXPERIMENTS)
    unknown = [n for n in raw if n not in EXPERIMENTS and n != "all"]
    if unknown:
        raise ValueError(f"unknown experiment {unknown[0]!r}; choose from {', '.join(EXPERIMENTS)}, all")
    if "all" in raw:
        return list(ALL_ORDER)
    return list(dict.fromkeys(raw))


def _update_invocations(out: Path, names: list[str], cfg: Config, argv: list[str]) -> dict:
    """Merge this invocation into ``out/invocation.json`` (experiments run there so far, settings)."""
    path = out / "invocation.json"
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        info = {"experiments": [], "invocations": []}
    info["experiments"] = list(dict.fromkeys([*info.get("experiments", []), *names]))
    info["config"] = dataclasses.asdict(cfg)
    info.setdefault("invocations", []).append(
        {"argv": argv, "experiments": names, "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    )
    write_json(path, info)
    return info


def _finish_invocation(out: Path, wall: float, status: str) -> None:
    path = out / "invocation.json"
    try:
        info = json.loads(path.read_text())
        info["invocations"][-1].update(wall_s=round(wall, 1), status=status)
        write_json(path, info)
    except (OSError, ValueError, KeyError, IndexError):
        pass


def main(argv: list[str] | None = None) -> int:
    """Run the named experiments; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        names = _experiment_names(args.experiments)
    except ValueError as e:
        parser.error(str(e))
    cfg = config_from_args(args)
    out = args.out or Path("results") / datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    try:
        task = task_from_env()
    except ValueError as e:
        parser.error(str(e))
    launcher = args.workers > 1 and args.worker_index is None
    if launcher and task is not None:
        parser.error("--workers starts worker processes on this machine; with TF_CONFIG set, omit --workers")
    if args.worker_index is not None and (task is None or task.index != args.worker_index):
        parser.error("--worker-index is set by --workers for the worker processes it starts")
    if task is not None and args.workers > 1 and task.workers != args.workers:
        parser.error(f"--workers {args.workers}, but TF_CONFIG names {task.workers} workers")
    if (launcher or task is not None) and args.replicas > 1:
        parser.error("--replicas cannot be combined with multi-worker training (--workers or TF_CONFIG)")

    filter_stderr()
    try:
        data = load(cfg.data)  # before TensorFlow is imported: a wrong --data is reported at once
    except DataError as e:
        parser.error(f"argument --data: {str(e).splitlines()[0]}")
    biggest = max([cfg.base_size, *cfg.train_sizes])
    if biggest > len(data.y_train):
        parser.error(f"training size {biggest} exceeds the {len(data.y_train)} training images of {data.source}")
    if launcher:  # the data is checked (and cached) once; every worker loads it again
        del data
        worker_args = argv if args.out is not None else [*argv, "--out", str(out)]
        return launch(worker_args, args.workers, out, prog=parser.prog)
    chief = task is None or task.chief

    t0 = time.perf_counter()
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)  # `kill PID` stops as cleanly as Ctrl-C
    try:
        device, strategy = setup_device(cfg.device, args.replicas, task)
        _quiet_tensorflow()
        if cfg.deterministic:
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
        print(f"device: {device}", flush=True)
        print(f"data: {display_path(data.describe())}", flush=True)
        specs = plan(names, cfg)
        out.mkdir(parents=True, exist_ok=True)
        print(f"experiments: {', '.join(names)}; {len(specs)} runs; output: {display_path(str(out))}", flush=True)
        if chief:
            _update_invocations(out, names, cfg, without_worker_index(argv))
        env = RunEnv(data=data, device=device, strategy=strategy, workers=task.workers if task else 1, chief=chief)
        execute(specs, cfg, env, out)
        wall = time.perf_counter() - t0
        if not chief:
            print(f"finished in {wall / 60:.1f} min; the chief writes the records and the report", flush=True)
            return 0
        _finish_invocation(out, wall, "finished")
        report = write_report(out)
    except KeyboardInterrupt:
        if chief:
            _finish_invocation(out, time.perf_counter() - t0, "interrupted")
        print(
            f"\ninterrupted: finished runs are kept in {out}; run the same command with --out {out} to resume",
            file=sys.stderr,
        )
        return 130
    except (DeviceError, DataError, SettingsMismatch, ValueError, OSError) as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    finally:
        signal.signal(signal.SIGTERM, previous_term)
    print(f"finished in {wall / 60:.1f} min; report: {display_path(str(report))}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
