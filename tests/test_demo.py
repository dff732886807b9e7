"""The seed's display, computed: fastconv.demo.low_byte_view and seed_display against plain arithmetic."""

import numpy as np
import pytest

pytest.importorskip("PIL")

from fastconv import demo  # noqa: E402 -- after the skip: demo needs Pillow


def test_low_byte_view_is_value_mod_256():
    values = np.arange(-1100, 1400, 7).astype(np.float64).reshape(-1, 1)
    expected = np.array([int(v) % 256 for v in values.ravel()], np.uint8).reshape(values.shape)
    np.testing.assert_array_equal(demo.low_byte_view(values), expected)


def test_seed_display_is_a_clamp_to_0_255():
    values = np.array([[-2040.0, -256.0, -1.0, 0.0, 1.0, 128.0, 255.0, 256.0, 2040.0]])
    pixels, how = demo.seed_display(values)
    np.testing.assert_array_equal(pixels, [[0, 0, 0, 0, 1, 128, 255, 255, 255]])
    assert "np.uint is uint64" in how or "np.uint is uint32" in how
    assert how.endswith("shown as mode L")
