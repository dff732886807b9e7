"""Independent references for the tests: plain NumPy, sharing nothing with fastconv's kernels."""

from __future__ import annotations

import numpy as np


def correlate2d_loop(img, k, stride=(1, 1), pad=((0, 0), (0, 0)), dilation=(1, 1), pad_mode="constant"):
    """Cross-correlate a 2-D or (H, W, C) image with a 2-D kernel, one output element at a time.

    Integer inputs are summed exactly in Python ints; float inputs in float64.
    """
    img = np.asarray(img)
    k = np.asarray(k)
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


def seed_convolve(matrix, kernel):
    """The seed report's Part 1a function, kept verbatim (bugs included) as a point of comparison.

    It sizes the output n-k+3 instead of n-k+1, reads ``matrix.shape[0]`` for
    both sides, and is correct only on the top-left (n-k+1) x (n-k+1) block of
    a square image.
    """
    xKernShape = kernel.shape[0]
    yKernShape = kernel.shape[1]
    xImgShape = matrix.shape[0]
    yImgShape = matrix.shape[0]
    xOutput = int((xImgShape - xKernShape + 2) + 1)
    yOutput = int((yImgShape - yKernShape + 2) + 1)
    output = np.zeros((xOutput, yOutput))
    for y in range(matrix.shape[1]):
        if y > matrix.shape[1] - yKernShape:
            break
        for x in range(matrix.shape[0]):
            if x > matrix.shape[0] - xKernShape:
                break
            output[x, y] = (kernel * matrix[x : x + xKernShape, y : y + yKernShape]).sum()
    return output
