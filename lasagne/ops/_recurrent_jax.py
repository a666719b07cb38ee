"""JAX lowerings of the fused recurrence Ops: ``jax.lax.scan``, the backward
by ``jax.vjp`` of the same forward (the Numba lowerings are in
:mod:`lasagne.ops.recurrent_backends`).

Loaded by :mod:`lasagne.ops._jax` when JAX is first used.
"""
import jax
import jax.numpy as jnp
from pytensor.link.jax.dispatch import jax_funcify

from .recurrent import RecurrenceBackward, RecurrenceForward

__all__ = []


def _jax_cell_functions(op):
    """Pure JAX (forward, backward) for one Op configuration."""
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


@jax_funcify.register(RecurrenceForward)
def jax_funcify_recurrence_forward(op, node=None, **kwargs):
    return _jax_cell_functions(op)[0]


@jax_funcify.register(RecurrenceBackward)
def jax_funcify_recurrence_backward(op, node=None, **kwargs):
    return _jax_cell_functions(op)[1]
