"""The README's Python code blocks run as shown.

Every fenced ``python`` block of README.md runs in a fresh namespace, in a temporary folder,
unless the line before it is an HTML comment starting ``<!-- excerpt`` (a fragment that stands
for the reader's own data, saying so).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(text: str):
    """``(line number, code, is_excerpt)`` of each fenced python block."""
    blocks = []
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        blocks.append((line, m.group(1), before.startswith("<!-- excerpt")))
    return blocks


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_runnable_blocks():
    """The extraction itself: the README's runnable blocks are found (a broken pattern would find none)."""
    runnable = [b for b in BLOCKS if not b[2]]
    assert len(runnable) >= 3 and len(BLOCKS) > len(runnable)
    assert python_blocks("x\n<!-- excerpt -->\n```python\na = 1\n```\n```python\nb\n```\n") == [
        (3, "a = 1\n", True),
        (6, "b\n", False),
    ]


@pytest.mark.parametrize("line,code", [(b[0], b[1]) for b in BLOCKS if not b[2]], ids=lambda v: str(v)[:12])
def test_readme_block_runs(tmp_path, monkeypatch, line, code):
    if "dask" in code:
        pytest.importorskip("dask.array")
        pytest.importorskip("zarr")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "readme"})
