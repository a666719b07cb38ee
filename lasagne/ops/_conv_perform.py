"""The conv Ops' ``perform`` (the C VM's and the Python VM's path) on the
compiled Numba kernels.

PyTensor's C VM (``mode="FAST_RUN"`` with the C linker, ``"CVM"``) and the
Python VM run an Op without C code through its ``perform``. A numpy
``perform`` there ran our convolutions 3-10 times slower than the Numba
backend. These functions call the same kernels as the Numba backend
(:mod:`lasagne.ops._conv_numba`), through three small jitted wrappers that
take every parameter at run time: each is compiled once per dtype and
machine (``cache=True``) and called from Python, so no Op or graph compiles
anything of its own.

The numpy functions of :mod:`lasagne.ops.conv` stay the reference; they
still serve dtypes the kernels are not compiled for.
"""
import numba
import numpy as np

from . import _conv_numba as kernels
from ._cache import KERNEL_SALT
from .contiguous import KERNEL_DTYPES, kernel_array
from ._parallel import start_parallel_runtime

__all__ = ["KERNEL_DTYPES", "forward", "grad_filters", "grad_input"]

_JIT = dict(cache=True, nogil=True, boundscheck=False)


def _wrappers(salt):
    """The three wrappers. Each keeps `salt` (a hash of this package's
    sources) in its closure, which Numba's cache key includes: the cached
    wrappers call the kernels by symbol and must be compiled again when the
    kernels' arguments change, though this file has not."""

    @numba.njit(**_JIT)
    def forward(x, w, stride, dil, pad, pad_after, groups, flip):
        _ = salt
        return kernels._call_forward(x, w, stride, dil, pad, pad_after,
                                     groups, flip)

    @numba.njit(**_JIT)
    def grad_input(w, gy, shape, stride, dil, pad, groups, flip):
        _ = salt
        return kernels._call_grad_input(w, gy, shape, stride, dil, pad,
                                        groups, flip)

    @numba.njit(**_JIT)
    def grad_filters(x, gy, shape, stride, dil, pad, groups, flip, bias):
        _ = salt
        return kernels._call_grad_filters(x, gy, shape, stride, dil, pad,
                                          groups, flip, bias)

    return forward, grad_input, grad_filters


_forward, _grad_input, _grad_filters = _wrappers(KERNEL_SALT)


def _lift(a):
    """``(B, C, *spatial)`` as a C-contiguous ``(B, C, D, H, W)``."""
    a = kernel_array(a)
    return a.reshape(a.shape[:2] + (1,) * (5 - a.ndim) + a.shape[2:])


def _triple(values, fill):
    return tuple(np.int64(v) for v in (fill,) * (3 - len(values))
                 + tuple(values))


def _ready(exported, dtype):
    """Launch the threading layer and register the kernel's symbol (and
    its driver's), which the wrappers, loaded from Numba's cache in a new
    process, call by name."""
    start_parallel_runtime()
    exported.register(dtype)


def forward(op, x, w):
    """``Conv`` of ``x`` and ``w`` (same dtype, one of KERNEL_DTYPES)."""
    _ready(kernels._FORWARD, x.dtype)
    y = _forward(_lift(x), _lift(w), _triple(op.stride, 1),
                 _triple(op.dilation, 1), _triple(op.pad_before, 0),
                 _triple(op.pad_after, 0), np.int64(op.groups),
                 np.bool_(op.filter_flip))
    return y.reshape(y.shape[:2] + y.shape[5 - op.nd:])


def grad_input(op, w, gy, in_shape):
    """``ConvGradInput`` of ``w`` and ``gy`` for the input's spatial
    shape `in_shape`."""
    _ready(kernels._GRAD_INPUT, gy.dtype)
    dx = _grad_input(_lift(w), _lift(gy), _triple(in_shape, 1),
                     _triple(op.stride, 1), _triple(op.dilation, 1),
                     _triple(op.pad_before, 0), np.int64(op.groups),
                     np.bool_(op.filter_flip))
    return dx.reshape(dx.shape[:2] + dx.shape[5 - op.nd:])


def grad_filters(op, x, gy, kernel_shape, bias=False):
    """``ConvGradFilters`` of ``x`` and ``gy`` for filters of spatial shape
    `kernel_shape`; with `bias`, ``(dw, gy summed per channel)``."""
    _ready(kernels._GRAD_FILTERS, x.dtype)
    dw, db = _grad_filters(_lift(x), _lift(gy), _triple(kernel_shape, 1),
                           _triple(op.stride, 1), _triple(op.dilation, 1),
                           _triple(op.pad_before, 0), np.int64(op.groups),
                           np.bool_(op.filter_flip), np.bool_(bias))
    dw = dw.reshape(dw.shape[:2] + dw.shape[5 - op.nd:])
    return (dw, db) if bias else dw
