"""The run records of an output folder: loading, grouping by setting, and the wall time they show."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from training.config import Config
from training.registry import DETERMINISTIC_MODELS, EXPERIMENTS, RunSpec


def load_records(out: Path) -> dict[str, dict]:
    """Every run record in ``out`` by run id (unreadable files are skipped)."""
    records = {}
    for path in sorted(Path(out).glob("*.json")):
        if path.name == "invocation.json":
            continue
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(rec, dict) and "run" in rec and "config" in rec:
            records[rec["run"]] = rec
    return records


def load_invocation(out: Path) -> tuple[list[str], Config, dict]:
    """Experiments run in ``out`` so far, the last settings used, and the raw ``invocation.json``."""
    try:
        info = json.loads((Path(out) / "invocation.json").read_text())
    except (OSError, ValueError):
        info = {}
    fields = set(Config.__dataclass_fields__)
    raw = {k: v for k, v in info.get("config", {}).items() if k in fields}
    for key in ("train_sizes", "l1_weights", "seeds", "size_seeds"):
        if raw.get(key) is not None:
            raw[key] = tuple(raw[key])
    return info.get("experiments", list(EXPERIMENTS)), Config(**raw), info


def seed_of(rec: dict) -> int:
    """The random seed a record was trained with (its ``config.seed`` field)."""
    return int(rec["config"].get("seed") or 0)


class Runs:
    """The records of an output folder, grouped by setting (every seed's run of one setting together)."""

    def __init__(self, records: dict[str, dict]):
        self.records = records
        self.groups: dict[str, list[dict]] = {}
        for rec in sorted(records.values(), key=seed_of):
            self.groups.setdefault(RunSpec.of_record(rec).setting, []).append(rec)

    def of(self, spec: RunSpec) -> list[dict]:
        """Every seed's record of ``spec``'s setting, by seed."""
        return self.groups.get(spec.setting, [])

    def values(self, spec: RunSpec, key: str) -> list[float]:
        return [r[key] for r in self.of(spec) if r.get(key) is not None]

    def root(self, rec: dict) -> dict:
        """The record a chain of ``warm_from`` runs starts from (``rec`` itself when it continues nothing)."""
        seen = set()
        while rec["config"].get("warm_from") in self.records and rec["run"] not in seen:
            seen.add(rec["run"])
            rec = self.records[rec["config"]["warm_from"]]
        return rec

    def paired(self, a: RunSpec, b: RunSpec, key_a: str, key_b: str | None = None) -> tuple[list[float], list[float]]:
        """Values of ``key_a`` in ``a``'s runs and ``key_b`` in ``b``'s, paired by seed: the seeds both sides have.

        A run that continues another (``warm_from``) is paired by the seed its chain started from,
        and only when that is its own seed.
        """
        key_b = key_b or key_a

        def by_seed(spec: RunSpec, key: str) -> dict[int, float]:
            return {
                seed_of(r): r[key]
                for r in self.of(spec)
                if r.get(key) is not None and seed_of(self.root(r)) == seed_of(r)
            }

        va, vb = by_seed(a, key_a), by_seed(b, key_b)
        both = sorted(set(va) & set(vb))
        return [va[s] for s in both], [vb[s] for s in both]

    def seeds(self) -> list[int]:
        """The seeds of the stochastic runs that have records."""
        return sorted({seed_of(r) for r in self.records.values() if r["config"]["model"] not in DETERMINISTIC_MODELS})


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def run_wall_times(
    records: dict[str, dict], invocations: list[dict], order: list[str] | None = None
) -> dict[str, float]:
    """Wall seconds of each run.

    A record that measured its own wall time (``wall_s``, from its start to its record, in the
    process that ran it) gives that. An older record gets the time from the previous run's end (or
    its invocation's start) to its own end; records that finished in the same second (their
    ``finished_at`` had whole seconds) are taken in the plan's ``order`` (the order they ran in),
    else by run id, so a quick run finishing in the same second as a long one is not credited with
    the long one's time. Runs whose invocation is unknown are left out.
    """
    rank = {rid: i for i, rid in enumerate(order or [])}
    starts = sorted(t for inv in invocations if (t := _when(inv.get("started"))))
    done = sorted(
        (t, rank.get(rid, len(rank)), rid) for rid, r in records.items() if (t := _when(r.get("finished_at")))
    )
    walls, prev = {}, None
    for t, _, rid in done:
        began = [s for s in starts if s <= t]
        if not began:
            continue
        base = prev if prev is not None and prev >= began[-1] else began[-1]
        own = records[rid].get("wall_s")
        walls[rid], prev = (float(own) if own is not None else (t - base).total_seconds()), t
    return walls


def invocation_walls(invocations: list[dict], records: dict) -> tuple[float, int]:
    """Total wall seconds of the invocations, and how many of them recorded no end.

    An invocation stopped without recording its time (killed, or still running) is counted
    from its start to the last run record that finished before the next invocation started.
    """
    finished = sorted(t for r in records.values() if (t := _when(r.get("finished_at"))))
    total, estimated = 0.0, 0
    for i, inv in enumerate(invocations):
        wall = inv.get("wall_s")
        if wall is None:
            start = _when(inv.get("started"))
            stop = _when(invocations[i + 1].get("started")) if i + 1 < len(invocations) else None
            inside = [t for t in finished if start and t >= start and (stop is None or t < stop)]
            if not inside:
                continue
            wall = (inside[-1] - start).total_seconds()
            estimated += 1
        total += wall
    return total, estimated
