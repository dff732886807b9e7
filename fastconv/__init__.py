"""fastconv: fast, correct 2-D convolution with Numba.

``fastconv.convolve2d(img, k, stride=1, padding=0)`` slides a kernel over an
image (cross-correlation, as in CNN layers and ``scipy.signal.correlate2d``;
``flip=True`` for true convolution).  ``fastconv.conv2d`` convolves a batch of
multi-channel images with a bank of filters, as a CNN layer does, and
``fastconv.nn`` runs a saved Keras model with it.  ``fastconv.kernels`` holds named
kernels and ``fastconv.image`` reads, filters and writes image files.
"""

from . import image, kernels
from .conv2d import conv2d
from .convolve import BACKENDS, convolve2d

__all__ = ["BACKENDS", "conv2d", "convolve2d", "image", "kernels"]
__version__ = "0.1.0"
