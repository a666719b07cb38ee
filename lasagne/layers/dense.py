"""Fully connected layers."""
import numpy as np
import pytensor.tensor as pt

from .. import init, nonlinearities
from .base import Layer

__all__ = ["DenseLayer", "NINLayer"]


def _check_nonlinearity(layer, nonlinearity):
    """Refuse a non-callable nonlinearity now rather than at get_output."""
    if nonlinearity is None or callable(nonlinearity):
        return
    hint = ""
    if isinstance(nonlinearity, str) and callable(
            getattr(nonlinearities, nonlinearity, None)):
        hint = f" Did you mean lasagne.nonlinearities.{nonlinearity}?"
    raise TypeError(
        f"{layer._where()}`nonlinearity` must be a callable (such as "
        f"lasagne.nonlinearities.rectify) or None, got {nonlinearity!r}."
        f"{hint}")


class DenseLayer(Layer):
    """DenseLayer(incoming, num_units, W=lasagne.init.GlorotUniform(),
    b=lasagne.init.Constant(0.), nonlinearity=lasagne.nonlinearities.rectify,
    num_leading_axes=1, **kwargs)

    A fully connected layer: ``nonlinearity(dot(input, W) + b)``.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    num_units : int
        The number of units.
    W : array, shared variable, expression or callable
        Weights of shape ``(num_inputs, num_units)``.
    b : array, shared variable, expression, callable or None
        Biases of shape ``(num_units,)``; ``None`` for no bias.
    nonlinearity : callable or None
        ``None`` means linear.
    num_leading_axes : int
        How many leading axes are kept (batch, time, ...); the remaining
        trailing axes are flattened into the input features. Negative values
        count from the end and keep the rest as leading axes.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer
    >>> l = DenseLayer(InputLayer((None, 5, 10)), num_units=3,
    ...                num_leading_axes=2)
    >>> l.output_shape, l.W.get_value().shape
    ((None, 5, 3), (10, 3))
    """

    def __init__(self, incoming, num_units, W=init.GlorotUniform(),
                 b=init.Constant(0.), nonlinearity=nonlinearities.rectify,
                 num_leading_axes=1, **kwargs):
        super().__init__(incoming, **kwargs)
        _check_nonlinearity(self, nonlinearity)
        self.nonlinearity = (nonlinearities.identity if nonlinearity is None
                             else nonlinearity)
        if not isinstance(num_units, (int, np.integer)) or num_units <= 0:
            raise ValueError(
                f"{self._where()}`num_units` must be a positive integer, got "
                f"{num_units!r}.")
        self.num_units = int(num_units)
        ndim = len(self.input_shape)
        if num_leading_axes >= ndim or num_leading_axes < -ndim:
            what = ("leaving no trailing axes" if num_leading_axes >= ndim
                    else "requesting more trailing axes than there are input "
                    "dimensions")
            raise ValueError(
                f"{self._where()}`num_leading_axes` is {num_leading_axes} for "
                f"an input of {ndim} dimensions {self.input_shape}, {what}: "
                f"it must leave at least one trailing axis (allowed: {-ndim} "
                f"to {ndim - 1}).")
        if num_leading_axes < 0:
            num_leading_axes += ndim
        self.num_leading_axes = num_leading_axes
        trailing = self.input_shape[num_leading_axes:]
        if any(s is None for s in trailing):
            raise ValueError(
                f"{self._where()}the trailing input dimensions {trailing} "
                f"(input shape {self.input_shape}, num_leading_axes="
                f"{num_leading_axes}) must be known to size the weights: the "
                f"layer requires a fixed input shape there. Give the input "
                f"layer a fixed size there, or change num_leading_axes.")
        num_inputs = int(np.prod(trailing))
        self.W = self.add_param(W, (num_inputs, self.num_units), name="W")
        self.b = (None if b is None else
                  self.add_param(b, (self.num_units,), name="b",
                                 regularizable=False))

    def get_output_shape_for(self, input_shape):
        return input_shape[:self.num_leading_axes] + (self.num_units,)

    def get_output_for(self, input, **kwargs):
        lead = self.num_leading_axes
        if input.ndim > lead + 1:
            input = input.flatten(lead + 1)
        activation = pt.dot(input, self.W)
        if self.b is not None:
            activation = activation + self.b
        return self.nonlinearity(activation)


class NINLayer(Layer):
    """NINLayer(incoming, num_units, untie_biases=False,
    W=lasagne.init.GlorotUniform(), b=lasagne.init.Constant(0.),
    nonlinearity=lasagne.nonlinearities.rectify, **kwargs)

    Network-in-network: a dense layer applied across the channel axis (axis
    1) at every spatial position, i.e. a 1x1 convolution.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        Input of shape ``(batch, channels, ...)``.
    num_units : int
        Number of output channels.
    untie_biases : bool
        One bias per output channel and position instead of per channel.
    W, b, nonlinearity
        As for :class:`DenseLayer`; ``W`` has shape ``(channels, num_units)``.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, NINLayer
    >>> NINLayer(InputLayer((None, 3, 8, 8)), num_units=16).output_shape
    (None, 16, 8, 8)
    """

    def __init__(self, incoming, num_units, untie_biases=False,
                 W=init.GlorotUniform(), b=init.Constant(0.),
                 nonlinearity=nonlinearities.rectify, **kwargs):
        super().__init__(incoming, **kwargs)
        _check_nonlinearity(self, nonlinearity)
        self.nonlinearity = (nonlinearities.identity if nonlinearity is None
                             else nonlinearity)
        if not isinstance(num_units, (int, np.integer)) or num_units <= 0:
            raise ValueError(
                f"{self._where()}`num_units` must be a positive integer, got "
                f"{num_units!r}.")
        if len(self.input_shape) < 2 or self.input_shape[1] is None:
            raise ValueError(
                f"{self._where()}needs an input of shape (batch, channels, "
                f"...) with a known number of channels, got "
                f"{self.input_shape}.")
        self.num_units = int(num_units)
        self.untie_biases = untie_biases
        num_input_channels = self.input_shape[1]
        self.W = self.add_param(W, (num_input_channels, self.num_units),
                                name="W")
        if b is None:
            self.b = None
        else:
            if untie_biases:
                spatial = self.input_shape[2:]
                if any(s is None for s in spatial):
                    raise ValueError(
                        f"{self._where()}untie_biases=True needs known "
                        f"spatial sizes, got input shape {self.input_shape}.")
                biases_shape = (self.num_units,) + tuple(spatial)
            else:
                biases_shape = (self.num_units,)
            self.b = self.add_param(b, biases_shape, name="b",
                                    regularizable=False)

    def get_output_shape_for(self, input_shape):
        return (input_shape[0], self.num_units) + tuple(input_shape[2:])

    def get_output_for(self, input, **kwargs):
        # (batch, c, *spatial) -> (batch, *spatial, c) . W -> back to channels first
        ndim = input.ndim
        moved = input.dimshuffle(0, *range(2, ndim), 1)
        activation = pt.dot(moved, self.W)
        activation = activation.dimshuffle(0, ndim - 1, *range(1, ndim - 1))
        if self.b is not None:
            if self.untie_biases:
                activation = activation + pt.shape_padleft(self.b, 1)
            else:
                activation = activation + self.b.dimshuffle(
                    "x", 0, *(["x"] * (ndim - 2)))
        return self.nonlinearity(activation)
