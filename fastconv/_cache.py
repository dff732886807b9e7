"""The one cache of what fastconv decides from a kernel's values, bounded in bytes, and its one key rule.

A plan that depends on a kernel's *values* (an integer kernel's lanes and
overflow bound, a small call's block function with that kernel in its lanes, a
kernel's FFT spectrum) is kept under :func:`kernel_key`, which holds the
kernel's dtype, shape and bytes: a call whose kernel has other values, in a new
array or changed in place, has another key and is planned again, never served
a stale plan.  Plans that depend on the kernel's dtype and shape only (a float
kernel's small call) are keyed without its bytes.

:class:`ByteCache` keeps entries up to a number of bytes (the least recently
used dropped first; an entry larger than the whole bound is not kept).
:data:`PLANS` holds the kernel-value rules of the direct backend and the small
calls' finished plans; the FFT spectra, each up to tens of megabytes, are a
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
    """A thread-safe cache of least recently used entries, bounded in bytes.

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
        """The value kept under ``key`` (now the most recently used), or None."""
        # without the lock (the small calls' path): a lookup and a move of one OrderedDict entry are each
        # atomic under the GIL; an entry dropped by another thread in between is a miss for its move only
        entries = self._entries
        found = entries.get(key)
        if found is None:
            return None
        try:
            entries.move_to_end(key)
        except KeyError:
            pass
        return found[0]

    def put(self, key, value, nbytes: int) -> None:
        """Keep ``value`` under ``key``, counted as ``nbytes``; older entries dropped down to the bound."""
        limit = self.limit
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.nbytes -= old[1]
            if nbytes > limit:
                return
            self._entries[key] = (value, nbytes)
            self.nbytes += nbytes
            while self.nbytes > limit:
                self.nbytes -= self._entries.popitem(last=False)[1][1]

    def values(self) -> list:
        """The values kept, least recently used first."""
        with self._lock:
            return [value for value, _ in self._entries.values()]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
            self.nbytes = 0

    def __len__(self) -> int:
        return len(self._entries)


#: The direct backend's kernel-value rules and the small calls' finished plans.
PLANS = ByteCache(lambda: PLAN_BYTES)
