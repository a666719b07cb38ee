"""The ``corrmm`` convolution layer of Theano's GPU backend, kept as a
drop-in variant: the same graph as :class:`~lasagne.layers.Conv2DLayer` with
``flip_filters=False`` by default. Compiled with ``mode="JAX"`` on an NVIDIA
GPU it runs on cuDNN through XLA.

``gpu_enabled`` says whether JAX sees a GPU here.
"""
from .. import init, nonlinearities
from ..ops.conv import conv
from .conv import BaseConvLayer

__all__ = ["Conv2DMMLayer"]


def _jax_sees_gpu():
    try:
        import jax
        return any(d.platform == "gpu" for d in jax.devices())
    except Exception:  # no jax, or no usable backend
        return False


#: True if a GPU is usable through JAX (``mode="JAX"``).
gpu_enabled = _jax_sees_gpu()


class Conv2DMMLayer(BaseConvLayer):
    """Conv2DMMLayer(incoming, num_filters, filter_size, stride=(1, 1), pad=0,
    untie_biases=False, W=lasagne.init.GlorotUniform(),
    b=lasagne.init.Constant(0.), nonlinearity=lasagne.nonlinearities.rectify,
    flip_filters=False, num_groups=1, **kwargs)

    2-d convolution (Theano's GpuCorrMM variant); see
    :class:`~lasagne.layers.Conv2DLayer`. Note the default
    ``flip_filters=False`` (a correlation, as in cuDNN).

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> Conv2DMMLayer(InputLayer((None, 3, 9, 9)), 8, 3,
    ...               pad='same').output_shape
    (None, 8, 9, 9)
    """

    def __init__(self, incoming, num_filters, filter_size, stride=(1, 1),
                 pad=0, untie_biases=False, W=init.GlorotUniform(),
                 b=init.Constant(0.), nonlinearity=nonlinearities.rectify,
                 flip_filters=False, num_groups=1, **kwargs):
        super().__init__(incoming, num_filters, filter_size, stride, pad,
                         untie_biases, W, b, nonlinearity, flip_filters,
                         num_groups, n=2, **kwargs)

    def convolve(self, input, **kwargs):
        pad = self.pad
        if pad == "same":
            pad = tuple(((f - 1) // 2, f - 1 - (f - 1) // 2)
                        for f in self.filter_size)
        elif pad == "full":   # as ints: the Op cannot see W's static shape
            pad = tuple(f - 1 for f in self.filter_size)
        return conv(input, self.W, stride=self.stride, padding=pad,
                    groups=self.num_groups, filter_flip=self.flip_filters)
