"""The register-tile product of the recurrence kernels against numpy, on
sizes that are not multiples of the tile (rows, columns, steps of 1)."""
import numpy as np
import pytest

from lasagne.ops._tile_gemm import (ROW_SLACK, choose_vectors, pack_columns,
                                    padded_cols, tile_product)


def _operands(rng, rows, steps, cols, dtype):
    a = rng.normal(size=(rows, steps)).astype(dtype)
    w = rng.normal(size=(steps, cols)).astype(dtype)
    return a, w


def _product(src, aoff, boff, steps, w, rows, cols, nv, start=None):
    """tile_product into a fresh padded output (NaN where it may write
    scratch, so a result read from there would show), returned cropped."""
    m = pack_columns(w)
    ld = m.shape[1]
    out = np.full((rows + ROW_SLACK, ld), np.nan, w.dtype)
    if start is not None:
        out[:rows, :cols] = start
        out[rows:] = 0.0
        out[:, cols:] = 0.0
    tile_product(out, ld, src, aoff, boff, steps, m, ld, rows, cols,
                 start is not None, nv)
    return out[:rows, :cols]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("nv", [1, 2, 4])
@pytest.mark.parametrize("rows, steps, cols", [
    (1, 1, 1), (1, 7, 3), (5, 1, 13), (7, 9, 17), (13, 5, 33),
    (50, 100, 400), (50, 400, 100), (25, 12, 36)])
def test_tile_product_matches_numpy(rows, steps, cols, nv, dtype):
    rng = np.random.default_rng(rows * 1000 + steps * 10 + cols)
    a, w = _operands(rng, rows, steps, cols, dtype)
    # rows past `rows` point at the last row: readable, results unused
    aoff = np.minimum(np.arange(rows + ROW_SLACK), rows - 1) * steps
    boff = np.arange(steps)
    tol = 1e-12 if dtype == "float64" else 1e-4 * np.sqrt(steps)
    got = _product(a, aoff, boff, steps, w, rows, cols, nv)
    np.testing.assert_allclose(got, a @ w, rtol=tol, atol=tol)
    start = rng.normal(size=(rows, cols)).astype(dtype)
    got = _product(a, aoff, boff, steps, w, rows, cols, nv, start)
    np.testing.assert_allclose(got, start + a @ w, rtol=tol, atol=tol)


@pytest.mark.parametrize("nv", [1, 2, 4])
@pytest.mark.parametrize("rows, steps, cols", [(1, 1, 5), (9, 11, 20),
                                               (100, 100, 400)])
def test_tile_product_reads_a_transposed_source(rows, steps, cols, nv):
    """The weight gradient's form, ``h.T @ da``: element (i, t) of the
    product's left operand is ``h[t, i]``, at offset i + t * rows."""
    rng = np.random.default_rng(rows + steps + cols)
    h = rng.normal(size=(steps, rows))
    da = rng.normal(size=(steps, cols))
    aoff = np.minimum(np.arange(rows + ROW_SLACK), rows - 1)
    boff = np.arange(steps) * rows
    got = _product(h, aoff, boff, steps, da, rows, cols, nv)
    np.testing.assert_allclose(got, h.T @ da, rtol=1e-12, atol=1e-12)


def test_padding_and_choice_of_tile():
    for cols in (1, 3, 8, 16, 31, 32, 33, 400):
        for itemsize in (4, 8):
            p = padded_cols(cols, itemsize)
            assert p >= cols and p - cols < 64 and p % 4 == 0
    w = np.arange(6.0).reshape(2, 3)
    packed = pack_columns(w)
    assert packed.shape == (2, padded_cols(3, 8))
    np.testing.assert_array_equal(packed[:, :3], w)
    assert not packed[:, 3:].any()
    for rows, cols in [(1, 1), (50, 400), (50, 100), (100, 400), (3, 5)]:
        assert choose_vectors(rows, cols, 4) in (1, 2, 4)
