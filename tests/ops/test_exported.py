"""Functions called by symbol: results, errors, and their signatures."""
import numba
import numpy as np
import pytest
from numba import types
from numba.core.errors import TypingError

from lasagne.ops._exported import Exported


@numba.njit(no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _affine(x, scale, shift):
    if scale < 0:
        raise ValueError("scale must not be negative")
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = x[i] * scale + shift[0] - shift[1]
    return out


def _signature(dtype):
    return (types.Array(numba.from_dtype(np.dtype(dtype)), 1, "C"),
            types.int64, types.UniTuple(types.int64, 2))


AFFINE = Exported("test_affine", _affine, _signature)
_call = AFFINE.call


@numba.njit
def caller(x, scale):
    return _call(x, np.int64(scale), (np.int64(5), np.int64(2)))


@numba.njit
def wrong_caller(x):
    return _call(x, 1.5, (np.int64(5), np.int64(2)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_result_and_dtype(dtype):
    x = np.arange(5, dtype=dtype)
    out = caller(x, 3)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, 3 * np.arange(5) + 3)
    assert AFFINE.symbol_name(dtype) == f"lasagne_test_affine_{dtype}"


def test_exception_reaches_the_caller():
    with pytest.raises(ValueError, match="scale must not be negative"):
        caller(np.ones(3), -1)


def test_argument_types_are_checked():
    with pytest.raises(TypingError, match="differ from the compiled"):
        wrong_caller(np.ones(3))
    with pytest.raises(TypingError, match="float32 or float64 array"):
        caller(np.ones(3, dtype="int64"), 1)
