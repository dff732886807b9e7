"""The cost file of ``backend="auto"`` (fastconv._method): what a damaged or hostile file does."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import fastconv
from fastconv import _costs, _fftgeom, _method

# (1024x1024, 9x9 "same", float32) and (1024x1024, 63x63 "same"): one call per side of the crossover
CALLS = [
    ((1, 1024, 1024), (9, 9), (1, 1), (1, 1), (4, 4), (1, 1024, 1024), np.float32),
    ((1, 1024, 1024), (63, 63), (1, 1), (1, 1), (31, 31), (1, 1024, 1024), np.float32),
    ((1, 1024, 1024), (27, 27), (1, 1), (1, 1), (13, 13), (1, 1024, 1024), np.float64),
]


def _shipped() -> dict:
    return json.loads(_costs.DEFAULT_COSTS.read_text())


def _fresh():
    _method._read.cache_clear()
    _fftgeom._best_block.cache_clear()


@pytest.fixture
def cost_file(tmp_path, monkeypatch):
    """Point FASTCONV_COSTS at a file the test writes; the model's caches are cleared before and after."""
    path = tmp_path / "costs.json"
    monkeypatch.setenv("FASTCONV_COSTS", str(path))
    monkeypatch.setattr(_method, "MEASURE", False)
    _fresh()
    yield path
    _fresh()


def _with(**seconds) -> str:
    data = _shipped()
    data["seconds"].update(seconds)
    return json.dumps(data)


def _speedup(value) -> str:
    data = _shipped()
    data["speedup"]["fft"] = value
    return json.dumps(data)


def _without(key) -> str:
    data = _shipped()
    del data["seconds"][key]
    return json.dumps(data)


DAMAGED = {
    "truncated": json.dumps(_shipped())[:200],
    "list": "[1, 2, 3]",
    "null": "null",
    "zero speedup": _speedup(0),
    "string speedup": _speedup("2"),
    "missing key": _without("fft_nlogn_f32"),
    "string cost": _with(fft_nlogn_f32="1e-10"),
    "nan cost": _with(fft_nlogn_f32=float("nan"), fft_value_f32=float("nan")),
    "negative cost": _with(fft_nlogn_f32=-1e-10),
    "zero rate": _with(direct_tap_f32_tiles=0.0),
    "seconds a list": json.dumps({"seconds": [1, 2]}),
    "not utf-8": b"\xff\xfe{".decode("latin-1"),
}


def _model_choices():
    return [_method.choose(*c) for c in CALLS], [_fftgeom.fft_block(*_geometry(c)) for c in CALLS]


def _geometry(call):
    from fastconv._fftgeom import axis_geometry

    (C, H, W), (kh, kw), (sh, sw), (dh, dw), (pt, pl), (_, OH, OW), dtype = call
    return axis_geometry(H, OH, kh, sh, dh, pt), axis_geometry(W, OW, kw, sw, dw, pl), C, dtype


@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_damaged_cost_file_warns_once_and_uses_the_shipped_constants(cost_file, case, monkeypatch):
    cost_file.write_text(json.dumps(_shipped()))
    want = _model_choices()
    _fresh()
    if case == "not utf-8":
        cost_file.write_bytes(b"\xff\xfe{")
    else:
        cost_file.write_text(DAMAGED[case])
    with pytest.warns(RuntimeWarning, match="cost file") as record:
        got = _model_choices()
    assert got == want
    assert len(record) == 1, [str(w.message) for w in record]
    assert str(cost_file) in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process and file: the second look raises nothing
        assert _model_choices() == want
        assert _method.speedup("fft", 2) == pytest.approx(_method.speedup("fft", 2))
    # a whole call through convolve2d (25+ taps, float: the model is asked) computes and is right
    rng = np.random.default_rng(0)
    img = rng.random((64, 64), dtype=np.float32)
    k = rng.random((7, 7), dtype=np.float32)
    from scipy.signal import correlate2d

    np.testing.assert_allclose(
        fastconv.convolve2d(img, k, padding="same"), correlate2d(img, k, mode="same"), rtol=1e-4, atol=1e-4
    )


def test_the_damage_is_named(cost_file):
    cost_file.write_text(_with(fft_nlogn_f32=-1e-10))
    with pytest.warns(RuntimeWarning, match=r"seconds\['fft_nlogn_f32'\] must be a finite number >= 0, got -1e-10"):
        _method.costs()
    _fresh()
    cost_file.write_text(_speedup(0))
    with pytest.warns(RuntimeWarning, match=r"speedup\['fft'\] must be a finite number above 0, got 0"):
        _method.speedup("fft", 2)


def test_a_valid_cost_file_is_used(cost_file):
    """The file's constants are what the model uses (an FFT made ten times dearer moves 63x63 to direct)."""
    data = _shipped()
    cost_file.write_text(json.dumps(data))
    assert _method.choose(*CALLS[1]) == "fft"
    for k in list(data["seconds"]):
        if k.startswith("fft"):
            data["seconds"][k] *= 100
    _fresh()
    cost_file.write_text(json.dumps(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _method.costs()["fft_nlogn_f32"] == data["seconds"]["fft_nlogn_f32"]
        assert _method.choose(*CALLS[1]) == "direct"


def test_calibrate_writes_atomically(tmp_path, monkeypatch):
    """benches.calibrate replaces its output whole: a failed write leaves the old file and no temporary file."""
    from benches import calibrate

    path = tmp_path / "costs.json"
    path.write_text("old")
    calibrate._write_atomically(path, "new")
    assert path.read_text() == "new"

    def fail(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(calibrate.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        calibrate._write_atomically(path, "newer")
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["costs.json"]


# --- measured answers ("wisdom") -----------------------------------------------------------------------------


@pytest.fixture
def wisdom(tmp_path, monkeypatch):
    """A wisdom file of the test's own, measuring on, and a fake measurement that counts its calls.

    The fake returns times the test sets (``state["times"]``), so nothing here depends on the machine's speed.
    """
    path = tmp_path / "cache" / "auto.json"
    monkeypatch.setenv("FASTCONV_WISDOM", str(path))
    monkeypatch.delenv("FASTCONV_AUTO_MEASURE", raising=False)
    monkeypatch.delenv("FASTCONV_COSTS", raising=False)
    monkeypatch.setattr(_method, "MEASURE", True)
    monkeypatch.setattr(_method, "_wisdom", None)
    state = {"times": {"direct": 1.0, "fft": 2.0}, "calls": []}

    def fake(*args):
        state["calls"].append(args)
        return dict(state["times"])

    monkeypatch.setattr(_method, "_measure", fake)
    state["path"] = path
    return state


def _close_call():
    """A call whose two model estimates lie within CLOSE of each other and above MEASURE_MIN_SECONDS."""
    for k in range(13, 80, 2):
        for n in (1024, 1536, 2048):
            call = ((1, n, n), (k, k), (1, 1), (1, 1), (k // 2, k // 2), (1, n, n), np.float32)
            t_d = _method.direct_time(*call)
            t_f = _method.fft_time(*call)
            lo, hi = sorted((t_d, t_f))
            if hi < 1.5 * lo and lo >= 2 * _method.MEASURE_MIN_SECONDS and hi < _method.MEASURE_MAX_SECONDS / 2:
                return call
    raise AssertionError("the model has no close call at 1024-2048 px")


def test_a_close_call_is_measured_once_and_remembered(wisdom):
    call = _close_call()
    _method.MEASURE = False
    model = _method.choose(*call)
    _method.MEASURE = True
    other = "fft" if model == "direct" else "direct"
    wisdom["times"] = {other: 1.0, model: 1.5}  # the measurement contradicts the model
    assert _method.choose(*call) == other
    assert len(wisdom["calls"]) == 1
    assert _method.choose(*call) == other  # remembered in this process
    assert len(wisdom["calls"]) == 1
    data = json.loads(wisdom["path"].read_text())
    assert data["machine"] == _method.machine()
    assert list(data["answers"].values()) == [{other: 1.0, model: 1.5}]
    assert not [p for p in wisdom["path"].parent.iterdir() if p.name != "auto.json"]  # no temporary file left
    # another process (the answers read from the file anew): no measurement
    _method._wisdom = None
    assert _method.choose(*call) == other
    assert len(wisdom["calls"]) == 1
    # the same shape class (output a little larger, same half octave): the answer holds
    (C, H, W), kshape, s, d, p, _, dt = call
    assert _method.choose((C, H + 8, W + 8), kshape, s, d, p, (C, H + 8, W + 8), dt) == other
    assert len(wisdom["calls"]) == 1
    # another kernel size: measured again
    wisdom["times"] = {"direct": 1.0, "fft": 1.5}
    assert _method.choose((C, H, W), (kshape[0] + 2, kshape[1]), s, d, p, (C, H, W), dt) == "direct"
    assert len(wisdom["calls"]) == 2


def test_measurement_off(wisdom, monkeypatch):
    call = _close_call()
    _method.MEASURE = False
    model = _method.choose(*call)
    other = "fft" if model == "direct" else "direct"
    wisdom["times"] = {other: 1.0, model: 1.5}
    assert _method.choose(*call) == model
    _method.MEASURE = True
    monkeypatch.setenv("FASTCONV_AUTO_MEASURE", "0")
    assert _method.choose(*call) == model
    assert not _method.measuring()
    assert wisdom["calls"] == [] and not wisdom["path"].exists()
    monkeypatch.setenv("FASTCONV_AUTO_MEASURE", "1")
    assert _method.choose(*call) == other
    _method.clear_wisdom()
    assert not wisdom["path"].exists()
    assert _method.choose(*call) == other
    assert len(wisdom["calls"]) == 2  # forgotten: measured again


def test_no_measurement_in_small_or_clear_or_integer_calls(wisdom):
    # small: 64x64 with 7x7 (model: microseconds)
    assert _method.choose((1, 64, 64), (7, 7), (1, 1), (1, 1), (3, 3), (1, 64, 64), np.float32) == "direct"
    # clear: 3x3 never goes near the FFT, 127x127 at 1024^2 never near direct
    _method.choose((1, 1024, 1024), (3, 3), (1, 1), (1, 1), (1, 1), (1, 1024, 1024), np.float32)
    _method.choose((1, 1024, 1024), (127, 127), (1, 1), (1, 1), (63, 63), (1, 1024, 1024), np.float32)
    # integer results: always direct
    call = _close_call()
    assert _method.choose(*call[:-1], np.int64) == "direct"
    assert wisdom["calls"] == [] and not wisdom["path"].exists()


def test_wisdom_of_another_machine_or_damaged_is_not_used(wisdom):
    call = _close_call()
    key = _method._shape_class(call[0], call[1], call[2], call[3], call[5], call[6], False, 1)
    other_machine = dict(_method.machine(), cpu="some-other-cpu")
    wisdom["path"].parent.mkdir(parents=True)
    wisdom["path"].write_text(json.dumps({"machine": other_machine, "answers": {key: {"direct": 1, "fft": 9}}}))
    _method.choose(*call)
    assert len(wisdom["calls"]) == 1
    assert json.loads(wisdom["path"].read_text())["machine"] == _method.machine()  # replaced
    wisdom["path"].write_text('{"machine": {"cpu"')
    _method._wisdom = None
    with pytest.warns(RuntimeWarning, match="auto.json"):
        _method.choose(*call)
    assert len(wisdom["calls"]) == 2
    json.loads(wisdom["path"].read_text())  # rewritten whole


def test_wisdom_is_bounded(wisdom, monkeypatch):
    monkeypatch.setattr(_method, "WISDOM_ENTRIES", 3)
    monkeypatch.setattr(_method, "CLOSE", 1e9)  # every call "close"
    monkeypatch.setattr(_method, "MEASURE_MAX_SECONDS", 1e9)
    for k in range(21, 33, 2):  # six kernel sizes, six shape classes
        _method.choose((1, 1024, 1024), (k, k), (1, 1), (1, 1), (k // 2, k // 2), (1, 1024, 1024), np.float32)
    assert len(wisdom["calls"]) == 6
    answers = json.loads(wisdom["path"].read_text())["answers"]
    assert len(answers) == 3
    assert all("k31x31" in a or "k29x29" in a or "k27x27" in a for a in answers)  # the newest kept


def test_a_real_measurement_gives_the_right_result(tmp_path, monkeypatch):
    """End to end, with the real measurement: whichever backend wins, the result is the correlation."""
    monkeypatch.setenv("FASTCONV_WISDOM", str(tmp_path / "auto.json"))
    monkeypatch.delenv("FASTCONV_COSTS", raising=False)
    monkeypatch.setattr(_method, "MEASURE", True)
    monkeypatch.setattr(_method, "_wisdom", None)
    monkeypatch.setattr(_method, "CLOSE", 1e9)  # this call "close" whatever the model says
    rng = np.random.default_rng(3)
    img = rng.random((300, 280), dtype=np.float32)
    k = rng.random((15, 15), dtype=np.float32)
    monkeypatch.setattr(_method, "MEASURE_MIN_SECONDS", 0.0)
    before = _method.measurements
    from scipy.signal import correlate2d

    got = fastconv.convolve2d(img, k, padding="same")
    assert _method.measurements == before + 1
    np.testing.assert_allclose(got, correlate2d(img, k, mode="same"), rtol=1e-4, atol=1e-3)
    answers = json.loads((tmp_path / "auto.json").read_text())["answers"]
    assert len(answers) == 1
    (times,) = answers.values()
    assert set(times) == {"direct", "fft"} and all(t > 0 for t in times.values())


def test_a_near_tie_leaves_the_model_choice(wisdom):
    """Measured times within MEASURE_TIE of each other: the model's choice stays (either costs little more)."""
    call = _close_call()
    _method.MEASURE = False
    model = _method.choose(*call)
    _method.MEASURE = True
    other = "fft" if model == "direct" else "direct"
    wisdom["times"] = {other: 1.0, model: 1.05}
    assert _method.choose(*call) == model
    assert len(wisdom["calls"]) == 1
