"""JAX lowerings of the pooling Ops on ``jax.lax.reduce_window``.

XLA turns these into cuDNN pooling on NVIDIA GPUs. The gradients are
``jax.vjp`` / ``jax.jvp`` of the forward pooling: XLA's select-and-scatter
keeps the first maximum of a window on ties, as the other backends do.
"""
import importlib.util

import numpy as np

from lasagne.ops.pool import MaxPoolGradGrad, Pool, PoolGrad, pool_output_shape

if importlib.util.find_spec("jax") is not None:
    import jax
    import jax.numpy as jnp
    from pytensor.link.jax.dispatch import jax_funcify

    def _forward(op):
        """The pooling as a function of a concrete-shaped JAX array."""
        nd = op.nd

        def window_args(x):
            lead = x.ndim - nd
            spatial = x.shape[lead:]
            out = pool_output_shape(spatial, op.ws, op.stride, op.pad,
                                    op.ignore_border)
            padding = [(0, 0)] * lead
            for n, k, s, p, o in zip(spatial, op.ws, op.stride, op.pad, out):
                # Padding at the end also holds ignore_border=False's last
                # partial window; extra padding is trimmed by the strides.
                padding.append((p, max(p, (o - 1) * s + k - n - p) if o
                                else p))
            dims = (1,) * lead + op.ws
            strides = (1,) * lead + op.stride
            return dims, strides, padding, spatial, out

        def pool(x):
            dims, strides, padding, spatial, out = window_args(x)
            if op.mode == "max":
                low = (-np.inf if np.issubdtype(x.dtype, np.floating)
                       else np.iinfo(x.dtype).min)
                return jax.lax.reduce_window(
                    x, np.array(low, x.dtype), jax.lax.max, dims, strides,
                    padding)
            total = jax.lax.reduce_window(
                x, np.array(0, x.dtype), jax.lax.add, dims, strides,
                padding)
            count = np.ones((), np.float64)
            for n, k, s, p, o in zip(spatial, op.ws, op.stride, op.pad, out):
                start = np.arange(o) * s
                if op.mode == "average_inc_pad":
                    c = np.minimum(start + k, n + 2 * p) - start
                else:
                    c = np.minimum(start + k, n + p) - np.maximum(start, p)
                count = np.multiply.outer(count, c)
            return total / jnp.asarray(count, x.dtype)

        return pool

    @jax_funcify.register(Pool)
    def jax_funcify_Pool(op, node=None, **kwargs):
        return _forward(op)

    @jax_funcify.register(PoolGrad)
    def jax_funcify_PoolGrad(op, node=None, **kwargs):
        forward = _forward(op)

        def pool_grad(x, gz):
            _, vjp = jax.vjp(forward, x.astype(gz.dtype))
            return vjp(gz)[0]

        return pool_grad

    @jax_funcify.register(MaxPoolGradGrad)
    def jax_funcify_MaxPoolGradGrad(op, node=None, **kwargs):
        forward = _forward(op)

        def gather(x, g):
            return jax.jvp(forward, (x.astype(g.dtype),), (g,))[1]

        return gather
