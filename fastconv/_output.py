"""Output safety for the commands that write files: never the input, never half-finished.

Two rules, applied by every writer of ``fastconv filter`` (in memory and out of core):

1. :func:`check_output` refuses, before any work, an output that is one of the
   inputs (the same file or store, through any symlink, hard link or spelling
   of the path), or that holds an input (a folder output around the input), and
   an existing output that is not what fastconv would write there (a folder that
   is not a zarr store, a regular file where a zarr store goes, a file whose
   first bytes are not of the format its extension names) unless ``overwrite``.
2. :func:`replacing` hands the writer a temporary name beside the target
   (``.NAME.partial-XXXX.SUFFIX``, same folder, same suffix so the format is
   still chosen by the extension) and renames it onto the target only when the
   writer returns.  An exception or Ctrl-C removes the temporary file; a
   ``kill -9`` leaves it as a hidden ``.partial`` name, never as the target.
   The target is therefore either the old file (or absent) or the finished
   new one.

Errors are :class:`OutputError` (a ``ValueError``) with a one-line message.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["OutputError", "check_output", "replacing", "is_store"]

#: Suffixes written as a folder (a zarr store), everything else as one file.
STORE_SUFFIXES = (".zarr",)

#: The first bytes of each file format fastconv writes, by extension.
_MAGIC = {
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".tif": (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),
    ".tiff": (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),
    ".bmp": (b"BM",),
    ".npy": (b"\x93NUMPY",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".webp": (b"RIFF",),
}


class OutputError(ValueError):
    """An output path that would destroy an input or a file fastconv did not write."""


def is_store(path: str | os.PathLike) -> bool:
    """True when ``path`` is written as a folder (a ``.zarr`` store)."""
    return Path(path).suffix.lower() in STORE_SUFFIXES


def _looks_like_zarr(folder: Path) -> bool:
    return any((folder / name).is_file() for name in ("zarr.json", ".zarray", ".zgroup"))


def _same(a: Path, b: Path) -> bool:
    """The same file or folder: by inode when both exist, else by their resolved paths."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _inside(inner: Path, outer: Path) -> bool:
    try:
        inner.resolve().relative_to(outer.resolve())
    except ValueError:
        return False
    return True


def _foreign_file(path: Path) -> bool:
    """A non-empty file whose first bytes are not the format its extension names (unknown formats: not foreign)."""
    magic = _MAGIC.get(path.suffix.lower())
    if magic is None:
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return True
    return bool(head) and not head.startswith(magic)


def check_output(dst: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), *, overwrite: bool = False) -> Path:
    """Refuse an output that is an input, or an existing target that fastconv did not write, before any work.

    Parameters
    ----------
    dst : str or os.PathLike
        The output: a file, or a folder store for a ``.zarr`` suffix.
    inputs : iterable of paths
        The files or stores the command reads.
    overwrite : bool, default False
        Replace an existing target that is not what fastconv would write there
        (a non-zarr folder, a file of another format, a file where a store goes).
        An output that is an input is refused even then.

    Returns
    -------
    pathlib.Path
        ``dst`` as a Path.

    Raises
    ------
    OutputError
        With the reason, and ``--overwrite`` named where it would help.

    Examples
    --------
    >>> import os, tempfile
    >>> from fastconv._output import check_output
    >>> d = tempfile.mkdtemp(); src = os.path.join(d, "in.png")
    >>> _ = open(src, "wb").write(b"\\x89PNG\\r\\n\\x1a\\n")
    >>> check_output(os.path.join(d, "out.png"), [src]).name
    'out.png'
    >>> check_output(src, [src])
    Traceback (most recent call last):
    ...
    fastconv._output.OutputError: output ... is the input ...; choose another output name
    """
    dst = Path(dst)
    for src in inputs:
        src = Path(src)
        if _same(dst, src):
            raise OutputError(f"output {dst} is the input {src}; choose another output name")
        if _inside(src, dst) or (is_store(src) and src.exists() and _inside(dst, src)):
            raise OutputError(f"output {dst} and input {src} lie inside one another; choose another output name")
    if not os.path.lexists(dst):
        return dst
    hint = "; pass --overwrite to replace it"
    if is_store(dst):
        if dst.is_dir():
            if not overwrite and any(dst.iterdir()) and not _looks_like_zarr(dst):
                raise OutputError(f"output {dst} is a folder with other files in it, not a zarr store{hint}")
        elif not overwrite:
            raise OutputError(f"output {dst} exists and is a file, not a zarr store{hint}")
        return dst
    if dst.is_dir():
        raise OutputError(f"output {dst} is a folder; name a file")
    if not overwrite and _foreign_file(dst):
        raise OutputError(f"output {dst} exists and is not a {dst.suffix} file{hint}")
    return dst


def _temporary(dst: Path) -> Path:
    return dst.with_name(f".{dst.stem}.partial-{uuid.uuid4().hex[:8]}{dst.suffix}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def replacing(dst: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``dst``; rename it onto ``dst`` when the block finishes without error.

    A file is renamed with :func:`os.replace` (atomic); a folder store replaces
    an existing one by two renames (the old one moved aside, then removed), so
    an interruption leaves the old store or none, never a partial one under
    ``dst``.  On an exception (``KeyboardInterrupt`` included) the temporary
    path is removed and the exception goes on, with the temporary name in its
    message changed back to ``dst``.

    Examples
    --------
    >>> import os, tempfile
    >>> from fastconv._output import replacing
    >>> target = os.path.join(tempfile.mkdtemp(), "out.txt")
    >>> with replacing(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> open(target).read()
    'done'
    """
    dst = Path(dst)
    tmp = _temporary(dst)
    try:
        yield tmp
        if tmp.is_dir() and (dst.is_dir() and not dst.is_symlink()):
            old = dst.with_name(f".{dst.stem}.old-{uuid.uuid4().hex[:8]}{dst.suffix}")
            os.replace(dst, old)
            os.replace(tmp, dst)
            _remove(old)
        else:
            if dst.is_dir() and not dst.is_symlink():  # a file replaces a folder only after check_output allowed it
                _remove(dst)
            elif tmp.is_dir() and os.path.lexists(dst):
                dst.unlink()
            os.replace(tmp, dst)
    except BaseException as err:
        _remove(tmp)
        if isinstance(err, Exception) and str(tmp) in str(err) and err.args:
            with contextlib.suppress(Exception):
                err.args = (str(err).replace(str(tmp), str(dst)),) + tuple(err.args[1:])
        raise
