"""The report's frame: its header (data, settings, seeds, wall time), the runs still missing, and throughput."""

from __future__ import annotations

import numpy as np

from training.config import Config
from training.registry import DEFAULT_EXPERIMENTS, EXPERIMENTS, plan
from training.report.records import Runs, invocation_walls, run_wall_times
from training.report.stats import plural, secs
from training.report.tables import display_path, md_table


def section_missing(runs: Runs, names: list[str], cfg: Config) -> str:
    """The planned runs that have no record yet (the run continues with the same command and --out)."""
    planned = plan(names, cfg)
    missing = [s for s in planned if s.run_id not in runs.records]
    if not missing:
        return ""
    by_setting: dict[str, list[int]] = {}
    for s in missing:
        by_setting.setdefault(s.setting, []).append(s.seed)
    listing = "; ".join(f"`{k}` (seeds {', '.join(map(str, v))})" for k, v in by_setting.items())
    return (
        f"## Still missing\n\n**{plural(len(missing), 'planned run')} of {len(planned)} have no record yet**; "
        "the tables below show what has finished (their n column says how many seeds). Missing: "
        f"{listing}. Rerunning the same `python -m training.run` command with the same `--out` trains only these.\n"
    )


def section_speed(runs: Runs) -> str:
    """Throughput of every Keras run (epochs 2.., tracing excluded)."""
    rows = []
    for rec in sorted(runs.records.values(), key=lambda r: r.get("finished_at", "")):
        if rec.get("samples_per_s"):
            rows.append([rec["run"], f"{rec['n_fit']:,}", f"{rec['samples_per_s']:,.0f}", secs(rec["train_time_s"])])
    if not rows:
        return ""
    return (
        "## Throughput per run\n\nTraining samples per second of wall time, epochs 2 onward (epoch 1 includes graph "
        "tracing and is left out; an epoch's time includes its validation pass), in the order the runs finished. "
        "On a machine shared with other work these figures follow its load as much as the network.\n\n"
        + md_table(["run", "samples fitted", "samples/s", "fit time"], rows)
        + "\n"
    )


def one_seed_minutes(
    runs: Runs, names: list[str] | tuple[str, ...], cfg: Config, walls: dict[str, float]
) -> float | None:
    """Wall minutes one seed of ``names`` takes, from the records: each run's median wall time over the seeds
    that have one (:func:`run_wall_times`), summed over the runs of one seed; None when one of those runs
    has no timed record."""
    one = cfg.replace(seeds=(cfg.seeds[0],), size_seeds=None)
    total = 0.0
    for spec in plan(names, one):
        times = [walls[r["run"]] for r in runs.of(spec) if walls.get(r["run"]) is not None]
        if not times:
            return None  # a run of one seed has no timed record: no total
        total += float(np.median(times))
    return total / 60


def names_of(info: dict) -> list[str]:
    """The experiments an ``invocation.json`` names (every one when it names none)."""
    return [n for n in info.get("experiments", EXPERIMENTS) if n in EXPERIMENTS]


def wall_time_lines(runs: Runs, cfg: Config, info: dict) -> str:
    """'Wall time' bullets: the invocations' total, and what one seed of ``all`` and the default job take."""
    invocations = info.get("invocations", [])
    total, estimated = invocation_walls(invocations, runs.records)
    if not invocations:
        return ""
    commands = ", ".join(
        "`" + " ".join(["python -m training.run", *map(display_path, inv.get("argv", []))]) + "`" for inv in invocations
    )
    note = (
        f"; {estimated} of them recorded no end (still running, or killed) and "
        f"{'is' if estimated == 1 else 'are each'} counted up to its last finished run"
        if estimated
        else ""
    )
    compute = sum(r.get("train_time_s") or 0.0 for r in runs.records.values())
    walls = run_wall_times(
        runs.records, invocations, [s.run_id for s in plan(names_of(info), cfg.replace(warm_start=True))]
    )
    every = one_seed_minutes(runs, list(EXPERIMENTS), cfg.replace(warm_start=True), walls)
    default = one_seed_minutes(runs, DEFAULT_EXPERIMENTS, cfg, walls)
    return (
        f"- Wall time: {total / 60:.1f} min over {plural(len(invocations), 'invocation')} ({commands}){note}; "
        f"training time (`model.fit`) summed over the runs: {compute / 3600:.2f} h\n"
        f"- One seed, from these records (each run's wall time: its own where the record measured it, else from "
        f"the end of the run before it, runs ending in the same second taken in the order they ran; median over "
        f"seeds, summed): `all` {_minutes(every, 0)}, the default `baseline history` {_minutes(default, 1)}. "
        "These are the runs alone: a process also starts Python and TensorFlow and loads the data (the first "
        "load of a zip decodes it, later ones read a cache)\n" + resumed_line(runs)
    )


def _minutes(m: float | None, digits: int) -> str:
    return "- (not every run has a timed record)" if m is None else f"{m:.{digits}f} min"


def resumed_line(runs: Runs) -> str:
    """A bullet naming the runs that were resumed from a checkpoint part-way, or ''."""
    resumed = sorted(
        (r["run"], r["resumed_after_epoch"]) for r in runs.records.values() if r.get("resumed_after_epoch")
    )
    if not resumed:
        return ""
    listed = ", ".join(f"`{rid}` (after epoch {e})" for rid, e in resumed)
    nondet = any(not runs.records[rid]["config"].get("deterministic") for rid, _ in resumed)
    return (
        f"- Resumed part-way from a checkpoint (`resumed_after_epoch` in the record): {listed}. The rest of "
        "such a run continues from the saved weights, optimizer state and epoch"
        + (
            "; without op determinism its later epochs are not bit-for-bit those an uninterrupted run would have "
            "given, so it is one draw of its setting like the others, not a replay of an uninterrupted run"
            if nondet
            else ""
        )
        + "\n"
    )


def header(runs: Runs, cfg: Config, info: dict) -> str:
    """The report's title and its bullets: data, device, settings, seeds, wall time, deliberate differences."""
    any_rec = next(iter(runs.records.values()))
    c, v = any_rec["config"], any_rec["versions"]
    lines = [
        "# CIFAR-10 experiments of the published Part 2\n",
        f"- Data: {display_path(any_rec['data']['source'])}\n",
        f"- Device: {any_rec['device']}; TensorFlow {v['tensorflow']}, Keras {v['keras']}, NumPy {v['numpy']}, "
        f"Python {v['python']}\n",
        f"- Settings: {plural(c['epochs'], 'epoch')}, batch {c['batch_size']}, validation split "
        f"{c['validation_split']} (the last share of each training subset), input pipeline `{c['pipeline']}`"
        + (", op determinism on" if c.get("deterministic") else "")
        + (f", test set cut to {c['test_size']:,}" if c.get("test_size") else "")
        + "\n",
        f"- Random seeds with records: {', '.join(map(str, runs.seeds()))}; planned: "
        f"{', '.join(map(str, cfg.seeds))} for the 5,000-sample experiments, "
        f"{', '.join(map(str, cfg.size_seeds or cfg.seeds))} for train-size and deeper. A seed sets the initial "
        "weights, the batch order and dropout; the data subset is the same for every seed"
        + (f" (random subset, subset seed {cfg.subset_seed})" if cfg.subset_seed is not None else "")
        + ".\n",
        wall_time_lines(runs, cfg, info),
        "\nDifferences from the published code, on purpose: every run starts from a fresh model (the published "
        "`model_train_sizes` kept fitting one model; the cumulative version is shown beside it when run with "
        "`--warm-start`); a subset is the first n samples (the published `x_train = x_train_orig[1:n]` dropped "
        "sample 0); labels are integers with `sparse_categorical_crossentropy`, which computes the same loss as the "
        "published one-hot labels with `categorical_crossentropy`; Part 2d is scored on the deeper network's own "
        "predictions. Runs with the same settings are one run: the stride network on the base subset serves "
        "Tables 1-2, Figure 4, Table 5's first row, Table 6's 1e-4 row and Table 8.\n",
    ]
    if any_rec["data"]["kind"].startswith("image-folder"):
        lines.append(
            "\nThe data are a JPEG re-encoding of CIFAR-10 (quality 75), so pixels differ slightly from the "
            "official batches the published runs used; the samples were shuffled once with a fixed seed before "
            "taking the first n (the image folders are sorted by class).\n"
        )
    return "".join(lines)
