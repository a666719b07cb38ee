"""Weight normalization (Salimans & Kingma, 2016): each output unit's
weight vector ``w`` is used as ``g * v / ||v||``, with the direction ``v``
(the layer's ``W``) and the length ``g`` learned separately."""
import numpy as np
import pytensor.tensor as pt

from .. import init, nonlinearities
from .base import Layer
from .conv import BaseConvLayer, DilatedConv2DLayer, _TransposedConvLayer
from .dense import DenseLayer, NINLayer
from .normalization import _take_over

__all__ = ["WeightNormLayer", "weight_norm"]


def _layout(layer):
    """(axes of W each norm is taken over, output axis of the units) for a
    layer whose W holds one weight vector per output unit."""
    if isinstance(layer, DenseLayer):
        return (0,), -1
    if isinstance(layer, NINLayer):
        return (0,), 1
    if isinstance(layer, (_TransposedConvLayer, DilatedConv2DLayer)):
        # W is (input channels, filters, *filter_size)
        return (0,) + tuple(range(2, len(layer.get_W_shape()))), 1
    if isinstance(layer, BaseConvLayer):
        return tuple(range(1, len(layer.get_W_shape()))), 1
    return None


class WeightNormLayer(Layer):
    """WeightNormLayer(incoming, g=lasagne.init.Constant(1.),
    b=lasagne.init.Constant(0.), nonlinearity=lasagne.nonlinearities.rectify,
    epsilon=1e-12, **kwargs)

    Scales each output unit of a Dense, NIN or convolution layer (its bias
    and nonlinearity removed, see :func:`weight_norm`) by ``g / ||W_unit||``
    and adds the bias ``b``: the network computes with the weights ``g *
    W_unit / ||W_unit||`` (Salimans & Kingma, 2016)::

        y = nonlinearity(g / ||W_unit|| * (x . W_unit) + b)

    Gradients reach ``W`` through the norm too, exactly as for the
    reparametrized weight.

    Parameters
    ----------
    incoming : DenseLayer, NINLayer or a convolution layer
        Without bias and nonlinearity (as :func:`weight_norm` leaves it).
    g : initializer, array or shared variable
        Lengths, one per output unit; tagged ``trainable``.
    b : initializer, array, shared variable or None
        Biases, one per output unit; tagged ``trainable``.
    nonlinearity : callable or None
    epsilon : float
        Added to the squared norm.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer
    >>> dense = DenseLayer(InputLayer((None, 5)), 3, b=None, nonlinearity=None)
    >>> l = WeightNormLayer(dense)
    >>> [p.name for p in l.get_params()]
    ['g', 'b']
    """

    def __init__(self, incoming, g=init.Constant(1.), b=init.Constant(0.),
                 nonlinearity=nonlinearities.rectify, epsilon=1e-12, **kwargs):
        super().__init__(incoming, **kwargs)
        layout = _layout(incoming)
        where = f"WeightNormLayer {self.name + ' ' if self.name else ''}"
        if layout is None:
            raise TypeError(
                f"{where}: `incoming` must be a DenseLayer, NINLayer or a "
                f"convolution layer (one weight vector per output unit in "
                f"its W), got {type(incoming).__name__}.")
        self.norm_axes, self.unit_axis = layout
        num_units = self.output_shape[self.unit_axis]
        self.epsilon = epsilon
        self.nonlinearity = (nonlinearities.identity if nonlinearity is None
                             else nonlinearity)
        self.g = self.add_param(g, (num_units,), "g", regularizable=False)
        self.b = None if b is None else self.add_param(
            b, (num_units,), "b", regularizable=False)

    def _unit_shaped(self, vector, ndim):
        """`vector` (one value per unit) broadcast along the unit axis."""
        axis = self.unit_axis % ndim
        return vector.dimshuffle(["x"] * axis + [0] + ["x"] * (ndim - axis - 1))

    def get_output_for(self, input, **kwargs):
        W = self.input_layer.W
        eps = pt.constant(np.asarray(self.epsilon, dtype=W.dtype))
        norms = pt.sqrt(pt.sum(pt.square(W), axis=self.norm_axes) + eps)
        out = input * self._unit_shaped(self.g / norms, input.ndim)
        if self.b is not None:
            out = out + self._unit_shaped(self.b, input.ndim)
        return self.nonlinearity(out)


def weight_norm(layer, **kwargs):
    """Weight-normalize a Dense, NIN or convolution layer: its bias and
    nonlinearity move to a :class:`WeightNormLayer` on top, which rescales
    each output unit to the learned length ``g``.

    Parameters
    ----------
    layer : DenseLayer, NINLayer or a convolution layer
    **kwargs
        Passed to :class:`WeightNormLayer` (``g``, ``b``, ``epsilon``,
        ``name``; default name: the layer's name + ``'_wn'``).

    Returns
    -------
    WeightNormLayer

    Notes
    -----
    Salimans & Kingma initialise ``g`` and ``b`` from a first batch so that
    the pre-activations have zero mean and unit variance; here they start
    at 1 and 0 (set them with ``g.set_value`` for that initialisation).

    Examples
    --------
    >>> from lasagne.layers import InputLayer, Conv2DLayer
    >>> conv = Conv2DLayer(InputLayer((None, 3, 8, 8)), 4, 3, name="conv")
    >>> l = weight_norm(conv)
    >>> l.name, conv.b, [p.name for p in l.get_params()]
    ('conv_wn', None, ['conv_wn.g', 'conv_wn.b'])
    """
    if _layout(layer) is None:
        raise TypeError(
            f"weight_norm: `layer` must be a DenseLayer, NINLayer or a "
            f"convolution layer, got {type(layer).__name__}.")
    nonlinearity, name = _take_over(layer, "_wn", kwargs)
    return WeightNormLayer(layer, nonlinearity=nonlinearity, name=name, **kwargs)
