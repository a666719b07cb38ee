"""Theano's ``T.nnet`` and ``theano.tensor.signal.pool`` names that PyTensor
dropped, for Lasagne-style scripts.

After ``import pytensor.tensor as T``, a Theano-era script calling
``T.nnet.relu`` fails: PyTensor has no ``nnet`` module. Importing this
module instead keeps such calls working with one change::

    import lasagne.theano_extensions.nnet as nnet   # for T.nnet
    nnet.relu(x); nnet.conv2d(x, w, border_mode="half"); nnet.pool_2d(...)

Each name computes what Theano's did, with this library's Ops for the
convolutions and pooling (see :doc:`/user/porting` for the full table).

Examples
--------
>>> import numpy as np
>>> relu(np.array([-1.0, 2.0])).eval()
array([0., 2.])
>>> softmax(np.array([[0.0, 0.0]])).eval()
array([[0.5, 0.5]])
"""
import pytensor.tensor as pt
from pytensor.tensor.special import softmax as _softmax

from ..layers.pool import pool_2d, pool_3d
from ..objectives import binary_crossentropy, categorical_crossentropy
from ..ops.conv import conv2d, conv3d

__all__ = ["relu", "sigmoid", "softplus", "softmax", "elu",
           "binary_crossentropy", "categorical_crossentropy", "conv2d",
           "conv3d", "pool_2d", "pool_3d"]

sigmoid = pt.sigmoid
softplus = pt.softplus


def relu(x, alpha=0):
    """Theano's ``T.nnet.relu``: ``max(x, 0) + alpha * min(x, 0)``.

    Examples
    --------
    >>> import numpy as np
    >>> relu(np.array([-2.0, 3.0]), alpha=0.5).eval()
    array([-1.,  3.])
    """
    x = pt.as_tensor_variable(x)
    if isinstance(alpha, (int, float)) and alpha == 0:
        return pt.maximum(x, 0)
    return pt.maximum(x, 0) + alpha * pt.minimum(x, 0)


def softmax(x):
    """Theano's ``T.nnet.softmax``: the softmax of each row (last axis).

    Examples
    --------
    >>> import numpy as np
    >>> softmax(np.log(np.array([[1.0, 3.0]]))).eval()
    array([[0.25, 0.75]])
    """
    return _softmax(pt.as_tensor_variable(x), axis=-1)


def elu(x, alpha=1):
    """Theano's ``T.nnet.elu``: ``x`` if positive, else
    ``alpha * (exp(x) - 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> elu(np.array([0.0, 2.0])).eval()
    array([0., 2.])
    """
    x = pt.as_tensor_variable(x)
    return pt.switch(x > 0, x, alpha * pt.expm1(x))
