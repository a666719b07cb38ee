"""Numba kernels of the batch-normalisation Ops.

The input is viewed as (batch, channels, positions). Training kernels run
one channel per thread (``prange``): a channel's statistics, then its
output, in passes over data that is still in cache; accumulators are
float64. The inference kernel runs one example per thread.
"""
import numba
import numpy as np
from numba import prange, types
from pytensor.link.numba.dispatch.basic import (
    numba_njit, register_funcify_default_op_cache_key)

from ._cache import KERNEL_SALT
from ._exported import Exported
from ._parallel import prange_only, start_parallel_runtime

from lasagne.ops.batchnorm import (BatchNormInference, BatchNormTrain,
                                   BatchNormTrainGrad)

# Bumped whenever the kernels change, to invalidate Numba's cache.
_KERNEL_VERSION = 1


@numba_njit
def _as3d(x):
    x = np.ascontiguousarray(x)
    return x.reshape((x.shape[0], x.shape[1], x.size // max(
        x.shape[0] * x.shape[1], 1)))


def _train(x, gamma, beta, epsilon, rectify):
    x3 = _as3d(x)
    n, c, s = x3.shape
    y3 = np.empty_like(x3)
    mean = np.empty(c, x.dtype)
    inv_std = np.empty(c, x.dtype)
    coef = np.empty((c, 2), x.dtype)  # per-channel scale and shift in x's dtype
    m = n * s
    for j in prange(c):
        total = 0.0
        for i in range(n):
            for k in range(s):
                total += x3[i, j, k]
        mu = total / m
        squares = 0.0
        for i in range(n):
            for k in range(s):
                d = x3[i, j, k] - mu
                squares += d * d
        istd = 1.0 / np.sqrt(squares / m + epsilon)
        coef[j, 0] = gamma[j] * istd
        coef[j, 1] = beta[j] - mu * gamma[j] * istd
        scale = coef[j, 0]
        shift = coef[j, 1]
        for i in range(n):
            for k in range(s):
                v = x3[i, j, k] * scale + shift
                y3[i, j, k] = max(v, 0) if rectify else v
        mean[j] = mu
        inv_std[j] = istd
    return y3.reshape(x.shape), mean, inv_std


def _train_grad(x, gy, gamma, mean, inv_std, y, rectify):
    """With `rectify`, gy counts only where y > 0 (else y is unused)."""
    x3 = _as3d(x)
    g3 = _as3d(gy)
    y3 = _as3d(y)
    n, c, s = x3.shape
    gx3 = np.empty_like(x3)
    g_gamma = np.empty(c, x.dtype)
    g_beta = np.empty(c, x.dtype)
    coef = np.empty((c, 3), x.dtype)  # per-channel a, b, d in x's dtype
    m = n * s
    for j in prange(c):
        mu = mean[j]
        sum_g = 0.0
        sum_gc = 0.0
        for i in range(n):
            for k in range(s):
                g = g3[i, j, k]
                if rectify and not y3[i, j, k] > 0:
                    g = 0
                sum_g += g
                sum_gc += g * (x3[i, j, k] - mu)
        istd = float(inv_std[j])
        g_gamma[j] = sum_gc * istd
        g_beta[j] = sum_g
        # gx = gamma istd (gy - sum_g/m - (x - mu) istd**2 sum_gc/m)
        a = gamma[j] * istd
        coef[j, 0] = a
        coef[j, 1] = -a * (sum_g - mu * istd * istd * sum_gc) / m
        coef[j, 2] = -a * istd * istd * sum_gc / m
        a = coef[j, 0]
        b = coef[j, 1]
        d = coef[j, 2]
        for i in range(n):
            for k in range(s):
                g = g3[i, j, k]
                if rectify and not y3[i, j, k] > 0:
                    g = 0
                gx3[i, j, k] = a * g + d * x3[i, j, k] + b
    return gx3.reshape(x.shape), g_gamma, g_beta


def _inference(x, gamma, beta, mean, inv_std):
    x3 = _as3d(x)
    n, c, s = x3.shape
    scale = np.empty(c, x.dtype)
    shift = np.empty(c, x.dtype)
    for j in range(c):
        a = gamma[j] * inv_std[j]
        scale[j] = a
        shift[j] = beta[j] - mean[j] * a
    y3 = np.empty_like(x3)
    for i in prange(n):
        for j in range(c):
            a = scale[j]
            b = shift[j]
            for k in range(s):
                y3[i, j, k] = x3[i, j, k] * a + b
    return y3.reshape(x.shape)


def _signature(*ranks):
    """``signature(dtype)`` of a kernel: C-contiguous arrays of `ranks` in
    the dtype; "eps" stands for the float64 epsilon, "flag" for a bool."""
    def signature(dtype):
        dt = numba.from_dtype(np.dtype(dtype))
        special = {"eps": types.float64, "flag": types.boolean}
        return tuple(special[r] if r in special else types.Array(dt, r, "C")
                     for r in ranks)
    return signature


# The kernels, with PyTensor's options (fast-math flags: the float64 sums
# vectorise) and a Python entry point, compiled once per machine and dtype
# (Numba's cache beside this file) for 3-d arrays. ``perform`` calls them
# from Python (:mod:`lasagne.linker` and the C VM); a Numba graph calls
# them by symbol (:mod:`._exported`), so that no graph links and optimises
# their code again.
_KERNELS = tuple(numba_njit(fn, parallel=prange_only(), cache=True,
                            final_function=True)
                 for fn in (_train, _train_grad, _inference))
_EXPORTED = (
    Exported("batch_norm_train", _KERNELS[0], _signature(3, 1, 1, "eps",
                                                         "flag")),
    Exported("batch_norm_train_grad", _KERNELS[1],
             _signature(3, 3, 1, 1, 1, 3, "flag")),
    Exported("batch_norm_inference", _KERNELS[2], _signature(3, 1, 1, 1, 1)),
)
_call_train, _call_train_grad, _call_inference = (e.call for e in _EXPORTED)


def machine_kernels():
    """The three kernels (train, train_grad, inference) for ``perform``:
    x, gy and y as C-contiguous (batch, channels, rest) arrays, the
    channel vectors C-contiguous, all of one dtype."""
    start_parallel_runtime()
    return _KERNELS


def _salt():
    return _KERNEL_VERSION + KERNEL_SALT


def _ready(node):
    """Launch the threading layer and register the kernels' symbols for
    `node`'s dtype, which a graph loaded from PyTensor's cache calls by
    name: PyTensor funcifies every node before it looks up that cache."""
    start_parallel_runtime()
    for exported in _EXPORTED:
        exported.register(node.inputs[0].type.dtype)


@numba_njit
def _c(a):
    return np.ascontiguousarray(a)


@register_funcify_default_op_cache_key(BatchNormTrain)
def numba_funcify_BatchNormTrain(op, node, **kwargs):
    _ready(node)
    epsilon, rectify = float(op.epsilon), bool(op.rectify)

    def batch_norm_train(x, gamma, beta):
        y, mean, inv_std = _call_train(_as3d(x), _c(gamma), _c(beta),
                                       epsilon, rectify)
        return y.reshape(x.shape), mean, inv_std

    return numba_njit(batch_norm_train), _salt()


@register_funcify_default_op_cache_key(BatchNormTrainGrad)
def numba_funcify_BatchNormTrainGrad(op, node, **kwargs):
    _ready(node)
    if op.rectify:
        def batch_norm_train_grad(x, gy, gamma, mean, inv_std, y):
            gx, g_gamma, g_beta = _call_train_grad(
                _as3d(x), _as3d(gy), _c(gamma), _c(mean), _c(inv_std),
                _as3d(y), True)
            return gx.reshape(x.shape), g_gamma, g_beta
    else:
        def batch_norm_train_grad(x, gy, gamma, mean, inv_std):
            x3 = _as3d(x)
            gx, g_gamma, g_beta = _call_train_grad(
                x3, _as3d(gy), _c(gamma), _c(mean), _c(inv_std), x3, False)
            return gx.reshape(x.shape), g_gamma, g_beta
    return numba_njit(batch_norm_train_grad), _salt()


@register_funcify_default_op_cache_key(BatchNormInference)
def numba_funcify_BatchNormInference(op, node, **kwargs):
    _ready(node)

    def batch_norm_inference(x, gamma, beta, mean, inv_std):
        return _call_inference(_as3d(x), _c(gamma), _c(beta), _c(mean),
                               _c(inv_std)).reshape(x.shape)

    return numba_njit(batch_norm_inference), _salt()
