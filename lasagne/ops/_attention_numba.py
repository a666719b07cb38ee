"""Numba kernels of the attention Ops.

The kernels take the scale, the causal flag and the presence of a mask
and of dropout at run time. Funcified, they are linked into a node's or a
graph's function (PyTensor's Numba modes); compiled once per machine and
dtype (:func:`machine_kernels`), they run the Ops' ``perform``, which the
node linker and the C VM call from Python: no node compiles anything.

One (batch, head) pair per Numba thread (``prange``); inside, the matrix
products are ``np.dot`` on contiguous 2-d blocks (BLAS), with the calling
thread's BLAS thread count set to 1 so that the two thread pools do not
fight for the cores; masking and the softmax (and its gradient) are loops
over the rows of the scores while they are in cache, accumulated in
float64.
"""
import numba
import numpy as np
from numba import prange, types
from pytensor.link.numba.dispatch.basic import (
    numba_njit, register_funcify_default_op_cache_key)

from ._blas_threads import blas_threads_local
from ._cache import KERNEL_SALT
from ._exported import Exported
from ._parallel import prange_only, start_parallel_runtime
from .contiguous import KERNEL_DTYPES, kernel_array

from lasagne.ops.attention import Attention, AttentionGrad, masked_value

# Bumped whenever the kernels change, to invalidate Numba's cache.
_KERNEL_VERSION = 1


@numba_njit(inline="always")
def _times(a, b):
    """``a * b`` of two 2-d arrays of one shape, written as a loop: an
    array expression in a parallel loop's body needs Numba's parallel
    array passes (see :func:`._parallel.prange_only`)."""
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i, j] = a[i, j] * b[i, j]
    return out


def _forward(q, k, v, mask, has_mask, keep, has_keep, causal, scale,
             very_negative):
    q = np.ascontiguousarray(q)
    k = np.ascontiguousarray(k)
    v = np.ascontiguousarray(v)
    n_batch, n_heads, t_q, _ = q.shape
    t_k = k.shape[2]
    out = np.empty((n_batch, n_heads, t_q, v.shape[3]), q.dtype)
    weights = np.empty((n_batch, n_heads, t_q, t_k), q.dtype)
    shift = t_k - t_q
    for lane in prange(n_batch * n_heads):
        b = lane // n_heads
        h = lane % n_heads
        saved = blas_threads_local(1)
        w = weights[b, h]
        np.dot(q[b, h], k[b, h].T, w)
        for i in range(t_q):
            top = -np.inf
            for j in range(t_k):
                s = w[i, j] * scale
                if (has_mask and mask[b, j] == 0) or (causal and j > i + shift):
                    s = very_negative
                w[i, j] = s
                top = max(top, s)
            total = 0.0
            for j in range(t_k):
                e = np.exp(w[i, j] - top)
                w[i, j] = e
                total += e
            inv = 1.0 / total
            for j in range(t_k):
                w[i, j] = w[i, j] * inv
        if has_keep:
            np.dot(_times(w, keep[b, h]), v[b, h], out[b, h])
        else:
            np.dot(w, v[b, h], out[b, h])
        blas_threads_local(saved)
    return out, weights


def _backward(q, k, v, weights, g_out, mask, has_mask, keep, has_keep,
              causal, g_weights, has_g_weights, scale):
    q = np.ascontiguousarray(q)
    k = np.ascontiguousarray(k)
    v = np.ascontiguousarray(v)
    weights = np.ascontiguousarray(weights)
    g_out = np.ascontiguousarray(g_out)
    n_batch, n_heads, t_q, _ = q.shape
    t_k = k.shape[2]
    shift = t_k - t_q
    g_q = np.empty_like(q)
    g_k = np.empty_like(k)
    g_v = np.empty_like(v)
    for lane in prange(n_batch * n_heads):
        b = lane // n_heads
        h = lane % n_heads
        saved = blas_threads_local(1)
        p = weights[b, h]
        if has_keep:
            np.dot(_times(p, keep[b, h]).T, g_out[b, h], g_v[b, h])
        else:
            np.dot(p.T, g_out[b, h], g_v[b, h])
        g_s = np.empty((t_q, t_k), q.dtype)
        np.dot(g_out[b, h], v[b, h].T, g_s)
        for i in range(t_q):
            if has_keep:
                for j in range(t_k):
                    g_s[i, j] *= keep[b, h, i, j]
            if has_g_weights:
                for j in range(t_k):
                    g_s[i, j] += g_weights[b, h, i, j]
            dot = 0.0
            for j in range(t_k):
                dot += g_s[i, j] * p[i, j]
            for j in range(t_k):
                # masked scores are constants: no gradient
                if (has_mask and mask[b, j] == 0) or (causal and j > i + shift):
                    g_s[i, j] = 0
                else:
                    g_s[i, j] = p[i, j] * (g_s[i, j] - dot) * scale
        np.dot(g_s, k[b, h], g_q[b, h])
        np.dot(g_s.T, q[b, h], g_k[b, h])
        blas_threads_local(saved)
    return g_q, g_k, g_v


def _compile(fn):
    start_parallel_runtime()
    return numba_njit(fn, parallel=prange_only())


def _signature(backward):
    """``signature(dtype)`` of a kernel, as ``perform`` calls it: 4-d
    C-contiguous arrays of the dtype, the key mask as int8 (batch, T_k),
    Python flags and float64 scalars."""
    def signature(dtype):
        a = types.Array(numba.from_dtype(np.dtype(dtype)), 4, "C")
        mask, flag = types.Array(types.int8, 2, "C"), types.boolean
        if backward:
            return (a, a, a, a, a, mask, flag, a, flag, flag, a, flag,
                    types.float64)
        return (a, a, a, mask, flag, a, flag, flag, types.float64,
                types.float64)
    return signature


# The kernels, compiled once per machine and dtype (Numba's cache beside
# this file) with PyTensor's fast-math options and a Python entry point:
# ``perform`` calls them from Python, a Numba graph by symbol
# (:mod:`._exported`), so that no graph links and optimises them again.
_KERNELS = tuple(numba_njit(fn, parallel=prange_only(), cache=True,
                            final_function=True)
                 for fn in (_forward, _backward))
_EXPORTED = (Exported("attention_forward", _KERNELS[0], _signature(False)),
             Exported("attention_backward", _KERNELS[1], _signature(True)))


def _kernel(node, backward):
    """What a funcified node calls: the kernel by symbol (registered now,
    for a graph loaded from PyTensor's cache) for the dtypes it is
    compiled for, else the kernel linked in."""
    start_parallel_runtime()
    dtype = node.inputs[0].type.dtype
    if dtype in KERNEL_DTYPES:
        exported = _EXPORTED[backward]
        exported.register(dtype)
        return exported.call
    return _compile(_backward if backward else _forward)


@numba_njit
def _c(a):
    return np.ascontiguousarray(a)


@numba_njit
def _int8(mask):
    """A key mask of any dtype as the kernels' int8 (nonzero: attend)."""
    return (mask != 0).astype(np.int8)


def _salt():
    return _KERNEL_VERSION + KERNEL_SALT


def _no_mask():
    return np.ones((1, 1), np.int8)


def _no_keep(q):
    return np.ones((1, 1, 1, 1), q.dtype)


@register_funcify_default_op_cache_key(Attention)
def numba_funcify_Attention(op, node, **kwargs):
    kernel = _kernel(node, False)
    causal, scale = bool(op.causal), float(op.scale)
    masked, dropout = op.masked, op.dropout
    very_negative = float(masked_value(node.inputs[0].dtype))
    no_mask = numba_njit(_no_mask)
    no_keep = numba_njit(_no_keep)

    @numba_njit
    def run(q, k, v, mask, has_mask, keep, has_keep):
        return kernel(_c(q), _c(k), _c(v), _int8(mask), has_mask, _c(keep),
                      has_keep, causal, scale, very_negative)

    if masked and dropout:
        def attention(q, k, v, mask, keep):
            return run(q, k, v, mask, True, keep, True)
    elif masked:
        def attention(q, k, v, mask):
            return run(q, k, v, mask, True, no_keep(q), False)
    elif dropout:
        def attention(q, k, v, keep):
            return run(q, k, v, no_mask(), False, keep, True)
    else:
        def attention(q, k, v):
            return run(q, k, v, no_mask(), False, no_keep(q), False)
    return numba_njit(attention), _salt()


@register_funcify_default_op_cache_key(AttentionGrad)
def numba_funcify_AttentionGrad(op, node, **kwargs):
    kernel = _kernel(node, True)
    scale, causal = float(op.scale), bool(op.causal)
    masked, dropout, with_g = op.masked, op.dropout, op.with_weights_grad
    no_mask = numba_njit(_no_mask)

    @numba_njit
    def run(q, k, v, weights, g_out, mask, has_mask, keep, has_keep,
            g_weights, has_g_weights):
        return kernel(_c(q), _c(k), _c(v), _c(weights), _c(g_out),
                      _int8(mask), has_mask, _c(keep), has_keep, causal,
                      _c(g_weights), has_g_weights, scale)

    # inputs after g_out: key_mask if masked, keep if dropout, g_weights
    # if with_g; the kernel takes each with a flag (weights stand in for
    # an absent tensor: they are not read for it then)
    if masked and dropout and with_g:
        def attention_grad(q, k, v, weights, g_out, mask, keep, g_w):
            return run(q, k, v, weights, g_out, mask, True, keep, True,
                       g_w, True)
    elif masked and dropout:
        def attention_grad(q, k, v, weights, g_out, mask, keep):
            return run(q, k, v, weights, g_out, mask, True, keep, True,
                       weights, False)
    elif masked and with_g:
        def attention_grad(q, k, v, weights, g_out, mask, g_w):
            return run(q, k, v, weights, g_out, mask, True, weights, False,
                       g_w, True)
    elif masked:
        def attention_grad(q, k, v, weights, g_out, mask):
            return run(q, k, v, weights, g_out, mask, True, weights, False,
                       weights, False)
    elif dropout and with_g:
        def attention_grad(q, k, v, weights, g_out, keep, g_w):
            return run(q, k, v, weights, g_out, no_mask(), False, keep, True,
                       g_w, True)
    elif dropout:
        def attention_grad(q, k, v, weights, g_out, keep):
            return run(q, k, v, weights, g_out, no_mask(), False, keep, True,
                       weights, False)
    elif with_g:
        def attention_grad(q, k, v, weights, g_out, g_w):
            return run(q, k, v, weights, g_out, no_mask(), False, weights,
                       False, g_w, True)
    else:
        def attention_grad(q, k, v, weights, g_out):
            return run(q, k, v, weights, g_out, no_mask(), False, weights,
                       False, weights, False)
    return numba_njit(attention_grad), _salt()


def machine_kernels():
    """(forward, backward), compiled once per machine and dtype, for
    ``perform``."""
    start_parallel_runtime()
    return _KERNELS


def _mask_of(mask):
    """The key mask as the kernels' int8 (batch, T_k), or a stand-in."""
    if mask is None:
        return np.ones((1, 1), np.int8)
    return (np.asarray(mask) != 0).view(np.int8)


def _optional(x, like):
    """`x` ready for a kernel, or `like` standing in (not read then)."""
    return like if x is None else kernel_array(x)


def perform_forward(op, q, k, v, mask, keep):
    """``Attention``'s (out, weights) on the machine kernels."""
    forward, _ = machine_kernels()
    q, k, v = kernel_array(q), kernel_array(k), kernel_array(v)
    return forward(q, k, v, _mask_of(mask), mask is not None,
                   _optional(keep, q), keep is not None, op.causal,
                   op.scale, float(masked_value(q.dtype)))


def perform_backward(op, q, k, v, weights, g_out, mask, g_weights, keep):
    """``AttentionGrad``'s (g_q, g_k, g_v) on the machine kernels."""
    _, backward = machine_kernels()
    q, k, v = kernel_array(q), kernel_array(k), kernel_array(v)
    weights, g_out = kernel_array(weights), kernel_array(g_out)
    return backward(q, k, v, weights, g_out, _mask_of(mask),
                    mask is not None, _optional(keep, weights),
                    keep is not None, op.causal,
                    _optional(g_weights, weights), g_weights is not None,
                    op.scale)
