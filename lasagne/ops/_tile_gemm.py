"""Small matrix products on the register tile, for the recurrence kernels.

The LSTM kernels multiply thin matrices at every time step (a lane's 50
rows by ``w_hid``'s 100 x 400, and back). OpenBLAS reaches about 55
GFLOP/s on such a product on one Zen 3 core, as it packs both operands
again at every call; the register tile of :mod:`._microkernel`, fed by
operands laid out once per sequence, runs the same product at about 85.

:func:`tile_product` computes::

    out[i, j] (+)= sum_t  src[aoff[i] + boff[t]] * m[t, j]

for ``i < rows`` and ``j < cols``, with tiles of ``TILE_ROWS[nv]`` rows by
``nv`` vectors. It computes whole tiles, so the caller provides room for
them: ``out`` has ``rows + ROW_SLACK`` rows and ``padded_cols(cols)``
columns (its row stride ``ldo``); ``aoff`` has ``rows + ROW_SLACK``
entries, each pointing at readable data (the extra rows' results are
never read); ``m`` is ``steps`` rows of ``padded_cols(cols)`` columns, the
columns past ``cols`` zero or finite. ``src`` is read at arbitrary
offsets, so ``src`` transposed (the weight gradient ``h.T @ da``) costs
nothing more than ``src`` itself.
"""
import numba
import numpy as np

from ._microkernel import (TILE_ROWS, TILE_SPEED, VECTOR_BYTES, tile1, tile2,
                           tile4)

__all__ = ["ROW_SLACK", "padded_cols", "choose_vectors", "pack_columns",
           "tile_product"]

#: Rows past ``rows`` that a tile may write (and whose ``aoff`` it reads).
ROW_SLACK = max(TILE_ROWS.values())

_R1, _R2, _R4 = TILE_ROWS[1], TILE_ROWS[2], TILE_ROWS[4]
_S1, _S2, _S4 = TILE_SPEED[1], TILE_SPEED[2], TILE_SPEED[4]

_jit = numba.njit(cache=True, nogil=True, boundscheck=False,
                  error_model="numpy")


@_jit
def padded_cols(cols, itemsize):
    """`cols` rounded up to a whole number of the widest tile (4 vectors
    of `itemsize`-byte elements): the row stride of ``out`` and ``m``."""
    block = 4 * (VECTOR_BYTES // itemsize)
    return (cols + block - 1) // block * block


@_jit
def _cost(rows, cols, tile_rows, width, speed):
    """Time (arbitrary units) of a product with one tile geometry: the
    padded work divided by the tile's measured speed."""
    padded_rows = (rows + tile_rows - 1) // tile_rows * tile_rows
    padded = (cols + width - 1) // width * width
    return padded_rows * padded / speed


@_jit
def _geometry(nv):
    """(rows, speed) of the tile of `nv` vectors."""
    if nv == 2:
        return _R2, _S2
    if nv == 4:
        return _R4, _S4
    return _R1, _S1


@_jit
def _remainder_vectors(rows, cols, lanes):
    """The tile (1, 2 or 4 vectors) that does a `rows` x `cols` product
    fastest, padding included, and that time."""
    best, best_cost = 2, np.inf
    for nv in (2, 4, 1):
        tile_rows, speed = _geometry(nv)
        cost = _cost(rows, cols, tile_rows, nv * lanes, speed)
        if cost < best_cost:
            best, best_cost = nv, cost
    return best, best_cost


@_jit
def choose_vectors(rows, cols, itemsize):
    """Vectors per tile row (1, 2 or 4) that do a `rows` x `cols` product
    fastest, its rows past the last whole tile done by the tile that suits
    them best (:func:`tile_product`): the widest tiles are fastest, but
    waste more on a size that is not a multiple of theirs."""
    lanes = VECTOR_BYTES // itemsize
    best, best_cost = 2, np.inf
    for nv in (2, 4, 1):
        tile_rows, speed = _geometry(nv)
        full = rows // tile_rows * tile_rows
        cost = _cost(full, cols, tile_rows, nv * lanes, speed)
        if rows > full:
            cost += _remainder_vectors(rows - full, cols, lanes)[1]
        if cost < best_cost:
            best, best_cost = nv, cost
    return best


@_jit
def pack_columns(w):
    """A copy of the 2-d `w` with its columns padded with zeros to
    :func:`padded_cols`: the ``m`` operand of :func:`tile_product`."""
    packed = np.zeros((w.shape[0], padded_cols(w.shape[1], w.itemsize)),
                      w.dtype)
    packed[:, :w.shape[1]] = w
    return packed


@_jit
def _tiles(out, ldo, src, aoff, boff, steps, m, ldm, row0, rows, cols,
           accumulate, nv):
    """Rows ``row0:rows`` of :func:`tile_product` with tiles of `nv`
    vectors, a column panel at a time (the panel of ``m`` stays in cache
    while every row tile reads it)."""
    lanes = VECTOR_BYTES // out.itemsize
    if nv == 2:
        for j0 in range(0, cols, 2 * lanes):
            for i0 in range(row0, rows, _R2):
                tile2(out, i0 * ldo + j0, ldo, src, aoff, i0, boff, steps, m,
                      j0, ldm, accumulate)
    elif nv == 4:
        for j0 in range(0, cols, 4 * lanes):
            for i0 in range(row0, rows, _R4):
                tile4(out, i0 * ldo + j0, ldo, src, aoff, i0, boff, steps, m,
                      j0, ldm, accumulate)
    else:
        for j0 in range(0, cols, lanes):
            for i0 in range(row0, rows, _R1):
                tile1(out, i0 * ldo + j0, ldo, src, aoff, i0, boff, steps, m,
                      j0, ldm, accumulate)


@_jit
def tile_product(out, ldo, src, aoff, boff, steps, m, ldm, rows, cols,
                 accumulate, nv):
    """``out[i*ldo + j] (+)= sum_t src[aoff[i] + boff[t]] * m[t*ldm + j]``
    for ``i < rows``, ``j < cols``, with tiles of `nv` vectors (see the
    module docstring for the room the arrays need); the rows past the
    last whole tile with the tile that suits them best."""
    tile_rows = _geometry(nv)[0]
    full = rows // tile_rows * tile_rows
    _tiles(out, ldo, src, aoff, boff, steps, m, ldm, 0, full, cols,
           accumulate, nv)
    if rows > full:
        lanes = VECTOR_BYTES // out.itemsize
        rest = _remainder_vectors(rows - full, cols, lanes)[0]
        _tiles(out, ldo, src, aoff, boff, steps, m, ldm, full, rows, cols,
               accumulate, rest)
