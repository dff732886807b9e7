"""Resuming an output folder: which planned runs are finished, and one invocation per folder at a time.

A run is finished when its JSON record exists and was made with the same settings: those that
change a result (:data:`RESULT_SETTINGS`), the distribution (:data:`DISTRIBUTION_SETTINGS`) and
the data (its content key; a record without one is refused unless ``Config.trust_unkeyed``). A record
alone suffices; a run's ``.keras`` model is needed only
while a later run that continues or rescores it has yet to finish.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from training.config import Config
from training.registry import NO_MODEL, RunSpec

#: Settings that change a run's result: a stored record must match them to be reused.
RESULT_SETTINGS = ("epochs", "batch_size", "validation_split", "pipeline", "test_size", "deterministic", "subset_seed")
#: How a run was distributed (its record's ``distribution``): also compared before a run is reused.
DISTRIBUTION_SETTINGS = ("strategy", "replicas", "workers")


class SettingsMismatch(Exception):
    """A finished run in the output directory was made with other settings or other data."""


class FolderBusy(Exception):
    """Another invocation holds the output folder's lock."""


def load_record(out: Path, run_id: str) -> dict | None:
    """The JSON record of ``run_id`` in ``out``, or None if there is none (or it is unreadable)."""
    try:
        return json.loads((Path(out) / f"{run_id}.json").read_text())
    except (OSError, ValueError):
        return None


def _listed(value):
    return list(value) if isinstance(value, tuple) else value


def _data_diff(made: dict, data: dict, trust_unkeyed: bool = False) -> list[str]:
    """How the record's data (``made``) differs from this invocation's (``data``, :func:`data_fields`).

    The content key decides when both have one. A record without a key (written before keys were
    stored) is refused when this invocation's data has one, unless ``trust_unkeyed``: then, as when
    neither has a key, it is compared by the kind of source and whether it was shuffled only.
    """
    if made.get("key") and data.get("key"):
        same = made["key"] == data["key"]
        return (
            [] if same else [f"data {made['key']} from {made.get('source')!r} (now {data['key']}: {data['source']!r})"]
        )
    if data.get("key") and not made.get("key") and not trust_unkeyed:
        return [
            f"data without a content key, from {made.get('source')!r} (now {data['key']}: {data['source']!r}); "
            "check and key such records with python -m training.rekey DIR --data PATH, or pass --trust-unkeyed "
            "to reuse them unchecked"
        ]
    return [
        f"data {k} {made[k]!r} (now {data[k]!r})" for k in ("kind", "shuffled") if k in made and made[k] != data.get(k)
    ]


def check_settings(rec: dict, spec: RunSpec, cfg: Config, distribution: dict | None, data: dict | None) -> None:
    """Raise :class:`SettingsMismatch` unless ``rec`` was made with these settings, distribution and data."""
    stored = rec.get("config", {})
    diff = [
        f"{k} {stored.get(k)!r} (now {_listed(getattr(cfg, k))!r})"
        for k in RESULT_SETTINGS
        if k in stored and stored[k] != _listed(getattr(cfg, k))
    ]
    if "warm_from" in stored and stored["warm_from"] != spec.warm_from:
        diff.append(f"warm_from {stored['warm_from']!r} (now {spec.warm_from!r})")
    if distribution is not None and spec.model not in NO_MODEL:
        made = rec.get("distribution", {})
        diff += [
            f"{k} {made[k]!r} (now {distribution[k]!r})"
            for k in DISTRIBUTION_SETTINGS
            if k in made and made[k] != distribution[k]
        ]
    if data is not None:
        diff += _data_diff(rec.get("data", {}), data, cfg.trust_unkeyed)
    if diff:
        raise SettingsMismatch(
            f"{rec.get('run', spec.run_id)}.json was made with other settings: {', '.join(diff)}; "
            "use another --out, or --force to redo it"
        )


def to_run(
    specs: list[RunSpec],
    cfg: Config,
    out: Path,
    distribution: dict | None = None,
    data: dict | None = None,
) -> tuple[list[RunSpec], dict[str, str]]:
    """The runs of ``specs`` left to train in ``out``, and why finished ones are trained again.

    A run is left when it has no record (or ``cfg.force``), or when its record exists but its
    model is missing and a run left to train continues or rescores it. The second value maps
    such retrained run ids to the run that needs their model.

    Raises
    ------
    SettingsMismatch
        When a record exists but differs in a setting that changes results, or in the data.
    """
    left: dict[str, RunSpec] = {}
    for spec in specs:
        rec = None if cfg.force else load_record(out, spec.run_id)
        if rec is None:
            left[spec.run_id] = spec
        else:
            check_settings(rec, spec, cfg, distribution, data)
    by_id = {s.run_id: s for s in specs}
    again: dict[str, str] = {}
    changed = True
    while changed:  # a retrained model may itself continue another (a chain): repeat until nothing changes
        changed = False
        for spec in list(left.values()):
            src = by_id.get(spec.warm_from) if spec.warm_from else None
            if src and src.run_id not in left and not (out / f"{src.run_id}.keras").is_file():
                left[src.run_id] = src
                again[src.run_id] = spec.run_id
                changed = True
    return [s for s in specs if s.run_id in left], again


def lock_folder(out: Path):
    """Take ``out/.lock`` for this process (released when the returned file is closed or the process ends).

    Raises
    ------
    FolderBusy
        When another process holds it.

    Examples
    --------
    >>> import tempfile
    >>> held = lock_folder(Path(tempfile.mkdtemp()))
    >>> held.close()
    """
    path = Path(out) / ".lock"
    f = open(path, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "another process"
        f.close()
        raise FolderBusy(
            f"{out} is in use by another training.run ({holder}); wait for it to finish or use another --out"
        ) from None
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()}\n")
    f.flush()
    return f
