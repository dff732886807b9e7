"""A reader for the PNGs Pillow cannot give at full depth: 16-bit RGB, RGBA and grey+alpha.

Pillow opens a 16-bit colour PNG as 8-bit ``RGB`` (the high byte of each
sample).  :func:`header` reads the ``IHDR`` chunk; :func:`read16` decodes the
``IDAT`` stream with :mod:`zlib`, never unpacking more than the header's size,
and undoes the row filters (:func:`fastconv._loops.png.unfilter`).  Interlaced
16-bit colour PNGs are refused with a message naming what to use instead.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Channels per colour type that this reader decodes at 16 bits: grey+alpha, RGB, RGBA.
COLOUR_CHANNELS = {4: 2, 2: 3, 6: 4}


def _chunks(f):
    """``(type, data)`` of each chunk, CRC checked, up to IEND."""
    while True:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError("truncated PNG (no IEND chunk)")
        length, kind = struct.unpack(">I4s", head)
        if length > 1 << 31:
            raise ValueError(f"PNG chunk {kind!r} claims {length} bytes")
        data = f.read(length)
        crc = f.read(4)
        if len(data) < length or len(crc) < 4:
            raise ValueError(f"truncated PNG chunk {kind!r}")
        if zlib.crc32(kind + data) != struct.unpack(">I", crc)[0]:
            raise ValueError(f"PNG chunk {kind!r} fails its CRC check")
        yield kind, data
        if kind == b"IEND":
            return


def header(path) -> dict | None:
    """The IHDR fields of a PNG file (width, height, depth, colour, interlace), or None if it is not a PNG."""
    with open(path, "rb") as f:
        if f.read(8) != SIGNATURE:
            return None
        head = f.read(8 + 13)
    if len(head) < 21 or head[4:8] != b"IHDR":
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", head[8:21])
    return {"width": width, "height": height, "depth": depth, "colour": colour, "interlace": interlace}


def read16(path, head: dict) -> np.ndarray:
    """Decode a 16-bit colour PNG: ``uint16`` of shape (H, W) for grey+alpha (alpha dropped), (H, W, 3) otherwise.

    Raises ValueError for an interlaced or corrupt file.
    """
    from ._loops.png import unfilter

    channels = COLOUR_CHANNELS[head["colour"]]
    width, height = head["width"], head["height"]
    if head["interlace"]:
        raise ValueError(
            "an interlaced 16-bit colour PNG is not read at full depth; save it without interlacing, "
            "or as a 16-bit TIFF"
        )
    bpp = 2 * channels
    row_bytes = width * bpp
    expected = height * (row_bytes + 1)
    inflate = zlib.decompressobj()
    parts, size = [], 0
    with open(path, "rb") as f:
        f.read(8)
        for kind, data in _chunks(f):
            if kind != b"IDAT":
                continue
            try:
                part = inflate.decompress(inflate.unconsumed_tail + data, expected - size + 1)
            except zlib.error as err:
                raise ValueError(f"corrupt PNG data: {err}") from None
            parts.append(part)
            size += len(part)
            if size > expected:
                raise ValueError(f"PNG data holds more than the {width}x{height} pixels of its header")
    raw = np.frombuffer(b"".join(parts), dtype=np.uint8)
    if raw.size < expected:
        raise ValueError(f"truncated PNG data: {raw.size} of {expected} bytes")
    out = np.empty((height, row_bytes), dtype=np.uint8)
    bad = unfilter(raw, height, row_bytes, bpp, out)
    if bad >= 0:
        raise ValueError(f"PNG row {bad} has an unknown filter type {raw[bad * (row_bytes + 1)]}")
    samples = out.view(">u2").reshape(height, width, channels).astype(np.uint16)
    return samples[:, :, 0] if channels == 2 else samples[:, :, :3].copy()
