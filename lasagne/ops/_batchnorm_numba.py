"""Numba kernels of the batch-normalisation Ops.

The input is viewed as (batch, channels, positions). Training kernels run
one channel per thread (``prange``): a channel's statistics, then its
output, in passes over data that is still in cache; accumulators are
float64. The inference kernel runs one example per thread.
"""
import numpy as np
from numba import prange
from pytensor.link.numba.dispatch.basic import (
    numba_njit, register_funcify_default_op_cache_key)

from ._cache import KERNEL_SALT
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


def _compile(fn):
    start_parallel_runtime()
    return numba_njit(fn, parallel=prange_only())


_MACHINE = {}


def machine_kernels():
    """The three kernels as functions compiled once per machine (Numba's
    cache beside this file), for ``perform`` (:mod:`lasagne.linker` and the
    C VM call it from Python): (train, train_grad, inference)."""
    if not _MACHINE:
        start_parallel_runtime()
        # PyTensor's options (fast-math flags: the float64 sums vectorise)
        # with a Python entry point
        _MACHINE["kernels"] = tuple(
            numba_njit(fn, parallel=prange_only(), cache=True,
                       final_function=True)
            for fn in (_train, _train_grad, _inference))
    return _MACHINE["kernels"]


def _salt():
    return _KERNEL_VERSION + KERNEL_SALT


@register_funcify_default_op_cache_key(BatchNormTrain)
def numba_funcify_BatchNormTrain(op, node, **kwargs):
    kernel = _compile(_train)
    epsilon, rectify = op.epsilon, op.rectify

    def batch_norm_train(x, gamma, beta):
        return kernel(x, gamma, beta, epsilon, rectify)

    return numba_njit(batch_norm_train), _salt()


@register_funcify_default_op_cache_key(BatchNormTrainGrad)
def numba_funcify_BatchNormTrainGrad(op, node, **kwargs):
    kernel = _compile(_train_grad)
    if op.rectify:
        def batch_norm_train_grad(x, gy, gamma, mean, inv_std, y):
            return kernel(x, gy, gamma, mean, inv_std, y, True)
    else:
        def batch_norm_train_grad(x, gy, gamma, mean, inv_std):
            return kernel(x, gy, gamma, mean, inv_std, x, False)
    return numba_njit(batch_norm_train_grad), _salt()


@register_funcify_default_op_cache_key(BatchNormInference)
def numba_funcify_BatchNormInference(op, node, **kwargs):
    return _compile(_inference), _salt()
