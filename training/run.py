"""``python -m training.run [EXPERIMENT ...]``: the published CIFAR-10 experiments, resumable.

Experiments (:data:`training.registry.EXPERIMENTS`): baseline, history, train-size, l1,
maxpool, deeper, or all. With none named, baseline + history run (one 5k-sample training,
a couple of minutes on a 2-core CPU). Results go to ``--out`` (default
``results/<timestamp>/``): one JSON record and one ``.keras`` model per run, CSV tables,
PNG plots, classification reports and REPORT.md. Rerunning with the same ``--out`` skips
finished runs; one invocation at a time holds an output folder (``DIR/.lock``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from training.config import Config
from training.data import DataError, load
from training.device import DeviceError, setup_device
from training.files import write_json
from training.launch import launch, task_from_env, without_worker_index
from training.pipeline import split_point
from training.quiet import filter_stderr
from training.registry import EXPERIMENTS, experiment_names, plan
from training.report import display_path, write_report
from training.resume import FolderBusy, SettingsMismatch, lock_folder, to_run
from training.runner import RunEnv, execute

#: Most seeds one option may name: a range is checked against it before it is expanded.
MAX_SEEDS = 1000


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


def _repeats(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_SEEDS:
        raise argparse.ArgumentTypeError(f"{value:,} repeats; at most {MAX_SEEDS:,}")
    return value


def _int_list(text: str) -> tuple[int, ...]:
    return tuple(_positive_int(t) for t in text.split(",") if t.strip())


def _seed_list(text: str) -> tuple[int, ...]:
    """``0,1,2`` or a range ``0-4`` (both ends included) of non-negative seeds, no repeats, at most
    :data:`MAX_SEEDS` (counted before any range is expanded)."""
    bounds: list[tuple[int, int]] = []
    try:
        for part in (t.strip() for t in text.split(",")):
            lo, dash, hi = part.partition("-")
            bounds.append((int(lo), int(hi)) if dash else (int(part), int(part)))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds like 0,1,2 or 0-4, got {text!r}") from None
    count = sum(max(hi - lo + 1, 0) for lo, hi in bounds)
    if count > MAX_SEEDS:
        raise argparse.ArgumentTypeError(f"{count:,} seeds in {text!r}; at most {MAX_SEEDS:,}")
    seeds = [s for lo, hi in bounds for s in range(lo, hi + 1)]
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct non-negative seeds, got {text!r}")
    return tuple(seeds)


def _float_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or not all(math.isfinite(v) and v >= 0 for v in values):  # nan fails every comparison
        raise argparse.ArgumentTypeError(f"expected finite non-negative numbers, got {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (see ``python -m training.run --help``)."""
    d = Config()
    p = argparse.ArgumentParser(
        prog="python -m training.run",
        description="Run the published CIFAR-10 experiments (Part 2); rerun with the same --out to resume.",
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
    p.add_argument(
        "--l1", type=_float_list, help="comma-separated L1 weights of the l1 sweep (default: the 8 published)"
    )
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seeds",
        type=_seed_list,
        help="training seeds (initialisation, batch order, dropout): every run once per seed, e.g. 0,1,2 or 0-4 "
        f"(default 0; at most {MAX_SEEDS:,})",
    )
    seeds.add_argument("--seed", type=_seed_list, dest="seeds", help="the same as --seeds")
    seeds.add_argument("--repeats", type=_repeats, help="the same as --seeds 0-(N-1)")
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
        "--trust-unkeyed",
        action="store_true",
        help="reuse finished runs whose records name no data content key (made before keys were stored) "
        "without checking their data; without it they are refused (python -m training.rekey checks and keys them)",
    )
    p.add_argument(
        "--warm-start",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train-size also replays the published cumulative training, and deeper the published Table 9 scoring "
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
        trust_unkeyed=args.trust_unkeyed,
        verbose=args.verbose if args.verbose is not None else (1 if sys.stdout.isatty() else 2),
    )


def _too_small_to_split(cfg: Config) -> str | None:
    """The option whose training size leaves no sample to fit or none to validate, as an error message."""
    for option, sizes in (("--base-size", [cfg.base_size]), ("--train-sizes", cfg.train_sizes)):
        for n in sizes:
            k = split_point(n, cfg.validation_split)
            if not 0 < k < n:
                return (
                    f"argument {option}: {n:,} samples split {k:,} to fit and {n - k:,} to validate "
                    f"(validation split {cfg.validation_split}); each needs at least one"
                )
    return None


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
    locks: list = []
    try:
        return _main(argv, locks)
    finally:
        for held in locks:
            held.close()


def _main(argv: list[str] | None, locks: list) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        names = experiment_names(args.experiments)
    except ValueError as e:
        parser.error(str(e))
    cfg = config_from_args(args)
    if (message := _too_small_to_split(cfg)) is not None:
        parser.error(message)
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
    if args.worker_index is None and (task is None or task.chief):  # the launcher, or the process writing records
        try:
            out.mkdir(parents=True, exist_ok=True)
            locks.append(lock_folder(out))
        except (FolderBusy, OSError) as e:
            parser.exit(2, f"{parser.prog}: error: {e}\n")
        # A finished run made with other settings or other data is refused before TensorFlow is imported (its
        # distribution, known once TensorFlow has chosen the devices, is compared again when the runs start).
        if task is None:
            try:
                to_run(plan(names, cfg), cfg, out, None, RunEnv(data=data, device="").data_fields)
            except SettingsMismatch as e:
                parser.exit(2, f"{parser.prog}: error: {e}\n")
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
