"""JAX lowering of the convolution Ops: ``jax.lax.conv_general_dilated``.

The gradient Ops are the linear transposes of the forward convolution
(``jax.linear_transpose``), which XLA turns into its own transposed
convolutions (cuDNN's backward-data / backward-filter on an NVIDIA GPU).
Their output shapes must be static under ``jax.jit``: they are taken from
the node's types where known, else from the shape input, which is concrete
whenever it comes from the shape of a traced array or a constant (the
rewrite of :mod:`lasagne.ops._conv_jax_rewrite` keeps it so).

Loaded by :mod:`lasagne.ops._jax` when JAX is first used.
"""
import jax
import jax.numpy as jnp
import numpy as np
from pytensor.link.jax.dispatch import jax_funcify

from .conv import Conv, ConvGradFilters, ConvGradFiltersBias, ConvGradInput

_DIMENSION_NUMBERS = {1: ("NCH", "OIH", "NCH"),
                      2: ("NCHW", "OIHW", "NCHW"),
                      3: ("NCDHW", "OIDHW", "NCDHW")}


def _forward_fn(op):
    axes = tuple(range(2, 2 + op.nd))
    padding = list(zip(op.pad_before, op.pad_after))

    def forward(x, w):
        if op.filter_flip:
            w = jnp.flip(w, axis=axes)
        return jax.lax.conv_general_dilated(
            x, w, window_strides=op.stride, padding=padding,
            rhs_dilation=op.dilation, feature_group_count=op.groups,
            dimension_numbers=_DIMENSION_NUMBERS[op.nd])

    return forward


def _static_spatial(node, shape_arg, op_name):
    """The output's spatial shape as Python ints."""
    static = node.outputs[0].type.shape[2:]
    if all(s is not None for s in static):
        return tuple(static)
    try:
        return tuple(int(s) for s in np.asarray(shape_arg))
    except (jax.errors.ConcretizationTypeError,
            jax.errors.TracerArrayConversionError, TypeError) as exc:
        raise NotImplementedError(
            f"{op_name} under JAX needs a shape known when the function is "
            f"traced (a constant, or the shape of an input array), got a "
            f"value computed at run time.") from exc


@jax_funcify.register(Conv)
def jax_funcify_Conv(op, node=None, **kwargs):
    return _forward_fn(op)


@jax_funcify.register(ConvGradInput)
def jax_funcify_ConvGradInput(op, node=None, **kwargs):
    forward = _forward_fn(op)

    def conv_grad_input(w, gy, input_shape):
        spatial = _static_spatial(node, input_shape, "ConvGradInput")
        x_shape = (gy.shape[0], w.shape[1] * op.groups) + spatial
        transpose = jax.linear_transpose(
            lambda x: forward(x, w), jax.ShapeDtypeStruct(x_shape, gy.dtype))
        return transpose(gy)[0]

    return conv_grad_input


@jax_funcify.register(ConvGradFilters)
def jax_funcify_ConvGradFilters(op, node=None, **kwargs):
    forward = _forward_fn(op)

    def conv_grad_filters(x, gy, filter_shape):
        spatial = _static_spatial(node, filter_shape, "ConvGradFilters")
        w_shape = (gy.shape[1], x.shape[1] // op.groups) + spatial
        transpose = jax.linear_transpose(
            lambda w: forward(x, w), jax.ShapeDtypeStruct(w_shape, x.dtype))
        return transpose(gy)[0]

    return conv_grad_filters


@jax_funcify.register(ConvGradFiltersBias)
def jax_funcify_ConvGradFiltersBias(op, node=None, **kwargs):
    grad_filters = jax_funcify_ConvGradFilters(op, node=node)
    axes = (0,) + tuple(range(2, op.nd + 2))

    def conv_grad_filters_bias(x, gy, filter_shape):
        # PyTensor's JAX backend enables 64-bit types.
        db = jnp.sum(gy, axis=axes, dtype=jnp.float64).astype(gy.dtype)
        return grad_filters(x, gy, filter_shape), db

    return conv_grad_filters_bias
