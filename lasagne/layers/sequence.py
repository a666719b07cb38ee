"""Layers for Transformer-style sequence models: layer and RMS
normalization over the features, and positional embeddings.

Sequences are ``(batch, time, features)``.
"""
import numpy as np
import pytensor.tensor as pt

from .. import init
from .base import Layer

__all__ = ["LayerNormLayer", "RMSNormLayer", "PositionalEmbeddingLayer",
           "SinusoidalPositionalEncodingLayer"]


def _where(layer):
    return f"{type(layer).__name__} {layer.name + ' ' if layer.name else ''}"


def _feature_size(layer, what="the last axis"):
    size = layer.input_shape[-1]
    if size is None:
        raise ValueError(
            f"{_where(layer)}: the size of {what} of the input must be known, "
            f"got input shape {layer.input_shape}.")
    return size


class LayerNormLayer(Layer):
    """LayerNormLayer(incoming, epsilon=1e-5, gamma=lasagne.init.Constant(1),
    beta=lasagne.init.Constant(0), **kwargs)

    Layer normalization (Ba et al., 2016) over the last axis, with a learned
    scale and shift per feature::

        y = (x - mean(x)) / sqrt(var(x) + epsilon) * gamma + beta

    (PyTorch's ``nn.LayerNorm(features)``). For Lasagne 0.2's macro
    normalizing all non-batch axes, see :func:`layer_norm`.

    Parameters
    ----------
    incoming : a :class:`Layer` or shape tuple
    epsilon : float
        Added to the variance.
    gamma, beta : initializer, array, shared variable or None
        Scale and shift, shape ``(features,)``; None for none. Tagged
        ``trainable``, not ``regularizable``.

    Examples
    --------
    >>> import numpy as np
    >>> from lasagne.layers import InputLayer, get_output
    >>> l = LayerNormLayer(InputLayer((None, 3)))
    >>> get_output(l, np.array([[1.0, 2.0, 3.0]])).eval().round(4)
    array([[-1.2247,  0.    ,  1.2247]])
    """

    def __init__(self, incoming, epsilon=1e-5, gamma=init.Constant(1.),
                 beta=init.Constant(0.), **kwargs):
        super().__init__(incoming, **kwargs)
        size = _feature_size(self)
        self.epsilon = epsilon
        self.gamma = None if gamma is None else self.add_param(
            gamma, (size,), "gamma", regularizable=False)
        self.beta = None if beta is None else self.add_param(
            beta, (size,), "beta", regularizable=False)

    def get_output_for(self, input, **kwargs):
        mean = pt.mean(input, axis=-1, keepdims=True)
        centred = input - mean
        var = pt.mean(pt.square(centred), axis=-1, keepdims=True)
        eps = pt.constant(np.asarray(self.epsilon, dtype=input.dtype))
        out = centred / pt.sqrt(var + eps)
        if self.gamma is not None:
            out = out * self.gamma
        if self.beta is not None:
            out = out + self.beta
        return out


class RMSNormLayer(Layer):
    """RMSNormLayer(incoming, epsilon=1e-6, gamma=lasagne.init.Constant(1),
    **kwargs)

    Root-mean-square normalization (Zhang & Sennrich, 2019).

    It normalizes over the last axis, as layer normalization does, without
    centring or shift::

        y = x / sqrt(mean(x**2) + epsilon) * gamma

    Parameters
    ----------
    incoming : a :class:`Layer` or shape tuple
    epsilon : float
    gamma : initializer, array, shared variable or None
        Scale per feature; tagged ``trainable``, not ``regularizable``.

    Examples
    --------
    >>> import numpy as np
    >>> from lasagne.layers import InputLayer, get_output
    >>> l = RMSNormLayer(InputLayer((None, 2)), epsilon=0.0)
    >>> get_output(l, np.array([[3.0, 4.0]])).eval().round(4)
    array([[0.8485, 1.1314]])
    """

    def __init__(self, incoming, epsilon=1e-6, gamma=init.Constant(1.), **kwargs):
        super().__init__(incoming, **kwargs)
        size = _feature_size(self)
        self.epsilon = epsilon
        self.gamma = None if gamma is None else self.add_param(
            gamma, (size,), "gamma", regularizable=False)

    def get_output_for(self, input, **kwargs):
        eps = pt.constant(np.asarray(self.epsilon, dtype=input.dtype))
        out = input / pt.sqrt(pt.mean(pt.square(input), axis=-1, keepdims=True) + eps)
        return out if self.gamma is None else out * self.gamma


def _check_sequence(layer):
    if len(layer.input_shape) != 3:
        raise ValueError(
            f"{_where(layer)}: the input must be (batch, time, features), got "
            f"shape {layer.input_shape}.")
    return _feature_size(layer, "the features axis")


class PositionalEmbeddingLayer(Layer):
    """PositionalEmbeddingLayer(incoming, max_length,
    W=lasagne.init.Normal(0.02), **kwargs)

    Adds a learned embedding of each position to a sequence ``(batch,
    time, features)``: ``y[:, t] = x[:, t] + W[t]`` (as in BERT and GPT-2).

    Parameters
    ----------
    incoming : a :class:`Layer` or shape tuple
    max_length : int
        The longest sequence the layer accepts.
    W : initializer, array or shared variable
        ``(max_length, features)``; tagged ``trainable`` and
        ``regularizable``.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> PositionalEmbeddingLayer(InputLayer((None, None, 8)), 50).W.get_value().shape
    (50, 8)
    """

    def __init__(self, incoming, max_length, W=init.Normal(0.02), **kwargs):
        super().__init__(incoming, **kwargs)
        size = _check_sequence(self)
        time = self.input_shape[1]
        if time is not None and time > max_length:
            raise ValueError(
                f"{_where(self)}: the input has {time} steps, more than "
                f"max_length={max_length}; raise max_length.")
        self.max_length = int(max_length)
        self.W = self.add_param(W, (self.max_length, size), "W")

    def get_output_for(self, input, **kwargs):
        return input + self.W[:input.shape[1]]


class SinusoidalPositionalEncodingLayer(Layer):
    """Adds the fixed sinusoidal position encoding of Vaswani et al.
    (2017) to a sequence ``(batch, time, features)``::

        y[:, t, 2i] = x[:, t, 2i] + sin(t / max_wavelength**(2i / features))
        y[:, t, 2i + 1] = x[:, t, 2i + 1] + cos(t / max_wavelength**(2i / features))

    No parameters; any sequence length.

    Parameters
    ----------
    incoming : a :class:`Layer` or shape tuple
    max_wavelength : float

    Examples
    --------
    >>> import numpy as np
    >>> from lasagne.layers import InputLayer, get_output
    >>> l = SinusoidalPositionalEncodingLayer(InputLayer((None, None, 2)))
    >>> get_output(l, np.zeros((1, 2, 2))).eval().round(4)
    array([[[0.    , 1.    ],
            [0.8415, 0.5403]]])
    """

    def __init__(self, incoming, max_wavelength=10000.0, **kwargs):
        super().__init__(incoming, **kwargs)
        self.size = _check_sequence(self)
        self.max_wavelength = float(max_wavelength)

    def get_output_for(self, input, **kwargs):
        i = np.arange(self.size)
        inv_freq = pt.constant((1.0 / self.max_wavelength
                                ** ((i - i % 2) / self.size)).astype(input.dtype))
        phase = pt.constant(np.where(i % 2 == 0, 0.0, np.pi / 2).astype(input.dtype))
        t = pt.cast(pt.arange(input.shape[1]), input.dtype)
        # cos(a) = sin(a + pi/2): one elementwise sin over the table
        return input + pt.sin(t[:, None] * inv_freq + phase)

