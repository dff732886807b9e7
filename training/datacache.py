"""The decoded-image cache of :mod:`training.data`: one ``.npz`` per distinct dataset, keyed by its content."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from training.files import write_json


def default_cache_dir() -> Path:
    """``$FASTCONV_CACHE``, else ``$XDG_CACHE_HOME/fastconv``, else ``~/.cache/fastconv``.

    Examples
    --------
    >>> name = os.environ.get("FASTCONV_CACHE", "fastconv").rstrip("/").split("/")[-1]
    >>> default_cache_dir().name in ("fastconv", name)
    True
    """
    if os.environ.get("FASTCONV_CACHE"):
        return Path(os.environ["FASTCONV_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "fastconv"


def content_key(path: Path, salt: str) -> str:
    """A key from the bytes of a file, or of every file under a directory (with their relative names)."""
    h = hashlib.sha256(f"{salt}\n".encode())
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        h.update(f"{f.relative_to(path) if f != path else ''}\n".encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def cache_file(path: Path, cache_dir: Path, salt: str) -> tuple[Path, str]:
    """The cache entry of ``path``'s content and the content key: one ``.npz`` per distinct dataset.

    ``salt`` (the decoder's version and shuffle) enters the key, so a changed decoding gets a new entry.

    ``index.json`` in ``cache_dir`` remembers each path's size, mtime and content key, so
    the bytes are hashed only when a file changed; an entry that no path names any more is
    deleted.
    """
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    stamp = [len(files), sum(f.stat().st_size for f in files), max((f.stat().st_mtime_ns for f in files), default=0)]
    index_path = cache_dir / "index.json"
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        index = {}
    index = {k: v for k, v in index.items() if os.path.exists(k)}  # forget paths that are gone
    where = str(path.resolve())
    known = index.get(where)
    key = known["key"] if known and known.get("stamp") == stamp else content_key(path, salt)
    index[where] = {"stamp": stamp, "key": key}
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        write_json(index_path, index)
        alive = {v["key"] for v in index.values()}
        for old in cache_dir.glob("cifar10-*.npz"):
            if old.stem.rsplit("-", 1)[-1] not in alive:
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only cache still serves
    return cache_dir / f"cifar10-{key}.npz", key


def write_npz_atomic(target: Path, **arrays) -> None:
    """Write an uncompressed ``.npz`` via a temporary file and ``os.replace``; failures are ignored."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o666 & ~mask)  # mkstemp creates files readable by the owner only
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass  # no cache is slower, not wrong
