"""The one cache of what fastconv decides from a kernel's values, bounded in bytes, and its one key rule.

A plan that depends on a kernel's *values* (an integer kernel's lanes and
overflow bound, a small call's block function with that kernel in its lanes, a
kernel's FFT spectrum) is kept under :func:`kernel_key`, which holds the
kernel's dtype, shape and bytes: a call whose kernel has other values, in a new
array or changed in place, has another key and is planned again, never served
a stale plan.  Plans that depend on the kernel's dtype and shape only (a float
kernel's small call) are keyed without its bytes.

:class:`ByteCache` keeps entries up to a number of bytes (the least recently
used dropped first, as a second-chance queue; an entry larger than the whole bound is not kept).
:data:`PLANS` holds the kernel-value rules of the direct backend, the small
calls' finished plans and float ``conv2d`` layers' geometry (keyed by shapes,
dtypes and arguments: no value of theirs enters it); the FFT spectra, each up to tens of megabytes, are a
second :class:`ByteCache` with their own bound (:data:`fastconv._fft.SPECTRA_BYTES`)
so that one large spectrum does not push out hundreds of small plans.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

#: Bytes of plans kept in :data:`PLANS` (a small call's plan takes about :data:`ENTRY_BYTES`).
PLAN_BYTES = 4 << 20
#: Bytes counted for an entry beyond its arrays: its key, its tuple or function object.
ENTRY_BYTES = 512


def kernel_key(k: np.ndarray, values: bool = True) -> tuple:
    """The key of everything planned from kernel ``k``: its dtype, shape and (with ``values``) its bytes.

    Examples
    --------
    >>> import numpy as np
    >>> k = np.ones((2, 2), np.int16)
    >>> kernel_key(k) == kernel_key(k.copy())
    True
    >>> kernel_key(k) == kernel_key(2 * k)
    False
    >>> kernel_key(k, values=False) == kernel_key(2 * k, values=False)
    True
    """
    return k.dtype, k.shape, k.tobytes() if values else None


class ByteCache:
    """A thread-safe cache bounded in bytes, the least recently used entries dropped first (nearly: see :meth:`put`).

    ``limit`` is the bound in bytes, or a function of no arguments returning
    it (read at every insertion, so a module constant can be changed at run
    time).

    Examples
    --------
    >>> c = ByteCache(100)
    >>> c.put("a", "first", 60)
    >>> c.put("b", "second", 60)  # 120 bytes: "a", the least recently used, is dropped
    >>> c.get("a") is None, c.get("b"), c.nbytes
    (True, 'second', 60)
    """

    def __init__(self, limit):
        self._limit = limit
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0

    @property
    def limit(self) -> int:
        """The bound in bytes."""
        return self._limit() if callable(self._limit) else self._limit

    def get(self, key):
        """The value kept under ``key`` (marked as used since it was last passed over), or None.

        One hash of ``key`` and no lock (the small calls' path): a lookup is
        atomic under the GIL, and the mark is a list item set in place.
        """
        found = self._entries.get(key)
        if found is None:
            return None
        found[2] = True
        return found[0]

    def lookup(self):
        """The builtin lookup of the entries, for the small calls' path: ``lookup()(key)`` is an entry
        ``[value, nbytes, used]`` or None; a caller that uses the value sets ``entry[2] = True``
        (as :meth:`get` does), saving :meth:`get`'s Python call."""
        return self._entries.get

    def put(self, key, value, nbytes: int) -> None:
        """Keep ``value`` under ``key``, counted as ``nbytes``; older entries dropped down to the bound.

        The oldest entry goes first, unless it was used since it was put or last
        passed over: then it is moved to the newest end, unmarked (a second
        chance, which approximates least-recently-used order without moving an
        entry on every lookup).
        """
        limit = self.limit
        with self._lock:
            entries = self._entries
            old = entries.pop(key, None)
            if old is not None:
                self.nbytes -= old[1]
            if nbytes > limit:
                return
            entries[key] = [value, nbytes, False]
            self.nbytes += nbytes
            while self.nbytes > limit:
                first, entry = entries.popitem(last=False)
                if entry[2]:
                    entry[2] = False
                    entries[first] = entry
                else:
                    self.nbytes -= entry[1]

    def values(self) -> list:
        """The values kept, oldest first."""
        with self._lock:
            return [entry[0] for entry in self._entries.values()]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
            self.nbytes = 0

    def __len__(self) -> int:
        return len(self._entries)


#: The direct backend's kernel-value rules, the small calls' finished plans, float conv2d layers' geometry.
PLANS = ByteCache(lambda: PLAN_BYTES)
