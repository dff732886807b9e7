"""A pytest plugin that runs scipy's own tests with fastconv's rank filters in place of scipy's.

Loaded with ``-p scipy_rank_plugin`` by ``tests/test_scipy_suite_rank.py``.  After collection (so
scipy's parametrisation sees scipy's own functions), every name in :data:`PATCHES` is replaced in its
scipy module and in each collected test module that imported it.  At the end,
:data:`fastconv._nd.CALLS` (how many calls ran on fastconv, how many were handed to scipy) is written
as JSON to the file named by ``FASTCONV_CALLS_JSON``.
"""

from __future__ import annotations

import json
import os

import scipy.ndimage
import scipy.signal

from fastconv import ndimage as fc_ndimage
from fastconv import signal as fc_signal
from fastconv._nd import CALLS

NDIMAGE = (
    "minimum_filter",
    "maximum_filter",
    "minimum_filter1d",
    "maximum_filter1d",
    "median_filter",
    "rank_filter",
    "percentile_filter",
)
PATCHES = [(scipy.ndimage, name, getattr(fc_ndimage, name)) for name in NDIMAGE] + [
    (scipy.signal, name, getattr(fc_signal, name)) for name in ("medfilt", "medfilt2d")
]

_saved: list = []


def pytest_collection_modifyitems(session, config, items):
    originals = {}
    for module, name, replacement in PATCHES:
        original = getattr(module, name)
        originals[id(original)] = replacement
        _saved.append((module, name, original))
        setattr(module, name, replacement)
    seen = set()
    for item in items:
        # Parametrised values (``filter_func=ndimage.median_filter``) were taken at collection: swap them too.
        callspec = getattr(item, "callspec", None)
        if callspec is not None:
            for key, value in list(callspec.params.items()):
                if callable(value) and id(value) in originals:
                    callspec.params[key] = originals[id(value)]
        module = getattr(item, "module", None)
        if module is None or id(module) in seen:
            continue
        seen.add(id(module))
        for name, value in list(vars(module).items()):
            if callable(value) and id(value) in originals:
                _saved.append((module, name, value))
                setattr(module, name, originals[id(value)])


def pytest_sessionfinish(session, exitstatus):
    for module, name, original in reversed(_saved):
        setattr(module, name, original)
    path = os.environ.get("FASTCONV_CALLS_JSON")
    if path:
        with open(path, "w") as f:
            json.dump({f"{name}|{where}": n for (name, where), n in CALLS.items()}, f, indent=1, sort_keys=True)
