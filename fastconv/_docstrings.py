"""The drop-ins' shared parameter texts, written once and filled into their docstrings.

The idea is scipy.ndimage's ``docfiller``: each family of functions that take the same arguments
(the scipy.ndimage filters, the scipy.signal correlations, the dask versions of the filters) keeps
one dict of numpydoc entries, and a :class:`DocFiller` writes them into the docstrings when the
module is imported.  A docstring holds ``%(parameters)s`` on a line of its own where its Parameters
and Returns sections belong; the filler writes there one entry per parameter of the function's
signature, in the signature's order, then the Returns entry.  A line ``%(key)s`` alone is replaced by
the entry ``key``.  Every entry begins with the parameter's name, and a parameter whose entry is
missing or names another parameter raises at import, so a docstring cannot drop or misname one.

Examples
--------
>>> fill = DocFiller({"x": "x : float\\n    The value.", "returns": "float\\n    Twice ``x``."})
>>> @fill
... def double(x):
...     '''Twice ``x``.
...
...     %(parameters)s
...     '''
...     return 2 * x
>>> print(double.__doc__.strip())
Twice ``x``.
<BLANKLINE>
    Parameters
    ----------
    x : float
        The value.
<BLANKLINE>
    Returns
    -------
    float
        Twice ``x``.
"""

from __future__ import annotations

import inspect
import re
import textwrap

# A line that holds one field and nothing else: its indent and the field's key.
_FIELD = re.compile(r"^(?P<indent>[ \t]*)%\((?P<key>\w+)\)s[ \t]*$")


class DocFiller:
    """Fills the entries of ``entries`` into the docstrings of the functions it decorates.

    Parameters
    ----------
    entries : dict of str to str
        Numpydoc text by key: ``"name : type"`` and its indented description for a parameter (the key
        is the parameter's name, or another key a function chooses for it), or a Returns text.

    Examples
    --------
    >>> fill = DocFiller({"n": "n : int\\n    How many.", "count": "int\\n    The count."})
    >>> @fill(returns="count")
    ... def f(n):
    ...     '''Summary.
    ...
    ...     %(parameters)s
    ...     '''
    >>> "How many." in f.__doc__ and "The count." in f.__doc__
    True
    """

    def __init__(self, entries):
        self.entries = {key: textwrap.dedent(text).strip("\n") for key, text in entries.items()}

    def __call__(self, func=None, /, **chosen):
        """``@filler`` or ``@filler(param="key", returns="key")``: fill ``func``'s docstring; return ``func``."""
        if func is None:
            return lambda f: self.fill(f, **chosen)
        return self.fill(func, **chosen)

    def fill(self, func, **chosen):
        """Fill ``func.__doc__``; ``chosen`` maps a parameter (or ``returns``) to the entry used for it."""
        unknown = set(chosen) - set(inspect.signature(func).parameters) - {"returns"}
        if unknown:
            raise TypeError(f"{func.__qualname__} has no parameter {sorted(unknown)[0]!r}")
        func.__doc__ = self.fill_text(func.__doc__, lambda: self.sections(func, chosen))
        return func

    def sections(self, func, chosen):
        """The Parameters and Returns sections of ``func``, unindented."""
        lines = ["Parameters", "----------"]
        for param in inspect.signature(func).parameters.values():
            shown = {param.VAR_POSITIONAL: "*", param.VAR_KEYWORD: "**"}.get(param.kind, "") + param.name
            text = self.entry(chosen.get(param.name, param.name), func)
            if text.split(" : ")[0].split("\n")[0] != shown:
                raise ValueError(f"{func.__qualname__}: the entry for {shown!r} begins {text.splitlines()[0]!r}")
            lines.append(text)
        lines += ["", "Returns", "-------", self.entry(chosen.get("returns", "returns"), func)]
        return "\n".join(lines)

    def entry(self, key, func):
        """The entry ``key``; KeyError naming ``func`` when there is none."""
        if key not in self.entries:
            raise KeyError(f"{func.__qualname__}: no docstring entry {key!r}")
        return self.entries[key]

    def fill_text(self, doc, sections=None):
        """``doc`` with each line ``%(key)s`` replaced by its entry (``sections()`` for ``parameters``), as indented."""
        out = []
        for line in (doc or "").split("\n"):
            field = _FIELD.match(line)
            if field is None:
                out.append(line)
                continue
            key, indent = field["key"], field["indent"]
            if key == "parameters" and sections is not None:
                text = sections()
            elif key in self.entries:
                text = self.entries[key]
            else:
                raise KeyError(f"no docstring entry {key!r}")
            out.extend(indent + part if part else "" for part in text.split("\n"))
        return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------------
# scipy.ndimage's filters (fastconv.ndimage, the rank filters of fastconv._rank).

_MODES = '"reflect", "constant", "nearest", "mirror", "wrap", "grid-mirror", "grid-constant", "grid-wrap"'

NDIMAGE = DocFiller(
    {
        "input": """
            input : array_like
                The array; real inputs run on fastconv, others (complex, bool, float16) on scipy.
            """,
        "input_3d": """
            input : array_like
                The array; real 1-D to 3-D inputs run on fastconv, others on scipy.
            """,
        "weights": """
            weights : array_like
                Weights, with as many dimensions as ``input`` (or as ``axes`` when given).
            """,
        "weights_1d": """
            weights : array_like
                1-D weights.
            """,
        "axis": """
            axis : int, default -1
                The axis filtered.
            """,
        "axis_derivative": """
            axis : int, default -1
                The axis differentiated.
            """,
        "output": """
            output : numpy.ndarray or dtype, optional
                Array to write the result to (of ``input``'s shape), or its dtype; default ``input``'s dtype.
            """,
        "mode": f"""
            mode : {{{_MODES}}}, default "reflect"
                How the input is extended beyond its edges, in scipy.ndimage's words (see
                :mod:`fastconv.ndimage` for numpy.pad's names of the same modes).
            """,
        "mode_per_axis": """
            mode : str or sequence of str, default "reflect"
                scipy.ndimage's extension mode (as for :func:`fastconv.ndimage.correlate`), one for every
                axis or one per axis.
            """,
        "cval": """
            cval : float, default 0.0
                The value outside the input for ``mode="constant"``.
            """,
        "origin": """
            origin : int, default 0
                Shift of the weights (or window) along the axis: ``-(n // 2) <= origin <= (n - 1) // 2``
                for ``n`` of them.
            """,
        "origin_per_axis": """
            origin : int or sequence of int, default 0
                Shift of the weights (or window) per axis: ``-(n // 2) <= origin <= (n - 1) // 2`` on an
                axis where they are ``n`` long.
            """,
        "axes": """
            axes : int or tuple of int, optional
                The axes filtered; default all.
            """,
        "sigma": """
            sigma : float or sequence of float
                Standard deviation of the Gaussian, one for every axis filtered or one per axis.
            """,
        "sigma_1d": """
            sigma : float
                Standard deviation of the Gaussian.
            """,
        "order": """
            order : int or sequence of int, default 0
                Derivative of the Gaussian taken, per axis: 0 smooths; 1, 2, 3 ... convolve with that
                derivative.
            """,
        "truncate": """
            truncate : float, default 4.0
                The kernel's radius in standard deviations: ``int(truncate * sigma + 0.5)``.
            """,
        "order_1d": """
            order : int, default 0
                Derivative of the Gaussian taken: 0 smooths; 1, 2, 3 ... convolve with that derivative.
            """,
        "radius": """
            radius : int or sequence of int, optional
                The kernel's radius per axis, overriding ``truncate``.
            """,
        "radius_1d": """
            radius : int, optional
                The kernel's radius, overriding ``truncate``.
            """,
        "size_1d": """
            size : int
                Length of the box or window along the axis, >= 1.
            """,
        "size_box": """
            size : int or sequence of int, default 3
                The box's length, one for every axis or one per axis.
            """,
        "size": """
            size : int or sequence of int, optional
                The box's length per filtered axis (ignored when ``footprint`` is given).
            """,
        "footprint": """
            footprint : array_like of bool, optional
                The window's shape: the values under its true elements are the ones taken.
            """,
        "rank": """
            rank : int
                The rank taken, ``-n <= rank < n`` for a window of ``n`` values (0 the smallest, -1 the
                largest).
            """,
        "percentile": """
            percentile : float
                Within -100 and 100 (a negative one counts down from 100).
            """,
        "derivative2": """
            derivative2 : callable
                ``derivative2(input, axis, output, mode, cval, *extra_arguments, **extra_keywords)``.
            """,
        "derivative": """
            derivative : callable
                ``derivative(input, axis, output, mode, cval, *extra_arguments, **extra_keywords)``.
            """,
        "extra_arguments": """
            extra_arguments : sequence, optional
                More positional arguments for the derivative.
            """,
        "extra_keywords": """
            extra_keywords : dict, optional
                More keyword arguments for the derivative.
            """,
        "kwargs": """
            **kwargs
                ``truncate`` or ``radius``, passed to :func:`fastconv.ndimage.gaussian_filter`.
            """,
        "returns": """
            numpy.ndarray
                The result, of ``input``'s shape (``output`` itself when it is an array).
            """,
    }
)

# ---------------------------------------------------------------------------------------------------------------
# scipy.signal's correlations, convolutions and median filters (fastconv.signal, fastconv._rank).

SIGNAL = DocFiller(
    {
        "in1": """
            in1 : array_like
                First input.
            """,
        "in2": """
            in2 : array_like
                Second input, slid over ``in1``; as many dimensions as ``in1``.
            """,
        "mode_2d": """
            mode : {"full", "valid", "same"}, default "full"
                Output size: every overlap, only complete overlaps, or ``in1``'s size.
            """,
        "mode": """
            mode : {"full", "valid", "same"}, default "full"
                Output size: every overlap, only complete overlaps, or ``in1``'s size (centred on the full
                output).
            """,
        "boundary": """
            boundary : {"fill", "wrap", "symm"}, default "fill"
                Extension of ``in1``: ``fillvalue``, periodic, or mirrored with the edge repeated.
            """,
        "fillvalue": """
            fillvalue : scalar, default 0
                The value outside ``in1`` for ``boundary="fill"``.
            """,
        "method": """
            method : {"auto", "direct", "fft"}, default "auto"
                ``"direct"`` sums directly; ``"fft"`` uses an FFT (fastconv's FFT backend if present, else
                scipy's); ``"auto"`` lets fastconv choose.
            """,
        "axes": """
            axes : int or sequence of int, optional
                Axes to convolve over (scipy computes the calls that give them).
            """,
        "volume": """
            volume : array_like
                Integer or float32/float64 array; 1- to 3-D inputs run on fastconv, others on scipy.
            """,
        "kernel_size": """
            kernel_size : int or sequence of int, optional
                Odd window size, one for every axis or one per axis; default 3.
            """,
        "input": """
            input : array_like
                2-D array.
            """,
        "kernel_size_2d": """
            kernel_size : int or pair of int, default 3
                Odd window size, one for both axes or one per axis.
            """,
        "returns": """
            numpy.ndarray
                The convolution, of dtype ``numpy.result_type(in1, in2)``.
            """,
        "returns_correlation": """
            numpy.ndarray
                The correlation, of dtype ``numpy.result_type(in1, in2)``.
            """,
        "returns_fft": """
            numpy.ndarray
                The convolution: float32 when both inputs are float32, else float64.
            """,
        "returns_median": """
            numpy.ndarray
                The medians, of the input's shape and dtype.
            """,
    }
)

# ---------------------------------------------------------------------------------------------------------------
# The filters over dask arrays, dask-image's ``ndfilters`` names (fastconv._dask_filters, fastconv._dask_rank).

DASK = DocFiller(
    {
        "image": """
            image : dask.array.Array or array_like
                The array, filtered chunk by chunk as it is chunked.
            """,
        "sigma": """
            sigma : float or sequence of float
                Standard deviation of the Gaussian, one or one per axis.
            """,
        "order": """
            order : int or sequence of int, default 0
                Derivative order per axis (0 smooths).
            """,
        "mode": """
            mode : str, default "reflect"
                scipy.ndimage's extension mode, applied at the array's own edges only.
            """,
        "cval": """
            cval : float, default 0.0
                The value outside the array for ``mode="constant"``.
            """,
        "truncate": """
            truncate : float, default 4.0
                The kernel's radius in standard deviations (the halo is ``ceil(sigma * truncate)``).
            """,
        "size_box": """
            size : int or sequence of int, default 3
                The box's length, one or one per axis.
            """,
        "size": """
            size : int or sequence of int, optional
                The box's length per axis (exactly one of ``size`` and ``footprint``).
            """,
        "footprint": """
            footprint : array_like of bool, optional
                The window's shape (exactly one of ``size`` and ``footprint``).
            """,
        "rank": """
            rank : int
                The rank (negative: counted from the largest).
            """,
        "percentile": """
            percentile : float
                Within -100 and 100.
            """,
        "origin": """
            origin : int or sequence of int, default 0
                Shift of the box or window per axis.
            """,
        "kwargs": """
            **kwargs
                Passed to the :mod:`fastconv.ndimage` function of the same name.
            """,
        "threads": """
            threads : int or None, default 1
                Numba threads per task (None: fastconv's setting).
            """,
        "returns": """
            dask.array.Array
                Lazy, of ``image``'s shape, chunks and dtype.
            """,
    }
)
