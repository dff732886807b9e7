"""Repeated runs: which runs ``--seeds`` / ``--size-seeds`` plan, in which order; options over ``--quick``."""

import itertools

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from training.config import PUBLISHED_L1_WEIGHTS, PUBLISHED_TRAIN_SIZES, Config  # noqa: E402  # after importorskip
from training.registry import EXPERIMENTS, plan  # noqa: E402  # after importorskip
from training.run import build_parser, config_from_args  # noqa: E402  # after importorskip
from training.runner import _train_subset  # noqa: E402  # after importorskip


def _cfg(argv):
    return config_from_args(build_parser().parse_args(argv))


def test_all_with_five_and_three_seeds():
    cfg = Config(seeds=(0, 1, 2, 3, 4), size_seeds=(0, 1, 2), warm_start=True)
    specs = plan(list(EXPERIMENTS), cfg)
    ids = [s.run_id for s in specs]
    assert len(ids) == len(set(ids))
    # Expected set, written out from the published Parts: 5k runs x 5 seeds, size runs x 3 seeds.
    expected = {f"stride-n5000-l1_{w:g}-s{s}" for w, s in itertools.product(PUBLISHED_L1_WEIGHTS, range(5))}
    expected |= {f"maxpool-n5000-l1_0.0001-s{s}" for s in range(5)} | {"majority-n5000"}
    big = PUBLISHED_TRAIN_SIZES[1:]
    expected |= {f"stride-n{n}-l1_0.0001-s{s}" for n, s in itertools.product(big, range(3))}
    expected |= {f"stride-n{n}-l1_0.0001-warm-s{s}" for n, s in itertools.product(big, range(3))}
    expected |= {f"deeper-n{n}-l1_0.0001-s{s}" for n, s in itertools.product(PUBLISHED_TRAIN_SIZES, range(3))}
    expected |= {f"table9-replay-n{n}-s{s}" for n, s in itertools.product(PUBLISHED_TRAIN_SIZES, range(3))}
    assert set(ids) == expected
    assert len(ids) == 40 + 5 + 1 + 9 + 9 + 12 + 12
    # Cheap 5k runs of every seed first; then the size runs seed by seed.
    first_big = next(i for i, s in enumerate(specs) if s.n > 5000 or s.model in ("deeper", "rescore"))
    assert all(s.n == 5000 and s.model in ("stride", "maxpool", "majority") for s in specs[:first_big])
    assert all(s.n > 5000 or s.model in ("deeper", "rescore") for s in specs[first_big:])
    # Every run that continues or rescores another comes after it and has its seed.
    position = {s.run_id: i for i, s in enumerate(specs)}
    for spec in specs:
        if spec.warm_from:
            assert position[spec.warm_from] < position[spec.run_id]
            assert spec.warm_from.endswith(f"-s{spec.seed}")


def test_seed_options():
    assert _cfg([]).seeds == (0,)
    assert _cfg(["--seeds", "0-4"]).seeds == (0, 1, 2, 3, 4)
    assert _cfg(["--seeds", "3,7"]).seeds == (3, 7)
    assert _cfg(["--seed", "5"]).seeds == (5,)
    assert _cfg(["--repeats", "3"]).seeds == (0, 1, 2)
    cfg = _cfg(["--seeds", "0-4", "--size-seeds", "0-2"])
    assert EXPERIMENTS["l1"].seeds(cfg) == (0, 1, 2, 3, 4) and EXPERIMENTS["deeper"].seeds(cfg) == (0, 1, 2)


def test_explicit_options_win_over_quick():
    quick = _cfg(["--quick"])
    assert quick.epochs == 1 and quick.base_size == 400
    cfg = _cfg(["--quick", "--epochs", "2", "--base-size", "300", "--l1", "0.5", "--train-sizes", "100,200"])
    assert (cfg.epochs, cfg.base_size, cfg.l1_weights, cfg.train_sizes) == (2, 300, (0.5,), (100, 200))
    assert cfg.quick and cfg.test_size == quick.test_size  # what was not given keeps --quick's value


@pytest.mark.parametrize("value", ["a", "1,1", "-1", "3-1x", ""])
def test_bad_seeds_name_the_option(value, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--seeds", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("python -m training.run: error: argument --seeds")


def test_subset_seed_picks_other_images():
    class Data:
        x_train = np.arange(100).reshape(100, 1, 1, 1).astype(np.uint8)
        y_train = np.arange(100) % 10

    x, y = _train_subset(Data, 10, None)
    assert y.tolist() == list(np.arange(10) % 10) and x.ravel().tolist() == list(range(10))
    x1, _ = _train_subset(Data, 10, 1)
    x2, _ = _train_subset(Data, 10, 2)
    assert len(set(x1.ravel())) == 10 and x1.ravel().tolist() != x2.ravel().tolist()
    assert x1.ravel().tolist() == _train_subset(Data, 10, 1)[0].ravel().tolist()  # the same seed, the same subset
