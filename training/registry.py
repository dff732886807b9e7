"""The experiments of the published Part 2, in one registry that planning, running, resuming and reporting read.

Each :class:`Experiment` names what it trains (a function ``runs(cfg, seed) -> list[RunSpec]``),
its seed group (``"base"``: the 5,000-sample experiments, seeds ``Config.seeds``; ``"size"``:
the experiments over training sizes, seeds ``Config.size_seeds``), its report section and the
comparisons with the published figures that it makes. Runs with the same settings are the same
run: the ``stride`` network on 5,000 samples with L1 1e-4 serves Part 2b(i) (Tables 1-2), 2b(ii)
(Figure 4), the 5k row of Table 5, the 1e-4 row of Table 6 and Table 8, and is trained once.

The random seed is a field of :class:`RunSpec` and of every record (``config.seed``); the run id
carries it only to name the file. The runs of one setting over several seeds share
:attr:`RunSpec.setting`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from training import published as PUB
from training.config import Config


@dataclass(frozen=True)
class Model:
    """One name a run's ``config.model`` can hold: what it is, whether it is random, what it costs.

    ``network``: a Keras network of :data:`training.models.LAYERS` (trained, saved as ``.keras``);
    ``deterministic``: one run stands for every seed (an exact constant in a comparison);
    ``cost``: work per sample and epoch relative to ``stride`` (for the time estimate while running).
    """

    name: str
    part: str
    network: bool
    deterministic: bool
    cost: float
    description: str


#: The one table of model names, in the report's order.
MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        Model("stride", "2a", True, False, 1.0, "strided convolutions downsample"),
        Model("maxpool", "2c", True, False, 2.0, "max pooling downsamples (the appendix's model2)"),
        Model("deeper", "2d", True, False, 0.6, "thinner and deeper, strided"),
        Model("majority", "2b(i)", False, True, 0.0, "most-frequent-class baseline"),
        Model("rescore", "2d", False, False, 0.0, "a trained model scored again (the published Table 9 code)"),
    )
}
#: The Keras networks, in the report's order.
NETWORKS = tuple(n for n, m in MODELS.items() if m.network)
#: Models whose runs involve no randomness: one run stands for every seed (an exact constant in a comparison).
DETERMINISTIC_MODELS = tuple(n for n, m in MODELS.items() if m.deterministic)
#: Models that train nothing (no ``.keras`` file).
NO_MODEL = tuple(n for n, m in MODELS.items() if not m.network)


@dataclass(frozen=True)
class RunSpec:
    """One training run: which network, on how many samples, with which L1 weight, from which random seed.

    ``warm_from`` names the run whose trained model (optimizer state included) this run
    continues, as the published ``model_train_sizes`` kept fitting one model.
    ``model == "majority"`` is the most-frequent-class baseline; ``model == "rescore"``
    trains nothing: it scores the trained model of ``warm_from`` on the first ``n``
    samples, as the published Part 2d code does (``y_preds_train = model.predict(x_train)``).

    Examples
    --------
    >>> RunSpec("stride", 5000, 1e-4).run_id
    'stride-n5000-l1_0.0001-s0'
    >>> RunSpec("stride", 10000, 1e-4, warm_from="stride-n5000-l1_0.0001-s3", seed=3).setting
    'stride-n10000-l1_0.0001-warm'
    """

    model: str
    n: int
    l1: float = 1e-4
    warm_from: str | None = None
    seed: int = 0

    @property
    def setting(self) -> str:
        """The run's settings without its seed: every seed's run of one setting shares it."""
        if self.model == "majority":
            return f"majority-n{self.n}"
        if self.model == "rescore":
            return f"table9-replay-n{self.n}"
        return f"{self.model}-n{self.n}-l1_{self.l1:g}{'-warm' if self.warm_from else ''}"

    @property
    def run_id(self) -> str:
        """The file name of the run's record (``<run_id>.json``): the setting and ``-s<seed>``."""
        if self.model in DETERMINISTIC_MODELS:  # trains nothing random: one run whatever the seeds
            return self.setting
        return f"{self.setting}-s{self.seed}"

    def label(self) -> str:
        if self.model == "majority":
            return f"most-frequent baseline n={self.n}"
        if self.model == "rescore":
            return f"published Table 9 replay: {self.warm_from} scored on n={self.n}"
        warm = f", continuing {self.warm_from}" if self.warm_from else ""
        return f"{self.model} n={self.n} l1={self.l1:g} seed {self.seed}{warm}"

    @classmethod
    def of_record(cls, rec: dict) -> RunSpec:
        """The spec a record was made from, read from its ``config`` fields (the run id is not parsed).

        Examples
        --------
        >>> RunSpec.of_record({"config": {"model": "deeper", "n_train": 5000, "l1": 1e-4, "seed": 2}}).run_id
        'deeper-n5000-l1_0.0001-s2'
        """
        c = rec["config"]
        return cls(c["model"], int(c["n_train"]), float(c["l1"]), c.get("warm_from"), int(c.get("seed") or 0))


@dataclass(frozen=True)
class Comparison:
    """One comparison of test accuracy the published report draws: setting ``a`` against setting ``b``.

    ``published_a`` and ``published_b`` are the published figures of the two sides. A side is an
    exact constant only when its model is deterministic (:data:`DETERMINISTIC_MODELS`). ``measure``
    names the record field compared (test accuracy unless said otherwise).
    """

    claim: str
    tables: str
    a: RunSpec
    b: RunSpec
    published_a: float
    published_b: float
    measure: str = "test_accuracy"  # the record field compared
    measure_b: str | None = None  # side b's field when it differs (train against test of one setting)

    @property
    def field_b(self) -> str:
        return self.measure_b or self.measure

    @property
    def published_diff(self) -> float:
        return self.published_a - self.published_b


# ---------------------------------------------------------------------------------------------
# What each experiment trains


def baseline_runs(cfg: Config, seed: int = 0) -> list[RunSpec]:
    """Part 2b(i): the stride model and the most-frequent baseline on ``base_size`` samples (Tables 1-4)."""
    return [RunSpec("stride", cfg.base_size, cfg.l1, seed=seed), RunSpec("majority", cfg.base_size, seed=seed)]


def history_runs(cfg: Config, seed: int = 0) -> list[RunSpec]:
    """Part 2b(ii): training/validation curves of the same run (Figure 4)."""
    return [RunSpec("stride", cfg.base_size, cfg.l1, seed=seed)]


def warm_chain(cfg: Config, seed: int = 0) -> list[RunSpec]:
    """The cumulative Table 5: one model trained on each size in turn, from a fresh model on the first size.

    The published ``model_train_sizes`` fits one global model for every size
    (``history = model.fit(x_train, ...)`` in its loop), so each size starts from the weights
    and Adam state the previous one left. Where that chain started is an inference: the code
    as printed would continue the model already fitted for Part 2b(i); the published 5k row
    (62.27% / 49.09%) is what Table 8 gives for a single fit of that setting. Ours starts from
    the fresh first-size run, which is also the fresh table's first row.

    Returns the continuing runs, one per size after the first.

    Examples
    --------
    >>> [s.run_id for s in warm_chain(Config(train_sizes=(5000, 10000)))]
    ['stride-n10000-l1_0.0001-warm-s0']
    """
    prev = RunSpec("stride", cfg.train_sizes[0], cfg.l1, seed=seed).run_id
    chain = []
    for n in cfg.train_sizes[1:]:
        spec = RunSpec("stride", n, cfg.l1, warm_from=prev, seed=seed)
        chain.append(spec)
        prev = spec.run_id
    return chain


def cumulative_rows(cfg: Config, seed: int = 0) -> list[RunSpec]:
    """The rows of the cumulative Table 5: the fresh first-size run, then :func:`warm_chain`."""
    return [RunSpec("stride", cfg.train_sizes[0], cfg.l1, seed=seed), *warm_chain(cfg, seed)]


def replay_runs(cfg: Config, seed: int = 0) -> list[RunSpec]:
    """The published Table 9 scoring: the last model of the cumulative chain scored on each size."""
    last = cumulative_rows(cfg, seed)[-1].run_id
    return [RunSpec("rescore", n, cfg.l1, warm_from=last, seed=seed) for n in cfg.train_sizes]


def train_size_runs(cfg: Config, seed: int = 0) -> list[RunSpec]:
    """Part 2b(iii): a fresh stride model per training size (Table 5, Figure 5); with
    ``cfg.warm_start`` also the cumulative replay (:func:`warm_chain`)."""
    fresh = [RunSpec("stride", n, cfg.l1, seed=seed) for n in cfg.train_sizes]
    return fresh + (warm_chain(cfg, seed) if cfg.warm_start else [])


def l1_runs(cfg: Config, seed: int = 0) -> list[RunSpec]:
    """Part 2b(iv): the stride model on ``base_size`` samples per L1 weight (Table 6, Figure 6)."""
    return [RunSpec("stride", cfg.base_size, w, seed=seed) for w in cfg.l1_weights]


def maxpool_runs(cfg: Config, seed: int = 0) -> list[RunSpec]:
    """Part 2c: the max-pooling network against the stride one on ``base_size`` samples (Tables 7-8)."""
    return [RunSpec("maxpool", cfg.base_size, cfg.l1, seed=seed), RunSpec("stride", cfg.base_size, cfg.l1, seed=seed)]


def deeper_runs(cfg: Config, seed: int = 0) -> list[RunSpec]:
    """Part 2d: the thinner, deeper network over the training sizes, scored on its own predictions (Table 9).

    With ``cfg.warm_start``, also what the published Table 9 code computes: it fits ``model3`` but
    scores ``model`` (``y_preds_test = model.predict(x_test)``); here ``model`` is taken to be the
    stride network the cumulative Table 5 chain left (an inference from the appendix's order).
    """
    runs = [RunSpec("deeper", n, cfg.l1, seed=seed) for n in cfg.train_sizes]
    if cfg.warm_start:
        runs += cumulative_rows(cfg, seed) + replay_runs(cfg, seed)
    return runs


# ---------------------------------------------------------------------------------------------
# The comparisons each experiment makes (test accuracy)


def base_run(cfg: Config) -> RunSpec:
    """The stride network on ``base_size`` samples: Tables 1-2, Figure 4, Table 5's first row, Table 6's
    ``cfg.l1`` row and Table 8 read this setting."""
    return RunSpec("stride", cfg.base_size, cfg.l1)


def fresh_sizes(cfg: Config, model: str = "stride") -> list[RunSpec]:
    """A fresh ``model`` per training size (Table 5 with ``"stride"``, Table 9 with ``"deeper"``)."""
    return [RunSpec(model, n, cfg.l1) for n in cfg.train_sizes]


def baseline_comparisons(cfg: Config) -> list[Comparison]:
    base = base_run(cfg)
    return [
        Comparison(
            "stride network vs most-frequent baseline",
            "Tables 2, 4",
            base,
            RunSpec("majority", cfg.base_size),
            PUB.TABLE2["accuracy"],
            PUB.BASELINE["test_accuracy"],
        ),
        Comparison(
            "stride network, train vs test accuracy",
            "Tables 1, 2",
            base,
            base,
            PUB.TABLE1["accuracy"],
            PUB.TABLE2["accuracy"],
            measure="train_accuracy",
            measure_b="test_accuracy",
        ),
    ]


def train_size_comparisons(cfg: Config) -> list[Comparison]:
    """Each size against the first: fresh models, and (with ``warm_start``) the cumulative chain; test
    accuracy, then train accuracy.

    The published Table 5 is cumulative, so the chain compares like with like; the fresh rows
    compare what the published text sets out to measure.
    """
    n0, out = cfg.train_sizes[0], []
    if n0 not in PUB.TABLE5:
        return out
    first = RunSpec("stride", n0, cfg.l1)
    chain = {s.n: s for s in warm_chain(cfg)}
    for measure, col, name in (("test_accuracy", 2, ""), ("train_accuracy", 1, ", train accuracy")):
        for n in cfg.train_sizes[1:]:
            if n not in PUB.TABLE5:
                continue
            pub = (PUB.TABLE5[n][col], PUB.TABLE5[n0][col])
            fresh = RunSpec("stride", n, cfg.l1)
            out.append(
                Comparison(f"{n:,} vs {n0:,} samples, fresh models{name}", "Table 5", fresh, first, *pub, measure)
            )
            if cfg.warm_start:
                out.append(
                    Comparison(
                        f"{n:,} vs {n0:,} samples, cumulative chain{name}", "Table 5", chain[n], first, *pub, measure
                    )
                )
    return out


def l1_comparisons(cfg: Config) -> list[Comparison]:
    ref = min(cfg.l1_weights)
    if ref not in PUB.TABLE6:
        return []
    return [
        Comparison(
            f"L1 {w:g} vs {ref:g}{name}",
            "Table 6",
            RunSpec("stride", cfg.base_size, w),
            RunSpec("stride", cfg.base_size, ref),
            PUB.TABLE6[w][col],
            PUB.TABLE6[ref][col],
            measure,
        )
        for measure, col, name in (("test_accuracy", 1, ""), ("train_accuracy", 0, ", train accuracy"))
        for w in cfg.l1_weights
        if w != ref and w in PUB.TABLE6
    ]


def maxpool_comparisons(cfg: Config) -> list[Comparison]:
    base = base_run(cfg)
    pool = replace(base, model="maxpool")
    return [
        Comparison("max pooling vs strides", "Tables 7-8", pool, base, PUB.TABLE7[2], PUB.TABLE8[2]),
        Comparison(
            "max pooling vs strides, train accuracy",
            "Tables 7-8",
            pool,
            base,
            PUB.TABLE7[1],
            PUB.TABLE8[1],
            "train_accuracy",
        ),
    ]


def deeper_comparisons(cfg: Config) -> list[Comparison]:
    return [
        Comparison(
            f"deeper vs stride, {n:,} samples{name}",
            "Tables 9, 5",
            RunSpec("deeper", n, cfg.l1),
            RunSpec("stride", n, cfg.l1),
            PUB.TABLE9[n][col],
            PUB.TABLE5[n][col],
            measure,
        )
        for measure, col, name in (("test_accuracy", 2, ""), ("train_accuracy", 1, ", train accuracy"))
        for n in cfg.train_sizes
        if n in PUB.TABLE9 and n in PUB.TABLE5
    ]


# ---------------------------------------------------------------------------------------------
# The runs each report section reads


def baseline_reads(cfg: Config) -> dict[str, list[RunSpec]]:
    return {"stride": [base_run(cfg)], "majority": [RunSpec("majority", cfg.base_size)]}


def history_reads(cfg: Config) -> dict[str, list[RunSpec]]:
    return {"stride": [base_run(cfg)]}


def train_size_reads(cfg: Config) -> dict[str, list[RunSpec]]:
    return {"fresh": fresh_sizes(cfg), "chain": cumulative_rows(cfg)}


def l1_reads(cfg: Config) -> dict[str, list[RunSpec]]:
    return {"weights": l1_runs(cfg)}


def maxpool_reads(cfg: Config) -> dict[str, list[RunSpec]]:
    return {"maxpool": [replace(base_run(cfg), model="maxpool")], "stride": [base_run(cfg)]}


def deeper_reads(cfg: Config) -> dict[str, list[RunSpec]]:
    return {"deeper": fresh_sizes(cfg, "deeper"), "stride": fresh_sizes(cfg), "replay": replay_runs(cfg)}


# ---------------------------------------------------------------------------------------------
# The registry


@dataclass(frozen=True)
class Experiment:
    """One command-line experiment: what it trains, its seed group, its report section and the runs that
    section reads, its comparisons."""

    name: str
    part: str  # the published Part it repeats
    runs: Callable[[Config, int], list[RunSpec]]
    seed_group: str  # "base" (Config.seeds) or "size" (Config.size_seeds)
    section: str  # the function (module.function under training.report) that writes its report section
    reads: Callable[[Config], dict[str, list[RunSpec]]]  # the runs that section reads, by role
    comparisons: Callable[[Config], list[Comparison]] = lambda cfg: []

    def seeds(self, cfg: Config) -> tuple[int, ...]:
        """The seeds this experiment runs with under ``cfg``.

        Examples
        --------
        >>> EXPERIMENTS["deeper"].seeds(Config(seeds=(0, 1, 2), size_seeds=(0,)))
        (0,)
        """
        if self.seed_group == "size" and cfg.size_seeds is not None:
            return cfg.size_seeds
        return cfg.seeds


#: Every experiment, in the published Parts' order (the report's order), by command-line name.
EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment(
            "baseline", "2b(i)", baseline_runs, "base", "base.section_baseline", baseline_reads, baseline_comparisons
        ),
        Experiment("history", "2b(ii)", history_runs, "base", "base.section_history", history_reads),
        Experiment(
            "train-size",
            "2b(iii)",
            train_size_runs,
            "size",
            "size.section_train_size",
            train_size_reads,
            train_size_comparisons,
        ),
        Experiment("l1", "2b(iv)", l1_runs, "base", "base.section_l1", l1_reads, l1_comparisons),
        Experiment("maxpool", "2c", maxpool_runs, "base", "base.section_maxpool", maxpool_reads, maxpool_comparisons),
        Experiment("deeper", "2d", deeper_runs, "size", "size.section_deeper", deeper_reads, deeper_comparisons),
    )
}
#: What ``python -m training.run`` runs with no experiment named.
DEFAULT_EXPERIMENTS = ("baseline", "history")
#: The order seed groups run in: the cheap 5k runs first, the experiments over training sizes last.
GROUP_ORDER = ("base", "size")


def experiment_names(raw: list[str] | tuple[str, ...]) -> list[str]:
    """The experiments named on the command line (``all`` for every one, none for the default).

    Raises
    ------
    ValueError
        For a name that is not an experiment.
    """
    if not raw:
        return list(DEFAULT_EXPERIMENTS)
    unknown = [n for n in raw if n not in EXPERIMENTS and n != "all"]
    if unknown:
        raise ValueError(f"unknown experiment {unknown[0]!r}; choose from {', '.join(EXPERIMENTS)}, all")
    return list(EXPERIMENTS) if "all" in raw else list(dict.fromkeys(raw))


def plan(names: list[str] | tuple[str, ...], cfg: Config) -> list[RunSpec]:
    """The runs ``names`` need, each once: seed group by seed group, seed by seed.

    Within one seed, fresh runs come first, then the warm-start chain, then the Table 9 replay
    (which needs the chain's last model).

    Examples
    --------
    >>> [s.run_id for s in plan(["baseline", "history"], Config())]
    ['stride-n5000-l1_0.0001-s0', 'majority-n5000']
    >>> [s.run_id for s in plan(["baseline"], Config(seeds=(0, 1)))][1:]
    ['majority-n5000', 'stride-n5000-l1_0.0001-s1']
    """
    specs: dict[str, RunSpec] = {}
    for group in GROUP_ORDER:
        exps = [EXPERIMENTS[n] for n in EXPERIMENTS if n in names and EXPERIMENTS[n].seed_group == group]
        for seed in dict.fromkeys(seed for e in exps for seed in e.seeds(cfg)):
            one = [spec for e in exps if seed in e.seeds(cfg) for spec in e.runs(cfg, seed)]
            ordered = [s for s in one if not s.warm_from]
            ordered += [s for s in one if s.warm_from and s.model != "rescore"]
            ordered += [s for s in one if s.model == "rescore"]
            for spec in ordered:
                specs.setdefault(spec.run_id, spec)
    return list(specs.values())


def comparisons(names: list[str] | tuple[str, ...], cfg: Config) -> list[Comparison]:
    """Every comparison the experiments ``names`` make, in the registry's order."""
    return [c for n in EXPERIMENTS if n in names for c in EXPERIMENTS[n].comparisons(cfg)]
