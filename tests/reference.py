"""Independent references for the tests: plain NumPy loops and scipy, sharing nothing with fastconv's kernels.

Every test file takes its oracles from here (imported as ``tests.reference``), so each rule is written
once: the correlation loop (:func:`correlate2d_loop`), the same correlation through scipy
(:func:`correlate2d_scipy`), and the padding of each padding word (:func:`same_pads`,
:func:`padding_pairs`).
"""

from __future__ import annotations

import numpy as np


def correlate2d_loop(
    img, k, stride=(1, 1), pad=((0, 0), (0, 0)), dilation=(1, 1), pad_mode="constant", flip=False, dtype=None
):
    """Cross-correlate a 2-D or (H, W, C) image with a 2-D kernel, one output element at a time.

    Integer inputs are summed exactly in Python ints; float inputs in float64.  ``flip``: convolution
    (the kernel turned by 180 degrees); ``dtype=np.float64``: integer inputs summed in float64 too.
    """
    img = np.asarray(img) if dtype is None else np.asarray(img, dtype=dtype)
    k = np.asarray(k) if dtype is None else np.asarray(k, dtype=dtype)
    if flip:
        k = k[::-1, ::-1]
    if img.ndim == 3:
        return np.stack(
            [correlate2d_loop(img[:, :, c], k, stride, pad, dilation, pad_mode) for c in range(img.shape[2])],
            axis=-1,
        )
    integer = img.dtype.kind in "biu" and k.dtype.kind in "biu"
    work = object if integer else np.float64
    x = np.pad(img.astype(work if integer else np.float64), pad, mode=pad_mode)
    kk = k.astype(work)
    kh, kw = k.shape
    (sh, sw), (dh, dw) = stride, dilation
    oh = (x.shape[0] - dh * (kh - 1) - 1) // sh + 1
    ow = (x.shape[1] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((oh, ow), dtype=work)
    for i in range(oh):
        for j in range(ow):
            window = x[i * sh : i * sh + dh * (kh - 1) + 1 : dh, j * sw : j * sw + dw * (kw - 1) + 1 : dw]
            out[i, j] = (window * kk).sum()
    return out.astype(np.int64) if integer else out


def conv2d_loop(x, w, stride=(1, 1), pad=((0, 0), (0, 0)), dilation=(1, 1), bias=None):
    """conv2d (NHWC images, HWIO filters) by hand: zero-pad, then for each output pixel sum window * filter.

    Integer inputs are summed exactly as Python ints; floats in float64.
    """
    x = np.asarray(x)
    w = np.asarray(w)
    integer = x.dtype.kind in "biu" and w.dtype.kind in "biu" and (bias is None or np.asarray(bias).dtype.kind in "biu")
    work = object if integer else np.float64
    xp = np.pad(x.astype(work), ((0, 0), pad[0], pad[1], (0, 0)))
    ww = w.astype(work)
    kh, kw, _, F = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    oh = (xp.shape[1] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[2] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((x.shape[0], oh, ow, F), dtype=work)
    for i in range(oh):
        for j in range(ow):
            window = xp[:, i * sh : i * sh + dh * (kh - 1) + 1 : dh, j * sw : j * sw + dw * (kw - 1) + 1 : dw, :]
            for f in range(F):
                out[:, i, j, f] = (window * ww[:, :, :, f]).sum(axis=(1, 2, 3))
    if bias is not None:
        out = out + np.asarray(bias).astype(work)
    return out.astype(np.int64) if integer else out


def same_pads(n, k, s=1, d=1):
    """TensorFlow's documented SAME padding ``(before, after)`` of one axis of ``n`` values.

    Output ``ceil(n / s)``; total padding ``max((out - 1) * s + (k - 1) * d + 1 - n, 0)``, the odd
    element after (bottom/right).
    """
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def padding_pairs(padding, in_hw, k_hw, stride=(1, 1), dilation=(1, 1)):
    """``((top, bottom), (left, right))`` for any padding form fastconv accepts, worked out here.

    "same": :func:`same_pads`; "full": every position where the dilated kernel overlaps the image.
    ``stride`` and ``dilation`` may be ints.
    """
    stride = (stride, stride) if isinstance(stride, int) else tuple(stride)
    dilation = (dilation, dilation) if isinstance(dilation, int) else tuple(dilation)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding == "full":
            return tuple(((k - 1) * d, (k - 1) * d) for k, d in zip(k_hw, dilation, strict=True))
        return tuple(same_pads(n, k, s, d) for n, k, s, d in zip(in_hw, k_hw, stride, dilation, strict=True))
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    if all(isinstance(p, int) for p in padding):
        return ((padding[0], padding[0]), (padding[1], padding[1]))
    return tuple(tuple(p) for p in padding)


def correlate2d_scipy(img, k, stride=1, padding=0, dilation=1, pad_mode="constant", cval=0.0, flip=False):
    """The correlation in float64 from ``scipy.signal.correlate2d`` on the padded image (no fastconv code).

    The dilated kernel is spread out with zeros, the image padded with ``np.pad`` (``cval`` for
    ``pad_mode="constant"``), and the full-resolution valid result subsampled by ``stride``.
    """
    from scipy import signal

    s = (stride, stride) if isinstance(stride, int) else stride
    d = (dilation, dilation) if isinstance(dilation, int) else dilation
    k = np.asarray(k, dtype=np.float64)
    if flip:
        k = k[::-1, ::-1]
    pads = padding_pairs(padding, np.shape(img)[:2], k.shape, s, d)
    kd = np.zeros((d[0] * (k.shape[0] - 1) + 1, d[1] * (k.shape[1] - 1) + 1))
    kd[:: d[0], :: d[1]] = k
    x = np.asarray(img, dtype=np.float64)
    chans = [x] if x.ndim == 2 else [x[:, :, c] for c in range(x.shape[2])]
    outs = []
    for ch in chans:
        kw = {"constant_values": cval} if pad_mode == "constant" else {}
        xp = np.pad(ch, pads, mode=pad_mode, **kw)
        outs.append(signal.correlate2d(xp, kd, mode="valid")[:: s[0], :: s[1]])
    return outs[0] if x.ndim == 2 else np.stack(outs, axis=-1)
