"""PNG scanline unfiltering (RFC 2083 section 6), for the 16-bit colour PNGs Pillow cuts to 8 bits."""

from __future__ import annotations

import numpy as np

from .._jit import jit


@jit()
def unfilter(raw, height, row_bytes, bpp, out):
    """Undo the per-row PNG filters of ``raw`` (each row: a filter byte, then ``row_bytes`` bytes) into ``out``.

    ``out[y, x] = filtered + predictor`` (mod 256), the predictor being 0 (None),
    the byte ``bpp`` to the left (Sub), the byte above (Up), their floor mean
    (Average) or the Paeth choice of left, above and upper-left.  Returns -1 when
    done, else the index of the first row with an unknown filter type.
    """
    for y in range(height):
        start = y * (row_bytes + 1)
        kind = raw[start]
        if kind > 4:
            return y
        for x in range(row_bytes):
            f = np.int32(raw[start + 1 + x])
            a = np.int32(out[y, x - bpp]) if x >= bpp else np.int32(0)
            b = np.int32(out[y - 1, x]) if y > 0 else np.int32(0)
            if kind == 0:
                p = np.int32(0)
            elif kind == 1:
                p = a
            elif kind == 2:
                p = b
            elif kind == 3:
                p = (a + b) // 2
            else:
                c = np.int32(out[y - 1, x - bpp]) if (x >= bpp and y > 0) else np.int32(0)
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
            out[y, x] = np.uint8((f + p) & 255)
    return -1
