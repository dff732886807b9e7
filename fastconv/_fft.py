"""``fft``, the backend of :func:`fastconv.convolve2d` for large kernels: overlap-save blocks of real FFTs.

Same calling convention as every backend (see :mod:`fastconv._loops`):
``fft(x, k, sh, sw, dh, dw, pt, pl, out)``.

How a call is computed
----------------------
Cross-correlation is a product of spectra: the circular correlation of a block
``b`` of ``Nh x Nw`` input values with the kernel (zero-padded to that size) is
``irfft2(rfft2(b) * conj(rfft2(kpad)))``, and its first ``Nh - span + 1`` rows
(``span`` the kernel's reach) and columns are the true correlation, untouched by
the wrap-around.  So the output is cut into blocks of that many positions
("overlap-save"), each block's input (with the zero padding, filled on the fly:
the padded image is never built) is transformed, multiplied by the kernel's
spectrum, transformed back, and its valid part written out.

- **Block size**: chosen per call from fast FFT lengths (``2**a`` times 1, 3,
  5, 9, 15 or 45) by the cost model of :mod:`fastconv._fftgeom` (FFT work
  ``N log N`` per block plus the per-value passes), at most about 1.5 million
  values (a block and its spectrum within a last-level cache): small kernels
  get small, cache-resident blocks, large kernels long, flat ones.  Blocks are
  transformed in batches (one 2-D transform over a stack of blocks).
- **Kernel spectrum**: computed once per call and block size, in the image's
  precision, scaled by the inverse transform's ``1/N``, and kept in a cache
  keyed by the kernel's bytes and the block size, bounded in bytes
  (:data:`SPECTRA_BYTES`), so repeated calls with one kernel (the chunks of
  :mod:`fastconv.dask`) transform it once per chunk shape.
- **Dilation**: at stride 1 along an axis, a dilation ``d`` splits that axis
  into ``d`` interleaved phases, each an undilated correlation (the RGB images
  that :func:`fastconv.convolve2d` folds into ``(1, H, W*C)`` with column
  dilation ``C*dw`` are thereby transformed channel by channel, with the
  kernel's own width); with a stride the kernel is dilated by inserting zeros.
- **Stride**: only the blocks that hold strided outputs are transformed and
  only strided positions are written out.
- **Precision**: float32 images are transformed in float32 (complex64
  spectra), float64 in float64.  Integer results never come here:
  :func:`fft` hands them to ``direct``, which is exact.
- **NaN and inf**: an FFT spreads one NaN or inf of the input over its whole
  block (and a spectrum beyond the float range gives inf), so the outputs are
  checked as they are written; if one is not finite, the call is computed by
  ``direct`` instead, whose outputs each have their own value.
- **Threads**: fastconv's one thread policy (:mod:`fastconv._loops.threads`):
  the FFT library's thread count is its thread count, and gathering, multiplying and
  scattering are block functions it shares among threads; calls below
  :data:`fastconv._loops.threads.SERIAL_WORK` run on one thread.

The transforms are ``ducc0.fft``'s (by pocketfft's author, C++; 1.1-1.3x faster
than scipy.fft on an AVX2 Zen 3, docs/bench/FFT.md) when ducc0 is installed,
else scipy.fft's (pocketfft; 3x faster than numpy.fft on float32); either is
imported on the first call here, not by ``import fastconv``.
"""

from __future__ import annotations

import threading

import numpy as np

from ._cache import ByteCache, kernel_key
from ._direct import direct
from ._fftgeom import _BATCH_VALUES, Axis, axis_geometry, geometry
from ._jit import jit
from ._loops import threads as _threads

#: Bytes of kernel spectra kept (least recently used dropped first): one spectrum per kernel and
#: block size; a whole-image block's float32 spectrum of a 2048x2048 image takes 21 MB, of float64 42 MB.
SPECTRA_BYTES = 128 << 20


#: Held while a spectrum is computed: threads filtering chunks of one image wait for the first one's.
_lock = threading.Lock()
_spectra = ByteCache(lambda: SPECTRA_BYTES)
#: Kernel spectra computed so far (cache misses), for tests.
spectra_computed = 0


def _fft_module():
    """``ducc0.fft`` when installed (by pocketfft's author; faster, see docs/bench/FFT.md), else None (scipy.fft)."""
    global _DUCC
    if _DUCC is False:
        try:
            import ducc0.fft as ducc_fft
        except ImportError:
            ducc_fft = None
        _DUCC = ducc_fft
    return _DUCC


#: ``ducc0.fft`` once looked up (None: absent); False: not looked up yet.
_DUCC = False


def _forward(b: np.ndarray, workers: int, out: np.ndarray | None = None) -> np.ndarray:
    """The 2-D real spectrum of each block of ``b`` (``(nb, nh, nw)``): rows first, then columns.

    ``out``: an array of the spectrum's shape and complex dtype to write it into (ducc0 only), or None.
    """
    ducc = _fft_module()
    if ducc is not None:
        spec = ducc.r2c(b, axes=(2,), nthreads=workers, out=out)
        return ducc.c2c(spec, axes=(1,), forward=True, out=spec, nthreads=workers)
    import scipy.fft as sfft

    return sfft.fft(sfft.rfft(b, axis=-1, workers=workers), axis=-2, workers=workers, overwrite_x=True)


def _inverse_columns(spec: np.ndarray, workers: int) -> np.ndarray:
    """The unnormalised inverse transform of ``spec`` along its rows' axis (axis 1), in place where possible."""
    ducc = _fft_module()
    if ducc is not None:
        return ducc.c2c(spec, axes=(1,), forward=False, out=spec, nthreads=workers)
    import scipy.fft as sfft

    return sfft.ifft(spec, axis=-2, norm="forward", workers=workers, overwrite_x=True)


def _inverse_rows(spec: np.ndarray, nw: int, workers: int, out: np.ndarray | None = None) -> np.ndarray:
    """The unnormalised inverse real transform of ``spec`` along its last axis, ``nw`` real values per row.

    ``out``: a real array of the result's shape to write it into (ducc0 only), or None.
    """
    ducc = _fft_module()
    if ducc is not None:
        return ducc.c2r(
            spec, axes=(2,), lastsize=nw, forward=False, nthreads=workers, allow_overwriting_input=True, out=out
        )
    import scipy.fft as sfft

    return sfft.irfft(spec, n=nw, axis=-1, norm="forward", workers=workers)


def spectrum_bytes() -> int:
    """Bytes held by the cached kernel spectra."""
    return _spectra.nbytes


def kernel_spectrum(k_eff: np.ndarray, nh: int, nw: int, workers: int) -> np.ndarray:
    """``conj(rfft2(k_eff zero-padded to (nh, nw))) / (nh*nw)`` in ``k_eff``'s precision, from the cache when there.

    The factor ``1/(nh*nw)`` is the inverse transform's normalisation, applied here once
    per kernel instead of to every block.  The rows of the padded kernel past ``k_eff``'s
    are zero, so the row transforms run on ``k_eff``'s rows only, then the column
    transforms on all.  The cache keeps the most recently used spectra up to
    :data:`SPECTRA_BYTES` bytes in all (a spectrum larger than that is not kept).
    """
    global spectra_computed
    key = (kernel_key(k_eff), nh, nw)
    spec = _spectra.get(key)
    if spec is not None:
        return spec
    # computed under the lock: threads filtering chunks of one image (fastconv.dask) wait for
    # the first one's spectrum instead of each computing it
    with _lock:
        spec = _spectra.get(key)
        if spec is not None:
            return spec
        import scipy.fft as sfft

        rows = sfft.rfft(k_eff, n=nw, axis=1, workers=workers)
        spec = sfft.fft(rows, n=nh, axis=0, workers=workers)
        np.conjugate(spec, out=spec)
        spec *= spec.real.dtype.type(1.0 / (nh * nw))
        spectra_computed += 1
        _spectra.put(key, spec, spec.nbytes)
    return spec


def clear_spectra() -> None:
    """Forget the cached kernel spectra."""
    _spectra.clear()


def _tiles_along(axis: Axis, n: int) -> np.ndarray:
    """``(src0, src_step, dst0, dst_step, count)`` of every block along ``axis`` for blocks of ``n`` values."""
    per = (n - axis.span) // axis.stride + 1
    rows = []
    for in_start, in_step, out_start, out_step, count in axis.phases:
        for m0 in range(0, count, per):
            rows.append((in_start + in_step * m0 * axis.stride, in_step, out_start + out_step * m0, out_step,
                         min(per, count - m0)))  # fmt: skip
    return np.array(rows, dtype=np.int64).reshape(-1, 5)


@jit()
def _gather(x, tiles, t0, buf, q0, q1):
    """Fill rows ``q0 <= q < q1`` of ``buf`` with the input of their blocks (zeros outside the image).

    Row ``u`` of ``buf[i]`` is ``q = i*nh + u`` and holds input of block ``t0 + i``.

    ``tiles[t] = (channel, row src0, row step, ..., col src0, col step, ...)``
    (see :func:`_tiles_along`); block value ``(u, v)`` is
    ``x[c, src0_r + step_r*u, src0_c + step_c*v]``.
    """
    nb, nh, nw = buf.shape
    C, H, W = x.shape
    for q in range(q0, q1):
        i = q // nh
        u = q - i * nh
        t = t0 + i
        c = tiles[t, 0]
        row = tiles[t, 1] + tiles[t, 2] * u
        b = buf[i, u]
        s0, ss = tiles[t, 6], tiles[t, 7]
        if row < 0 or row >= H:
            b[:] = 0
        elif ss == 1:
            v0 = min(nw, max(0, -s0))
            v1 = max(v0, min(nw, W - s0))
            b[:v0] = 0
            xr = x[c, row]
            for v in range(v0, v1):  # a loop, not a slice assignment (whose error message takes 1.3 s to compile)
                b[v] = xr[s0 + v]
            b[v1:] = 0
        else:
            xr = x[c, row]
            for v in range(nw):
                col = s0 + ss * v
                b[v] = xr[col] if 0 <= col < W else 0


@jit()
def _multiply(spec, kspec, q0, q1):
    """``spec[i, u] *= kspec[u]`` for the rows ``q0 <= q = i*nh + u < q1``."""
    nb, nh, nf = spec.shape
    for q in range(q0, q1):
        i = q // nh
        u = q - i * nh
        s = spec[i, u]
        ks = kspec[u]
        for v in range(nf):
            s[v] *= ks[v]


@jit()
def _scatter(res, tiles, t0, sw, out, bad, q0, q1):
    """Write the valid, strided outputs of rows ``q0 <= q < q1`` to ``out``; ``bad[i]`` set where not finite.

    Row ``q = i*R + n`` (``R = res.shape[1]``) is ``res[i, n]``, row ``n*sh`` of block ``t0 + i``'s circular
    correlation (the strided rows only); a block with fewer valid rows skips the rest.  ``bad`` starts at
    zero and is only ever set to 1, so blocks whose rows several threads share need no lock.
    """
    R = res.shape[1]
    for q in range(q0, q1):
        i = q // R
        n = q - i * R
        t = t0 + i
        if n >= tiles[t, 5]:
            continue
        c = tiles[t, 0]
        d0r, dsr = tiles[t, 3], tiles[t, 4]
        d0c, dsc, nc = tiles[t, 8], tiles[t, 9], tiles[t, 10]
        src = res[i, n]
        dst = out[c, d0r + dsr * n]
        z = False
        if sw == 1 and dsc == 1:
            d = dst[d0c : d0c + nc]
            for m in range(nc):
                a = src[m]
                d[m] = a
                z |= a - a != 0  # NaN if a is NaN or inf (an or, unlike a float sum, vectorises)
        else:
            for m in range(nc):
                a = src[m * sw]
                dst[d0c + dsc * m] = a
                z |= a - a != 0
        if z:
            bad[i] = 1


def _kernel_eff(k, rows: Axis, cols: Axis) -> np.ndarray:
    """The kernel as placed in a block: dilated by inserted zeros along an axis that is not phased."""
    if rows.dilation == 1 and cols.dilation == 1:
        return np.ascontiguousarray(k)
    k_eff = np.zeros((rows.span, cols.span), dtype=k.dtype)
    k_eff[:: rows.dilation, :: cols.dilation] = k
    return k_eff


def fft(x, k, sh, sw, dh, dw, pt, pl, out, block=None):
    """Overlap-save real FFTs (see the module docstring); ``block=(nh, nw)`` forces the block size.

    Integer results, and inputs with a NaN or inf or of a magnitude whose
    spectrum could overflow, are computed by :func:`fastconv._direct.direct`.
    """
    if out.dtype.kind != "f" or x.dtype != out.dtype or k.dtype != out.dtype or not np.isfinite(k).all():
        direct(x, k, sh, sw, dh, dw, pt, pl, out)
        return

    C, H, W = x.shape
    if block is None:
        rows, cols, block, _ = geometry(x.shape, k.shape, (sh, sw), (dh, dw), (pt, pl), out.shape, out.dtype)
    else:
        rows = axis_geometry(H, out.shape[1], k.shape[0], sh, dh, pt)
        cols = axis_geometry(W, out.shape[2], k.shape[1], sw, dw, pl)
    nh, nw = block
    work = out.size * k.size + x.size
    workers = _threads.workers(work)
    k_eff = _kernel_eff(k, rows, cols)
    kspec = kernel_spectrum(k_eff, nh, nw, workers)
    tr, tc = _tiles_along(rows, nh), _tiles_along(cols, nw)
    n = len(tr) * len(tc)
    # every block: channel, then its row and column descriptors
    tiles = np.empty((C * n, 11), dtype=np.int64)
    tiles[:, 0] = np.repeat(np.arange(C), n)
    tiles[:, 1:6] = np.tile(np.repeat(tr, len(tc), axis=0), (C, 1))
    tiles[:, 6:11] = np.tile(tc, (C * len(tr), 1))
    per_batch = max(1, _BATCH_VALUES // (nh * nw))
    valid_rows = (nh - rows.span) // rows.stride * rows.stride + 1  # rows of a block that hold outputs
    buf = np.empty((min(per_batch, len(tiles)), nh, nw), dtype=out.dtype)
    # the spectra and the results of every batch in two arrays made once (with ducc0, which writes into
    # them): a new array per block would be new pages for the kernel to clear and map every time
    spec_buf = res_buf = None
    if _fft_module() is not None:
        spec_buf = np.empty((len(buf), nh, nw // 2 + 1), dtype=np.result_type(out.dtype, np.complex64))
        res_buf = np.empty((len(buf), len(range(0, valid_rows, rows.stride)), nw), dtype=out.dtype)
    for t0 in range(0, len(tiles), per_batch):
        nb = min(per_batch, len(tiles) - t0)
        b = buf[:nb]
        _threads.run(_gather, (x, tiles, t0, b), nb * nh, work)
        # rfft2 and irfft2 as their two 1-D stages: measured 1.1x (forward) and 2x (inverse)
        # faster than scipy.fft.rfft2/irfft2 here, and the inverse's row stage then runs only on
        # the rows that hold (strided) outputs
        spec = _forward(b, workers, None if spec_buf is None else spec_buf[:nb])
        _threads.run(_multiply, (spec, kspec), nb * nh, work)
        spec = _inverse_columns(spec, workers)
        res = _inverse_rows(spec[:, : valid_rows : rows.stride], nw, workers, None if res_buf is None else res_buf[:nb])
        bad = np.zeros(nb, dtype=np.uint8)
        _threads.run(_scatter, (res, tiles, t0, cols.stride, out, bad), nb * res.shape[1], work)
        if bad.any():
            # a NaN or inf in the input (or a spectrum beyond the float range) spreads over
            # the whole block: the direct sums give each output its own value
            direct(x, k, sh, sw, dh, dw, pt, pl, out)
            return
