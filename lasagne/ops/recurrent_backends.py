"""Backend lowerings of the fused recurrence Ops: Numba (calls the kernels
of :mod:`lasagne.ops.recurrent_kernels`) and JAX (``jax.lax.scan``, the
backward by ``jax.vjp`` of the same forward).

The Numba lowerings call the kernels by symbol (:mod:`._exported`): each
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
                            _kernel_signature(ranks))
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


# --------------------------------------------------------------------- JAX
try:
    from pytensor.link.jax.dispatch import jax_funcify
except ImportError:  # pragma: no cover - jax is optional
    jax_funcify = None


def _jax_cell_functions(op):
    """Pure JAX (forward, backward) for one Op configuration."""
    import jax
    import jax.numpy as jnp

    acts = {"sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh,
            "rectify": lambda v: jnp.maximum(v, 0), "linear": lambda v: v}
    fns = [acts[a] for a in op.activations]
    clip = op.grad_clipping

    @jax.custom_vjp
    def grad_clip(v):
        return v

    grad_clip.defvjp(lambda v: (v, None),
                     lambda _, g: (jnp.clip(g, -clip, clip),))

    def clipped(v):
        return grad_clip(v) if clip > 0 else v

    n_states = op.n_states

    def forward(*inputs):
        x, w_hid, states, peep, proj, mask = op._split(inputs)
        n_units = w_hid.shape[0]
        if proj is not None:
            x = x @ proj[0] + proj[1]
        if mask is None:
            mask = jnp.ones(x.shape[:2], x.dtype)

        def keep(m, new, old):
            return jnp.where(m[:, None] != 0, new, old)

        if op.cell == "lstm":
            def step(carry, xs):
                c_prev, h_prev = carry
                x_t, m = xs
                a = clipped(x_t + h_prev @ w_hid)
                vi, vf, vg, vo = (a[:, k * n_units:(k + 1) * n_units]
                                  for k in range(4))
                if peep is not None:
                    vi = vi + c_prev * peep[0]
                    vf = vf + c_prev * peep[1]
                gi, gf, gg = fns[0](vi), fns[1](vf), fns[2](vg)
                c = gf * c_prev + gi * gg
                if peep is not None:
                    vo = vo + c * peep[2]
                go = fns[3](vo)
                h = go * fns[4](c)
                c, h = keep(m, c, c_prev), keep(m, h, h_prev)
                gates = jnp.concatenate([gi, gf, gg, go, fns[4](c)], axis=1)
                return (c, h), (h, c, gates)
        elif op.cell == "gru":
            def step(carry, xs):
                (h_prev,) = carry
                x_t, m = xs
                hi = clipped(h_prev @ w_hid)
                xi = clipped(x_t)
                gr = fns[0](xi[:, :n_units] + hi[:, :n_units])
                gu = fns[1](xi[:, n_units:2 * n_units]
                            + hi[:, n_units:2 * n_units])
                hc = hi[:, 2 * n_units:]
                gc = fns[2](clipped(xi[:, 2 * n_units:] + gr * hc))
                h = keep(m, (1 - gu) * h_prev + gu * gc, h_prev)
                return (h,), (h, jnp.concatenate([gr, gu, gc, hc], axis=1))
        else:
            def step(carry, xs):
                (h_prev,) = carry
                x_t, m = xs
                h = keep(m, fns[0](clipped(x_t + h_prev @ w_hid)), h_prev)
                return (h,), (h,)

        _, outs = jax.lax.scan(step, tuple(states), (x, mask),
                               reverse=op.backwards)
        return outs if len(outs) > 1 else outs[0]

    def backward(*inputs):
        n_fwd = op._n_forward_inputs()
        fwd_inputs = list(inputs[:n_fwd])
        n_outs = {"lstm": 3, "gru": 2, "rnn": 1}[op.cell]
        cotangents = inputs[n_fwd + n_outs:]
        n_diff = n_fwd - op.has_mask
        mask = fwd_inputs[n_diff:]

        def states_only(*diff):
            outs = forward(*diff, *mask)
            if not isinstance(outs, tuple):
                outs = (outs,)
            return outs[:n_states]

        fwd_outputs = inputs[n_fwd:n_fwd + n_outs]
        # an empty cotangent (the LSTM's unused cell sequence) means zeros
        cotangents = [jnp.zeros_like(out) if d.shape[0] == 0 else d
                      for out, d in zip(fwd_outputs, cotangents)]
        _, vjp = jax.vjp(states_only, *fwd_inputs[:n_diff])
        return vjp(tuple(cotangents))

    return forward, backward


if jax_funcify is not None:
    @jax_funcify.register(RecurrenceForward)
    def jax_funcify_recurrence_forward(op, node=None, **kwargs):
        return _jax_cell_functions(op)[0]

    @jax_funcify.register(RecurrenceBackward)
    def jax_funcify_recurrence_backward(op, node=None, **kwargs):
        return _jax_cell_functions(op)[1]
