"""Pooling kernels compiled once per machine, with the window at run time.

The generated kernels of :mod:`lasagne.ops._pool_numba` take the window,
stride and padding as constants: the fastest loops, but each geometry is
a Numba compilation of its own (1-2 s, parallel), paid again in every new
compile cache. The two kernels here take them as arguments, so they are
compiled once per machine and dtype (``python -m lasagne.precompile``, or
the first pooling on the machine) and cached beside this file.
``Pool.perform`` and ``PoolGrad.perform`` call them for pooling over one
to three axes of float arrays; the node linker and the C VM run those
nodes from Python.

The numbers are those of the generated kernels: the same first maximum of
each window, the same float64 sums and divisors for the averages. Max
pooling over 2 by 2 windows with stride 2 and no padding (most networks'
pooling) has a loop of its own with the window unrolled.
"""
import numba
import numpy as np
from numba import prange, types
from pytensor.link.numba.dispatch.basic import numba_njit

from ._exported import Exported
from ._parallel import prange_only, start_parallel_runtime
from .contiguous import KERNEL_DTYPES, kernel_array

__all__ = ["supports", "pool_forward", "pool_grad"]

#: Mode codes of the kernels.
_MODES = {"max": 0, "average_exc_pad": 1, "average_inc_pad": 2}
_MAX, _EXC, _INC = 0, 1, 2


@numba_njit(cache=True, boundscheck=False)
def _forward_volume(i, x, out, kd, kh, kw, sd, sh, sw, pd, ph, pw, mode,
                    full):
    """Volume `i` of :func:`_forward`: the parallel loop's body, compiled
    on its own and called by symbol (:data:`_LANES`)."""
    n, d, h, w = x.shape
    od, oh, ow = out.shape[1], out.shape[2], out.shape[3]
    pair = (full and kd == 1 and kh == 2 and kw == 2 and sh == 2
            and sw == 2)
    if pair and mode == _MAX:
        for z in range(od):
            q = z * sd
            for a in range(oh):
                r = 2 * a
                for b in range(ow):
                    c = 2 * b
                    best = x[i, q, r, c]
                    v = x[i, q, r, c + 1]
                    best = v if v > best else best
                    v = x[i, q, r + 1, c]
                    best = v if v > best else best
                    v = x[i, q, r + 1, c + 1]
                    best = v if v > best else best
                    out[i, z, a, b] = best
        return
    for z in range(od):
        lo0, hi0 = _span(z, sd, kd, pd, d)
        for a in range(oh):
            lo1, hi1 = _span(a, sh, kh, ph, h)
            for b in range(ow):
                lo2, hi2 = _span(b, sw, kw, pw, w)
                if mode == _MAX:
                    best = x[i, lo0, lo1, lo2]
                    for e0 in range(lo0, hi0):
                        for e1 in range(lo1, hi1):
                            for e2 in range(lo2, hi2):
                                v = x[i, e0, e1, e2]
                                best = v if v > best else best
                    out[i, z, a, b] = best
                else:
                    total = 0.0
                    for e0 in range(lo0, hi0):
                        for e1 in range(lo1, hi1):
                            for e2 in range(lo2, hi2):
                                total += x[i, e0, e1, e2]
                    count = _count(mode, z, a, b, d, h, w, kd, kh, kw,
                                   sd, sh, sw, pd, ph, pw, hi0 - lo0,
                                   hi1 - lo1, hi2 - lo2)
                    out[i, z, a, b] = total / count


def _forward(x, out, kd, kh, kw, sd, sh, sw, pd, ph, pw, mode, full):
    """Pool every (D, H, W) volume of ``x`` (L, D, H, W) into ``out``
    (L, OD, OH, OW). ``full``: no window leaves the input."""
    geometry = (np.int64(kd), np.int64(kh), np.int64(kw), np.int64(sd),
                np.int64(sh), np.int64(sw), np.int64(pd), np.int64(ph),
                np.int64(pw), np.int64(mode), bool(full))
    for i in prange(x.shape[0]):
        _call_forward_volume(np.int64(i), x, out, *geometry)


@numba_njit(inline="always")
def _span(j, s, k, p, n):
    """Bounds (lo, hi) of window `j` along an axis of length `n`, clipped
    to the input."""
    return max(j * s - p, 0), min(j * s + k - p, n)


@numba_njit(inline="always")
def _count(mode, z, a, b, d, h, w, kd, kh, kw, sd, sh, sw, pd, ph, pw,
           n0, n1, n2):
    """An average's divisor: the window's `n0 * n1 * n2` elements inside
    the input, or for ``average_inc_pad`` the window clipped to the padded
    input."""
    if mode == _INC:
        return ((min(z * sd + kd, d + 2 * pd) - z * sd)
                * (min(a * sh + kh, h + 2 * ph) - a * sh)
                * (min(b * sw + kw, w + 2 * pw) - b * sw))
    return n0 * n1 * n2


@numba_njit(cache=True, boundscheck=False)
def _backward_volume(i, x, gz, gx, kd, kh, kw, sd, sh, sw, pd, ph, pw,
                     mode, full):
    """Volume `i` of :func:`_backward`: the parallel loop's body, compiled
    on its own and called by symbol (:data:`_LANES`)."""
    n, d, h, w = x.shape
    od, oh, ow = gz.shape[1], gz.shape[2], gz.shape[3]
    pair = (full and kd == 1 and kh == 2 and kw == 2 and sd == 1
            and sh == 2 and sw == 2)
    if pair and mode == _MAX:
        # The windows tile each plane: every element is written once
        # (the gradient or 0), then the rows and columns past the
        # last window are zeroed.
        for q in range(d):
            for a in range(oh):
                r = 2 * a
                for b in range(ow):
                    c = 2 * b
                    best = x[i, q, r, c]
                    k = 0
                    v = x[i, q, r, c + 1]
                    take = v > best
                    best = v if take else best
                    k = 1 if take else k
                    v = x[i, q, r + 1, c]
                    take = v > best
                    best = v if take else best
                    k = 2 if take else k
                    v = x[i, q, r + 1, c + 1]
                    k = 3 if v > best else k
                    g = gz[i, q, a, b]
                    gx[i, q, r, c] = g if k == 0 else 0
                    gx[i, q, r, c + 1] = g if k == 1 else 0
                    gx[i, q, r + 1, c] = g if k == 2 else 0
                    gx[i, q, r + 1, c + 1] = g if k == 3 else 0
                for c in range(2 * ow, w):
                    gx[i, q, r, c] = 0
                    gx[i, q, r + 1, c] = 0
            for r in range(2 * oh, h):
                for c in range(w):
                    gx[i, q, r, c] = 0
        return
    gx[i] = 0
    for z in range(od):
        lo0, hi0 = _span(z, sd, kd, pd, d)
        for a in range(oh):
            lo1, hi1 = _span(a, sh, kh, ph, h)
            for b in range(ow):
                lo2, hi2 = _span(b, sw, kw, pw, w)
                if mode == _MAX:
                    best = x[i, lo0, lo1, lo2]
                    b0, b1, b2 = lo0, lo1, lo2
                    for e0 in range(lo0, hi0):
                        for e1 in range(lo1, hi1):
                            for e2 in range(lo2, hi2):
                                v = x[i, e0, e1, e2]
                                take = v > best
                                best = v if take else best
                                b0 = e0 if take else b0
                                b1 = e1 if take else b1
                                b2 = e2 if take else b2
                    gx[i, b0, b1, b2] += gz[i, z, a, b]
                else:
                    count = _count(mode, z, a, b, d, h, w, kd, kh, kw,
                                   sd, sh, sw, pd, ph, pw, hi0 - lo0,
                                   hi1 - lo1, hi2 - lo2)
                    share = gz[i, z, a, b] / count
                    for e0 in range(lo0, hi0):
                        for e1 in range(lo1, hi1):
                            for e2 in range(lo2, hi2):
                                gx[i, e0, e1, e2] += share


def _backward(x, gz, gx, kd, kh, kw, sd, sh, sw, pd, ph, pw, mode, full):
    """Gradient of :func:`_forward` with respect to ``x``, into ``gx``
    (any contents on entry): a max window's gradient goes to its first
    maximum, an average's is shared by the elements it counts."""
    geometry = (np.int64(kd), np.int64(kh), np.int64(kw), np.int64(sd),
                np.int64(sh), np.int64(sw), np.int64(pd), np.int64(ph),
                np.int64(pw), np.int64(mode), bool(full))
    for i in prange(x.shape[0]):
        _call_backward_volume(np.int64(i), x, gz, gx, *geometry)


def _volume_signature(n_arrays):
    """``signature(dtype)`` of a volume function with `n_arrays` arrays."""
    def signature(dtype):
        array = types.Array(numba.from_dtype(np.dtype(dtype)), 4, "C")
        return ((types.int64,) + (array,) * n_arrays + (types.int64,) * 10
                + (types.boolean,))
    return signature


# The parallel loops' bodies are compiled on their own, once per dtype,
# and called by symbol: outlined from a parallel loop, a body is analysed
# and optimised by Numba's parallel passes, which took twice as long as
# compiling it on its own.
_LANES = (Exported("pool_forward_volume", _forward_volume,
                   _volume_signature(2), dtype_arg=1),
          Exported("pool_backward_volume", _backward_volume,
                   _volume_signature(3), dtype_arg=1))
_call_forward_volume = _LANES[0].call
_call_backward_volume = _LANES[1].call

_MACHINE = {}


def _kernels():
    """(forward, backward), compiled once per machine and dtype (Numba's
    cache beside this file), with PyTensor's fast-math options, as the
    generated kernels."""
    if not _MACHINE:
        start_parallel_runtime()
        _MACHINE["kernels"] = tuple(
            numba_njit(fn, parallel=prange_only(), cache=True,
                       final_function=True, boundscheck=False)
            for fn in (_forward, _backward))
    return _MACHINE["kernels"]


def supports(op, node):
    """Whether the kernels run `node` (of a pooling Op): one to three
    pooled axes of float32 or float64 arrays."""
    return (op.nd <= 3 and all(v.dtype in KERNEL_DTYPES
                               for v in node.inputs))


def _volumes(a, nd):
    """`a` as a C-contiguous (L, D, H, W) array: the leading axes
    flattened, length-1 axes before fewer than three pooled ones."""
    a = kernel_array(a)
    spatial = a.shape[a.ndim - nd:]
    lead = int(np.prod(a.shape[:a.ndim - nd], dtype=np.int64))
    return a.reshape((lead,) + (1,) * (3 - nd) + spatial)


def _geometry(op):
    """Window, stride and padding over (D, H, W), and the kernel flags."""
    fill = (1,) * (3 - op.nd)
    ws, stride = fill + op.ws, fill + op.stride
    pad = (0,) * (3 - op.nd) + op.pad
    full = op.ignore_border and not any(op.pad)
    return (*ws, *stride, *pad, _MODES[op.mode], full)


def pool_forward(op, x, out_spatial):
    """``Pool`` of `x` for the output's spatial shape `out_spatial`."""
    forward, _ = _kernels()
    _LANES[0].register(x.dtype)
    volumes = _volumes(x, op.nd)
    out = np.empty((volumes.shape[0],) + (1,) * (3 - op.nd)
                   + tuple(out_spatial), dtype=x.dtype)
    forward(volumes, out, *_geometry(op))
    return out.reshape(x.shape[:x.ndim - op.nd] + tuple(out_spatial))


def pool_grad(op, x, gz):
    """``PoolGrad`` of `x` and `gz`: the input-shaped gradient, in `gz`'s
    dtype. The kernels take one dtype: with `x` and `gz` of two, both are
    taken in the wider (exactly)."""
    _, backward = _kernels()
    dtype = np.result_type(x.dtype, gz.dtype)
    _LANES[1].register(dtype)
    volumes = _volumes(x, op.nd).astype(dtype, copy=False)
    gx = np.empty(volumes.shape, dtype=dtype)
    backward(volumes, _volumes(gz, op.nd).astype(dtype, copy=False), gx,
             *_geometry(op))
    return gx.reshape(x.shape).astype(gz.dtype, copy=False)
