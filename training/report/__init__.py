"""Tables, plots and REPORT.md from the run records of an output folder.

``python -m training.report DIR`` rebuilds everything from ``DIR/*.json`` (no training, no
TensorFlow). The runs of one setting over several random seeds are summarised as mean ± sd
(n runs), beside the published figure; each comparison the published report draws gets a verdict
with the difference's paired 95% interval (Welch's beside it) and its interval corrected for the
family of comparisons, and every other published claim of Part 2 a row with a verdict.

Modules: :mod:`.records` (loading and grouping), :mod:`.stats` (spread, intervals, verdicts),
:mod:`.tables` and :mod:`.plots`, the sections :mod:`.base` (5,000-sample experiments),
:mod:`.size` (over training sizes), :mod:`.verdicts` (differences, paired by seed), :mod:`.claims`
(every other published claim) and :mod:`.summary` (header, missing runs, throughput). Which section
an experiment has, and the runs it reads, are :attr:`training.registry.Experiment.section` and
:attr:`~training.registry.Experiment.reads`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from training.files import write_atomic
from training.registry import EXPERIMENTS
from training.report.base import section_models
from training.report.claims import section_claims
from training.report.records import Runs, load_invocation, load_records
from training.report.stats import difference_interval, spread, verdict
from training.report.summary import header, section_missing, section_speed
from training.report.tables import display_path
from training.report.verdicts import section_verdicts

__all__ = ["difference_interval", "display_path", "main", "spread", "verdict", "write_report"]


def _section(name: str):
    """The section function an experiment names: ``"size.section_deeper"`` -> :func:`.size.section_deeper`."""
    module, _, function = name.rpartition(".")
    return getattr(importlib.import_module(f"training.report.{module}"), function)


def write_report(out: str | Path) -> Path:
    """Write REPORT.md, the CSV tables, text reports and PNG plots for ``out``; return REPORT.md's path.

    Examples
    --------
    >>> write_report("results/20260101-000000")  # doctest: +SKIP
    PosixPath('results/20260101-000000/REPORT.md')
    """
    out = Path(out)
    runs = Runs(load_records(out))
    names, cfg, info = load_invocation(out)
    parts = [header(runs, cfg, info), section_missing(runs, names, cfg)]
    parts.append(section_verdicts(runs, names, cfg, out))
    parts.append(section_claims(runs, names, cfg, out))
    parts.append(section_models(runs))
    parts += [_section(e.section)(runs, cfg, out) for name, e in EXPERIMENTS.items() if name in names]
    parts.append(section_speed(runs))
    path = out / "REPORT.md"
    write_atomic(path, "\n".join(p for p in parts if p))
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m training.report DIR``: rebuild REPORT.md, tables and plots from DIR's records."""
    p = argparse.ArgumentParser(prog="python -m training.report", description=main.__doc__.split(": ", 1)[1])
    p.add_argument("out", type=Path, metavar="DIR")
    args = p.parse_args(argv)
    if not args.out.is_dir():
        p.error(f"DIR: no such directory: {args.out}")
    if not load_records(args.out):
        inside = sorted(d.name for d in args.out.iterdir() if d.is_dir() and load_records(d))
        if inside:
            p.error(f"DIR: {args.out} holds no run records itself, but these folders inside do: {', '.join(inside)}")
        p.error(f"DIR: no run records (*.json) in {args.out}")
    print(display_path(str(write_report(args.out))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
