"""Nonlinearities (activation functions).

Every function takes a PyTensor expression and returns one, so they work on
layer outputs and on any plain expression alike. Numeric constants are cast
to the input's float dtype: a float32 graph stays float32 whatever
``pytensor.config.floatX`` says.
"""
import numbers

import numpy as np
import pytensor.tensor as pt

from .ops.batchnorm import rectify_batch_norm

__all__ = [
    "sigmoid", "softmax", "tanh", "ScaledTanH", "ScaledTanh", "rectify",
    "LeakyRectify", "leaky_rectify", "very_leaky_rectify", "elu", "SELU",
    "selu", "softplus", "linear", "identity", "gelu", "gelu_tanh", "silu",
    "swish", "mish", "hard_sigmoid", "hard_swish", "softsign", "log_softmax",
]


def _like(value, x):
    """`value` as a constant of `x`'s float dtype (numbers only; symbolic
    values are used as given)."""
    if isinstance(value, (numbers.Number, np.number)) and x.dtype.startswith("float"):
        return pt.constant(np.asarray(value, dtype=x.dtype))
    return value


def sigmoid(x):
    """Logistic sigmoid, ``1 / (1 + exp(-x))``, elementwise.

    Examples
    --------
    >>> import numpy as np
    >>> sigmoid(np.array([0.0])).eval()
    array([0.5])
    """
    return pt.sigmoid(x)


def softmax(x):
    """Softmax over the last axis (the rows of a matrix):
    ``exp(x) / sum(exp(x))`` computed as ``exp(x - max(x))`` normalised, so
    large inputs do not overflow.

    Examples
    --------
    >>> import numpy as np
    >>> softmax(np.array([[0.0, 0.0], [1000.0, 1000.0]])).eval()
    array([[0.5, 0.5],
           [0.5, 0.5]])
    """
    return pt.special.softmax(pt.as_tensor_variable(x), axis=-1)


def tanh(x):
    """Hyperbolic tangent, elementwise.

    Examples
    --------
    >>> import numpy as np
    >>> tanh(np.array([0.0])).eval()
    array([0.])
    """
    return pt.tanh(x)


class ScaledTanH:
    """Scaled hyperbolic tangent, ``scale_out * tanh(scale_in * x)``.

    Parameters
    ----------
    scale_in : float or scalar expression
        Scales the input.
    scale_out : float or scalar expression
        Scales the output.

    Notes
    -----
    LeCun et al. ("Efficient BackProp", 1998) recommend
    ``scale_in=2/3`` and ``scale_out=1.7159``, so that unit-variance inputs
    give outputs of about unit variance.

    Examples
    --------
    >>> import numpy as np
    >>> ScaledTanH(scale_in=0.5, scale_out=2)(np.array([0.0, 100.0])).eval()
    array([0., 2.])
    """

    def __init__(self, scale_in=1, scale_out=1):
        self.scale_in = scale_in
        self.scale_out = scale_out

    def __call__(self, x):
        x = pt.as_tensor_variable(x)
        return _like(self.scale_out, x) * pt.tanh(_like(self.scale_in, x) * x)


ScaledTanh = ScaledTanH


def rectify(x):
    """Rectified linear unit, ``max(x, 0)``, elementwise.

    Examples
    --------
    >>> import numpy as np
    >>> rectify(np.array([-1.0, 2.0])).eval()
    array([0., 2.])
    """
    x = pt.as_tensor_variable(x)
    fused = rectify_batch_norm(x)  # one node with a batch norm below it
    if fused is not None:
        return fused
    return pt.maximum(x, _like(0, x))


class LeakyRectify:
    """Leaky rectifier, ``x`` for ``x > 0`` and ``leakiness * x`` otherwise.

    Parameters
    ----------
    leakiness : float or scalar expression
        Slope for negative inputs. Any value works; 0 gives :func:`rectify`
        and 1 gives :func:`linear`.

    Examples
    --------
    >>> import numpy as np
    >>> LeakyRectify(0.1)(np.array([-2.0, 3.0])).eval()
    array([-0.2,  3. ])
    """

    def __init__(self, leakiness=0.01):
        self.leakiness = leakiness

    def __call__(self, x):
        x = pt.as_tensor_variable(x)
        # a switch, not max(x, leakiness * x): right for any leakiness, also
        # above 1, with the gradient `leakiness` at exactly 0
        return pt.switch(x > _like(0, x), x, _like(self.leakiness, x) * x)


leaky_rectify = LeakyRectify()
very_leaky_rectify = LeakyRectify(1.0 / 3)


def elu(x):
    """Exponential linear unit: ``x`` for ``x > 0``, ``exp(x) - 1``
    otherwise (Clevert et al., 2015).

    Examples
    --------
    >>> import numpy as np
    >>> elu(np.array([0.0, 1.0])).eval()
    array([0., 1.])
    """
    x = pt.as_tensor_variable(x)
    zero = _like(0, x)
    # expm1 only sees non-positive values: no inf whose zero gradient would
    # turn into nan in the unused switch branch
    return pt.switch(x > zero, x, pt.expm1(pt.minimum(x, zero)))


class SELU:
    """Scaled exponential linear unit (Klambauer et al., 2017):
    ``scale * x`` for ``x > 0`` and ``scale * scale_neg * (exp(x) - 1)``
    otherwise.

    Parameters
    ----------
    scale : float or scalar expression
        Scale of the whole output.
    scale_neg : float or scalar expression
        Extra scale of the negative part.

    See Also
    --------
    selu : the instance with the self-normalising constants.

    Examples
    --------
    >>> import numpy as np
    >>> SELU(scale=2, scale_neg=3)(np.array([1.0])).eval()
    array([2.])
    """

    def __init__(self, scale=1, scale_neg=1):
        self.scale = scale
        self.scale_neg = scale_neg

    def __call__(self, x):
        x = pt.as_tensor_variable(x)
        zero = _like(0, x)
        negative = _like(self.scale_neg, x) * pt.expm1(pt.minimum(x, zero))
        return _like(self.scale, x) * pt.switch(x > zero, x, negative)


selu = SELU(scale=1.0507009873554805, scale_neg=1.6732632423543772)


def softplus(x):
    """Softplus, ``log(1 + exp(x))``, computed without overflow.

    Examples
    --------
    >>> import numpy as np
    >>> softplus(np.array([0.0, 1000.0])).eval()
    array([6.93147181e-01, 1.00000000e+03])
    """
    return pt.softplus(x)


def linear(x):
    """Identity: returns `x` unchanged.

    Examples
    --------
    >>> linear(3)
    3
    """
    return x


identity = linear


def gelu(x, approximate=False):
    """Gaussian error linear unit (Hendrycks & Gimpel, 2016),
    ``x * Phi(x)`` with ``Phi`` the standard normal distribution function:
    ``0.5 * x * (1 + erf(x / sqrt(2)))``.

    Parameters
    ----------
    x : expression
    approximate : bool
        Use the tanh approximation of BERT and GPT-2,
        ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))``
        (PyTorch's ``approximate='tanh'``); see also :func:`gelu_tanh`.

    Examples
    --------
    >>> import numpy as np
    >>> gelu(np.array([0.0, 1.0])).eval().round(6)
    array([0.      , 0.841345])
    >>> gelu(np.array([1.0]), approximate=True).eval().round(6)
    array([0.841192])
    """
    x = pt.as_tensor_variable(x)
    half = _like(0.5, x)
    if approximate:
        inner = _like(np.sqrt(2.0 / np.pi), x) * (x + _like(0.044715, x) * x ** 3)
        return half * x * (_like(1.0, x) + pt.tanh(inner))
    return half * x * (_like(1.0, x) + pt.erf(x * _like(np.sqrt(0.5), x)))


def gelu_tanh(x):
    """:func:`gelu` with its tanh approximation, as a one-argument function
    to pass as a layer's ``nonlinearity``.

    Examples
    --------
    >>> import numpy as np
    >>> gelu_tanh(np.array([-1.0])).eval().round(6)
    array([-0.158808])
    """
    return gelu(x, approximate=True)


def silu(x):
    """Sigmoid linear unit, ``x * sigmoid(x)`` (Elfwing et al., 2017), also
    called swish (Ramachandran et al., 2017); ``swish`` is an alias.

    Examples
    --------
    >>> import numpy as np
    >>> silu(np.array([0.0, 1.0])).eval().round(6)
    array([0.      , 0.731059])
    """
    x = pt.as_tensor_variable(x)
    return x * pt.sigmoid(x)


swish = silu


def mish(x):
    """Mish (Misra, 2019), ``x * tanh(softplus(x))``.

    Examples
    --------
    >>> import numpy as np
    >>> mish(np.array([0.0, 1.0])).eval().round(6)
    array([0.      , 0.865098])
    """
    x = pt.as_tensor_variable(x)
    return x * pt.tanh(pt.softplus(x))


def hard_sigmoid(x):
    """Piecewise-linear sigmoid, ``clip(x / 6 + 1 / 2, 0, 1)``: 0 below -3,
    1 above 3 (the definition of MobileNetV3 and of PyTorch's
    ``hardsigmoid``; Theano's ``hard_sigmoid`` used a slope of 0.2).

    Examples
    --------
    >>> import numpy as np
    >>> hard_sigmoid(np.array([-4.0, 0.0, 1.5, 4.0])).eval()
    array([0.  , 0.5 , 0.75, 1.  ])
    """
    x = pt.as_tensor_variable(x)
    return pt.clip(x / _like(6.0, x) + _like(0.5, x), _like(0.0, x), _like(1.0, x))


def hard_swish(x):
    """Hard swish (Howard et al., 2019, MobileNetV3),
    ``x * hard_sigmoid(x)``.

    Examples
    --------
    >>> import numpy as np
    >>> hard_swish(np.array([-4.0, 1.5, 4.0])).eval()
    array([-0.   ,  1.125,  4.   ])
    """
    x = pt.as_tensor_variable(x)
    return x * hard_sigmoid(x)


def softsign(x):
    """Softsign, ``x / (1 + |x|)``: a sigmoid-shaped function into
    (-1, 1) with polynomial tails.

    Examples
    --------
    >>> import numpy as np
    >>> softsign(np.array([-3.0, 1.0])).eval()
    array([-0.75,  0.5 ])
    """
    x = pt.as_tensor_variable(x)
    return x / (_like(1.0, x) + pt.abs(x))


def log_softmax(x):
    """Logarithm of :func:`softmax` over the last axis, computed as
    ``x - max(x) - log(sum(exp(x - max(x))))``: finite where
    ``log(softmax(x))`` would give ``-inf``. Pair it with a negative
    log-likelihood for a stable cross-entropy.

    Examples
    --------
    >>> import numpy as np
    >>> log_softmax(np.array([[0.0, -1000.0]])).eval()
    array([[    0., -1000.]])
    """
    return pt.special.log_softmax(pt.as_tensor_variable(x), axis=-1)
