"""Shorter Numba compiles: a cheaper helper for Numba's own lowering.

Numba lowers ``array.transpose(axes)`` (which PyTensor's Numba code uses
for reductions and ``DimShuffle``) by compiling a helper of its own,
``numba.np.arrayobj.permute_arrays``, into the caller. That helper checks
the axes with a typed ``set`` and permutes shape and strides with fancy
indexing, which takes about 3.5 s to compile on the reference machine.
Numba keeps such helpers in memory only, so every process that compiles a
new function with a transpose pays again: most of a small network's first
compile on a new machine.

:func:`permute_arrays` does the same with plain loops (same results, same
``ValueError`` messages for a repeated or out-of-range axis) and compiles
in 0.3 s. :func:`install`, run when lasagne is imported, points Numba at
it; Numba looks the helper up by name each time it lowers a transpose, so
it serves every compile that follows, and code compiled before is
unchanged.
"""
from numba.np import arrayobj

__all__ = ["install", "permute_arrays"]


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


def install():
    """Use :func:`permute_arrays` for the transposes Numba compiles from
    now on (a no-op on a Numba without that helper)."""
    if hasattr(arrayobj, "permute_arrays"):
        arrayobj.permute_arrays = permute_arrays
