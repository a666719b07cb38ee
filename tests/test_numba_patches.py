"""lasagne._numba_patches: Numba's transposes, compiled with the cheaper
helper, against NumPy's."""
import itertools

import numba
import numpy as np
import pytest
from numba.np import arrayobj

import lasagne  # noqa: F401  (installs the helper)
from lasagne import _numba_patches


def _permuted(axes, values):
    axis = np.array(axes, dtype=np.intp)
    shape = np.array(values, dtype=np.intp)
    strides = shape * 10
    _numba_patches.permute_arrays(axis, shape, strides)
    return shape, strides


def test_installed_when_lasagne_is_imported():
    assert arrayobj.permute_arrays is _numba_patches.permute_arrays


@pytest.mark.parametrize("ndim", range(1, 6))
def test_every_permutation_gathers_like_fancy_indexing(ndim):
    values = np.arange(3, 3 + ndim)
    for axes in itertools.permutations(range(ndim)):
        for negative in range(ndim):   # also with one axis given negative
            given = list(axes)
            given[negative] -= ndim
            shape, strides = _permuted(given, values)
            np.testing.assert_array_equal(shape, values[list(axes)])
            np.testing.assert_array_equal(strides, values[list(axes)] * 10)


@pytest.mark.parametrize("axes,message", [
    ((0, 0, 1), "repeated axis"), ((0, 3, 1), "out of bounds"),
    ((0, -4, 1), "out of bounds"), ((1, -2, 0), "repeated axis")])
def test_bad_axes_raise_numbas_errors(axes, message):
    with pytest.raises(ValueError, match=message):
        _permuted(axes, (2, 3, 4))


@numba.njit
def _transpose(x, axes):
    return x.transpose(axes)


def test_compiled_transposes_match_numpy():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    for axes in [(0, 1, 2, 3), (3, 2, 1, 0), (1, 3, 0, 2), (-1, 0, -3, 2)]:
        got = _transpose(x, axes)
        np.testing.assert_array_equal(got, x.transpose(axes))
        assert got.strides == x.transpose(axes).strides
    view = x[:, ::2, :, 1:]
    np.testing.assert_array_equal(_transpose(view, (2, 0, 3, 1)),
                                  view.transpose(2, 0, 3, 1))
    with pytest.raises(ValueError, match="repeated axis"):
        _transpose(x, (0, 1, 1, 2))


@numba.njit
def _assign_rows(a, b):
    a[1:] = b
    return a


def test_slice_assignment_and_its_shape_error():
    assert arrayobj.raise_with_shape_context is (
        _numba_patches.raise_with_shape_context)
    got = _assign_rows(np.zeros((3, 2)), np.arange(4.0).reshape(2, 2))
    np.testing.assert_array_equal(got, [[0, 0], [0, 1], [2, 3]])
    got = _assign_rows(np.zeros((3, 2)), np.arange(2.0).reshape(1, 2))
    np.testing.assert_array_equal(got, [[0, 0], [0, 1], [0, 1]])  # broadcast
    with pytest.raises(ValueError, match="cannot assign to a slice") as info:
        _assign_rows(np.zeros((3, 2)), np.ones((3, 2)))
    assert info.value.args[1:] == ((2, 2), (3, 2))


@numba.njit
def _argsort(a):
    return np.argsort(a)


@pytest.mark.parametrize("n", [0, 1, 2, 15, 16, 17, 33, 100, 1000, 4097])
def test_integer_argsort_is_numpys_stable_order(n):
    rng = np.random.default_rng(n)
    for high in (3, 10 ** 6):           # many ties, few ties
        a = rng.integers(-high, high, n)
        np.testing.assert_array_equal(_argsort(a),
                                      np.argsort(a, kind="stable"))
        np.testing.assert_array_equal(_argsort(a[::-1]),
                                      np.argsort(a[::-1], kind="stable"))
    flags = rng.random(n) < 0.5
    np.testing.assert_array_equal(_argsort(flags),
                                  np.argsort(flags, kind="stable"))


def test_float_argsort_keeps_numbas_sort():
    x = np.array([3.0, np.nan, -1.0, 2.0, np.nan, 0.5])
    np.testing.assert_array_equal(_argsort(x), np.argsort(x))
