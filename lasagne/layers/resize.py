"""Resizing of images (and other spatial maps) by interpolation:
nearest-neighbour and (bi)linear, as matrix products along each spatial
axis, so gradients and every backend come with PyTorch's numbers
(``torch.nn.functional.interpolate``).

Coordinates: with ``align_corners=False`` (the default, PyTorch's and
TensorFlow 2's) pixels are unit squares and output pixel ``i`` samples the
input at ``(i + 0.5) * in / out - 0.5``, clamped to the image; with
``align_corners=True`` the corner pixels' centres of input and output
coincide and ``i`` samples ``i * (in - 1) / (out - 1)``. 'nearest' takes
input pixel ``floor(i * in / out)`` (PyTorch's ``'nearest'``).
"""
import numbers

import pytensor.tensor as pt

from .base import Layer

__all__ = ["interpolate", "ResizeLayer"]

MODES = ("nearest", "bilinear")


def _interpolation_matrix(in_size, out_size, mode, align_corners, dtype):
    """The (out_size, in_size) matrix of the 1-d interpolation; both sizes
    may be symbolic."""
    i = pt.cast(pt.arange(out_size), dtype)
    j = pt.cast(pt.arange(in_size), dtype)
    n_in, n_out = pt.cast(in_size, dtype), pt.cast(out_size, dtype)
    if mode == "nearest":
        src = pt.minimum(pt.floor(i * n_in / n_out), n_in - 1)
        return pt.cast(pt.eq(src[:, None], j[None, :]), dtype)
    if align_corners:
        src = i * (n_in - 1) / pt.maximum(n_out - 1, 1)
    else:
        src = (i + 0.5) * n_in / n_out - 0.5
    src = pt.clip(src, 0, n_in - 1)
    # the triangle kernel: linear interpolation between floor and ceil
    return pt.maximum(1 - pt.abs(src[:, None] - j[None, :]), 0)


def interpolate(input, size, mode="bilinear", align_corners=False):
    """Resize the trailing ``len(size)`` axes of `input` to `size`.

    Parameters
    ----------
    input : expression
        E.g. ``(batch, channels, rows, columns)``.
    size : tuple of int or scalar expressions
        The output sizes of the trailing axes.
    mode : {'nearest', 'bilinear'}
        'bilinear' interpolates linearly along each axis (bilinear for two
        axes, trilinear for three).
    align_corners : bool
        See the module's notes; ignored by 'nearest'.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[[[0.0, 1.0]]]])
    >>> interpolate(x, (1, 4)).eval()
    array([[[[0.  , 0.25, 0.75, 1.  ]]]])
    >>> interpolate(x, (1, 3), align_corners=True).eval()
    array([[[[0. , 0.5, 1. ]]]])
    """
    if mode not in MODES:
        raise ValueError(f"interpolate: mode={mode!r}; use one of {MODES}.")
    input = pt.as_tensor_variable(input)
    dtype = input.dtype if input.dtype.startswith("float") else "float64"
    out = input
    first = input.ndim - len(size)
    for axis, out_size in zip(range(first, input.ndim), size):
        matrix = _interpolation_matrix(out.shape[axis], out_size, mode,
                                       align_corners, dtype)
        moved = pt.tensordot(out, matrix, axes=[[axis], [1]])  # axis -> last
        order = list(range(axis)) + [out.ndim - 1] + list(range(axis, out.ndim - 1))
        out = moved.dimshuffle(order)
    return out


class ResizeLayer(Layer):
    """Resize the spatial axes of a ``(batch, channels, *spatial)`` input
    to a given size, by interpolation (see :func:`interpolate`).

    Parameters
    ----------
    incoming : a :class:`Layer` or shape tuple
    output_size : int or tuple of int
        One size per spatial axis (an int: the same for every axis).
    mode : {'nearest', 'bilinear'}
    align_corners : bool
        False (default): pixels are unit squares, as in PyTorch and
        TensorFlow 2. True: the centres of the corner pixels of input and
        output coincide (PyTorch's ``align_corners=True``, TensorFlow 1's
        ``resize_bilinear`` default).

    Examples
    --------
    >>> ResizeLayer((None, 3, 10, 20), (7, 5)).output_shape
    (None, 3, 7, 5)
    """

    def __init__(self, incoming, output_size, mode="bilinear",
                 align_corners=False, **kwargs):
        super().__init__(incoming, **kwargs)
        where = f"ResizeLayer {self.name + ' ' if self.name else ''}"
        nd = len(self.input_shape) - 2
        if nd < 1:
            raise ValueError(
                f"{where}: the input must be (batch, channels, *spatial), got "
                f"shape {self.input_shape}.")
        if isinstance(output_size, numbers.Integral):
            output_size = (output_size,) * nd
        output_size = tuple(output_size)
        if len(output_size) != nd or not all(
                isinstance(s, numbers.Integral) and s > 0 for s in output_size):
            raise ValueError(
                f"{where}: output_size must be {nd} positive ints (one per "
                f"spatial axis), got {output_size!r}.")
        if mode not in MODES:
            raise ValueError(f"{where}: mode={mode!r}; use one of {MODES}.")
        self.output_size = tuple(int(s) for s in output_size)
        self.mode = mode
        self.align_corners = bool(align_corners)

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape[:2]) + self.output_size

    def get_output_for(self, input, **kwargs):
        return interpolate(input, self.output_size, self.mode,
                           self.align_corners)
