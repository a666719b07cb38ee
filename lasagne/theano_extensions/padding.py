"""Constant padding of the trailing dimensions of a tensor."""
import pytensor.tensor as pt

from .. import utils

__all__ = ["pad"]


def pad(x, width, val=0, batch_ndim=1):
    """Pad the trailing dimensions of `x` with the constant `val`.

    Parameters
    ----------
    x : tensor expression
    width : int, or iterable of int or of (before, after) pairs
        Padding per dimension after the first `batch_ndim` ones; an int
        pads every such dimension by that amount on both sides.
    val : float
        The padding value.
    batch_ndim : int
        Number of leading dimensions that are not padded.

    Returns
    -------
    tensor expression

    Examples
    --------
    >>> import numpy as np
    >>> pad(np.ones((1, 2)), width=1).eval()
    array([[0., 1., 1., 0.]])
    """
    x = utils.as_theano_expression(x)
    n_axes = x.ndim - batch_ndim
    if isinstance(width, utils.int_types):
        widths = [(int(width), int(width))] * n_axes
    else:
        widths = [(int(w), int(w)) if isinstance(w, utils.int_types)
                  else tuple(int(v) for v in w) for w in width]
        widths += [(0, 0)] * (n_axes - len(widths))
    if len(widths) != n_axes or any(len(w) != 2 for w in widths):
        raise ValueError(
            f"pad: `width` {width!r} does not fit the {n_axes} padded "
            f"dimensions of a {x.ndim}-d input with batch_ndim={batch_ndim}.")
    if any(b < 0 or a < 0 for b, a in widths):
        raise ValueError(f"pad: `width` must be non-negative, got {width!r}.")
    if all(w == (0, 0) for w in widths):
        return x
    shape = utils.static_shape(x)
    out_shape = list(shape[:batch_ndim])
    index = [slice(None)] * batch_ndim
    for k, (before, after) in enumerate(widths):
        axis = batch_ndim + k
        out_shape.append(shape[axis] + before + after)
        index.append(slice(before, before + shape[axis]))
    padded = pt.full(out_shape, pt.cast(val, x.dtype), dtype=x.dtype)
    return pt.set_subtensor(padded[tuple(index)], x)
