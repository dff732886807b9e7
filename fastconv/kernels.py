"""Deprecated alias of :mod:`fastconv.filters` (filter weights), kept for one release."""

import warnings

from .filters import *  # noqa: F403 -- the alias re-exports the whole module
from .filters import __all__  # noqa: F401 -- re-exported

warnings.warn(
    "fastconv.kernels is renamed fastconv.filters; the old name will be removed in the next release",
    DeprecationWarning,
    stacklevel=2,
)
