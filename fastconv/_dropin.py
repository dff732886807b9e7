"""What the drop-ins for scipy's modules share: the namespace handed over to scipy, the dtypes computed.

:mod:`fastconv.ndimage` and :mod:`fastconv.signal` each define the functions fastconv computes and
give every other public name of the scipy module as scipy's own object; :func:`scipy_namespace` builds
that namespace for both, and :data:`DTYPES` names the dtypes their computed paths take.
"""

from __future__ import annotations

import numpy as np

#: The real dtypes the drop-ins compute (inputs and outputs); any other is handed to scipy.
DTYPES = frozenset(
    np.dtype(t)
    for t in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64, np.float32, np.float64)
)


def scipy_namespace(scipy_module, computed, module_globals):
    """The namespace of a drop-in for ``scipy_module`` that computes the functions named in ``computed``.

    Parameters
    ----------
    scipy_module : module
        The scipy module replaced (``scipy.ndimage``, ``scipy.signal``).
    computed : tuple of str
        The names the drop-in defines itself.
    module_globals : dict
        The drop-in module's ``globals()``.

    Returns
    -------
    scipy_functions : dict of str to callable
        scipy's own function for each name of ``computed``, taken now: the fallbacks keep working when
        scipy's names are later replaced by the drop-in's.
    handed_to_scipy : tuple of str
        The rest of the scipy module's public names, sorted.
    all_names : list of str
        The module's ``__all__``: every public name of the scipy module.
    module_getattr, module_dir : callable
        The module's ``__getattr__`` (scipy's object for a name of ``handed_to_scipy``) and ``__dir__``.

    Examples
    --------
    >>> import scipy.ndimage
    >>> own, handed, names, getattr_, dir_ = scipy_namespace(scipy.ndimage, ("convolve",), {"__name__": "m"})
    >>> getattr_("label") is scipy.ndimage.label, "convolve" in handed, "convolve" in names
    (True, False, True)
    """
    handed = tuple(sorted(name for name in scipy_module.__all__ if name not in computed))
    module_name = module_globals["__name__"]

    def module_getattr(name):
        if name in handed:
            return getattr(scipy_module, name)
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    def module_dir():
        return sorted(set(module_globals) | set(handed))

    module_getattr.__doc__ = f"{scipy_module.__name__}'s own object for each name of :data:`HANDED_TO_SCIPY`."
    own = {name: getattr(scipy_module, name) for name in computed}
    return own, handed, sorted(computed + handed), module_getattr, module_dir
