"""Argument checking and normalisation shared by every public fastconv function.

Each function here takes what a user passed, checks it, and returns it in the
one form the kernels expect (pairs of Python ints, C-contiguous native-endian
arrays).  Messages name the argument and repeat the value that was refused.
"""

from __future__ import annotations

import numbers

import numpy as np

PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")
PADDING_WORDS = ("valid", "same")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def as_pair(value, name: str, minimum: int = 1) -> tuple[int, int]:
    """Return ``value`` (an int or a pair of ints) as a ``(rows, cols)`` pair.

    Raises TypeError for anything that is not an integer (floats and bools
    included) and ValueError for a value below ``minimum`` or a sequence that
    is not of length 2.
    """
    if _is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list, np.ndarray)):
        items = list(np.asarray(value, dtype=object).ravel()) if isinstance(value, np.ndarray) else list(value)
        if len(items) != 2 or (isinstance(value, np.ndarray) and value.ndim != 1):
            raise ValueError(f"{name} must be an int or a pair of ints (rows, cols), got {value!r}")
        if not all(_is_int(v) for v in items):
            raise TypeError(f"{name} must contain integers, got {value!r}")
        pair = (int(items[0]), int(items[1]))
    else:
        raise TypeError(f"{name} must be an int or a pair of ints (rows, cols), got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return pair


def same_padding(n: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's SAME padding along one axis: ``(before, after)``.

    The output has ``ceil(n / stride)`` positions; the total padding is what the
    last window needs beyond the input, split evenly with the odd element going
    after (bottom/right), as ``tf.nn.conv2d(..., padding="SAME")`` does.
    """
    out = -(-n // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - n, 0)
    return total // 2, total - total // 2


def normalize_padding(padding, in_hw, k_hw, stride, dilation):
    """Return padding as ``((top, bottom), (left, right))`` of non-negative ints.

    Accepts an int, ``(ph, pw)``, ``((top, bottom), (left, right))``, ``"valid"``
    or ``"same"`` (TensorFlow's rule, for any stride and dilation).
    """
    if isinstance(padding, str):
        word = padding.lower()
        if word == "valid":
            return (0, 0), (0, 0)
        if word == "same":
            return tuple(same_padding(in_hw[i], k_hw[i], stride[i], dilation[i]) for i in range(2))
        raise ValueError(f"padding must be an int, a pair, a pair of pairs, 'valid' or 'same', got {padding!r}")
    if _is_int(padding):
        p = int(padding)
        result = ((p, p), (p, p))
    elif isinstance(padding, (tuple, list)) and len(padding) == 2:
        if all(_is_int(v) for v in padding):
            result = ((int(padding[0]),) * 2, (int(padding[1]),) * 2)
        elif all(isinstance(v, (tuple, list)) and len(v) == 2 and all(_is_int(u) for u in v) for v in padding):
            result = tuple((int(v[0]), int(v[1])) for v in padding)
        else:
            raise ValueError(
                "padding must be an int, (rows, cols), ((top, bottom), (left, right)), "
                f"'valid' or 'same', got {padding!r}"
            )
    else:
        if isinstance(padding, (float, np.floating, bool, np.bool_)):
            raise TypeError(f"padding must be an int, a tuple or 'valid'/'same', got {padding!r}")
        raise ValueError(
            f"padding must be an int, (rows, cols), ((top, bottom), (left, right)), 'valid' or 'same', got {padding!r}"
        )
    if min(min(p) for p in result) < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    return result


def check_choice(value, name: str, choices) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ValueError listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_array(a, name: str, ndims) -> np.ndarray:
    """Return ``a`` as an ndarray of a numeric dtype with ``ndim`` in ``ndims``, non-empty.

    Bool and integer and real floating dtypes are accepted; complex, object,
    string and other dtypes raise TypeError.
    """
    try:
        arr = np.asarray(a)
    except Exception as exc:  # ragged nested lists and the like
        raise TypeError(f"{name} must be an array of numbers, got {type(a).__name__}: {exc}") from None
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise TypeError(f"{name} must have a bool, integer or real float dtype, got dtype {arr.dtype}")
    if arr.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be {want}, got {arr.ndim}-D array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    return arr


def result_dtype(*arrays) -> np.dtype:
    """The dtype fastconv computes and returns in.

    Integer or bool everywhere: int64 (exact). Any float64: float64.
    Otherwise (float16/float32, or integers mixed with them): float32.
    """
    kinds = [a.dtype for a in arrays]
    if all(d.kind in "biu" for d in kinds):
        return np.dtype(np.int64)
    if any(d.kind == "f" and d.itemsize >= 8 for d in kinds):
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def as_kernel_input(a: np.ndarray, dtype) -> np.ndarray:
    """``a`` as a C-contiguous, aligned, native-endian array of ``dtype`` (copied only when needed)."""
    return np.require(a, dtype=dtype, requirements=("C", "A"))


def output_size(n_padded: int, k: int, stride: int, dilation: int) -> int:
    """Output length along one axis: floor((n_padded - dilation*(k-1) - 1) / stride) + 1."""
    return (n_padded - dilation * (k - 1) - 1) // stride + 1


def check_fits(padded_hw, k_hw, dilation, name: str = "k") -> None:
    """Raise ValueError if the (dilated) kernel is larger than the padded image."""
    span = tuple(dilation[i] * (k_hw[i] - 1) + 1 for i in range(2))
    if span[0] > padded_hw[0] or span[1] > padded_hw[1]:
        raise ValueError(
            f"{name} of shape {tuple(k_hw)} with dilation {tuple(dilation)} spans {span}, larger than "
            f"the padded image {tuple(padded_hw)}"
        )
