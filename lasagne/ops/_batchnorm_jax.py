"""JAX lowerings of the batch-normalisation Ops (XLA fuses each into a few
kernels; statistics are accumulated in float32 or better, as XLA does)."""
import importlib.util

from lasagne.ops.batchnorm import (BatchNormInference, BatchNormTrain,
                                   BatchNormTrainGrad)

if importlib.util.find_spec("jax") is not None:
    import jax.numpy as jnp
    from pytensor.link.jax.dispatch import jax_funcify

    def _axes(x):
        return (0,) + tuple(range(2, x.ndim))

    def _channel(v, ndim):
        return v.reshape((1, -1) + (1,) * (ndim - 2))

    @jax_funcify.register(BatchNormTrain)
    def jax_funcify_BatchNormTrain(op, **kwargs):
        epsilon, rectify = op.epsilon, op.rectify

        def batch_norm_train(x, gamma, beta):
            axes, nd = _axes(x), x.ndim
            mean = x.mean(axes)
            centred = x - _channel(mean, nd)
            inv_std = 1 / jnp.sqrt((centred * centred).mean(axes) + epsilon)
            inv_std = inv_std.astype(x.dtype)
            y = centred * _channel(gamma * inv_std, nd) + _channel(beta, nd)
            if rectify:
                y = jnp.maximum(y, 0)
            return y, mean, inv_std

        return batch_norm_train

    @jax_funcify.register(BatchNormTrainGrad)
    def jax_funcify_BatchNormTrainGrad(op, **kwargs):
        def batch_norm_train_grad(x, gy, gamma, mean, inv_std, y=None):
            if y is not None:
                gy = jnp.where(y > 0, gy, 0)
            axes, nd = _axes(x), x.ndim
            m = x.size // x.shape[1]
            centred = x - _channel(mean, nd)
            g_beta = gy.sum(axes)
            g_gamma = (gy * centred).sum(axes) * inv_std
            g_x = _channel(gamma * inv_std, nd) * (
                gy - _channel(g_beta / m, nd)
                - centred * _channel(g_gamma * inv_std / m, nd))
            return g_x.astype(x.dtype), g_gamma, g_beta

        return batch_norm_train_grad

    @jax_funcify.register(BatchNormInference)
    def jax_funcify_BatchNormInference(op, **kwargs):
        def batch_norm_inference(x, gamma, beta, mean, inv_std):
            nd = x.ndim
            return ((x - _channel(mean, nd)) * _channel(gamma * inv_std, nd)
                    + _channel(beta, nd))

        return batch_norm_inference
