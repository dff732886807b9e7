"""fastconv.convolve2d against its peers, one benchmark group per input.

``pytest --benchmark-only`` (from the project root) times every peer in
:data:`benches.peers.PEERS` on every case in :data:`benches.peers.CASES`;
``python -m benches.report`` runs this file and writes the tables and plots
to docs/bench/.  Each group (``benchmark.group``) is one case, so the
pytest-benchmark table reads as a league table per input.

Before timing, each peer is run once: that compiles fastconv's kernels (JIT
compile time is measured separately by the report) and its answer is
checked against fastconv's.  A plain ``pytest`` run (benchmarks disabled)
runs only the small cases marked ``smoke``, each peer once, and skips the
rest; peers too slow for a case (``MAX_TAPS``) are skipped with the reason.
"""

from __future__ import annotations

import pytest

from benches.peers import (
    CASES,
    KERNEL_SERIES_PEERS,
    MAX_TAPS,
    PEERS,
    SEPARABLE_PEERS,
    SERIES_CASES_ADDED,
    SERIES_ONLY_PEERS,
    Unsupported,
    call_kwargs,
    check_same,
    in_kernel_series,
    make_inputs,
)


@pytest.fixture(scope="module")
def inputs():
    """Inputs and fastconv's answer per case, made once per module."""
    import fastconv

    cache = {}

    def get(case):
        if case.name not in cache:
            img, k = make_inputs(case)
            want = fastconv.convolve2d(img, k, **call_kwargs(case))
            cache.clear()  # keep one case's (possibly 4096x4096) arrays at a time
            cache[case.name] = (img, k, want)
        return cache[case.name]

    return get


@pytest.mark.parametrize("peer", list(PEERS))
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_convolve2d(benchmark, inputs, case, peer):
    if benchmark.disabled and not case.smoke:
        pytest.skip("timed only with --benchmark-only")
    if case.separable and peer not in SEPARABLE_PEERS:
        pytest.skip(f"{peer} is not timed on the separable cases")
    series = in_kernel_series(case)
    if peer in SERIES_ONLY_PEERS and not series:
        pytest.skip(f"{peer} is timed on the kernel-size series only")
    if case in SERIES_CASES_ADDED and peer not in KERNEL_SERIES_PEERS:
        pytest.skip(f"{peer} is not timed on the added cases of the kernel-size series")
    limit = MAX_TAPS.get(peer)
    if limit is not None and case.taps > limit:
        pytest.skip(f"{peer} is too slow for {case.name} ({case.taps:.2g} taps > {limit:.2g})")
    img, k, want = inputs(case)
    try:
        run, extract = PEERS[peer](case, img, k)
    except Unsupported as exc:
        pytest.skip(f"{peer}: {exc}")
    got = run()  # warm-up: JIT compilation, TensorFlow tracing; not timed
    if extract is not None:
        check_same(peer, extract(got), want, case, img, k)
    benchmark.group = case.name
    benchmark.extra_info.update(peer=peer, case=case.name)
    benchmark(run)
