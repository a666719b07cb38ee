"""Assorted layers: nonlinearities, biases and scales, expressions,
inverses, parametric and randomized rectifiers."""
import numpy as np
import pytensor
import pytensor.tensor as pt

from .. import init, nonlinearities
from .. import random as lasagne_random
from .. import utils
from .base import Layer, MergeLayer

__all__ = [
    "NonlinearityLayer", "BiasLayer", "ScaleLayer", "standardize",
    "ExpressionLayer", "InverseLayer", "TransformerLayer",
    "TPSTransformerLayer", "ParametricRectifierLayer", "prelu",
    "RandomizedRectifierLayer", "rrelu",
]


class NonlinearityLayer(Layer):
    """NonlinearityLayer(incoming, nonlinearity=lasagne.nonlinearities.rectify,
    **kwargs)

    Applies a nonlinearity elementwise.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, NonlinearityLayer
    >>> from lasagne.nonlinearities import tanh
    >>> NonlinearityLayer(InputLayer((None, 3)), tanh).output_shape
    (None, 3)
    """

    def __init__(self, incoming, nonlinearity=nonlinearities.rectify,
                 **kwargs):
        super().__init__(incoming, **kwargs)
        if nonlinearity is not None and not callable(nonlinearity):
            raise TypeError(
                f"{self._where()}`nonlinearity` must be callable or None, got "
                f"{nonlinearity!r}.")
        self.nonlinearity = (nonlinearities.identity if nonlinearity is None
                             else nonlinearity)

    def get_output_for(self, input, **kwargs):
        return self.nonlinearity(input)


def _resolve_shared_axes(layer, shared_axes):
    """Normalise `shared_axes` ('auto', 'all', int or tuple) to a tuple of
    non-negative axes; 'auto' shares over all axes but the second (the
    channels of a (batch, channels, ...) input)."""
    ndim = len(layer.input_shape)
    if shared_axes == "auto":
        return (0,) + tuple(range(2, ndim))
    if shared_axes == "all":
        return tuple(range(ndim))
    if isinstance(shared_axes, utils.int_types):
        shared_axes = (shared_axes,)
    try:
        axes = tuple(shared_axes)
    except TypeError:
        axes = None
    if axes is None or any(not isinstance(a, utils.int_types)
                           or not -ndim <= a < ndim for a in axes):
        raise ValueError(
            f"{layer._where()}`shared_axes` must be 'auto', 'all', an axis or "
            f"a tuple of axes of the {ndim}-dimensional input, got "
            f"{shared_axes!r}.")
    return tuple(a % ndim for a in axes)


def _per_axis_shape(layer, shared_axes, what):
    shape = tuple(size for axis, size in enumerate(layer.input_shape)
                  if axis not in shared_axes)
    if any(size is None for size in shape):
        raise ValueError(
            f"{layer._where()}{what} needs specified input sizes (known "
            f"input sizes on every axis not in shared_axes={shared_axes}); "
            f"the input shape is "
            f"{layer.input_shape}. Fix those sizes or share over those axes.")
    return shape


def _broadcast_pattern(ndim, shared_axes):
    """Dimshuffle pattern placing a per-axis parameter against the input."""
    param_axes = iter(range(ndim - len(shared_axes)))
    return ["x" if axis in shared_axes else next(param_axes)
            for axis in range(ndim)]


class BiasLayer(Layer):
    """BiasLayer(incoming, b=lasagne.init.Constant(0), shared_axes='auto',
    **kwargs)

    Adds a learned bias, shared over the axes in `shared_axes`.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    b : array, shared variable, expression, callable or None
        The bias, of the input's shape without the shared axes.
    shared_axes : 'auto', 'all', int or tuple of int
        Axes over which one bias value is shared; 'auto' shares over all
        axes but the second (one bias per channel).

    Examples
    --------
    >>> from lasagne.layers import InputLayer, BiasLayer
    >>> BiasLayer(InputLayer((None, 3, 5, 5))).b.get_value().shape
    (3,)
    """

    def __init__(self, incoming, b=init.Constant(0), shared_axes="auto",
                 **kwargs):
        super().__init__(incoming, **kwargs)
        self.shared_axes = _resolve_shared_axes(self, shared_axes)
        if b is None:
            self.b = None
        else:
            shape = _per_axis_shape(self, self.shared_axes, "the bias")
            self.b = self.add_param(b, shape, "b", regularizable=False)

    def get_output_for(self, input, **kwargs):
        if self.b is None:
            return input
        pattern = _broadcast_pattern(input.ndim, self.shared_axes)
        return input + self.b.dimshuffle(pattern)


class ScaleLayer(Layer):
    """ScaleLayer(incoming, scales=lasagne.init.Constant(1),
    shared_axes='auto', **kwargs)

    Multiplies by learned scales, shared over the axes in `shared_axes`.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, ScaleLayer
    >>> ScaleLayer(InputLayer((None, 4)), shared_axes=0).scales.get_value()
    array([1., 1., 1., 1.])
    """

    def __init__(self, incoming, scales=init.Constant(1), shared_axes="auto",
                 **kwargs):
        super().__init__(incoming, **kwargs)
        self.shared_axes = _resolve_shared_axes(self, shared_axes)
        shape = _per_axis_shape(self, self.shared_axes, "the scales")
        self.scales = self.add_param(scales, shape, "scales",
                                     regularizable=False)

    def get_output_for(self, input, **kwargs):
        pattern = _broadcast_pattern(input.ndim, self.shared_axes)
        return input * self.scales.dimshuffle(pattern)


def standardize(layer, offset, scale, shared_axes="auto"):
    """Subtract `offset` then divide by `scale`, with fixed (non-trainable)
    parameters: a :class:`BiasLayer` followed by a :class:`ScaleLayer`.

    Parameters
    ----------
    layer : a :class:`Layer` instance or a tuple
    offset, scale : arrays, shared variables or expressions
        E.g. the per-feature mean and standard deviation of the training set.
    shared_axes : 'auto', 'all', int or tuple of int

    Examples
    --------
    >>> import numpy as np
    >>> from lasagne.layers import InputLayer, get_output
    >>> l = standardize(InputLayer((None, 2)), np.array([1., 2.]),
    ...                 np.array([2., 4.]), shared_axes=0)
    >>> get_output(l, np.array([[3., 6.]])).eval()
    array([[1., 1.]])
    """
    layer = BiasLayer(layer, -offset, shared_axes)
    layer.params[layer.b].discard("trainable")
    layer = ScaleLayer(layer, utils.floatX(1.) / scale, shared_axes)
    layer.params[layer.scales].discard("trainable")
    return layer


def _check_expression_args(layer, function, output_shape):
    """Validate the `function` and `output_shape` arguments shared by
    ExpressionLayer and ExpressionMergeLayer."""
    if not callable(function):
        raise TypeError(
            f"{layer._where()}`function` must be callable, got {function!r}.")
    if not (output_shape is None or output_shape == "auto"
            or callable(output_shape) or isinstance(output_shape, tuple)):
        raise ValueError(
            f"{layer._where()}`output_shape` must be None, 'auto', a tuple "
            f"or a callable, got {output_shape!r}.")


class ExpressionLayer(Layer):
    """Applies an arbitrary function of one input.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    function : callable
        Maps the input expression to the output expression.
    output_shape : None, tuple, 'auto' or callable
        ``None``: the output has the input's shape. A tuple: the output
        shape (``None`` entries are taken from the input shape). ``'auto'``:
        infer it by applying `function` to zeros of the input's shape. A
        callable: maps the input shape to the output shape.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, ExpressionLayer
    >>> l = ExpressionLayer(InputLayer((None, 6)), lambda x: x[:, ::2],
    ...                     output_shape='auto')
    >>> l.output_shape
    (None, 3)
    """

    def __init__(self, incoming, function, output_shape=None, **kwargs):
        super().__init__(incoming, **kwargs)
        _check_expression_args(self, function, output_shape)
        self.function = function
        self._output_shape = output_shape

    def get_output_shape_for(self, input_shape):
        if self._output_shape is None:
            return input_shape
        if isinstance(self._output_shape, str):  # 'auto'
            probe_shape = tuple(0 if s is None else s for s in input_shape)
            probe = pt.zeros(probe_shape, dtype=pytensor.config.floatX)
            computed = utils._eval_shape(self.function(probe))
            return tuple(s if s != 0 else None for s in computed)
        if callable(self._output_shape):
            return tuple(self._output_shape(input_shape))
        return self._output_shape

    def get_output_for(self, input, **kwargs):
        return self.function(input)


class InverseLayer(MergeLayer):
    """Applies the transpose of another layer's Jacobian: the gradient of
    `layer`'s output with respect to its input, with `incoming` standing
    for the output gradient. Inverts the shape change of a layer, e.g. a
    convolution becomes a transposed convolution and max-pooling becomes
    unpooling to the argmax positions.

    Parameters
    ----------
    incoming : a :class:`Layer` instance
        Output shaped like `layer`'s output.
    layer : a :class:`Layer` instance
        The layer to invert; its output is the shape of `incoming`'s, and
        this layer's output has its input's shape.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer
    >>> l_in = InputLayer((None, 10))
    >>> l1 = DenseLayer(l_in, num_units=4)
    >>> InverseLayer(l1, l1).output_shape
    (None, 10)
    """

    def __init__(self, incoming, layer, **kwargs):
        if getattr(layer, "input_layer", None) is None:
            name = kwargs.get("name")
            raise ValueError(
                f"InverseLayer{f' {name!r}' if name else ''}: `layer` must be "
                f"a single-input layer built from another layer, got "
                f"{layer!r}.")
        super().__init__([incoming, layer, layer.input_layer], **kwargs)

    def get_output_shape_for(self, input_shapes):
        return input_shapes[2]

    def get_output_for(self, inputs, **kwargs):
        output_grad, layer_out, layer_in = inputs
        return pytensor.grad(None, wrt=layer_in,
                             known_grads={layer_out: output_grad})


class ParametricRectifierLayer(Layer):
    """ParametricRectifierLayer(incoming, alpha=lasagne.init.Constant(0.25),
    shared_axes='auto', **kwargs)

    Parametric ReLU: ``max(x, 0) + alpha * min(x, 0)`` with learned leakiness
    `alpha`, shared over `shared_axes` (by default one per channel).

    Examples
    --------
    >>> from lasagne.layers import InputLayer, ParametricRectifierLayer
    >>> l = ParametricRectifierLayer(InputLayer((None, 3, 4, 4)))
    >>> l.alpha.get_value()
    array([0.25, 0.25, 0.25])
    """

    def __init__(self, incoming, alpha=init.Constant(0.25), shared_axes="auto",
                 **kwargs):
        super().__init__(incoming, **kwargs)
        self.shared_axes = _resolve_shared_axes(self, shared_axes)
        shape = _per_axis_shape(self, self.shared_axes, "alpha")
        self.alpha = self.add_param(alpha, shape, name="alpha",
                                    regularizable=False)

    def get_output_for(self, input, **kwargs):
        alpha = self.alpha.dimshuffle(
            _broadcast_pattern(input.ndim, self.shared_axes))
        return pt.maximum(input, 0) + alpha * pt.minimum(input, 0)


def _strip_nonlinearity(layer):
    nonlinearity = getattr(layer, "nonlinearity", None)
    if nonlinearity is not None:
        layer.nonlinearity = nonlinearities.identity
    return nonlinearity


def prelu(layer, **kwargs):
    """Replace `layer`'s nonlinearity by a :class:`ParametricRectifierLayer`
    stacked on top of it.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer
    >>> l = prelu(DenseLayer(InputLayer((None, 3)), num_units=5))
    >>> type(l).__name__, l.input_layer.nonlinearity is nonlinearities.identity
    ('ParametricRectifierLayer', True)
    """
    _strip_nonlinearity(layer)
    return ParametricRectifierLayer(layer, **kwargs)


class RandomizedRectifierLayer(Layer):
    """Randomized leaky ReLU: during training, the negative slope is drawn
    uniformly from ``[lower, upper]``; at test time (``deterministic=True``)
    it is ``(lower + upper) / 2``.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    lower, upper : float
        Bounds of the slope, ``0 <= lower <= upper < 1``.
    shared_axes : 'auto', 'all', int or tuple of int
        Axes over which one slope is shared; 'auto' draws one per channel
        and position... of the second axis (as Lasagne: shared over batch
        and spatial axes).

    Examples
    --------
    >>> from lasagne.layers import InputLayer, RandomizedRectifierLayer
    >>> RandomizedRectifierLayer(InputLayer((None, 3))).shared_axes
    (0,)
    """

    def __init__(self, incoming, lower=0.3, upper=0.8, shared_axes="auto",
                 **kwargs):
        super().__init__(incoming, **kwargs)
        if not 0 <= lower <= upper < 1:
            raise ValueError(
                f"{self._where()}`lower` and `upper` must satisfy "
                f"0 <= lower <= upper < 1, got lower={lower!r}, "
                f"upper={upper!r}.")
        self.lower = lower
        self.upper = upper
        self.shared_axes = _resolve_shared_axes(self, shared_axes)
        self._seeds = np.random.RandomState(lasagne_random.draw_seed())

    def get_output_for(self, input, deterministic=False, **kwargs):
        input = utils.as_theano_expression(input)  # a numpy array, too
        if deterministic or self.upper == self.lower:
            slope = pt.constant((self.lower + self.upper) / 2.0,
                                dtype=input.dtype)
        else:
            shape = tuple(1 if axis in self.shared_axes else input.shape[axis]
                          for axis in range(input.ndim))
            rng = lasagne_random.shared_generator(
                seed=int(self._seeds.randint(0, 2 ** 31 - 1)))
            next_rng, slope = pt.random.uniform(
                self.lower, self.upper, size=shape, rng=rng,
                dtype=input.dtype, return_next_rng=True)
            lasagne_random.advance_on_use(rng, next_rng)
        return pt.maximum(input, 0) + slope * pt.minimum(input, 0)


def rrelu(layer, **kwargs):
    """Replace `layer`'s nonlinearity by a :class:`RandomizedRectifierLayer`
    stacked on top of it.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer
    >>> type(rrelu(DenseLayer(InputLayer((None, 3)), 5))).__name__
    'RandomizedRectifierLayer'
    """
    _strip_nonlinearity(layer)
    return RandomizedRectifierLayer(layer, **kwargs)


from .transform import TransformerLayer, TPSTransformerLayer  # noqa: E402
