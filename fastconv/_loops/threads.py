"""How ``direct`` spreads row blocks over threads.

Row blocks are handed out one at a time through two atomic counters,
``ctl = [next block, blocks finished, number of blocks]``, to whichever
thread asks first: the calling thread and up to ``numba.get_num_threads() - 1``
pool threads run the same loop, without the GIL.  The calling thread never
waits for a pool thread that has not started; it waits only for blocks
already taken.  A pool thread that starts late finds no block left and
returns.  Each block writes only its own output rows.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# Below this much work (multiply-adds plus input values; about 0.3 ms on one core),
# a call runs single-threaded: starting a second thread would cost more than it saves.
SERIAL_TAPS = 3 << 20


@intrinsic
def fetch_add(typingctx, counters, index, value):
    """Atomically add ``value`` to ``counters[index]`` (an int64 array); return the old value."""
    sig = types.int64(counters, index, value)

    def codegen(context, builder, signature, args):
        arr, idx, val = args
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, arr)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [idx])
        val = context.cast(builder, val, signature.args[2], types.int64)
        return builder.atomic_rmw("add", ptr, val, "seq_cst")

    return sig, codegen


# Row blocks are handed out one at a time through two atomic counters,
# ``ctl = [next block, blocks finished, number of blocks]``, to whichever
# thread asks first: the calling thread and up to ``numba.get_num_threads() - 1``
# pool threads run the same loop, without the GIL.  The calling thread never
# waits for a pool thread that has not started (on a machine whose other
# cores are busy, that may take a scheduler time slice of several
# milliseconds); it waits only for blocks already taken.  A pool thread that
# starts late finds no block left and returns.  Each block writes only its own
# output rows.


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """A process-wide pool of ``workers`` helper threads (created on first use)."""
    with _pools_lock:
        if workers not in _pools:
            _pools[workers] = ThreadPoolExecutor(workers, thread_name_prefix="fastconv")
        return _pools[workers]


def run(kernel, worker, args, n_blocks, taps):
    """Compute row blocks ``[0, n_blocks)`` on ``numba.get_num_threads()`` threads (see the note above)."""
    threads = min(numba.get_num_threads(), n_blocks)
    if threads <= 1 or taps < SERIAL_TAPS:
        kernel(*args, 0, n_blocks)
        return
    ctl = np.array([0, 0, n_blocks], dtype=np.int64)
    pool = _pool(threads - 1)
    for _ in range(threads - 1):
        pool.submit(worker, *args, ctl)
    worker(*args, ctl)  # releases the GIL (nogil) while it works
    while ctl[1] < n_blocks:  # blocks still being computed by pool threads
        time.sleep(0)
