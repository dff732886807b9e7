"""fastconv: fast, correct 2-D convolution with Numba."""
