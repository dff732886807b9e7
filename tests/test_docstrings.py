"""The drop-ins' docstrings, filled from one set of parameter texts (fastconv._docstrings), read complete.

The reference is each function's own signature (``inspect.signature``): its Parameters section must list
exactly those parameters, in that order, each with a description, and no ``%(...)s`` field may be left.
"""

from __future__ import annotations

import inspect
import pydoc
import re

import pytest

from fastconv import dask as fdask
from fastconv import ndimage, signal
from fastconv._docstrings import DocFiller

PUBLIC = (
    [getattr(ndimage, name) for name in ndimage.COMPUTED]
    + [getattr(signal, name) for name in signal.COMPUTED]
    + [getattr(fdask, name) for name in fdask.__all__ if name not in ("convolve2d", "conv2d", "filter_file", "predict")]
)


def _section(doc, title):
    """The lines of numpydoc section ``title`` of ``doc`` (dedented), up to the next section or the end."""
    lines = inspect.cleandoc(doc).split("\n")
    start = lines.index(title)
    assert set(lines[start + 1]) == {"-"}, lines[start + 1]
    body = []
    for line, after in zip(lines[start + 2 :], lines[start + 3 :] + [""], strict=True):
        if after and set(after) == {"-"}:
            break
        body.append(line)
    return body


def _documented(doc):
    """The parameter names a Parameters section lists (lines at the section's own indent), with their descriptions."""
    names, described = [], []
    for line in _section(doc, "Parameters"):
        if line and not line.startswith(" "):
            names.extend(n.strip() for n in line.split(" : ")[0].split(","))
            described.append(False)
        elif line.strip() and described:
            described[-1] = True
    return names, described


@pytest.mark.parametrize("func", PUBLIC, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_parameters_match_signature(func):
    doc = func.__doc__
    assert "%(" not in doc, "a field was left unfilled"
    names, described = _documented(doc)
    expected = []
    for p in inspect.signature(func).parameters.values():
        prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        expected.append(prefix + p.name)
    assert names == expected
    assert all(described), "a parameter without a description"
    returns = [line for line in _section(doc, "Returns") if line.strip()]
    assert len(returns) >= 2 and not returns[0].startswith(" ") and returns[1].startswith(" ")
    assert ">>> " in "\n".join(_section(doc, "Examples"))


def test_help_reads_complete():
    text = pydoc.render_doc(ndimage.median_filter, renderer=pydoc.plaintext)
    for expected in ("footprint : array_like of bool, optional", "cval : float, default 0.0", "Returns", ">>> "):
        assert expected in text
    assert "%(" not in text


def test_shared_text_is_written_once():
    """The same parameter reads the same in the functions that share its entry."""
    cval = [re.search(r"cval : .*\n.*\n", f.__doc__).group(0).strip() for f in (ndimage.correlate, ndimage.sobel)]
    assert cval[0].split("\n")[1].strip() == cval[1].split("\n")[1].strip()


def _function(x, y=1, **kwargs):
    """Summary.

    %(parameters)s
    """


def test_filler_refuses_a_parameter_without_entry():
    fill = DocFiller({"x": "x : int\n    An int.", "returns": "int\n    An int."})
    with pytest.raises(KeyError, match="'y'"):
        fill(_function)


def test_filler_refuses_an_entry_that_names_another_parameter():
    fill = DocFiller({"x": "x : int\n    An int.", "y": "z : int\n    Misnamed.", "returns": "int\n    An int."})
    with pytest.raises(ValueError, match="'y'"):
        fill(_function)


def test_filler_refuses_a_choice_for_no_parameter():
    fill = DocFiller({"x": "x : int\n    An int."})
    with pytest.raises(TypeError, match="'w'"):
        fill(_function, w="x")


def test_single_field_keeps_the_line_indent():
    fill = DocFiller({"x": "x : int\n    An int."})
    assert fill.fill_text("Head.\n\n        %(x)s\n") == "Head.\n\n        x : int\n            An int.\n"
