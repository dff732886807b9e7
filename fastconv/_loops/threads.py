"""How ``direct`` spreads row blocks over threads: ``numba.prange`` on fastconv's threading layer.

A call's output is cut into row blocks that write disjoint rows.  Small calls
run on the calling thread; larger ones run a ``prange`` over the blocks (see
``_inplace_blocks`` / ``_staged_blocks`` in :mod:`fastconv._loops.correlate2d`)
on the threading layer chosen in :mod:`fastconv._jit` (TBB: work stealing,
safe for concurrent callers and after ``fork``; without TBB, ``workqueue``
behind a lock that admits one parallel call at a time).

An exception raised inside a block on a pool thread cannot cross the
threading layer, so each block runs under ``try``/``except`` and reports
failure in its slot of a status array; :func:`run` then recomputes the first
failed block on the calling thread, where the exception is raised as usual
(an ``IndexError`` under ``NUMBA_BOUNDSCHECK=1``, a ``MemoryError``).  If that
block succeeds the second time, a ``RuntimeError`` is raised instead: a call
never returns a partly computed result and never hangs.
"""

from __future__ import annotations

import numba

# Below this much work (multiply-adds plus input values; about 10 us on one core),
# a call runs single-threaded: waking a second thread would cost more than it saves.
# Measured with the second core idle: a 200x200 3x3 call (0.4 M) is as fast on two
# threads as on one, 256x256 (0.7 M) 15% faster, 512x512 (2.6 M) 40% faster.
SERIAL_TAPS = 1 << 18


def run(kernel, blocks, args, n_blocks, taps):
    """Compute row blocks ``[0, n_blocks)``: ``kernel(*args, t0, t1)`` serially, or ``blocks(*args, n)`` in parallel.

    ``blocks`` returns the index of the first block that raised, or -1.
    """
    if taps < SERIAL_TAPS or n_blocks <= 1 or numba.get_num_threads() <= 1:
        kernel(*args, 0, n_blocks)
        return
    failed = blocks(*args, n_blocks)
    if failed >= 0:
        kernel(*args, failed, failed + 1)  # raises the block's exception on this thread
        raise RuntimeError(f"row block {failed} failed on a worker thread and succeeded when repeated")
