"""Writing files so that a reader never sees half of one: a temporary file, then ``os.replace``."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def _umask_mode() -> int:
    """0o666 less the process umask: the mode ``open()`` would give a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Path, data: str | bytes | Callable[[str], None]) -> None:
    """Put ``data`` at ``path`` all at once: written to a temporary file beside it, then renamed.

    ``data`` is text, bytes, or a function that writes the file whose name it is given
    (e.g. ``model.save``). The temporary file keeps ``path``'s suffix, which Keras requires.

    Examples
    --------
    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> write_atomic(d / "a.txt", "hello"); (d / "a.txt").read_text()
    'hello'
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix or ".tmp")
    try:
        if callable(data):
            os.close(fd)
            data(tmp)
        else:
            with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as f:
                f.write(data)
        os.chmod(tmp, _umask_mode())  # mkstemp creates files readable by the owner only
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: Path, obj) -> None:
    """:func:`write_atomic` of ``obj`` as indented JSON."""
    write_atomic(path, json.dumps(obj, indent=1))
