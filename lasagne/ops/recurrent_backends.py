"""Numba lowerings of the fused recurrence Ops: they call the kernels of
:mod:`lasagne.ops.recurrent_kernels` (the JAX lowerings, loaded when JAX is
first used, are in :mod:`lasagne.ops._recurrent_jax`).

Each lowering calls its kernel by symbol (:mod:`._exported`): each
kernel is compiled once per dtype and machine, and a graph compiles only
the small wrapper around the call instead of optimising the kernel again.
"""
import numba
import numpy as np
from numba import types
from pytensor.link.numba.dispatch.basic import (
    numba_njit, register_funcify_default_op_cache_key)

from ._cache import KERNEL_SALT
from ._exported import Exported
from ._parallel import start_parallel_runtime

from . import recurrent_kernels as kernels
from .recurrent import RecurrenceBackward, RecurrenceForward

__all__ = []


#: The rank of each array argument of the kernels, all of the Op's dtype;
#: every kernel then takes the activation codes (int64) and the options
#: (float64). Peepholes, input weights, bias and mask are passed as small
#: dummies where the Op has none, so the ranks never change.
_KERNEL_RANKS = {
    "lstm_forward": (3, 2, 1, 2, 2, 2, 2, 2),
    "lstm_backward": (3, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3),
    "gru_forward": (3, 2, 2, 2),
    "gru_backward": (2, 2, 2, 3, 3, 3),
    "rnn_forward": (3, 2, 2, 2),
    "rnn_backward": (2, 2, 2, 3, 3),
}


def _kernel_signature(ranks):
    def signature(dtype):
        dt = numba.from_dtype(np.dtype(dtype))
        return (tuple(types.Array(dt, n, "C") for n in ranks)
                + (types.Array(types.int64, 1, "C"),
                   types.Array(types.float64, 1, "C")))
    return signature


_EXPORTED = {name: Exported(f"recurrence_{name}", getattr(kernels, name),
                            _kernel_signature(ranks),
                            requires=kernels.lanes_of(name))
             for name, ranks in _KERNEL_RANKS.items()}


def _kernel(name, node):
    """What the wrapper calls for kernel `name`: the symbol call when every
    array input of `node` has one float dtype (what the Ops build), else
    the kernel itself, linked into the graph."""
    dtypes = {i.type.dtype for i in node.inputs}
    if len(dtypes) == 1 and dtypes <= {"float32", "float64"}:
        exported = _EXPORTED[name]
        exported.register(dtypes.pop())
        return exported.call
    return getattr(kernels, name)


def _numba_wrapper(n_inputs, call, env, pick=None):
    """Jit ``def f(a0, ..., aN): return <call>`` with `env` as globals;
    with `pick`, return the tuple of the call's results at those positions.

    Numba cannot index a heterogeneous ``*args`` tuple with a computed
    position, so the wrapper is written with one named argument per input.
    """
    names = ", ".join(f"a{i}" for i in range(n_inputs))
    if pick is None:
        source = f"def wrapper({names}):\n    return {call}\n"
    else:
        items = "".join(f"g[{i}], " for i in pick)
        source = (f"def wrapper({names}):\n    g = {call}\n"
                  f"    return ({items})\n")
    namespace = dict(env, np=np, c=np.ascontiguousarray)
    exec(compile(source, "<lasagne recurrence wrapper>", "exec"), namespace)
    return numba_njit(namespace["wrapper"])


def _extras(op, dtype):
    """Source of the peephole, input weight, bias and mask arguments (or
    their dummies)."""
    peep_pos = 2 + op.n_states
    proj_pos = peep_pos + op.peepholes
    mask_pos = proj_pos + 2 * op.project_input
    peep = f"c(a{peep_pos})" if op.peepholes else f"np.zeros((3, 1), '{dtype}')"
    if op.project_input:
        w_in, bias = f"c(a{proj_pos})", f"c(a{proj_pos + 1})"
    else:
        w_in, bias = f"np.zeros((1, 1), '{dtype}')", f"np.zeros(1, '{dtype}')"
    mask = f"c(a{mask_pos})" if op.has_mask else f"np.ones((1, 1), '{dtype}')"
    return peep, w_in, bias, mask


@register_funcify_default_op_cache_key(RecurrenceForward)
def numba_funcify_recurrence_forward(op, node, **kwargs):
    start_parallel_runtime()
    dtype = node.inputs[0].type.dtype
    peep, w_in, bias, mask = _extras(op, dtype)
    name = f"{op.cell}_forward"
    env = dict(kernel=_kernel(name, node), acts=op.codes,
               opts=op.options(dtype))
    if op.cell == "lstm":
        call = (f"kernel(c(a0), {w_in}, {bias}, c(a1), c(a2), "
                f"c(a3), {peep}, {mask}, acts.copy(), opts.copy())")
    else:
        call = (f"kernel(c(a0), c(a1), c(a2), {mask}, "
                f"acts.copy(), opts.copy())")
    return _numba_wrapper(len(node.inputs), call, env), KERNEL_SALT


@register_funcify_default_op_cache_key(RecurrenceBackward)
def numba_funcify_recurrence_backward(op, node, **kwargs):
    start_parallel_runtime()
    dtype = node.inputs[0].type.dtype
    peep, w_in, _, mask = _extras(op, dtype)
    n = op._n_forward_inputs()
    env = dict(kernel=_kernel(f"{op.cell}_backward", node), acts=op.codes,
               opts=op.options(dtype))
    tail = "acts.copy(), opts.copy())"
    if op.cell == "lstm":
        # The kernel returns (dx, d_w_in, d_b, d_w, d_c0, d_h0, d_peep).
        order = [0, 3, 4, 5] + [6] * op.peepholes + [1, 2] * op.project_input
        call = (f"kernel(c(a0), {w_in}, c(a1), c(a2), "
                f"c(a3), {peep}, {mask}, c(a{n}), c(a{n + 1}), c(a{n + 2}), "
                f"c(a{n + 3}), c(a{n + 4}), {tail}")
        return _numba_wrapper(len(node.inputs), call, env, order), KERNEL_SALT
    if op.cell == "gru":
        call = (f"kernel(c(a1), c(a2), {mask}, c(a{n}), "
                f"c(a{n + 1}), c(a{n + 2}), {tail}")
    else:
        call = (f"kernel(c(a1), c(a2), {mask}, c(a{n}), "
                f"c(a{n + 1}), {tail}")
    return _numba_wrapper(len(node.inputs), call, env), KERNEL_SALT
