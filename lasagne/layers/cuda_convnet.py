"""cuda-convnet-flavoured layers: the c01b layout (channels, rows, columns,
batch) of Alex Krizhevsky's cuda-convnet, as drop-in variants.

In Theano-era Lasagne these wrapped pylearn2's GPU kernels and needed a GPU.
Here they import everywhere and build standard graphs: with
``dimshuffle=True`` (the default) they take and return the usual bc01
tensors, with ``dimshuffle=False`` they take and return c01b tensors, as the
original did. Compiled with ``mode="JAX"`` on a GPU they run on cuDNN.
"""
import pytensor.tensor as pt

from .. import init, nonlinearities, utils
from ..ops.conv import conv
from ..ops.pool import pool
from .base import Layer
from .conv import conv_output_length
from .pool import pool_output_length
from .shape import DimshuffleLayer

__all__ = ["Conv2DCCLayer", "MaxPool2DCCLayer", "ShuffleBC01ToC01BLayer",
           "bc01_to_c01b", "ShuffleC01BToBC01Layer", "c01b_to_bc01",
           "NINLayer_c01b"]


class Conv2DCCLayer(Layer):
    """Conv2DCCLayer(incoming, num_filters, filter_size, stride=(1, 1),
    pad=0, untie_biases=False, W=None, b=lasagne.init.Constant(0.),
    nonlinearity=lasagne.nonlinearities.rectify, dimshuffle=True,
    flip_filters=False, partial_sum=1, **kwargs)

    2-d convolution in cuda-convnet's style.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        bc01 input if `dimshuffle` is True, c01b input otherwise.
    num_filters : int
    filter_size : int or pair of int
    stride : int or pair of int
    pad : int, pair of int, 'valid', 'full' or 'same'
    untie_biases : bool
        One bias per filter and output position.
    W : initializer, array or shared variable, optional
        Filters, shaped ``(num_filters, channels, rows, cols)`` with
        `dimshuffle`, else c01b: ``(channels, rows, cols, num_filters)``.
        Defaults to Glorot-uniform initialization for that layout.
    b, nonlinearity
        As for :class:`lasagne.layers.Conv2DLayer`.
    dimshuffle : bool
        Work on bc01 tensors (True) or c01b tensors (False).
    flip_filters : bool
        Convolve (True) or cross-correlate (False, cuda-convnet's default).
    partial_sum : int or None
        A cuda-convnet speed/memory knob; accepted for compatibility,
        without effect on the result.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> l = Conv2DCCLayer(InputLayer((None, 3, 16, 16)), 16, 3)
    >>> l.output_shape, l.num_input_channels
    ((None, 16, 14, 14), 3)
    """

    def __init__(self, incoming, num_filters, filter_size, stride=(1, 1),
                 pad=0, untie_biases=False, W=None, b=init.Constant(0.),
                 nonlinearity=nonlinearities.rectify, dimshuffle=True,
                 flip_filters=False, partial_sum=1, **kwargs):
        super().__init__(incoming, **kwargs)
        if len(self.input_shape) != 4:
            raise ValueError(
                f"{self._where()}needs a 4-d input, got shape "
                f"{self.input_shape}.")
        self.num_filters = num_filters
        self.filter_size = utils.as_tuple(filter_size, 2, utils.int_types,
                                          "filter_size", self._where()[:-2])
        self.stride = utils.as_tuple(stride, 2, utils.int_types, "stride",
                                     self._where()[:-2])
        self.dimshuffle = dimshuffle
        self.flip_filters = flip_filters
        self.partial_sum = partial_sum
        self.untie_biases = untie_biases
        self.nonlinearity = (nonlinearities.identity if nonlinearity is None
                             else nonlinearity)
        if pad == "valid":
            self.pad = (0, 0)
        elif pad == "full":
            self.pad = tuple(s - 1 for s in self.filter_size)
        elif pad == "same":
            if any(s % 2 == 0 for s in self.filter_size):
                raise ValueError(
                    f"{self._where()}pad='same' needs odd filter sizes, got "
                    f"{self.filter_size}.")
            self.pad = tuple(s // 2 for s in self.filter_size)
        elif isinstance(pad, str):
            raise ValueError(
                f"{self._where()}unknown `pad` {pad!r}; use an int, a pair, "
                f"'valid', 'full' or 'same'.")
        else:
            self.pad = utils.as_tuple(pad, 2, utils.int_types, "pad",
                                      self._where()[:-2])
        if W is None:
            W = init.GlorotUniform(c01b=not dimshuffle)
        self.W = self.add_param(W, self.get_W_shape(), name="W")
        if b is None:
            self.b = None
        else:
            out = self.get_output_shape_for(self.input_shape)
            spatial = out[2:] if dimshuffle else out[1:3]
            shape = ((num_filters,) + tuple(spatial) if untie_biases
                     else (num_filters,))
            self.b = self.add_param(b, shape, name="b", regularizable=False)

    @property
    def num_input_channels(self):
        return self.input_shape[1] if self.dimshuffle else self.input_shape[0]

    def get_W_shape(self):
        rows, cols = self.filter_size
        if self.dimshuffle:
            return (self.num_filters, self.num_input_channels, rows, cols)
        return (self.num_input_channels, rows, cols, self.num_filters)

    def get_output_shape_for(self, input_shape):
        if self.dimshuffle:
            batch, spatial = input_shape[0], input_shape[2:]
        else:
            batch, spatial = input_shape[3], input_shape[1:3]
        out = tuple(conv_output_length(size, fs, st, pd) for size, fs, st, pd
                    in zip(spatial, self.filter_size, self.stride, self.pad))
        if self.dimshuffle:
            return (batch, self.num_filters) + out
        return (self.num_filters,) + out + (batch,)

    def get_output_for(self, input, **kwargs):
        W = self.W if self.dimshuffle else self.W.dimshuffle(3, 0, 1, 2)
        x = input if self.dimshuffle else input.dimshuffle(3, 0, 1, 2)
        out = conv(x, W, stride=self.stride, padding=self.pad,
                   filter_flip=self.flip_filters)
        if self.b is not None:
            if self.untie_biases:
                out = out + self.b.dimshuffle("x", 0, 1, 2)
            else:
                out = out + self.b.dimshuffle("x", 0, "x", "x")
        out = self.nonlinearity(out)
        return out if self.dimshuffle else out.dimshuffle(1, 2, 3, 0)


class MaxPool2DCCLayer(Layer):
    """MaxPool2DCCLayer(incoming, pool_size, stride=None, ignore_border=False,
    dimshuffle=True, **kwargs)

    2-d max-pooling in cuda-convnet's style: by default partial windows at
    the borders are kept (``ignore_border=False``).

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> MaxPool2DCCLayer(InputLayer((None, 3, 9, 9)), 2).output_shape
    (None, 3, 5, 5)
    """

    def __init__(self, incoming, pool_size, stride=None, ignore_border=False,
                 dimshuffle=True, **kwargs):
        super().__init__(incoming, **kwargs)
        if len(self.input_shape) != 4:
            raise ValueError(
                f"{self._where()}needs a 4-d input, got shape "
                f"{self.input_shape}.")
        self.pool_size = utils.as_tuple(pool_size, 2, utils.int_types,
                                        "pool_size", self._where()[:-2])
        self.stride = (self.pool_size if stride is None else
                       utils.as_tuple(stride, 2, utils.int_types, "stride",
                                      self._where()[:-2]))
        self.ignore_border = ignore_border
        self.dimshuffle = dimshuffle

    def get_output_shape_for(self, input_shape):
        spatial = input_shape[2:] if self.dimshuffle else input_shape[1:3]
        out = tuple(pool_output_length(size, ps, st, 0, self.ignore_border)
                    for size, ps, st in zip(spatial, self.pool_size, self.stride))
        if self.dimshuffle:
            return tuple(input_shape[:2]) + out
        return (input_shape[0],) + out + (input_shape[3],)

    def get_output_for(self, input, **kwargs):
        x = input if self.dimshuffle else input.dimshuffle(3, 0, 1, 2)
        out = pool(x, self.pool_size, stride=self.stride,
                   ignore_border=self.ignore_border, mode="max")
        return out if self.dimshuffle else out.dimshuffle(1, 2, 3, 0)


class ShuffleBC01ToC01BLayer(DimshuffleLayer):
    """Reorders a bc01 tensor to c01b.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> ShuffleBC01ToC01BLayer(InputLayer((None, 3, 4, 5))).output_shape
    (3, 4, 5, None)
    """

    def __init__(self, incoming, name=None):
        super().__init__(incoming, (1, 2, 3, 0), name=name)


bc01_to_c01b = ShuffleBC01ToC01BLayer


class ShuffleC01BToBC01Layer(DimshuffleLayer):
    """Reorders a c01b tensor to bc01.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> ShuffleC01BToBC01Layer(InputLayer((3, 4, 5, None))).output_shape
    (None, 3, 4, 5)
    """

    def __init__(self, incoming, name=None):
        super().__init__(incoming, (3, 0, 1, 2), name=name)


c01b_to_bc01 = ShuffleC01BToBC01Layer


class NINLayer_c01b(Layer):
    """NINLayer_c01b(incoming, num_units, untie_biases=False,
    W=lasagne.init.GlorotUniform(), b=lasagne.init.Constant(0.),
    nonlinearity=lasagne.nonlinearities.rectify, **kwargs)

    Network-in-network (a 1x1 convolution) on c01b tensors: ``W`` has shape
    ``(num_units, channels)`` and the output is ``(num_units, rows, cols,
    batch)``.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> NINLayer_c01b(InputLayer((3, 4, 5, None)), 8).output_shape
    (8, 4, 5, None)
    """

    def __init__(self, incoming, num_units, untie_biases=False,
                 W=init.GlorotUniform(), b=init.Constant(0.),
                 nonlinearity=nonlinearities.rectify, **kwargs):
        super().__init__(incoming, **kwargs)
        if len(self.input_shape) != 4 or self.input_shape[0] is None:
            raise ValueError(
                f"{self._where()}needs a c01b input with a known number of "
                f"channels, got shape {self.input_shape}.")
        self.num_units = num_units
        self.untie_biases = untie_biases
        self.nonlinearity = (nonlinearities.identity if nonlinearity is None
                             else nonlinearity)
        self.W = self.add_param(W, (num_units, self.input_shape[0]), name="W")
        if b is None:
            self.b = None
        else:
            shape = ((num_units,) + tuple(self.input_shape[1:3])
                     if untie_biases else (num_units,))
            self.b = self.add_param(b, shape, name="b", regularizable=False)

    def get_output_shape_for(self, input_shape):
        return (self.num_units,) + tuple(input_shape[1:])

    def get_output_for(self, input, **kwargs):
        out = pt.tensordot(self.W, input, axes=[[1], [0]])
        if self.b is not None:
            if self.untie_biases:
                out = out + self.b.dimshuffle(0, 1, 2, "x")
            else:
                out = out + self.b.dimshuffle(0, "x", "x", "x")
        return self.nonlinearity(out)
