"""Numba kernels of the pooling Ops.

Each kernel is generated as Python source for the exact rank of its input
and the Op's window, stride and padding (compile-time constants), then
jitted: one flat loop nest per Op, with no helper calls, reshapes or
allocations beyond the output. This keeps Numba's compile time low and lets
LLVM unroll the window loops. With :data:`PARALLEL` set, the outermost loop
is a ``prange``.
"""
import numpy as np
from numba import prange
from pytensor.link.numba.cache import compile_numba_function_src
from pytensor.link.numba.dispatch.basic import (
    numba_njit, register_funcify_default_op_cache_key)

from ._cache import KERNEL_SALT
from ._parallel import prange_only, start_parallel_runtime

from lasagne.ops.pool import MaxPoolGradGrad, Pool, PoolGrad

# Bumped whenever the generated code changes, to invalidate Numba's cache.
_KERNEL_VERSION = 5

#: Whether the outermost (batch) loop is a ``prange``. On by default since
#: OpenBLAS's idle threads no longer spin (:mod:`lasagne._blas_timeout`):
#: the MNIST CNN step went from 95 to 86-91 ms on the 2-core machine. The
#: parallel kernels compile slower, even with only the ``prange`` parallel
#: (:func:`._parallel.prange_only`): 8.2 s against 4.9 s for two poolings
#: and their gradient; set it to False before compiling to trade that back.
PARALLEL = True


class _Source:
    """A tiny indented-source builder."""

    def __init__(self):
        self.lines, self.depth = [], 0

    def __call__(self, line):
        self.lines.append("    " * self.depth + line)

    def open(self, line):
        self(line)
        self.depth += 1

    def text(self):
        return "\n".join(self.lines) + "\n"


def _geometry(op, ndim):
    """Names used by the generated code, plus the shape unpacking header."""
    nd, nlead = op.nd, ndim - op.nd
    lead = [f"i{j}" for j in range(nlead)]
    return nd, nlead, lead


def _header(src, op, ndim, name, args):
    nd, nlead, _ = _geometry(op, ndim)
    src.open(f"def {name}({', '.join(args)}):")
    dims = ", ".join(f"n{j}" for j in range(ndim))
    src(f"{dims}{',' if ndim == 1 else ''} = {args[0]}.shape")
    for j in range(nd):
        n, k, s, p = f"n{nlead + j}", op.ws[j], op.stride[j], op.pad[j]
        if op.ignore_border:
            src(f"o{j} = max(({n} + {2 * p - k}) // {s} + 1, 0)")
        elif s >= k:
            src(f"o{j} = ({n} - 1) // {s} + 1")
        else:
            src(f"o{j} = max(0, ({n} - {k - s + 1}) // {s}) + 1")


def _loops(src, op, ndim, exact):
    """Open the leading loops and the output-position loops; define the
    window bounds lo{j}:hi{j} (clipped to the input)."""
    nd, nlead, lead = _geometry(op, ndim)
    for j, i in enumerate(lead):
        loop = "prange" if j == 0 and PARALLEL else "range"
        src.open(f"for {i} in {loop}(n{j}):")
    for j in range(nd):
        k, s, p = op.ws[j], op.stride[j], op.pad[j]
        src.open(f"for a{j} in range(o{j}):")
        if exact:
            # Every window lies inside the input: constant trip counts.
            src(f"lo{j} = a{j} * {s}")
            src(f"hi{j} = lo{j} + {k}")
        else:
            src(f"lo{j} = max(a{j} * {s} - {p}, 0)")
            src(f"hi{j} = min(a{j} * {s} + {k - p}, n{nlead + j})")


def _window(src, nd):
    """Open the loops over one window's elements d0, d1, ..."""
    for j in range(nd):
        src.open(f"for d{j} in range(lo{j}, hi{j}):")


def _argmax(src, nd, lead, x, positions):
    """Leave in `bk` the window-order index of the window's first maximum
    and, with `positions`, its coordinates in b0, b1..."""
    at = ", ".join(lead + [f"lo{j}" for j in range(nd)])
    src(f"best = {x}[{at}]")
    src("bk = 0")
    src("k = 0")
    for j in range(nd * positions):
        src(f"b{j} = lo{j}")
    depth = src.depth
    _window(src, nd)
    src(f"v = {x}[{', '.join(lead + [f'd{j}' for j in range(nd)])}]")
    # Conditional moves, not branches: the comparison is unpredictable.
    src("take = v > best")
    src("best = v if take else best")
    src("bk = k if take else bk")
    for j in range(nd * positions):
        src(f"b{j} = d{j} if take else b{j}")
    src("k += 1")
    src.depth = depth


def _divisor(src, op, ndim):
    nd, nlead, _ = _geometry(op, ndim)
    if op.mode == "average_inc_pad":
        # The window clipped to the padded input, not to the input.
        terms = [f"(min(a{j} * {op.stride[j]} + {op.ws[j]}, "
                 f"n{nlead + j} + {2 * op.pad[j]}) - a{j} * {op.stride[j]})"
                 for j in range(nd)]
    else:
        terms = [f"(hi{j} - lo{j})" for j in range(nd)]
    src(f"count = {' * '.join(terms)}")


def _exact(op):
    """Windows never leave the input: no padding, no partial windows."""
    return op.ignore_border and not any(op.pad)


def _tiled(op):
    """The windows tile the input from its start, without gaps or overlap:
    every input element before the last window's end is in one window."""
    return _exact(op) and tuple(op.stride) == tuple(op.ws)


def _zero_remainder(src, op, ndim):
    """Zero ``gx`` past the last window along each spatial axis: for axis
    j, the slab at or beyond ``o{j} * stride`` within the windows' extent
    along the axes before j and the whole extent of the axes after it."""
    nd, nlead, lead = _geometry(op, ndim)
    top = src.depth
    at = ", ".join(lead + [f"d{j}" for j in range(nd)])
    for j in range(nd):
        for i, name in enumerate(lead):
            src.open(f"for {name} in range(n{i}):")
        for m in range(nd):
            end = f"n{nlead + m}"
            if m < j:
                src.open(f"for d{m} in range(o{m} * {op.stride[m]}):")
            elif m == j:
                src.open(f"for d{m} in range(o{m} * {op.stride[m]}, {end}):")
            else:
                src.open(f"for d{m} in range({end}):")
        src(f"gx[{at}] = 0")
        src.depth = top


def _cache_salt():
    """Integer mixed into Numba's cache key: kernel version and PARALLEL."""
    return 2 * (_KERNEL_VERSION + KERNEL_SALT) + bool(PARALLEL)


def _compile(src, name):
    if PARALLEL:
        start_parallel_runtime()
    fn = compile_numba_function_src(
        src.text(), name, global_env={"np": np, "prange": prange})
    return numba_njit(fn, parallel=prange_only() if PARALLEL else False)


@register_funcify_default_op_cache_key(Pool)
def numba_funcify_Pool(op, node, **kwargs):
    ndim = node.inputs[0].ndim
    nd, nlead, lead = _geometry(op, ndim)
    src = _Source()
    _header(src, op, ndim, "pool", ["x"])
    out_shape = [f"n{j}" for j in range(nlead)] + [f"o{j}" for j in range(nd)]
    src(f"out = np.empty(({', '.join(out_shape)},), x.dtype)")
    top = src.depth
    _loops(src, op, ndim, _exact(op))
    out_at = ", ".join(lead + [f"a{j}" for j in range(nd)])
    x_at = ", ".join(lead + [f"d{j}" for j in range(nd)])
    inner = src.depth
    if op.mode == "max":
        src(f"best = x[{', '.join(lead + [f'lo{j}' for j in range(nd)])}]")
        _window(src, nd)
        src(f"v = x[{x_at}]")
        src.open("if v > best:")
        src("best = v")
        src.depth = inner
        src(f"out[{out_at}] = best")
    else:
        src("total = 0.0")
        _window(src, nd)
        src(f"total += x[{x_at}]")
        src.depth = inner
        _divisor(src, op, ndim)
        src(f"out[{out_at}] = total / count")
    src.depth = top
    src("return out")
    return _compile(src, "pool"), _cache_salt()


@register_funcify_default_op_cache_key(PoolGrad)
def numba_funcify_PoolGrad(op, node, **kwargs):
    ndim = node.inputs[0].ndim
    nd, nlead, lead = _geometry(op, ndim)
    src = _Source()
    _header(src, op, ndim, "pool_grad", ["x", "gz"])
    tiled = _tiled(op)
    # Tiling windows write every element they cover; only the remainder
    # past the last window needs zeros (saves a pass over the input).
    src(f"gx = np.{'empty' if tiled else 'zeros'}(x.shape, gz.dtype)")
    top = src.depth
    _loops(src, op, ndim, _exact(op))
    out_at = ", ".join(lead + [f"a{j}" for j in range(nd)])
    # Windows that do not overlap are written, not accumulated: no
    # read-modify-write, and the loop stores every element of the window.
    update = "=" if all(s >= k for s, k in zip(op.stride, op.ws)) else "+="
    gx_at = ", ".join(lead + [f"d{j}" for j in range(nd)])
    if op.mode == "max":
        _argmax(src, nd, lead, "x", positions=False)
        src(f"g = gz[{out_at}]")
        src("k = 0")
        _window(src, nd)
        src(f"gx[{gx_at}] {update} g if k == bk else 0")
        src("k += 1")
    else:
        _divisor(src, op, ndim)
        src(f"share = gz[{out_at}] / count")
        _window(src, nd)
        src(f"gx[{gx_at}] {update} share")
    src.depth = top
    if tiled:
        _zero_remainder(src, op, ndim)
    src("return gx")
    return _compile(src, "pool_grad"), _cache_salt()


@register_funcify_default_op_cache_key(MaxPoolGradGrad)
def numba_funcify_MaxPoolGradGrad(op, node, **kwargs):
    ndim = node.inputs[0].ndim
    nd, nlead, lead = _geometry(op, ndim)
    src = _Source()
    _header(src, op, ndim, "pool_gather", ["x", "g"])
    out_shape = [f"n{j}" for j in range(nlead)] + [f"o{j}" for j in range(nd)]
    src(f"out = np.empty(({', '.join(out_shape)},), g.dtype)")
    top = src.depth
    _loops(src, op, ndim, _exact(op))
    _argmax(src, nd, lead, "x", positions=True)
    src(f"out[{', '.join(lead + [f'a{j}' for j in range(nd)])}] = "
        f"g[{', '.join(lead + [f'b{j}' for j in range(nd)])}]")
    src.depth = top
    src("return out")
    return _compile(src, "pool_gather"), _cache_salt()
