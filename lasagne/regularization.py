"""Penalties (regularizers) on weights, to add to a loss.

:func:`l1` and :func:`l2` are penalties on one tensor; :func:`apply_penalty`
sums a penalty over several. The ``regularize_*`` helpers collect the
parameters of layers by tag (by default the ``regularizable`` ones, i.e.
weights but not biases) and penalise them.

>>> import numpy as np, pytensor
>>> W = pytensor.shared(np.array([[1.0, -2.0]]))
>>> loss = 0.5 + 1e-4 * apply_penalty([W], l2)
"""

import pytensor
import pytensor.tensor as pt
from pytensor.graph.basic import Variable

__all__ = [
    "l1", "l2", "apply_penalty", "regularize_layer_params",
    "regularize_layer_params_weighted", "regularize_network_params",
]


def l1(x):
    """L1 penalty: the sum of the absolute values of `x`.

    Examples
    --------
    >>> import numpy as np
    >>> l1(np.array([1.0, -2.0])).eval()
    array(3.)
    """
    return pt.sum(pt.abs(x))


def l2(x):
    """Squared L2 penalty: the sum of the squares of `x` (no factor 1/2).

    Examples
    --------
    >>> import numpy as np
    >>> l2(np.array([1.0, -2.0])).eval()
    array(5.)
    """
    return pt.sum(pt.square(x))


def apply_penalty(tensor_or_tensors, penalty, **kwargs):
    """Apply `penalty` to one tensor, or to each of several and sum.

    Parameters
    ----------
    tensor_or_tensors : expression or iterable of expressions
    penalty : callable
        E.g. :func:`l1` or :func:`l2`; called as ``penalty(x, **kwargs)``.
    **kwargs
        Passed to `penalty`.

    Returns
    -------
    scalar expression (0 for an empty list).

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> a = pytensor.shared(np.array([1.0, 2.0]))
    >>> b = pytensor.shared(np.array([[3.0]]))
    >>> apply_penalty([a, b], l2).eval()
    array(14.)
    """
    if isinstance(tensor_or_tensors, Variable):
        return penalty(tensor_or_tensors, **kwargs)
    try:
        tensors = list(tensor_or_tensors)
    except TypeError:
        return penalty(tensor_or_tensors, **kwargs)
    # Python's sum, as Lasagne: 0 for no tensors, else ``0 + t1 + t2 ...``
    return sum(penalty(x, **kwargs) for x in tensors)


def _as_layer_list(layer):
    from .layers.base import Layer
    if isinstance(layer, Layer):
        return [layer]
    return list(layer)


def regularize_layer_params(layer, penalty, tags={'regularizable': True},
                            **kwargs):
    """Penalise the parameters of one layer or a list of layers (not the
    layers below them).

    Parameters
    ----------
    layer : Layer or list of Layer
    penalty : callable
        E.g. :func:`l1` or :func:`l2`.
    tags : dict
        Select parameters as ``layer.get_params(**tags)`` does; by default
        the regularizable ones (weights, not biases).
    **kwargs
        Passed to `penalty`.

    Examples
    --------
    >>> import numpy as np
    >>> from lasagne.layers import InputLayer, DenseLayer
    >>> l_in = InputLayer((None, 3))
    >>> l_hid = DenseLayer(l_in, 4, W=np.ones((3, 4)))
    >>> regularize_layer_params(l_hid, l2).eval()
    array(12.)
    """
    params = [p for lyr in _as_layer_list(layer)
              for p in lyr.get_params(**tags)]
    return apply_penalty(params, penalty, **kwargs)


def regularize_layer_params_weighted(layers, penalty,
                                     tags={'regularizable': True}, **kwargs):
    """Penalise the parameters of several layers, each with its own
    coefficient.

    Parameters
    ----------
    layers : dict
        Maps each layer to its coefficient (a number or scalar expression).
    penalty : callable
        E.g. :func:`l1` or :func:`l2`.
    tags : dict
        Select parameters as ``layer.get_params(**tags)`` does.
    **kwargs
        Passed to `penalty`.

    Examples
    --------
    >>> import numpy as np
    >>> from lasagne.layers import InputLayer, DenseLayer
    >>> l_in = InputLayer((None, 3))
    >>> l1_ = DenseLayer(l_in, 4, W=np.ones((3, 4)))
    >>> l2_ = DenseLayer(l1_, 1, W=np.ones((4, 1)))
    >>> regularize_layer_params_weighted({l1_: 0.1, l2_: 1.0}, l2).eval()
    array(5.2)
    """
    try:
        items = list(layers.items())
    except AttributeError:
        raise TypeError(
            f"regularize_layer_params_weighted: argument `layers` must be a "
            f"dict mapping layers to coefficients, got "
            f"{type(layers).__name__}. For equal weights use "
            f"regularize_layer_params(list_of_layers, penalty).") from None
    return sum(coefficient * apply_penalty(layer.get_params(**tags), penalty,
                                           **kwargs)
               for layer, coefficient in items)


def regularize_network_params(layer, penalty, tags={'regularizable': True},
                              **kwargs):
    """Penalise the parameters of a whole network: the given layer(s) and
    every layer below.

    Parameters
    ----------
    layer : Layer or list of Layer
        The output layer(s) of the network.
    penalty : callable
        E.g. :func:`l1` or :func:`l2`.
    tags : dict
        Select parameters as ``get_all_params(layer, **tags)`` does.
    **kwargs
        Passed to `penalty`.

    Examples
    --------
    >>> import numpy as np
    >>> from lasagne.layers import InputLayer, DenseLayer
    >>> l_in = InputLayer((None, 3))
    >>> l_hid = DenseLayer(l_in, 4, W=np.ones((3, 4)))
    >>> l_out = DenseLayer(l_hid, 1, W=np.ones((4, 1)))
    >>> regularize_network_params(l_out, l1).eval()
    array(16.)
    """
    from .layers.helper import get_all_params
    return apply_penalty(get_all_params(layer, **tags), penalty, **kwargs)
