"""Data keys: resume refuses a record made from other (or unnamed) data; training.rekey checks records first."""

import json
import zipfile

import numpy as np
import pytest
from _training_fixtures import make_image_folder_images, write_image_folder_zip

from training.config import Config
from training.data import load_image_folder
from training.registry import RunSpec
from training.rekey import check_record, rekey
from training.resume import SettingsMismatch, to_run

DIST = {"strategy": "default", "replicas": 1, "workers": 1}
SPEC = RunSpec("stride", 20, 1e-4)


def _fields(data) -> dict:
    return {"source": data.record_source(), "kind": data.kind, "shuffled": data.shuffled, "key": data.key}


@pytest.fixture(scope="module")
def two_zips(tmp_path_factory):
    """Two image-folder zips of the same layout and size but other pixels, loaded without the cache."""
    root = tmp_path_factory.mktemp("zips")
    a = write_image_folder_zip(root / "a.zip", make_image_folder_images(np.random.default_rng(0)))
    b = write_image_folder_zip(root / "b.zip", make_image_folder_images(np.random.default_rng(1)))
    return load_image_folder(a, use_cache=False), load_image_folder(b, use_cache=False)


def _record(data, n=20, key=True) -> dict:
    """A record of SPEC as the runner writes it, with confusion matrices whose rows are ``data``'s class counts."""
    y, yt = data.y_train[:n], data.y_test
    fields = _fields(data)
    if not key:  # as records written before keys were stored: a folder of the machine, no key
        fields = {
            "source": f"image-folder zip /home/someone/data/{fields['source'].split()[2]} (cached)",
            "kind": data.kind,
            "shuffled": True,
        }
    return {
        "run": SPEC.run_id,
        "config": {
            "model": "stride",
            "n_train": n,
            "l1": 1e-4,
            "seed": 0,
            "warm_from": None,
            "epochs": 20,
            "batch_size": 128,
            "validation_split": 0.1,
            "pipeline": "tfdata",
            "test_size": None,
            "deterministic": False,
            "subset_seed": None,
        },
        "distribution": DIST,
        "data": fields,
        "n_fit": n - 2,
        "n_val": 2,
        "confusion_train": np.diag(np.bincount(y, minlength=10)).tolist(),
        "confusion_test": np.diag(np.bincount(yt, minlength=10)).tolist(),
    }


def test_the_two_zips_have_different_keys(two_zips):
    a, b = two_zips
    assert a.key and b.key and a.key != b.key
    assert a.record_source() == "image-folder zip a.zip (30 train, 20 test, shuffled once with seed 20201130)"


def test_resume_refuses_a_keyless_record_against_another_zip(tmp_path, two_zips):
    a, b = two_zips
    (tmp_path / f"{SPEC.run_id}.json").write_text(json.dumps(_record(a, key=False)))
    with pytest.raises(SettingsMismatch, match="without a content key.*--trust-unkeyed"):
        to_run([SPEC], Config(), tmp_path, DIST, _fields(b))
    # told to trust it, the record is reused (only its kind and shuffle are compared)
    left, _ = to_run([SPEC], Config(trust_unkeyed=True), tmp_path, DIST, _fields(b))
    assert left == []


def test_resume_refuses_a_keyed_record_against_another_zip_and_reuses_it_against_its_own(tmp_path, two_zips):
    a, b = two_zips
    (tmp_path / f"{SPEC.run_id}.json").write_text(json.dumps(_record(a)))
    with pytest.raises(SettingsMismatch, match=f"data {a.key} .*now {b.key}"):
        to_run([SPEC], Config(trust_unkeyed=True), tmp_path, DIST, _fields(b))
    assert to_run([SPEC], Config(), tmp_path, DIST, _fields(a))[0] == []


def test_check_record_compares_class_counts_with_the_data(two_zips):
    a, _ = two_zips
    rec = _record(a)
    assert check_record(rec, a.y_train, a.y_test) == []
    # the same labels in another order (another shuffle, another zip): the first 20 have other class counts
    other = np.array(sorted(a.y_train))
    assert np.bincount(other[:20], minlength=10).tolist() != np.bincount(a.y_train[:20], minlength=10).tolist()
    assert check_record(rec, other, a.y_test)[0].startswith("train class counts")


def test_rekey_writes_key_and_file_name_only_to_records_that_agree(tmp_path, two_zips):
    a, _ = two_zips
    good, bad = _record(a, key=False), _record(a, key=False)
    bad["run"] = "stride-n20-l1_0.0001-s1"
    bad["config"]["seed"] = 1
    bad["confusion_train"][0][0] += 1  # one sample more of class 0 than the data's first 20 have
    before = json.dumps(bad, indent=1)
    for rec in (good, bad):
        (tmp_path / f"{rec['run']}.json").write_text(json.dumps(rec, indent=1))
    done, refused = rekey(tmp_path, a)
    assert done == [SPEC.run_id] and len(refused) == 1 and refused[0].startswith("stride-n20-l1_0.0001-s1: train")
    got = json.loads((tmp_path / f"{SPEC.run_id}.json").read_text())
    assert got["data"] == {"source": a.record_source(), "kind": a.kind, "shuffled": True, "key": a.key}
    assert "/" not in json.dumps(got["data"])
    assert {k: v for k, v in got.items() if k != "data"} == {k: v for k, v in good.items() if k != "data"}
    assert (tmp_path / "stride-n20-l1_0.0001-s1.json").read_text() == before  # left as it was


def test_the_committed_records_name_their_data_by_file_and_key():
    """Every committed record has the content key of the shared zip and no folder of any machine."""
    from pathlib import Path

    from training.report.records import load_records

    records = load_records(Path(__file__).resolve().parents[1] / "docs" / "results" / "cifar10")
    assert len(records) == 116
    for rec in records.values():
        assert rec["data"]["key"] == "819866d2e2c331f4", rec["run"]
        assert rec["data"]["source"].startswith("image-folder zip cifar10-jpeg.zip (50,000 train"), rec["run"]


def test_the_shared_zip_has_the_committed_key():
    """The key recomputed here from the zip's bytes (sha256 of the salt, the empty name and the bytes)."""
    import hashlib
    import os
    from pathlib import Path

    from _training_fixtures import SHARED_ZIP

    # the shared copy beside the checkout, else the loader's $CIFAR10_PATH when it names a zip of that name
    env = Path(os.environ.get("CIFAR10_PATH", "")).expanduser()
    path = SHARED_ZIP if SHARED_ZIP.is_file() else env if env.name == SHARED_ZIP.name and env.is_file() else None
    if path is None:
        pytest.skip(f"shared CIFAR-10 copy not found: {SHARED_ZIP}")
    h = hashlib.sha256(b"v1 seed20201130\n\n")
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    assert h.hexdigest()[:16] == "819866d2e2c331f4"
    assert zipfile.is_zipfile(path)
