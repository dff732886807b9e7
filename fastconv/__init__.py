"""fastconv: fast, correct 2-D convolution with Numba.

``fastconv.convolve2d(img, k, stride=1, padding=0)`` slides a kernel over an
image (cross-correlation, as in CNN layers and ``scipy.signal.correlate2d``;
``flip=True`` for true convolution).  ``fastconv.conv2d`` convolves a batch of
multi-channel images with a bank of filters, as a CNN layer does, and
``fastconv.nn`` runs a saved Keras model with it.  ``fastconv.filters`` holds
named filter weights and ``fastconv.image`` reads, filters and writes image
files.
"""

import importlib

from . import filters, image
from .convolve import BACKENDS, convolve2d
from .nhwc import conv2d

__all__ = ["BACKENDS", "conv2d", "convolve2d", "filters", "image"]
__version__ = "0.1.0"


def __getattr__(name):
    # ``fastconv.kernels``, the old name of fastconv.filters, imported (with its warning) only when used.
    if name == "kernels":
        return importlib.import_module(".kernels", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
