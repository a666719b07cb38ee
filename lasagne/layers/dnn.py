"""cuDNN-flavoured layers, as drop-in variants of the standard ones.

In Theano-era Lasagne this module wrapped cuDNN and raised ``ImportError``
without a GPU. Here it imports on every machine: its layers build the same
graphs as the standard convolution, pooling and batch normalization layers
(with cuDNN's defaults, e.g. ``flip_filters=False``), and a function
compiled with ``mode="JAX"`` on an NVIDIA GPU runs them on cuDNN through
XLA. The flags say whether such a GPU is usable here.
"""
from .. import init, nonlinearities
from ..ops.conv import conv
from .conv import BaseConvLayer
from .normalization import BatchNormLayer, _batch_norm
from .pool import Pool2DLayer, Pool3DLayer, SpatialPyramidPoolingLayer

__all__ = [
    "gpu_enabled", "dnn_enabled", "Pool2DDNNLayer", "MaxPool2DDNNLayer",
    "Pool3DDNNLayer", "MaxPool3DDNNLayer", "Conv2DDNNLayer", "Conv3DDNNLayer",
    "SpatialPyramidPoolingDNNLayer", "BatchNormDNNLayer", "batch_norm_dnn",
]


def _jax_gpu_available():
    """True if JAX is installed and sees a CUDA/ROCm GPU."""
    try:
        import jax
        return any(d.platform in ("gpu", "cuda", "rocm") for d in jax.devices())
    except Exception:  # jax missing, or no GPU backend initialisable
        return False


#: True when a GPU backend (JAX with a GPU) is usable on this machine.
gpu_enabled = _jax_gpu_available()
#: True when convolutions compiled with ``mode="JAX"`` run on cuDNN.
dnn_enabled = gpu_enabled


class Pool2DDNNLayer(Pool2DLayer):
    """Pool2DDNNLayer(incoming, pool_size, stride=None, pad=(0, 0),
    ignore_border=True, mode='max', **kwargs)

    2-d pooling (see :class:`lasagne.layers.Pool2DLayer`); ``mode`` is
    'max', 'average_inc_pad' or 'average_exc_pad'.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> Pool2DDNNLayer(InputLayer((None, 3, 8, 8)), 2).output_shape
    (None, 3, 4, 4)
    """

    def __init__(self, incoming, pool_size, stride=None, pad=(0, 0),
                 ignore_border=True, mode="max", **kwargs):
        super().__init__(incoming, pool_size, stride=stride, pad=pad,
                         ignore_border=ignore_border, mode=mode, **kwargs)


class MaxPool2DDNNLayer(Pool2DDNNLayer):
    """MaxPool2DDNNLayer(incoming, pool_size, stride=None, pad=(0, 0),
    ignore_border=True, **kwargs)

    2-d max-pooling.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> MaxPool2DDNNLayer(InputLayer((None, 3, 9, 9)), 3).output_shape
    (None, 3, 3, 3)
    """

    def __init__(self, incoming, pool_size, stride=None, pad=(0, 0),
                 ignore_border=True, **kwargs):
        super().__init__(incoming, pool_size, stride=stride, pad=pad,
                         ignore_border=ignore_border, mode="max", **kwargs)


class Pool3DDNNLayer(Pool3DLayer):
    """Pool3DDNNLayer(incoming, pool_size, stride=None, pad=(0, 0, 0),
    ignore_border=True, mode='max', **kwargs)

    3-d pooling (see :class:`lasagne.layers.Pool3DLayer`).

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> Pool3DDNNLayer(InputLayer((None, 2, 4, 4, 4)), 2).output_shape
    (None, 2, 2, 2, 2)
    """

    def __init__(self, incoming, pool_size, stride=None, pad=(0, 0, 0),
                 ignore_border=True, mode="max", **kwargs):
        super().__init__(incoming, pool_size, stride=stride, pad=pad,
                         ignore_border=ignore_border, mode=mode, **kwargs)


class MaxPool3DDNNLayer(Pool3DDNNLayer):
    """MaxPool3DDNNLayer(incoming, pool_size, stride=None, pad=(0, 0, 0),
    ignore_border=True, **kwargs)

    3-d max-pooling.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> MaxPool3DDNNLayer(InputLayer((None, 2, 4, 4, 4)), 2).output_shape
    (None, 2, 2, 2, 2)
    """

    def __init__(self, incoming, pool_size, stride=None, pad=(0, 0, 0),
                 ignore_border=True, **kwargs):
        super().__init__(incoming, pool_size, stride=stride, pad=pad,
                         ignore_border=ignore_border, mode="max", **kwargs)


def _dnn_convolve(layer, input):
    """The convolution of `input` with ``layer.W`` for the DNN layers
    (BaseConvLayer leaves `convolve` to its subclasses)."""
    pad = layer.pad     # as ints: the conv Op cannot see W's static shape
    if pad == "same":   # odd or even filters: (f - 1) split before/after
        pad = tuple(((f - 1) // 2, f - 1 - (f - 1) // 2)
                    for f in layer.filter_size)
    elif pad == "full":
        pad = tuple(f - 1 for f in layer.filter_size)
    return conv(input, layer.W, stride=layer.stride, padding=pad,
                groups=layer.num_groups, filter_flip=layer.flip_filters)


class Conv2DDNNLayer(BaseConvLayer):
    """Conv2DDNNLayer(incoming, num_filters, filter_size, stride=(1, 1),
    pad=0, untie_biases=False, W=lasagne.init.GlorotUniform(),
    b=lasagne.init.Constant(0.), nonlinearity=lasagne.nonlinearities.rectify,
    flip_filters=False, num_groups=1, **kwargs)

    2-d convolution with cuDNN's default of not flipping the filters
    (cross-correlation). Otherwise as :class:`lasagne.layers.Conv2DLayer`.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> Conv2DDNNLayer(InputLayer((None, 3, 8, 8)), 4, 3, pad='same').output_shape
    (None, 4, 8, 8)
    """

    def __init__(self, incoming, num_filters, filter_size, stride=(1, 1),
                 pad=0, untie_biases=False, W=init.GlorotUniform(),
                 b=init.Constant(0.), nonlinearity=nonlinearities.rectify,
                 flip_filters=False, num_groups=1, **kwargs):
        super().__init__(incoming, num_filters, filter_size, stride, pad,
                         untie_biases, W, b, nonlinearity, flip_filters,
                         num_groups, n=2, **kwargs)

    def convolve(self, input, **kwargs):
        return _dnn_convolve(self, input)


class Conv3DDNNLayer(BaseConvLayer):
    """Conv3DDNNLayer(incoming, num_filters, filter_size, stride=(1, 1, 1),
    pad=0, untie_biases=False, W=lasagne.init.GlorotUniform(),
    b=lasagne.init.Constant(0.), nonlinearity=lasagne.nonlinearities.rectify,
    flip_filters=False, num_groups=1, **kwargs)

    3-d convolution without filter flipping by default.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> Conv3DDNNLayer(InputLayer((None, 1, 5, 5, 5)), 2, 3).output_shape
    (None, 2, 3, 3, 3)
    """

    def __init__(self, incoming, num_filters, filter_size, stride=(1, 1, 1),
                 pad=0, untie_biases=False, W=init.GlorotUniform(),
                 b=init.Constant(0.), nonlinearity=nonlinearities.rectify,
                 flip_filters=False, num_groups=1, **kwargs):
        super().__init__(incoming, num_filters, filter_size, stride, pad,
                         untie_biases, W, b, nonlinearity, flip_filters,
                         num_groups, n=3, **kwargs)

    def convolve(self, input, **kwargs):
        return _dnn_convolve(self, input)


class SpatialPyramidPoolingDNNLayer(SpatialPyramidPoolingLayer):
    """SpatialPyramidPoolingDNNLayer(incoming, pool_dims=[4, 2, 1],
    mode='max', **kwargs)

    Spatial pyramid pooling (see
    :class:`lasagne.layers.SpatialPyramidPoolingLayer`).

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> SpatialPyramidPoolingDNNLayer(InputLayer((None, 3, 8, 8))).output_shape
    (None, 3, 21)
    """

    def __init__(self, incoming, pool_dims=[4, 2, 1], mode="max", **kwargs):
        super().__init__(incoming, pool_dims=pool_dims, mode=mode, **kwargs)


class BatchNormDNNLayer(BatchNormLayer):
    """BatchNormDNNLayer(incoming, axes='auto', epsilon=1e-4, alpha=0.1,
    beta=lasagne.init.Constant(0), gamma=lasagne.init.Constant(1),
    mean=lasagne.init.Constant(0), inv_std=lasagne.init.Constant(1),
    **kwargs)

    Batch normalization (see :class:`lasagne.layers.BatchNormLayer`).

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> BatchNormDNNLayer(InputLayer((None, 3, 4, 4))).axes
    (0, 2, 3)
    """

    def __init__(self, incoming, axes="auto", epsilon=1e-4, alpha=0.1,
                 beta=init.Constant(0), gamma=init.Constant(1),
                 mean=init.Constant(0), inv_std=init.Constant(1), **kwargs):
        super().__init__(incoming, axes=axes, epsilon=epsilon, alpha=alpha,
                         beta=beta, gamma=gamma, mean=mean, inv_std=inv_std,
                         **kwargs)


def batch_norm_dnn(layer, **kwargs):
    """Like :func:`lasagne.layers.batch_norm`, with a
    :class:`BatchNormDNNLayer`.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer
    >>> l = batch_norm_dnn(DenseLayer(InputLayer((None, 4)), 3))
    >>> type(l.input_layer).__name__
    'BatchNormDNNLayer'
    """
    return _batch_norm(layer, BatchNormDNNLayer, **kwargs)
