"""2-d pooling whose window size and stride are symbolic.

The pooling Op of :mod:`lasagne.ops.pool` needs its window sizes when the
graph is built. Theano's ``pool_2d`` also took them as expressions, and
Lasagne's ``SpatialPyramidPoolingLayer`` relies on it for maps of unknown
size (its windows are computed from the map size). This module provides that
case with plain PyTensor indexing: every window is gathered with an
advanced index and reduced. It is slower than the Op and meant for these
few windows, not for the pooling layers.
"""
import pytensor.tensor as pt
from pytensor.graph.basic import Variable

__all__ = ["is_symbolic", "symbolic_pool_2d"]


def is_symbolic(value):
    """True if `value` is an expression or a sequence holding one."""
    if isinstance(value, Variable):
        return True
    try:
        return any(isinstance(v, Variable) for v in value)
    except TypeError:
        return False


def _pair(value, name):
    """Two scalar int expressions from an int, a pair or a length-2 vector."""
    if isinstance(value, Variable) and value.ndim == 0:
        value = (value, value)
    elif isinstance(value, Variable) and value.ndim != 1:
        raise ValueError(f"pool_2d: a symbolic `{name}` must be a scalar or "
                         f"a vector of 2 sizes, got {value!r} with "
                         f"{value.ndim} dimensions.")
    elif not isinstance(value, Variable):
        value = tuple(value) if hasattr(value, "__len__") else (value,) * 2
        if len(value) != 2:
            raise ValueError(f"pool_2d: `{name}` needs 2 sizes, got "
                             f"{value!r}.")
    return [pt.as_tensor_variable(value[i]).astype("int64") for i in (0, 1)]


def _window_positions(length, size, stride, count):
    """``(count, size)`` matrix: the positions each window covers."""
    if count is None:
        count = (length - size) // stride + 1
    return (pt.arange(count)[:, None] * stride
            + pt.arange(size)[None, :])


def symbolic_pool_2d(input, ws, stride=None, mode="max", count=None):
    """Pool the last two axes of `input` with symbolic windows.

    Parameters
    ----------
    input : tensor of at least 2 dimensions
    ws, stride : int, pair, or scalar / length-2 int expressions
        Window size and stride (`stride` defaults to `ws`). Borders are
        ignored (``ignore_border=True``) and nothing is padded.
    mode : {'max', 'average_inc_pad', 'average_exc_pad'}
        Without padding the two averages agree.
    count : int, optional
        Number of windows per axis; by default as many as fit.

    Returns
    -------
    tensor of the same number of dimensions

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as pt
    >>> k = pt.iscalar("k")
    >>> x = np.arange(16.).reshape(1, 1, 4, 4)
    >>> symbolic_pool_2d(x, k, mode="max").eval({k: 2})
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """
    input = pt.as_tensor_variable(input)
    if mode not in ("max", "average_inc_pad", "average_exc_pad"):
        raise ValueError(f"pool_2d: `mode` must be 'max', 'average_inc_pad' "
                         f"or 'average_exc_pad', got {mode!r}.")
    kh, kw = _pair(ws, "ws")
    sh, sw = _pair(ws if stride is None else stride, "stride")
    lead = (slice(None),) * (input.ndim - 2)
    rows = _window_positions(input.shape[-2], kh, sh, count)
    cols = _window_positions(input.shape[-1], kw, sw, count)
    # (..., rows, size_h, W) then (..., rows, size_h, cols, size_w)
    patches = input[lead + (rows,)]
    patches = patches[lead + (slice(None), slice(None), cols)]
    axes = (input.ndim - 1, input.ndim + 1)
    if mode == "max":
        return patches.max(axis=axes)
    return patches.mean(axis=axes)
