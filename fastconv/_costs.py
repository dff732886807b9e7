"""The cost constants of ``backend="auto"``: per-operation seconds read from a JSON file, validated.

The constants are seconds per operation, measured by ``python -m
benches.calibrate`` on the machine it runs on and written to a JSON file.
They are read, first found first, from the file named by the environment
variable ``FASTCONV_COSTS``, from ``~/.cache/fastconv/costs.json`` (what the
calibration writes by default), or from ``fastconv/costs.json`` (the defaults
committed with the package).  A file that is not what the calibration writes
gives one warning and the package's constants (:func:`_problem`).

A leaf: the cost model (:mod:`fastconv._method`) and the FFT block geometry
(:mod:`fastconv._fftgeom`) both read it.
"""

from __future__ import annotations

import functools
import json
import math
import os
import warnings
from pathlib import Path

#: The package's own constants (see the module docstring).
DEFAULT_COSTS = Path(__file__).with_name("costs.json")
#: Where ``python -m benches.calibrate`` writes by default.
USER_COSTS = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fastconv" / "costs.json"

#: Constants that must be above zero: the rate of each backend's main work.
_RATES = {
    "direct_tap_f32_tiles",
    "direct_tap_f32",
    "direct_tap_f64",
    "separable_tap_f32",
    "separable_tap_f64",
    "fft_nlogn_f32",
    "fft_nlogn_f64",
}

_KEYS = (
    "direct_tap_f32_tiles",
    "direct_tap_f32",
    "direct_tap_f64",
    "direct_value",
    "border_tap",
    "separable_tap_f32",
    "separable_tap_f64",
    "fft_nlogn_f32",
    "fft_nlogn_f64",
    "fft_value_f32",
    "fft_value_f64",
    "fft_line_f32",
    "fft_line_f64",
    "fft_block",
    "call",
)


def costs_path() -> Path:
    """The JSON file the constants are read from (see the module docstring).

    Whether the user's calibration file exists is looked up once per process (a
    ``stat`` per lookup was most of a choice's time): a calibration written later
    is read by the next process.
    """
    env = os.environ.get("FASTCONV_COSTS")
    if env:
        return Path(env)
    return _default_path()


@functools.lru_cache(maxsize=1)
def _default_path() -> Path:
    return USER_COSTS if USER_COSTS.is_file() else DEFAULT_COSTS


def _problem(data) -> str | None:
    """What is wrong with the parsed cost file ``data`` (None: nothing).

    ``seconds`` must give every constant of :data:`_KEYS` as a finite number, not
    negative, and the per-tap and ``N log2 N`` rates above zero (a free operation
    sends every call to that backend); ``speedup``, when there, a thread count of
    at least 1 and finite speedups above zero for both backends.
    """
    if not isinstance(data, dict):
        return f"a JSON object expected, got {type(data).__name__}"
    seconds = data.get("seconds")
    if not isinstance(seconds, dict):
        return "no 'seconds' object"
    missing = [k for k in _KEYS if k not in seconds]
    if missing:
        return f"'seconds' lacks {missing}"
    for k in _KEYS:
        value = seconds[k]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            return f"seconds[{k!r}] must be a finite number >= 0, got {value!r}"
        if value == 0 and k in _RATES:
            return f"seconds[{k!r}] must be above 0, got {value!r}"
    measured = data.get("speedup")
    if measured is not None:
        if not isinstance(measured, dict):
            return f"'speedup' must be an object, got {type(measured).__name__}"
        n = measured.get("threads", 1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            return f"speedup['threads'] must be an integer >= 1, got {n!r}"
        for k in ("direct", "fft"):
            value = measured.get(k)
            if n > 1 and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0
            ):
                return f"speedup[{k!r}] must be a finite number above 0, got {value!r}"
    return None


@functools.lru_cache(maxsize=4)
def _read(path: str) -> tuple[dict, dict | None]:
    """The constants and the measured speedups of the cost file ``path``, validated.

    A file that cannot be read or parsed, or whose content is not what
    ``python -m benches.calibrate`` writes (see :func:`_problem`), gives a
    ``RuntimeWarning`` naming it and what is wrong, once per process and file, and
    the package's own constants (:data:`DEFAULT_COSTS`) instead.
    """
    try:
        data = json.loads(Path(path).read_text())
        problem = _problem(data)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        problem = f"not readable as JSON ({e})"
    if problem is not None:
        if Path(path) == DEFAULT_COSTS:
            raise ValueError(f"fastconv's own cost file {path} is damaged: {problem}; reinstall fastconv")
        warnings.warn(
            f"fastconv: ignoring the cost file {path}: {problem}; using the package's constants "
            "(rerun python -m benches.calibrate to write a new one)",
            RuntimeWarning,
            stacklevel=2,
        )
        return _read(str(DEFAULT_COSTS))
    measured = data.get("speedup")
    return {k: float(data["seconds"][k]) for k in _KEYS}, dict(measured) if measured else None


def _load(path: str) -> dict:
    return _read(path)[0]


def costs() -> dict:
    """The per-operation times in seconds, by name (see :data:`_KEYS`)."""
    return _read(str(costs_path()))[0]
