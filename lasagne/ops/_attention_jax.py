"""JAX lowerings of the attention Ops.

The forward Op returns the attention weights as well as the output (its
gradient Op reads them), which ``jax.nn.dot_product_attention`` does not
give, so both directions are written with ``jnp.einsum`` and
``jax.nn.softmax``; XLA fuses the masking and softmax into the products'
neighbours.
"""
import importlib.util

from lasagne.ops.attention import Attention, AttentionGrad, masked_value

if importlib.util.find_spec("jax") is not None:
    import jax
    import jax.numpy as jnp
    from pytensor.link.jax.dispatch import jax_funcify

    def _allowed(q, k, mask, causal):
        t_q, t_k = q.shape[2], k.shape[2]
        allowed = None
        if mask is not None:
            allowed = (mask != 0)[:, None, None, :]
        if causal:
            lower = (jnp.arange(t_k)[None, :]
                     <= jnp.arange(t_q)[:, None] + (t_k - t_q))
            allowed = lower if allowed is None else allowed & lower
        return allowed

    @jax_funcify.register(Attention)
    def jax_funcify_Attention(op, node, **kwargs):
        causal, scale = op.causal, op.scale
        masked, dropout = op.masked, op.dropout
        very_negative = masked_value(node.inputs[0].dtype)

        def attention(q, k, v, *rest):
            mask = rest[0] if masked else None
            keep = rest[-1] if dropout else None
            scores = jnp.einsum("bhqd,bhkd->bhqk", q, k) * jnp.asarray(
                scale, q.dtype)
            allowed = _allowed(q, k, mask, causal)
            if allowed is not None:
                scores = jnp.where(allowed, scores,
                                   jnp.asarray(very_negative, q.dtype))
            weights = jax.nn.softmax(scores, axis=-1)
            dropped = weights if keep is None else weights * keep
            return jnp.einsum("bhqk,bhkd->bhqd", dropped, v), weights

        return attention

    @jax_funcify.register(AttentionGrad)
    def jax_funcify_AttentionGrad(op, **kwargs):
        scale, causal = op.scale, op.causal
        masked, with_g_weights = op.masked, op.with_weights_grad
        dropout = op.dropout

        def attention_grad(q, k, v, weights, g_out, *rest):
            rest = list(rest)
            mask = rest.pop(0) if masked else None
            keep = rest.pop(0) if dropout else None
            g_weights = rest.pop(0) if with_g_weights else None
            dropped = weights if keep is None else weights * keep
            g_v = jnp.einsum("bhqk,bhqd->bhkd", dropped, g_out)
            g_p = jnp.einsum("bhqd,bhkd->bhqk", g_out, v)
            if keep is not None:
                g_p = g_p * keep
            if g_weights is not None:
                g_p = g_p + g_weights
            g_s = weights * (g_p - (g_p * weights).sum(-1, keepdims=True))
            g_s = g_s * jnp.asarray(scale, q.dtype)
            allowed = _allowed(q, k, mask, causal)
            if allowed is not None:
                g_s = jnp.where(allowed, g_s, jnp.zeros((), q.dtype))
            return (jnp.einsum("bhqk,bhkd->bhqd", g_s, k),
                    jnp.einsum("bhqk,bhqd->bhkd", g_s, q), g_v)

        return attention_grad
