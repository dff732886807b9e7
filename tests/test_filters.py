"""fastconv.kernels: named kernels, spec look-up, kernels from files and text.

Expected weights are written out here from their textbook definitions; the
Gaussian is checked against scipy's window function; direction conventions
against scipy.signal.correlate2d.
"""

import numpy as np
import pytest
from scipy import signal

from fastconv import filters

EXPECTED = {
    "kernel1": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
    "kernel2": [[0, -1, 0], [-1, 8, -1], [0, -1, 0]],
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "sobel-x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel-y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "prewitt-x": [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
    "prewitt-y": [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_integer_kernels_have_their_weights_as_int64(name):
    k = filters.get(name)
    assert k.dtype == np.int64
    np.testing.assert_array_equal(k, np.array(EXPECTED[name]))


def test_kernel1_is_the_seed_formula_not_its_typo():
    # The seed's code had [-1, -1, 1] as the first row; its formula has -1.
    k = filters.get("kernel1")
    assert k[0, 2] == -1
    assert k.sum() == 0


def test_names_lists_every_kernel_once_and_describe_matches():
    assert len(set(filters.NAMES)) == len(filters.NAMES)
    assert set(EXPECTED) | {"box", "gaussian"} == set(filters.NAMES)
    lines = filters.describe()
    assert [line.split()[0] for line in lines] == list(filters.NAMES)


def test_get_returns_a_new_array_each_time():
    a = filters.get("sobel-x")
    a[:] = 99
    np.testing.assert_array_equal(filters.get("sobel-x"), np.array(EXPECTED["sobel-x"]))


@pytest.mark.parametrize("spec", ["sobel_x", "Sobel-X", "SOBELX", "sobel-x", " sobel_x "])
def test_aliases_and_case(spec):
    np.testing.assert_array_equal(filters.get(spec), np.array(EXPECTED["sobel-x"]))


@pytest.mark.parametrize(
    "alias,name", [("mean", "box"), ("gauss", "gaussian"), ("laplace", "laplacian"), ("prewitt_y", "prewitt-y")]
)
def test_named_aliases(alias, name):
    np.testing.assert_array_equal(filters.get(alias), filters.get(name))


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_box_is_the_mean(size):
    k = filters.get(f"box:{size}")
    assert k.dtype == np.float64
    np.testing.assert_allclose(k, np.ones((size, size)) / size**2, rtol=0, atol=1e-15)


def test_box_default_is_3():
    np.testing.assert_allclose(filters.get("box"), np.full((3, 3), 1 / 9))


@pytest.mark.parametrize("size,sigma", [(5, 1.2), (3, 0.5), (7, 2.0), (4, 1.0), (1, 3.0)])
def test_gaussian_matches_scipy_window(size, sigma):
    one_d = signal.windows.gaussian(size, std=sigma)
    expected = np.outer(one_d, one_d)
    expected /= expected.sum()
    k = filters.get(f"gaussian:{size}:{sigma}")
    assert k.dtype == np.float64
    np.testing.assert_allclose(k, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(k.sum(), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(k, k.T)


def test_gaussian_defaults_and_partial_params():
    np.testing.assert_allclose(filters.get("gaussian"), filters.gaussian(5, 1.0))
    np.testing.assert_allclose(filters.get("gaussian:7"), filters.gaussian(7, 1.0))


def test_sobel_directions_under_cross_correlation():
    # Brightness grows to the right and downwards: both responses positive.
    ramp = np.add.outer(np.arange(6) * 3, np.arange(6) * 2).astype(float)
    gx = signal.correlate2d(ramp, filters.get("sobel-x"), mode="valid")
    gy = signal.correlate2d(ramp, filters.get("sobel-y"), mode="valid")
    np.testing.assert_allclose(gx, 2 * 8)  # slope 2 per column, Sobel gain 8
    np.testing.assert_allclose(gy, 3 * 8)  # slope 3 per row


@pytest.mark.parametrize(
    "spec,match",
    [
        ("foo", r"unknown kernel 'foo'; known kernels: kernel1, kernel2, .*gaussian"),
        ("box:0", r"size must be a positive integer, got 0 \(in kernel spec 'box:0'\)"),
        ("box:x", r"box size must be an integer, got 'x'"),
        ("box:2.5", r"box size must be an integer, got '2.5'"),
        ("box:", r"box size is empty in 'box:'"),
        ("gaussian:5:-1", r"sigma must be a positive number, got -1.0"),
        ("gaussian:5:nan", r"sigma must be a positive number, got nan"),
        ("gaussian:5:abc", r"gaussian sigma must be a number, got 'abc'"),
        ("gaussian:5:1:2", r"kernel 'gaussian' takes at most 2 parameter\(s\) \(gaussian:SIZE:SIGMA\)"),
        ("kernel1:3", r"kernel 'kernel1' takes no parameters, got 'kernel1:3'"),
    ],
)
def test_bad_specs_raise_value_error_naming_the_problem(spec, match):
    with pytest.raises(ValueError, match=match):
        filters.get(spec)


def test_get_rejects_non_strings():
    with pytest.raises(TypeError, match="kernel spec must be a str, got int"):
        filters.get(3)


@pytest.mark.parametrize("bad", [0, -2, 2.0, True, "3"])
def test_box_function_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="size must be a positive integer"):
        filters.box(bad)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("-1 -1 -1; -1 8 -1; -1 -1 -1", EXPECTED["kernel1"]),
        ("1,2,3\n4,5,6\n", [[1, 2, 3], [4, 5, 6]]),
        ("# a comment\n 1\t2 # trailing\n3 4\n\n", [[1, 2], [3, 4]]),
        ("7", [[7]]),
    ],
)
def test_parse_text_integer_rows(text, expected):
    k = filters.parse_text(text)
    assert k.dtype == np.int64
    np.testing.assert_array_equal(k, np.array(expected))


def test_parse_text_fractions_give_float64():
    k = filters.parse_text("0.25 0.25; 0.25 0.25")
    assert k.dtype == np.float64
    np.testing.assert_array_equal(k, np.full((2, 2), 0.25))


@pytest.mark.parametrize(
    "text,match",
    [
        ("", "kernel text has no numbers"),
        ("# only a comment", "kernel text has no numbers"),
        ("1 2; 3", r"kernel rows must all have the same length, got lengths \[2, 1\]"),
        ("1 a; 3 4", "kernel entry 'a' is not a number"),
        ("1 nan; 3 4", "kernel entries must be finite numbers"),
        ("1 inf", "kernel entries must be finite numbers"),
    ],
)
def test_parse_text_errors(text, match):
    with pytest.raises(ValueError, match=match):
        filters.parse_text(text)


def test_load_npy_int_float_bool(tmp_path):
    ints = np.array([[1, -2], [3, 4]], dtype=np.int16)
    floats = np.array([[0.5, 1.5, 2.5]], dtype=np.float32)
    bools = np.array([[True, False], [False, True]])
    for name, arr, dtype in [("i.npy", ints, np.int64), ("f.npy", floats, np.float64), ("b.npy", bools, np.int64)]:
        np.save(tmp_path / name, arr)
        got = filters.load(tmp_path / name)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, arr.astype(dtype))


@pytest.mark.parametrize(
    "arr,match",
    [
        (np.ones(3), r"must be a non-empty 2-D array, got shape \(3,\)"),
        (np.ones((2, 2, 2)), r"must be a non-empty 2-D array, got shape \(2, 2, 2\)"),
        (np.ones((0, 3)), r"must be a non-empty 2-D array, got shape \(0, 3\)"),
        (np.array([[1 + 2j]]), "must be numeric, got dtype complex128"),
        (np.array([[1.0, np.nan]]), "has non-finite entries"),
    ],
)
def test_load_npy_errors(tmp_path, arr, match):
    path = tmp_path / "k.npy"
    np.save(path, arr)
    with pytest.raises(ValueError, match=match):
        filters.load(path)


def test_load_text_file_and_errors(tmp_path):
    path = tmp_path / "k.txt"
    path.write_text("-1 -1 -1\n-1 8 -1\n-1 -1 -1\n")
    np.testing.assert_array_equal(filters.load(path), np.array(EXPECTED["kernel1"]))
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2\n3\n")
    with pytest.raises(ValueError, match=r"bad.txt: kernel rows must all have the same length"):
        filters.load(bad)
    with pytest.raises(FileNotFoundError, match="kernel file not found: .*missing.npy"):
        filters.load(tmp_path / "missing.npy")
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"not numpy at all")
    with pytest.raises(ValueError, match="cannot read kernel file"):
        filters.load(garbage)


def test_parse_dispatches_file_rows_and_names(tmp_path):
    path = tmp_path / "edge.txt"
    path.write_text("0 -1 0\n-1 8 -1\n0 -1 0\n")
    np.testing.assert_array_equal(filters.parse(str(path)), np.array(EXPECTED["kernel2"]))
    np.testing.assert_array_equal(filters.parse("1 2; 3 4"), np.array([[1, 2], [3, 4]]))
    np.testing.assert_array_equal(filters.parse("prewitt_x"), np.array(EXPECTED["prewitt-x"]))
    with pytest.raises(FileNotFoundError, match="kernel file not found: nothere.npy"):
        filters.parse("nothere.npy")
    with pytest.raises(ValueError, match="unknown kernel 'nothere'"):
        filters.parse("nothere")
