"""Pooling kernels compiled once per machine, with the window at run time.

The generated kernels of :mod:`lasagne.ops._pool_numba` take the window,
stride and padding as constants: the fastest loops, but each geometry is
a Numba compilation of its own (1-2 s, parallel), paid again in every new
compile cache. The two kernels here take them as arguments, so they are
compiled once per machine and dtype (``python -m lasagne.precompile``, or
the first pooling on the machine) and cached beside this file.
``Pool.perform`` and ``PoolGrad.perform`` call them for one- and
two-dimensional pooling of float arrays; the node linker and the C VM run
those nodes from Python.

The numbers are those of the generated kernels: the same first maximum of
each window, the same float64 sums and divisors for the averages. Windows
of 2 by 2 without padding (most networks' pooling) have a loop of their
own with the window unrolled.
"""
import numba
import numpy as np
from numba import prange
from pytensor.link.numba.dispatch.basic import numba_njit

from ._parallel import start_parallel_runtime
from .contiguous import kernel_array

__all__ = ["supports", "pool_forward", "pool_grad"]

#: Mode codes of the kernels.
_MODES = {"max": 0, "average_exc_pad": 1, "average_inc_pad": 2}
_MAX, _EXC, _INC = 0, 1, 2

#: The dtypes the kernels are compiled for.
KERNEL_DTYPES = ("float32", "float64")


def _forward(x, out, kh, kw, sh, sw, ph, pw, mode, full):
    """Pool every (H, W) plane of ``x`` (L, H, W) into ``out``
    (L, OH, OW). ``full``: no window leaves the input."""
    n, h, w = x.shape
    oh, ow = out.shape[1], out.shape[2]
    pair = full and kh == 2 and kw == 2 and sh == 2 and sw == 2
    for i in prange(n):
        if pair and mode == _MAX:
            for a in range(oh):
                r = 2 * a
                for b in range(ow):
                    c = 2 * b
                    best = x[i, r, c]
                    v = x[i, r, c + 1]
                    best = v if v > best else best
                    v = x[i, r + 1, c]
                    best = v if v > best else best
                    v = x[i, r + 1, c + 1]
                    best = v if v > best else best
                    out[i, a, b] = best
            continue
        for a in range(oh):
            lo0 = max(a * sh - ph, 0)
            hi0 = min(a * sh + kh - ph, h)
            for b in range(ow):
                lo1 = max(b * sw - pw, 0)
                hi1 = min(b * sw + kw - pw, w)
                if mode == _MAX:
                    best = x[i, lo0, lo1]
                    for d0 in range(lo0, hi0):
                        for d1 in range(lo1, hi1):
                            v = x[i, d0, d1]
                            best = v if v > best else best
                    out[i, a, b] = best
                else:
                    total = 0.0
                    for d0 in range(lo0, hi0):
                        for d1 in range(lo1, hi1):
                            total += x[i, d0, d1]
                    if mode == _INC:
                        count = ((min(a * sh + kh, h + 2 * ph) - a * sh)
                                 * (min(b * sw + kw, w + 2 * pw) - b * sw))
                    else:
                        count = (hi0 - lo0) * (hi1 - lo1)
                    out[i, a, b] = total / count


def _backward(x, gz, gx, kh, kw, sh, sw, ph, pw, mode, full):
    """Gradient of :func:`_forward` with respect to ``x``, into ``gx``
    (any contents on entry): a max window's gradient goes to its first
    maximum, an average's is shared by the elements it counts."""
    n, h, w = x.shape
    oh, ow = gz.shape[1], gz.shape[2]
    pair = full and kh == 2 and kw == 2 and sh == 2 and sw == 2
    for i in prange(n):
        if pair and mode == _MAX:
            # The windows tile the input: each element is written once
            # (the gradient or 0), then the rows and columns past the
            # last window are zeroed.
            for a in range(oh):
                r = 2 * a
                for b in range(ow):
                    c = 2 * b
                    best = x[i, r, c]
                    k = 0
                    v = x[i, r, c + 1]
                    take = v > best
                    best = v if take else best
                    k = 1 if take else k
                    v = x[i, r + 1, c]
                    take = v > best
                    best = v if take else best
                    k = 2 if take else k
                    v = x[i, r + 1, c + 1]
                    k = 3 if v > best else k
                    g = gz[i, a, b]
                    gx[i, r, c] = g if k == 0 else 0
                    gx[i, r, c + 1] = g if k == 1 else 0
                    gx[i, r + 1, c] = g if k == 2 else 0
                    gx[i, r + 1, c + 1] = g if k == 3 else 0
                for c in range(2 * ow, w):
                    gx[i, r, c] = 0
                    gx[i, r + 1, c] = 0
            for r in range(2 * oh, h):
                for c in range(w):
                    gx[i, r, c] = 0
            continue
        gx[i] = 0
        for a in range(oh):
            lo0 = max(a * sh - ph, 0)
            hi0 = min(a * sh + kh - ph, h)
            for b in range(ow):
                lo1 = max(b * sw - pw, 0)
                hi1 = min(b * sw + kw - pw, w)
                if mode == _MAX:
                    best = x[i, lo0, lo1]
                    br, bc = lo0, lo1
                    for d0 in range(lo0, hi0):
                        for d1 in range(lo1, hi1):
                            v = x[i, d0, d1]
                            take = v > best
                            best = v if take else best
                            br = d0 if take else br
                            bc = d1 if take else bc
                    gx[i, br, bc] += gz[i, a, b]
                else:
                    if mode == _INC:
                        count = ((min(a * sh + kh, h + 2 * ph) - a * sh)
                                 * (min(b * sw + kw, w + 2 * pw) - b * sw))
                    else:
                        count = (hi0 - lo0) * (hi1 - lo1)
                    share = gz[i, a, b] / count
                    for d0 in range(lo0, hi0):
                        for d1 in range(lo1, hi1):
                            gx[i, d0, d1] += share


_MACHINE = {}


def _kernels():
    """(forward, backward), compiled once per machine and dtype (Numba's
    cache beside this file), with PyTensor's fast-math options, as the
    generated kernels."""
    if not _MACHINE:
        start_parallel_runtime()
        _MACHINE["kernels"] = tuple(
            numba_njit(fn, parallel=True, cache=True, final_function=True,
                       boundscheck=False)
            for fn in (_forward, _backward))
    return _MACHINE["kernels"]


def supports(op, node):
    """Whether the kernels run `node` (of a pooling Op): one or two pooled
    axes of a float32 or float64 input."""
    return (op.nd <= 2 and all(v.dtype in KERNEL_DTYPES
                               for v in node.inputs))


def _planes(a, nd):
    """`a` as a C-contiguous (L, H, W) array: the leading axes flattened,
    a length-1 H for one pooled axis."""
    a = kernel_array(a)
    spatial = a.shape[a.ndim - nd:]
    lead = int(np.prod(a.shape[:a.ndim - nd], dtype=np.int64))
    return a.reshape((lead,) + (1,) * (2 - nd) + spatial)


def _geometry(op):
    """Window, stride and padding as (H, W) pairs, and the kernel flags."""
    fill = (1,) * (2 - op.nd)
    ws, stride = fill + op.ws, fill + op.stride
    pad = (0,) * (2 - op.nd) + op.pad
    full = op.ignore_border and not any(op.pad)
    return (*ws, *stride, *pad, _MODES[op.mode], full)


def pool_forward(op, x, out_spatial):
    """``Pool`` of `x` for the output's spatial shape `out_spatial`."""
    forward, _ = _kernels()
    planes = _planes(x, op.nd)
    out = np.empty((planes.shape[0],) + (1,) * (2 - op.nd)
                   + tuple(out_spatial), dtype=x.dtype)
    forward(planes, out, *_geometry(op))
    return out.reshape(x.shape[:x.ndim - op.nd] + tuple(out_spatial))


def pool_grad(op, x, gz):
    """``PoolGrad`` of `x` and `gz`: the input-shaped gradient."""
    _, backward = _kernels()
    planes = _planes(x, op.nd)
    gx = np.empty(planes.shape, dtype=gz.dtype)
    backward(planes, _planes(gz, op.nd), gx, *_geometry(op))
    return gx.reshape(x.shape)
