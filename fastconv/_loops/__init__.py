"""fastconv's compiled loops (private).  They check nothing: the public wrappers validate.

Modules, by job:

``reference``
    ``naive`` (plain loops, the readable reference) and ``im2col`` (patch
    matrix times the flattened kernel): two backends of ``convolve2d``.
``correlate2d``
    ``direct``, the fast backend of ``convolve2d`` (row blocks vectorised along
    the row; exact integer arithmetic in narrow lanes where it fits).
``sum3x3``, ``tiles2d``, ``rows``, ``lanes``
    Pieces of ``direct``: the 3x3 paths, the float32 register tiles (4 rows x
    24 columns), the border and staging of input rows, compile-time helpers
    for storing and narrowing sums.
``threads``
    The one thread policy: how ``direct``, the ``conv2d`` kernels and max
    pooling share their blocks among threads.
``conv2d``
    The NHWC loops behind ``conv2d`` and ``fastconv.nn`` (the float32
    register-tile kernels, im2col blocks, the generic direct loop, max
    pooling).
``vec``
    Float32 vectors of 8 or 16 lanes (LLVM vector values) for the register
    tiles of ``convolve2d`` and ``conv2d``, and max pooling.

Conventions of the ``convolve2d`` backends (signature
``(x, k, sh, sw, dh, dw, pt, pl, out)``): for each channel ``c`` and output
position ``(i, j)``::

    out[c, i, j] = sum_{a < kh, b < kw} k[a, b] * xp[c, i*sh + a*dh, j*sw + b*dw]

where ``xp`` is the input ``x`` of shape ``(C, H, W)`` shifted down by ``pt``
rows and right by ``pl`` columns inside a field of zeros::

    xp[c, r, s] = x[c, r - pt, s - pl]   if 0 <= r - pt < H and 0 <= s - pl < W
                = 0                      otherwise

so zero padding costs no copy of the image; the bottom/right padding follows
from the shape of ``out``, which the caller preallocates as ``(C, OH, OW)``.
Other padding modes are applied by the caller, which then passes
``pt = pl = 0``.  Only strided output positions are visited.
"""
