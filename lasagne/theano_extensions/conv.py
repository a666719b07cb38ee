"""1-d convolutions with the signatures of Lasagne's Theano-era helpers.

Theano had no 1-d convolution, so Lasagne offered several ways to build one
from 2-d convolutions or dot products. They are kept so that code passing
them as ``Conv1DLayer(convolution=...)`` keeps working; all compute the
same numbers on the N-d convolution Op of :mod:`lasagne.ops.conv`, each
following its original construction.

Inputs are ``(batch, channels, length)``, filters
``(num_filters, channels, filter_length)``.
"""
import numbers

import numpy as np
import pytensor.tensor as pt

from ..ops.conv import conv2d
from ..utils import _Unsupported

__all__ = ["conv1d_sc", "conv1d_mc0", "conv1d_mc1", "conv1d_unstrided",
           "conv1d_sd", "conv1d_md"]


def _stride(subsample, name):
    if isinstance(subsample, (numbers.Integral, np.integer)):
        return int(subsample)
    subsample = tuple(subsample)
    if len(subsample) != 1:
        raise ValueError(f"{name}: subsample must have one entry, got "
                         f"{subsample!r}.")
    return int(subsample[0])


def _padding_1d(border_mode, filter_length, name):
    if isinstance(border_mode, str):
        if border_mode == "valid":
            return (0, 0)
        if border_mode == "full":
            return (filter_length - 1, filter_length - 1)
        if border_mode in ("half", "same"):
            return (filter_length // 2, filter_length // 2) \
                if border_mode == "half" else \
                ((filter_length - 1) // 2, filter_length - 1 -
                 (filter_length - 1) // 2)
        raise ValueError(f"{name}: border_mode must be 'valid', 'full', "
                         f"'half', an int or a tuple; got {border_mode!r}.")
    if isinstance(border_mode, (numbers.Integral, np.integer)):
        return (int(border_mode), int(border_mode))
    pad = tuple(border_mode)[0]
    return tuple(pad) if isinstance(pad, tuple) else (pad, pad)


def _filter_length(filters, filter_shape, name):
    if filter_shape is not None and filter_shape[-1] is not None:
        return int(filter_shape[-1])
    static = filters.type.shape[-1]
    if static is None:
        raise ValueError(f"{name}: this border_mode needs the filter length; "
                         f"pass filter_shape.")
    return static


def _stride_divides(k, stride, name):
    """Lasagne's conv1d_sd, _md and _unstrided split the filter into
    `stride` phases, so they refuse a filter length the stride does not
    divide; these do the same (code relying on the error keeps it)."""
    if k % stride:
        raise _Unsupported(
            f"{name}: Filter length ({k}) is not a multiple of the stride "
            f"({stride}). Use conv1d_mc0 (or Conv1DLayer's default) for this "
            f"stride.")


def _valid_only(border_mode, name):
    if border_mode not in ("valid", 0, (0,), ((0, 0),)):
        raise RuntimeError(f"{name}: only border_mode='valid' is supported "
                           f"by this implementation, got {border_mode!r}. "
                           f"Use conv1d_mc0 for padded convolutions.")


def conv1d_sc(input, filters, image_shape=None, filter_shape=None,
              border_mode="valid", subsample=(1,), filter_flip=True):
    """1-d convolution as a 2-d convolution with a single input channel:
    the channels become the rows of the image (``border_mode='valid'``
    only).

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as pt
    >>> x = np.arange(10.).reshape(1, 2, 5); w = np.ones((1, 2, 2))
    >>> conv1d_sc(pt.as_tensor(x), pt.as_tensor(w)).eval()
    array([[[12., 16., 20., 24.]]])
    """
    _valid_only(border_mode, "conv1d_sc")
    input, filters = pt.as_tensor_variable(input), pt.as_tensor_variable(
        filters)
    stride = _stride(subsample, "conv1d_sc")
    if filter_flip:
        # a true convolution flips the channel axis too in this layout
        filters = filters[:, ::-1]
    image = input.dimshuffle(0, "x", 1, 2)
    kernels = filters.dimshuffle(0, "x", 1, 2)
    out = conv2d(image, kernels, subsample=(1, stride),
                 filter_flip=filter_flip)
    return out[:, :, 0, :]


def conv1d_mc0(input, filters, image_shape=None, filter_shape=None,
               border_mode="valid", subsample=(1,), filter_flip=True,
               num_groups=1):
    """1-d convolution as a 2-d convolution on images of height 1.

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as pt
    >>> x = np.arange(5.).reshape(1, 1, 5); w = np.array([[[1., 0.]]])
    >>> conv1d_mc0(pt.as_tensor(x), pt.as_tensor(w)).eval()
    array([[[1., 2., 3., 4.]]])
    """
    return _conv1d_as_2d(input, filters, filter_shape, border_mode,
                         subsample, filter_flip, num_groups, 0, "conv1d_mc0")


def conv1d_mc1(input, filters, image_shape=None, filter_shape=None,
               border_mode="valid", subsample=(1,), filter_flip=True,
               num_groups=1):
    """1-d convolution as a 2-d convolution on images of width 1.

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as pt
    >>> x = np.arange(5.).reshape(1, 1, 5); w = np.array([[[1., 0.]]])
    >>> conv1d_mc1(pt.as_tensor(x), pt.as_tensor(w)).eval()
    array([[[1., 2., 3., 4.]]])
    """
    return _conv1d_as_2d(input, filters, filter_shape, border_mode,
                         subsample, filter_flip, num_groups, 1, "conv1d_mc1")


def _conv1d_as_2d(input, filters, filter_shape, border_mode, subsample,
                  filter_flip, num_groups, axis, name):
    input, filters = pt.as_tensor_variable(input), pt.as_tensor_variable(
        filters)
    stride = _stride(subsample, name)
    k = None
    if border_mode != "valid":
        k = _filter_length(filters, filter_shape, name)
    pad = _padding_1d(border_mode, k or 1, name)
    if axis == 0:   # (batch, channels, 1, length)
        image, kernels = input.dimshuffle(0, 1, "x", 2), \
            filters.dimshuffle(0, 1, "x", 2)
        border, sub = ((0, 0), pad), (1, stride)
    else:           # (batch, channels, length, 1)
        image, kernels = input.dimshuffle(0, 1, 2, "x"), \
            filters.dimshuffle(0, 1, 2, "x")
        border, sub = (pad, (0, 0)), (stride, 1)
    out = conv2d(image, kernels, border_mode=border, subsample=sub,
                 filter_flip=filter_flip, num_groups=num_groups)
    return out[:, :, 0, :] if axis == 0 else out[:, :, :, 0]


def conv1d_unstrided(input, filters, image_shape, filter_shape,
                     border_mode="valid", subsample=(1,), filter_flip=True,
                     implementation=conv1d_sc):
    """Strided 1-d convolution computed as an unstrided one followed by
    subsampling (``border_mode='valid'`` only).

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as pt
    >>> x = np.arange(6.).reshape(1, 1, 6); w = np.array([[[1., 0.]]])
    >>> conv1d_unstrided(pt.as_tensor(x), pt.as_tensor(w), (1, 1, 6),
    ...                  (1, 1, 2), subsample=(2,)).eval()
    array([[[1., 3., 5.]]])
    """
    _valid_only(border_mode, "conv1d_unstrided")
    stride = _stride(subsample, "conv1d_unstrided")
    _stride_divides(_filter_length(pt.as_tensor_variable(filters),
                                   filter_shape, "conv1d_unstrided"),
                    stride, "conv1d_unstrided")
    out = implementation(input, filters, image_shape, filter_shape,
                         border_mode="valid", subsample=(1,),
                         filter_flip=filter_flip)
    return out[:, :, ::stride]


def conv1d_sd(input, filters, image_shape, filter_shape,
              border_mode="valid", subsample=(1,), filter_flip=True):
    """1-d convolution as a *single dot* product: the shifted copies of the
    input are stacked and contracted with all filters at once
    (``border_mode='valid'`` only; the filter length must be known).

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as pt
    >>> x = np.arange(5.).reshape(1, 1, 5); w = np.array([[[1., 0.]]])
    >>> conv1d_sd(pt.as_tensor(x), pt.as_tensor(w), (1, 1, 5),
    ...           (1, 1, 2)).eval()
    array([[[1., 2., 3., 4.]]])
    """
    _valid_only(border_mode, "conv1d_sd")
    input, filters = pt.as_tensor_variable(input), pt.as_tensor_variable(
        filters)
    stride = _stride(subsample, "conv1d_sd")
    k = _filter_length(filters, filter_shape, "conv1d_sd")
    _stride_divides(k, stride, "conv1d_sd")
    if filter_flip:
        filters = filters[:, :, ::-1]
    length = input.shape[2] - k + 1
    # (batch, channels, k, out_length): the k shifted windows
    windows = pt.stack([input[:, :, i:i + length] for i in range(k)], axis=2)
    out = pt.tensordot(windows, filters, axes=[[1, 2], [1, 2]])
    return out.dimshuffle(0, 2, 1)[:, :, ::stride]


def conv1d_md(input, filters, image_shape, filter_shape,
              border_mode="valid", subsample=(1,), filter_flip=True):
    """1-d convolution as *multiple dots*: one product per filter tap,
    summed (``border_mode='valid'`` only; the filter length must be known).

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as pt
    >>> x = np.arange(5.).reshape(1, 1, 5); w = np.array([[[1., 0.]]])
    >>> conv1d_md(pt.as_tensor(x), pt.as_tensor(w), (1, 1, 5),
    ...           (1, 1, 2)).eval()
    array([[[1., 2., 3., 4.]]])
    """
    _valid_only(border_mode, "conv1d_md")
    input, filters = pt.as_tensor_variable(input), pt.as_tensor_variable(
        filters)
    stride = _stride(subsample, "conv1d_md")
    k = _filter_length(filters, filter_shape, "conv1d_md")
    _stride_divides(k, stride, "conv1d_md")
    if filter_flip:
        filters = filters[:, :, ::-1]
    length = input.shape[2] - k + 1
    out = 0
    for i in range(k):
        # (batch, channels, length) x (filters, channels) -> (batch, length, F)
        out = out + pt.tensordot(input[:, :, i:i + length], filters[:, :, i],
                                 axes=[[1], [1]])
    return out.dimshuffle(0, 2, 1)[:, :, ::stride]

