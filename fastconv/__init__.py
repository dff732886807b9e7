"""fastconv: fast, correct 2-D convolution with Numba.

``fastconv.convolve2d(img, k, stride=1, padding=0)`` slides a kernel over an
image (cross-correlation, as in CNN layers and ``scipy.signal.correlate2d``;
``flip=True`` for true convolution).  ``fastconv.kernels`` holds named
kernels and ``fastconv.image`` reads, filters and writes image files.
"""

from . import image, kernels
from .convolve import BACKENDS, convolve2d

__all__ = ["BACKENDS", "convolve2d", "image", "kernels"]
__version__ = "0.1.0"
