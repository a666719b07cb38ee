"""Shorter Numba compiles: cheaper helpers for Numba's own lowering.

Numba lowers some NumPy operations by compiling helpers of its own into
the caller, kept in memory only, so that every process that compiles a
new function using them pays again. Three of them cost seconds, and
PyTensor's Numba code uses them in ordinary nodes: together most of a
small network's first compile on a new machine.

* ``array.transpose(axes)`` (PyTensor's reductions and ``DimShuffle``):
  the helper ``numba.np.arrayobj.permute_arrays`` checks the axes with a
  typed ``set`` and permutes shape and strides with fancy indexing, about
  3.5 s to compile on the reference machine. :func:`permute_arrays` does
  the same with plain loops (same results, same ``ValueError`` messages
  for a repeated or out-of-range axis) and compiles in 0.3 s.
* Assigning an array to a slice, ``a[...] = b`` (``Alloc``,
  ``IncSubtensor``, ``Join``): the error raised when the shapes differ is
  built by ``numba.np.arrayobj.raise_with_shape_context``, whose message
  formatting compiles Numba's string machinery, about 3.4 s.
  :func:`raise_with_shape_context` raises the same ``ValueError`` with
  the two shapes as further arguments instead of formatted into the
  message (0.2 s).
* ``np.argsort`` of an integer or boolean array (PyTensor's reductions
  sort an array's strides): Numba compiles its generic quicksort, about
  1 s more than :func:`argsort_stable`, an insertion and bottom-up merge
  sort, O(n log n), which returns the stable order (a valid result for
  the default ``kind="quicksort"``, whose order of ties NumPy leaves
  unspecified). Float arrays (NaN ordering) and the other kinds keep
  Numba's sorts.

:func:`install`, run when lasagne is imported, points Numba at these
(``LASAGNE_NUMBA_PATCHES=0`` in the environment leaves Numba as it is).
Numba looks each up by name each time it lowers such an operation, so
they serve every compile that follows; code compiled before is unchanged.
"""
import os

import numpy as np
from numba.core import types
from numba.core.extending import overload, register_jitable
from numba.np import arrayobj

__all__ = ["install", "permute_arrays", "raise_with_shape_context",
           "argsort_stable"]

_RUN = 16  # insertion-sorted run length of argsort_stable


def permute_arrays(axis, shape, strides):
    """``shape[:] = shape[axis]; strides[:] = strides[axis]`` in place
    (all three 1-d intp arrays of the array's ndim; ``axis`` is a scratch
    copy that may be changed), after Numba's checks of ``axis``."""
    n = shape.shape[0]
    for i in range(n):
        if axis[i] >= n or axis[i] < -n:
            raise ValueError("axis is out of bounds for array of given "
                             "dimension")
        if axis[i] < 0:
            axis[i] += n
    for i in range(n):
        for k in range(i):
            if axis[k] == axis[i]:
                raise ValueError("repeated axis in transpose")
    # Gather in place: the swap at step j moved the value then at j on to
    # position axis[j] (followed), so a source index below i is followed.
    for i in range(n):
        j = axis[i]
        while j < i:
            j = axis[j]
        shape[i], shape[j] = shape[j], shape[i]
        strides[i], strides[j] = strides[j], strides[i]


def raise_with_shape_context(src_shapes, index_shape):
    """Raise the ``ValueError`` of a slice assignment whose input (of
    shape ``src_shapes``) does not fit the slice (``index_shape``); for
    use in compiled code only."""
    raise NotImplementedError("compiled code only")


@overload(raise_with_shape_context)
def _raise_with_shape_context(src_shapes, index_shape):
    if (isinstance(src_shapes, types.UniTuple)
            and isinstance(index_shape, types.UniTuple)):
        def raise_shape_mismatch(src_shapes, index_shape):
            raise ValueError("cannot assign to a slice from an input of "
                             "another shape; slice shape, input shape:",
                             index_shape, src_shapes)
        return raise_shape_mismatch
    return None


@register_jitable
def argsort_stable(a):
    """Indices that sort the 1-d array ``a``, ties in their order: runs of
    ``_RUN`` by insertion, then bottom-up merges (O(n log n)), moving a
    copy of the keys with the indices so that the merges read memory in
    order (as fast as Numba's quicksort on a million integers)."""
    n = a.size
    keys = np.empty(n, a.dtype)
    order = np.arange(n)
    for i in range(n):
        keys[i] = a[i]
    for lo in range(0, n, _RUN):
        hi = min(lo + _RUN, n)
        for i in range(lo + 1, hi):
            v = keys[i]
            r = order[i]
            j = i - 1
            while j >= lo and v < keys[j]:
                keys[j + 1] = keys[j]
                order[j + 1] = order[j]
                j -= 1
            keys[j + 1] = v
            order[j + 1] = r
    if n <= _RUN:
        return order
    keys2, order2 = np.empty_like(keys), np.empty_like(order)
    width = _RUN
    while width < n:
        for lo in range(0, n, 2 * width):
            mid, hi = min(lo + width, n), min(lo + 2 * width, n)
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                if keys[j] < keys[i]:
                    keys2[k] = keys[j]
                    order2[k] = order[j]
                    j += 1
                else:
                    keys2[k] = keys[i]
                    order2[k] = order[i]
                    i += 1
                k += 1
            while i < mid:
                keys2[k] = keys[i]
                order2[k] = order[i]
                i += 1
                k += 1
            while j < hi:
                keys2[k] = keys[j]
                order2[k] = order[j]
                j += 1
                k += 1
        keys, keys2 = keys2, keys
        order, order2 = order2, order
        width *= 2
    return order


_numba_get_sort_func = getattr(arrayobj, "get_sort_func", None)


def _get_sort_func(kind, lt_impl, is_argsort=False):
    if (kind == "quicksort" and is_argsort
            and lt_impl is getattr(arrayobj, "default_lt", None)):
        return argsort_stable
    return _numba_get_sort_func(kind, lt_impl, is_argsort)


def install():
    """Use the helpers above for what Numba compiles from now on (each a
    no-op on a Numba without the helper it replaces; all skipped when the
    environment variable ``LASAGNE_NUMBA_PATCHES`` is ``0``)."""
    if os.environ.get("LASAGNE_NUMBA_PATCHES") == "0":
        return
    if hasattr(arrayobj, "permute_arrays"):
        arrayobj.permute_arrays = permute_arrays
    if hasattr(arrayobj, "raise_with_shape_context"):
        arrayobj.raise_with_shape_context = raise_with_shape_context
    if _numba_get_sort_func is not None and hasattr(arrayobj, "default_lt"):
        arrayobj.get_sort_func = _get_sort_func
