"""Convolutional layers: 1-d, 2-d, 3-d, transposed and dilated.

All rest on the N-d convolution Ops of :mod:`lasagne.ops.conv`, which run on
every backend (Numba, C, JAX; cuDNN through XLA on a GPU).
"""
import numbers

import numpy as np
import pytensor.tensor as pt

from .. import init, nonlinearities
from ..ops.conv import conv as _conv_nd
from ..ops.conv import conv2d, conv3d, conv_transpose
from ..theano_extensions import conv as _conv1d_module
from ..utils import _ArgumentError, as_tuple
from .base import Layer

__all__ = [
    "Conv1DLayer", "Conv2DLayer", "Conv3DLayer", "TransposedConv2DLayer",
    "Deconv2DLayer", "DilatedConv2DLayer", "TransposedConv3DLayer",
    "Deconv3DLayer",
]

_PAD_STRINGS = ("full", "same", "valid")


def conv_output_length(input_length, filter_size, stride, pad=0):
    """Output length of a convolution along one axis.

    Parameters
    ----------
    input_length : int or None
    filter_size, stride : int
    pad : int or {'full', 'same', 'valid'}

    Returns
    -------
    int or None (if `input_length` is None)

    Examples
    --------
    >>> conv_output_length(28, 5, 1), conv_output_length(28, 5, 2, 'same')
    (24, 14)
    """
    if input_length is None:
        return None
    if pad == "valid":
        length = input_length - filter_size + 1
    elif pad == "full":
        length = input_length + filter_size - 1
    elif pad == "same":
        length = input_length
    elif isinstance(pad, (numbers.Integral, np.integer)):
        length = input_length + 2 * pad - filter_size + 1
    else:
        raise ValueError(f"conv_output_length: Invalid pad: {pad!r}; use an "
                         f"int or one of {_PAD_STRINGS}.")
    return (length + stride - 1) // stride


def conv_input_length(output_length, filter_size, stride, pad=0):
    """Smallest input length that gives `output_length` (the output length
    of a transposed convolution).

    Examples
    --------
    >>> conv_input_length(12, 5, 2), conv_input_length(12, 3, 1, 'same')
    (27, 12)
    """
    if output_length is None:
        return None
    if pad == "valid":
        pad = 0
    elif pad == "full":
        pad = filter_size - 1
    elif pad == "same":
        pad = filter_size // 2
    elif not isinstance(pad, (numbers.Integral, np.integer)):
        raise ValueError(f"conv_input_length: Invalid pad: {pad!r}; use an "
                         f"int or one of {_PAD_STRINGS}.")
    return (output_length - 1) * stride - 2 * pad + filter_size


def _positive_tuple(layer, value, n, name):
    values = as_tuple(value, n, (numbers.Integral, np.integer), name=name,
                      owner=layer._where_name())
    if any(v <= 0 for v in values):
        raise ValueError(f"{layer._where()}`{name}` must be positive in "
                         f"every dimension, got {value!r}.")
    return tuple(int(v) for v in values)


def _check_pad(layer, pad, n, name="pad"):
    if isinstance(pad, str):
        if pad not in _PAD_STRINGS:
            raise _ArgumentError(  # Lasagne: a TypeError
                f"{layer._where()}`{name}` must be an int, an iterable of int "
                f"(one per {n} spatial axes), or one of {_PAD_STRINGS}; got "
                f"{pad!r}.")
        return pad
    values = as_tuple(pad, n, (numbers.Integral, np.integer), name=name,
                      owner=layer._where_name())
    if any(v < 0 for v in values):
        raise ValueError(f"{layer._where()}`{name}` must be non-negative, "
                         f"got {pad!r}.")
    return tuple(int(v) for v in values)


def _refuse_empty_output(layer, argument):
    """A layer whose output would have a size of 0 or less along an axis
    cannot be built: say which argument makes it so."""
    shape = layer.get_output_shape_for(layer.input_shape)
    for axis, size in enumerate(shape[2:]):
        if size is not None and size <= 0 and argument == "output_size":
            raise ValueError(
                f"{layer._where()}`output_size` must be None, an int or a "
                f"tuple of positive ints, got {layer.output_size!r}.")
        if size is not None and size <= 0:
            raise ValueError(
                f"{layer._where()}the output would have size {size} along "
                f"spatial axis {axis} (input shape {layer.input_shape}, "
                f"output shape {shape}): `{argument}` is too large for the "
                f"input. Use a smaller `{argument}`, pad the input, or feed "
                f"a larger input.")


def _layer_name(layer):
    return f"{type(layer).__name__} '{layer.name}'" if layer.name else \
        type(layer).__name__


class BaseConvLayer(Layer):
    """BaseConvLayer(incoming, num_filters, filter_size, stride=1, pad=0,
    untie_biases=False, W=lasagne.init.GlorotUniform(),
    b=lasagne.init.Constant(0.), nonlinearity=lasagne.nonlinearities.rectify,
    flip_filters=True, num_groups=1, n=None, **kwargs)

    Base of the convolutional layers: parameters, shapes, bias and
    nonlinearity. Subclasses implement :meth:`convolve`.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        Input of shape ``(batch, channels, *spatial)``.
    num_filters : int
        Number of output channels.
    filter_size : int or tuple of int
    stride : int or tuple of int
    pad : int, tuple of int, or {'full', 'same', 'valid'}
        Zero padding on both sides of each spatial axis. ``'same'`` keeps
        the size at stride 1 (an even filter pads one more after);
        ``'full'`` pads ``filter_size - 1``; ``'valid'`` is 0.
    untie_biases : bool
        One bias per channel and output position instead of per channel.
    W : array, shared variable, expression or callable
        Filters of shape :meth:`get_W_shape`.
    b : array, shared variable, expression, callable or None
    nonlinearity : callable or None
    flip_filters : bool
        True: a true convolution (filters mirrored); False: correlation.
    num_groups : int
        Grouped convolution: channels split into this many groups.
    n : int or None
        Number of spatial dimensions; None infers it from the input.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> l = BaseConvLayer(InputLayer((None, 3, 8, 8, 8)), 4, 3)
    >>> l.n, l.get_W_shape(), l.output_shape
    (3, (4, 3, 3, 3, 3), (None, 4, 6, 6, 6))
    """

    _pad_argument = "pad"    # the subclasses' name for it, in messages
    _size_argument = "filter_size"  # what makes an output empty

    def __init__(self, incoming, num_filters, filter_size, stride=1, pad=0,
                 untie_biases=False, W=init.GlorotUniform(),
                 b=init.Constant(0.), nonlinearity=nonlinearities.rectify,
                 flip_filters=True, num_groups=1, n=None, **kwargs):
        super().__init__(incoming, **kwargs)
        self.nonlinearity = (nonlinearities.identity if nonlinearity is None
                             else nonlinearity)
        if not callable(self.nonlinearity):
            raise TypeError(f"{self._where()}`nonlinearity` must be callable "
                            f"or None, got {nonlinearity!r}.")
        if n is None:
            n = len(self.input_shape) - 2
        elif n != len(self.input_shape) - 2:
            raise ValueError(
                f"{self._where()}Expected {n + 2} input dimensions: expects a "
                f"{n + 2}-d input (batch, channels, {n} spatial), got input "
                f"shape {self.input_shape}.")
        if n < 1:
            raise ValueError(
                f"{self._where()}needs an input of shape (batch, channels, "
                f"*spatial) with at least one spatial axis, got "
                f"{self.input_shape}.")
        self.n = n
        if not isinstance(num_filters, (numbers.Integral, np.integer)) \
                or num_filters <= 0:
            raise ValueError(f"{self._where()}`num_filters` must be a "
                             f"positive int, got {num_filters!r}.")
        self.num_filters = int(num_filters)
        self.filter_size = _positive_tuple(self, filter_size, n,
                                           "filter_size")
        self.stride = _positive_tuple(self, stride, n, "stride")
        self.untie_biases = untie_biases
        self.flip_filters = flip_filters
        if not isinstance(num_groups, (numbers.Integral, np.integer)) \
                or num_groups <= 0:
            raise ValueError(f"{self._where()}`num_groups` must be "
                             f"positive (an int), got {num_groups!r}.")
        self.num_groups = int(num_groups)
        channels = self.input_shape[1]
        if channels is not None and channels % self.num_groups:
            raise ValueError(
                f"{self._where()}the {channels} input channels cannot be "
                f"split into num_groups={num_groups} groups (num_groups must "
                f"evenly divide the number of input channels).")
        if self.num_filters % self.num_groups:
            raise ValueError(
                f"{self._where()}num_filters={num_filters} is not divisible "
                f"by num_groups={num_groups}.")
        self.pad = _check_pad(self, pad, n, name=self._pad_argument)
        _refuse_empty_output(self, self._size_argument)
        self.W = self.add_param(W, self.get_W_shape(), name="W")
        if b is None:
            self.b = None
        else:
            if self.untie_biases:
                bias_shape = (self.num_filters,) + self.output_shape[2:]
                if any(s is None for s in bias_shape):
                    raise ValueError(
                        f"{self._where()}untie_biases=True needs a known "
                        f"output size, got output shape {self.output_shape}.")
            else:
                bias_shape = (self.num_filters,)
            self.b = self.add_param(b, bias_shape, name="b",
                                    regularizable=False)

    def _where_name(self):
        return _layer_name(self)

    def get_W_shape(self):
        """Shape of the filters: ``(num_filters, channels // num_groups,
        *filter_size)``."""
        channels = self.input_shape[1]
        if channels is None:
            raise ValueError(f"{self._where()}the number of input channels "
                             f"must be known, got input shape "
                             f"{self.input_shape}.")
        return (self.num_filters, channels // self.num_groups) + \
            self.filter_size

    def get_output_shape_for(self, input_shape):
        pad = self.pad if isinstance(self.pad, tuple) else (self.pad,) * self.n
        batch = input_shape[0]
        return (batch, self.num_filters) + tuple(
            conv_output_length(i, f, s, p) for i, f, s, p in zip(
                input_shape[2:], self.filter_size, self.stride, pad))

    def get_output_for(self, input, **kwargs):
        conved = self.convolve(input, **kwargs)
        if self.b is None:
            activation = conved
        elif self.untie_biases:
            activation = conved + pt.shape_padleft(self.b, 1)
        else:
            activation = conved + self.b.dimshuffle(
                ("x", 0) + ("x",) * self.n)
        return self.nonlinearity(activation)

    def convolve(self, input, **kwargs):
        """The convolution of `input` with ``self.W`` (no bias)."""
        raise NotImplementedError

    def _border_mode(self):
        """`pad` for Theano-style convolution callables."""
        if self.pad == "same":
            if all(f % 2 for f in self.filter_size):
                return "half"
            return tuple(((f - 1) // 2, f - 1 - (f - 1) // 2)
                         for f in self.filter_size)
        return self.pad


class Conv1DLayer(BaseConvLayer):
    """Conv1DLayer(incoming, num_filters, filter_size, stride=1, pad=0,
    untie_biases=False, W=lasagne.init.GlorotUniform(),
    b=lasagne.init.Constant(0.), nonlinearity=lasagne.nonlinearities.rectify,
    flip_filters=True, convolution=lasagne.theano_extensions.conv.conv1d_mc0,
    **kwargs)

    1-d convolution of ``(batch, channels, length)`` inputs. See
    :class:`BaseConvLayer`; `convolution` is a callable with the signature
    of :func:`lasagne.theano_extensions.conv.conv1d_mc0`.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> Conv1DLayer(InputLayer((None, 2, 20)), 4, 5, stride=2).output_shape
    (None, 4, 8)
    """

    def __init__(self, incoming, num_filters, filter_size, stride=1, pad=0,
                 untie_biases=False, W=init.GlorotUniform(),
                 b=init.Constant(0.), nonlinearity=nonlinearities.rectify,
                 flip_filters=True, convolution=_conv1d_module.conv1d_mc0,
                 **kwargs):
        super().__init__(incoming, num_filters, filter_size, stride, pad,
                         untie_biases, W, b, nonlinearity, flip_filters, n=1,
                         **kwargs)
        self.convolution = convolution

    def convolve(self, input, **kwargs):
        extra = {"num_groups": self.num_groups} if self.num_groups > 1 else {}
        return self.convolution(input, self.W, self.input_shape,
                                self.get_W_shape(), subsample=self.stride,
                                border_mode=self._border_mode(),
                                filter_flip=self.flip_filters, **extra)


class Conv2DLayer(BaseConvLayer):
    """Conv2DLayer(incoming, num_filters, filter_size, stride=(1, 1), pad=0,
    untie_biases=False, W=lasagne.init.GlorotUniform(),
    b=lasagne.init.Constant(0.), nonlinearity=lasagne.nonlinearities.rectify,
    flip_filters=True, convolution=lasagne.ops.conv.conv2d, **kwargs)

    2-d convolution of ``(batch, channels, rows, columns)`` inputs. See
    :class:`BaseConvLayer`. `convolution` is called like Theano's
    ``T.nnet.conv2d(input, filters, input_shape, filter_shape,
    subsample=..., border_mode=..., filter_flip=...)`` (plus
    ``num_groups=`` when it is not 1).

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> l = Conv2DLayer(InputLayer((None, 1, 28, 28)), 32, 5)
    >>> l.output_shape, l.W.get_value().shape
    ((None, 32, 24, 24), (32, 1, 5, 5))
    """

    def __init__(self, incoming, num_filters, filter_size, stride=(1, 1),
                 pad=0, untie_biases=False, W=init.GlorotUniform(),
                 b=init.Constant(0.), nonlinearity=nonlinearities.rectify,
                 flip_filters=True, convolution=conv2d, **kwargs):
        super().__init__(incoming, num_filters, filter_size, stride, pad,
                         untie_biases, W, b, nonlinearity, flip_filters, n=2,
                         **kwargs)
        self.convolution = convolution

    def convolve(self, input, **kwargs):
        extra = {"num_groups": self.num_groups} if self.num_groups > 1 else {}
        return self.convolution(input, self.W, self.input_shape,
                                self.get_W_shape(), subsample=self.stride,
                                border_mode=self._border_mode(),
                                filter_flip=self.flip_filters, **extra)


class Conv3DLayer(BaseConvLayer):
    """Conv3DLayer(incoming, num_filters, filter_size, stride=(1, 1, 1),
    pad=0, untie_biases=False, W=lasagne.init.GlorotUniform(),
    b=lasagne.init.Constant(0.), nonlinearity=lasagne.nonlinearities.rectify,
    flip_filters=True, convolution=None, **kwargs)

    3-d convolution of ``(batch, channels, depth, rows, columns)`` inputs.
    `convolution` None uses :func:`lasagne.ops.conv.conv3d`; a callable
    must follow Theano's ``T.nnet.conv3d`` signature.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> Conv3DLayer(InputLayer((None, 1, 8, 8, 8)), 2, 3,
    ...             pad='same').output_shape
    (None, 2, 8, 8, 8)
    """

    def __init__(self, incoming, num_filters, filter_size,
                 stride=(1, 1, 1), pad=0, untie_biases=False,
                 W=init.GlorotUniform(), b=init.Constant(0.),
                 nonlinearity=nonlinearities.rectify, flip_filters=True,
                 convolution=None, **kwargs):
        super().__init__(incoming, num_filters, filter_size, stride, pad,
                         untie_biases, W, b, nonlinearity, flip_filters, n=3,
                         **kwargs)
        self.convolution = conv3d if convolution is None else convolution

    def convolve(self, input, **kwargs):
        extra = {"num_groups": self.num_groups} if self.num_groups > 1 else {}
        return self.convolution(input, self.W, self.input_shape,
                                self.get_W_shape(), subsample=self.stride,
                                border_mode=self._border_mode(),
                                filter_flip=self.flip_filters, **extra)


class _TransposedConvLayer(BaseConvLayer):
    """Shared code of the 2-d and 3-d transposed convolutions."""

    _pad_argument = "crop"   # named so in error messages
    _size_argument = "crop"  # what makes the output empty

    def __init__(self, incoming, num_filters, filter_size, stride, crop,
                 untie_biases, W, b, nonlinearity, flip_filters, output_size,
                 n, **kwargs):
        self.crop = crop
        if output_size is not None:
            self._size_argument = "output_size"
        self.output_size = None
        if output_size is not None:
            if isinstance(output_size, pt.Variable):
                self.output_size = output_size
            else:
                self.output_size = tuple(output_size) if not isinstance(
                    output_size, (numbers.Integral, np.integer)) \
                    else (output_size,) * n
        super().__init__(incoming, num_filters, filter_size, stride, crop,
                         untie_biases, W, b, nonlinearity, flip_filters, n=n,
                         **kwargs)
        if self.num_groups != 1:
            raise ValueError(f"{self._where()}grouped transposed "
                             f"convolutions are not supported.")
        if isinstance(self.output_size, tuple) and (
                len(self.output_size) != n or not all(
                    s is None or (isinstance(s, (numbers.Integral, np.integer))
                                  and s > 0) for s in self.output_size)):
            raise ValueError(f"{self._where()}`output_size` must be None, an "
                             f"int or a tuple of {n} positive ints, got "
                             f"{output_size!r}.")

    def get_W_shape(self):
        channels = self.input_shape[1]
        if channels is None:
            raise ValueError(f"{self._where()}the number of input channels "
                             f"must be known, got input shape "
                             f"{self.input_shape}.")
        return (channels, self.num_filters) + self.filter_size

    def get_output_shape_for(self, input_shape):
        if self.output_size is not None:
            size = self.output_size
            if isinstance(size, pt.Variable):
                size = (None,) * self.n
            return (input_shape[0], self.num_filters) + tuple(size)
        crop = self.crop if isinstance(self.crop, tuple) else \
            (self.crop,) * self.n
        return (input_shape[0], self.num_filters) + tuple(
            conv_input_length(i, f, s, p) for i, f, s, p in zip(
                input_shape[2:], self.filter_size, self.stride, crop))

    def convolve(self, input, **kwargs):
        if self.output_size is not None:
            size = self.output_size
            if not isinstance(size, pt.Variable) and None in size:
                size = None
        else:
            shape = self.get_output_shape_for(self.input_shape)[2:]
            size = None if None in shape else shape
        if size is None:
            size = self.get_output_shape_for(
                tuple(input.shape[i] for i in range(self.n + 2)))[2:] \
                if self.output_size is None else self.output_size
        crop = self.crop
        if crop == "same":
            crop = tuple(f // 2 for f in self.filter_size)
        elif crop == "full":
            crop = tuple(f - 1 for f in self.filter_size)
        elif crop == "valid":
            crop = 0
        # As in Lasagne: the input-gradient of a convolution whose
        # ``filter_flip`` is ``not flip_filters``, so that a layer tied as
        # ``W=conv.W, flip_filters=not conv.flip_filters`` is conv's transpose.
        return conv_transpose(input, self.W, size, stride=self.stride,
                              padding=crop,
                              filter_flip=not self.flip_filters)


class TransposedConv2DLayer(_TransposedConvLayer):
    """TransposedConv2DLayer(incoming, num_filters, filter_size,
    stride=(1, 1), crop=0, untie_biases=False,
    W=lasagne.init.GlorotUniform(), b=lasagne.init.Constant(0.),
    nonlinearity=lasagne.nonlinearities.rectify, flip_filters=False,
    output_size=None, **kwargs)

    2-d transposed convolution ("deconvolution"): the gradient of a
    :class:`Conv2DLayer` with respect to its input, so the spatial size
    grows by the `stride`. ``W`` has shape ``(input_channels, num_filters,
    *filter_size)``. `crop` removes borders (the forward layer's `pad`);
    `output_size` picks among the sizes a strided convolution maps to the
    same input size.

    As in Lasagne, the layer dilates its input by ``stride - 1`` zeros, pads
    it by ``filter_size - 1 - crop`` and slides the filters over it,
    flipping them only when ``flip_filters=True`` (the flag is inverted
    compared to :class:`Conv2DLayer`): it is the input-gradient of a
    convolution with ``filter_flip=not flip_filters``. So a layer tied as
    ``TransposedConv2DLayer(conv, ..., W=conv.W, flip_filters=not
    conv.flip_filters)`` computes the exact transpose of ``conv``.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, Conv2DLayer
    >>> l = TransposedConv2DLayer(InputLayer((None, 8, 7, 7)), 4, 3,
    ...                           stride=2)
    >>> l.output_shape, l.W.get_value().shape
    ((None, 4, 15, 15), (8, 4, 3, 3))
    >>> conv = Conv2DLayer(InputLayer((None, 3, 15, 15)), 8, 3, stride=2)
    >>> deconv = TransposedConv2DLayer(conv, 3, 3, stride=2, W=conv.W,
    ...                                flip_filters=not conv.flip_filters)
    >>> deconv.output_shape
    (None, 3, 15, 15)
    """

    def __init__(self, incoming, num_filters, filter_size, stride=(1, 1),
                 crop=0, untie_biases=False, W=init.GlorotUniform(),
                 b=init.Constant(0.), nonlinearity=nonlinearities.rectify,
                 flip_filters=False, output_size=None, **kwargs):
        super().__init__(incoming, num_filters, filter_size, stride, crop,
                         untie_biases, W, b, nonlinearity, flip_filters,
                         output_size, n=2, **kwargs)


Deconv2DLayer = TransposedConv2DLayer


class TransposedConv3DLayer(_TransposedConvLayer):
    """TransposedConv3DLayer(incoming, num_filters, filter_size,
    stride=(1, 1, 1), crop=0, untie_biases=False,
    W=lasagne.init.GlorotUniform(), b=lasagne.init.Constant(0.),
    nonlinearity=lasagne.nonlinearities.rectify, flip_filters=False,
    output_size=None, **kwargs)

    3-d transposed convolution; see :class:`TransposedConv2DLayer`.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> TransposedConv3DLayer(InputLayer((None, 2, 3, 3, 3)), 1, 2,
    ...                       stride=2, crop=1).output_shape
    (None, 1, 4, 4, 4)
    """

    def __init__(self, incoming, num_filters, filter_size,
                 stride=(1, 1, 1), crop=0, untie_biases=False,
                 W=init.GlorotUniform(), b=init.Constant(0.),
                 nonlinearity=nonlinearities.rectify, flip_filters=False,
                 output_size=None, **kwargs):
        super().__init__(incoming, num_filters, filter_size, stride, crop,
                         untie_biases, W, b, nonlinearity, flip_filters,
                         output_size, n=3, **kwargs)


Deconv3DLayer = TransposedConv3DLayer


class DilatedConv2DLayer(BaseConvLayer):
    """DilatedConv2DLayer(incoming, num_filters, filter_size,
    dilation=(1, 1), pad=0, untie_biases=False,
    W=lasagne.init.GlorotUniform(), b=lasagne.init.Constant(0.),
    nonlinearity=lasagne.nonlinearities.rectify, flip_filters=False,
    **kwargs)

    2-d dilated (atrous) convolution: filter taps `dilation` apart, stride
    1. As in Lasagne, ``W`` has shape ``(input_channels, num_filters,
    *filter_size)`` (transposed compared to :class:`Conv2DLayer`).

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> l = DilatedConv2DLayer(InputLayer((None, 3, 20, 20)), 5, 3,
    ...                        dilation=(2, 3))
    >>> l.output_shape, l.W.get_value().shape
    ((None, 5, 16, 14), (3, 5, 3, 3))
    """

    def __init__(self, incoming, num_filters, filter_size, dilation=(1, 1),
                 pad=0, untie_biases=False, W=init.GlorotUniform(),
                 b=init.Constant(0.), nonlinearity=nonlinearities.rectify,
                 flip_filters=False, **kwargs):
        self.dilation = dilation
        super().__init__(incoming, num_filters, filter_size, 1, pad,
                         untie_biases, W, b, nonlinearity, flip_filters, n=2,
                         **kwargs)
        self.dilation = _positive_tuple(self, dilation, 2, "dilation")
        if self.num_groups != 1:
            raise ValueError(f"{self._where()}grouped dilated convolutions "
                             f"are not supported.")

    def get_W_shape(self):
        channels = self.input_shape[1]
        if channels is None:
            raise ValueError(f"{self._where()}the number of input channels "
                             f"must be known, got input shape "
                             f"{self.input_shape}.")
        return (channels, self.num_filters) + self.filter_size

    def _dilated_size(self):
        dilation = as_tuple(self.dilation, 2)
        return tuple((f - 1) * d + 1 for f, d in zip(self.filter_size,
                                                     dilation))

    def get_output_shape_for(self, input_shape):
        pad = self.pad if isinstance(self.pad, tuple) else (self.pad,) * 2
        return (input_shape[0], self.num_filters) + tuple(
            conv_output_length(i, f, 1, p) for i, f, p in zip(
                input_shape[2:], self._dilated_size(), pad))

    def convolve(self, input, **kwargs):
        pad = self.pad
        if pad == "same":
            size = self._dilated_size()
            pad = tuple(((s - 1) // 2, s - 1 - (s - 1) // 2) for s in size)
        elif pad == "full":
            pad = tuple(s - 1 for s in self._dilated_size())
        return _conv_nd(input, self.W.dimshuffle(1, 0, 2, 3), stride=1,
                        padding=pad, dilation=self.dilation,
                        filter_flip=self.flip_filters)
