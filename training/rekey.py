"""``python -m training.rekey DIR --data PATH``: write the data's content key into run records made without one.

Records written before keys were stored name their data only by a description (with the folder it
was read from on the machine that ran them). For each such record in ``DIR`` this command checks
that it was made from the data at ``PATH`` and, if so, writes the data's content key and a source
named by file name only (:func:`training.data.record_source`); the rest of the record is kept as
it is. The check: for every record, the true-class counts of its confusion matrices (the row sums)
must equal the class counts of the samples it was scored on, the first ``n`` training samples after
the loader's one-off shuffle and the test set, and the fitted and held-out counts must add up to
``n``. Another zip, another shuffle or another subset gives other counts. A record that fails the
check, or already has another key, is reported and left unchanged (exit status 1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from training.files import write_json


def check_record(rec: dict, y_train: np.ndarray, y_test: np.ndarray) -> list[str]:
    """How ``rec`` disagrees with the data whose labels are ``y_train`` and ``y_test`` (empty: it agrees).

    Examples
    --------
    >>> rec = {"config": {"n_train": 3, "test_size": None, "subset_seed": None}, "n_fit": 2, "n_val": 1,
    ...        "confusion_train": [[1, 0], [1, 1]], "confusion_test": [[1, 0], [0, 1]]}
    >>> check_record(rec, np.array([0, 1, 1, 0]), np.array([0, 1]))
    []
    >>> check_record(rec, np.array([1, 1, 1, 0]), np.array([0, 1]))
    ['train class counts [1, 2] (the data: [0, 3])']
    """
    c = rec["config"]
    n, k = int(c["n_train"]), len(rec["confusion_train"])
    if c.get("subset_seed") is None:
        train = y_train[:n]
    else:
        train = y_train[np.sort(np.random.default_rng(c["subset_seed"]).permutation(len(y_train))[:n])]
    test = y_test if c.get("test_size") is None else y_test[: c["test_size"]]
    diff = []
    for split, labels in (("train", train), ("test", test)):
        got = np.asarray(rec[f"confusion_{split}"]).sum(axis=1).tolist()
        want = np.bincount(labels, minlength=k).tolist()
        if got != want:
            diff.append(f"{split} class counts {got} (the data: {want})")
    if rec.get("n_fit") and rec.get("n_val") is not None and rec["n_fit"] + rec["n_val"] != n:  # trained runs
        diff.append(f"n_fit {rec['n_fit']} + n_val {rec['n_val']} != n_train {n}")
    return diff


def rekey(out: Path, data) -> tuple[list[str], list[str]]:
    """Check and key every record of ``out`` against ``data`` (a :class:`training.data.Cifar10`).

    Returns the run ids rewritten and one line per record left unchanged because it disagrees.
    """
    from training.report.records import load_records

    done, refused = [], []
    y_train, y_test = np.asarray(data.y_train), np.asarray(data.y_test)
    for rid, rec in sorted(load_records(out).items()):
        made = rec.get("data", {})
        if made.get("key") and made["key"] != data.key:
            refused.append(f"{rid}: made from data with key {made['key']}, not {data.key}")
            continue
        if made.get("kind") and made["kind"] != data.kind:
            refused.append(f"{rid}: made from {made['kind']} data, not {data.kind}")
            continue
        diff = check_record(rec, y_train, y_test)
        if diff:
            refused.append(f"{rid}: " + "; ".join(diff))
            continue
        new = {**made, "source": data.record_source(), "kind": data.kind, "shuffled": data.shuffled, "key": data.key}
        if new != made:
            rec["data"] = new
            write_json(out / f"{rid}.json", rec)
            done.append(rid)
    return done, refused


def main(argv: list[str] | None = None) -> int:
    """Run the command; see the module docstring."""
    p = argparse.ArgumentParser(prog="python -m training.rekey", description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("out", type=Path, metavar="DIR")
    p.add_argument("--data", required=True, help="the CIFAR-10 source the records were made from")
    args = p.parse_args(argv)
    if not args.out.is_dir():
        p.error(f"DIR: no such directory: {args.out}")
    from training.data import DataError, load

    try:
        data = load(args.data)
    except DataError as e:
        p.error(f"argument --data: {str(e).splitlines()[0]}")
    if data.key is None:
        p.error(f"argument --data: {data.source} has no content key (Keras' download is not a file)")
    done, refused = rekey(args.out, data)
    print(f"data {data.record_source()}: key {data.key}; {len(done)} records rewritten, {len(refused)} refused")
    for line in refused:
        print(f"  refused {line}")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
