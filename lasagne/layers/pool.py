"""Pooling layers: max / average pooling in 1, 2 and 3 dimensions, upscaling,
feature pooling, global and spatial pyramid pooling.

The pooling layers run :func:`lasagne.ops.pool.pool`, this project's N-d
pooling Op (Numba, C and JAX backends; cuDNN through XLA on a GPU).
"""
import numbers

import pytensor.tensor as pt

from ..ops.pool import POOL_MODES, pool
from ..utils import as_tuple
from ._pool_symbolic import is_symbolic, symbolic_pool_2d
from .base import Layer

__all__ = [
    "MaxPool1DLayer", "MaxPool2DLayer", "MaxPool3DLayer",
    "Pool1DLayer", "Pool2DLayer", "Pool3DLayer",
    "Upscale1DLayer", "Upscale2DLayer", "Upscale3DLayer",
    "FeaturePoolLayer", "FeatureWTALayer", "GlobalPoolLayer",
    "SpatialPyramidPoolingLayer",
]


def pool_output_length(input_length, pool_size, stride, pad, ignore_border):
    """Output length of a pooling along one axis.

    Parameters
    ----------
    input_length : int or None
    pool_size : int or None
    stride : int
    pad : int
        Padding on both sides; must be 0 when `ignore_border` is False.
    ignore_border : bool
        If False, a last partial window covers the remaining elements.

    Returns
    -------
    int, or None when the input length or pool size is unknown.

    Examples
    --------
    >>> pool_output_length(5, 2, 2, 0, ignore_border=True)
    2
    >>> pool_output_length(5, 2, 2, 0, ignore_border=False)
    3
    """
    if input_length is None or pool_size is None:
        return None
    if ignore_border:
        return max(0, (input_length + 2 * pad - pool_size) // stride + 1)
    if pad != 0:
        raise ValueError(f"pool_output_length: pad={pad} needs "
                         f"ignore_border=True (padding with ignore_border="
                         f"False is not defined, as in Theano).")
    if stride >= pool_size:
        return (input_length + stride - 1) // stride
    return max(0, (input_length - pool_size + stride - 1) // stride) + 1


def _theano_pool(input, nd, kwargs):
    """Shared body of the Theano-compatible ``pool_2d`` / ``pool_3d``."""
    aliases = {"ds": "ws", "st": "stride", "padding": "pad"}
    args = {"ws": None, "stride": None, "pad": (0,) * nd,
            "ignore_border": False, "mode": "max"}
    for key, value in kwargs.items():
        new = aliases.get(key, key)
        if new not in args:
            raise TypeError(f"pool_{nd}d: unexpected argument {key!r}; "
                            f"accepted: ws (ds), stride (st), pad (padding), "
                            f"ignore_border, mode.")
        if key in aliases and new in kwargs:
            raise TypeError(f"pool_{nd}d: got both {key!r} and its new name "
                            f"{new!r}; pass only {new!r}.")
        args[new] = value
    if args["ws"] is None:
        raise TypeError(f"pool_{nd}d: the window size `ws` is required.")
    if args["ignore_border"] is None:
        args["ignore_border"] = False
    mode = {"sum": None, "average": "average_inc_pad"}.get(args["mode"],
                                                          args["mode"])
    if mode is None:
        raise ValueError(f"pool_{nd}d: mode 'sum' is not supported; use "
                         f"'average_inc_pad' and multiply by the window size.")
    if is_symbolic(args["ws"]) or is_symbolic(args["stride"]):
        return _symbolic_pool(input, nd, args, mode)
    if args["pad"] is None:
        args["pad"] = (0,) * nd
    ws = as_tuple(args["ws"], nd, name="ws", owner=f"pool_{nd}d")
    return pool(input, ws, args["stride"], args["pad"],
                bool(args["ignore_border"]), mode)


def _symbolic_pool(input, nd, args, mode):
    """Theano's pool_2d with window sizes or strides given as expressions
    (Lasagne's spatial pyramid pooling uses it for maps of unknown size)."""
    pad = args["pad"]
    if nd != 2 or not args["ignore_border"] or is_symbolic(pad) or (
            pad is not None and any(as_tuple(pad, nd))):
        raise NotImplementedError(
            f"pool_{nd}d: symbolic window sizes or strides are supported for "
            f"2-d pooling with ignore_border=True and no padding only; got "
            f"ignore_border={args['ignore_border']!r}, pad={pad!r}. Give "
            f"the sizes as ints for the other cases.")
    return symbolic_pool_2d(input, args["ws"], args["stride"], mode)


def pool_2d(input, **kwargs):
    """Theano's ``pool_2d``: pool the last two axes of `input`.

    Accepts Theano's arguments, new and old names: ``ws`` (``ds``),
    ``stride`` (``st``), ``pad`` (``padding``), ``ignore_border`` (default
    False, Theano's behaviour) and ``mode`` ('max', 'average_inc_pad',
    'average_exc_pad'; 'average' means 'average_inc_pad').

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16.).reshape(1, 1, 4, 4)
    >>> pool_2d(x, ws=(2, 2), ignore_border=True).eval()
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """
    return _theano_pool(input, 2, kwargs)


def pool_3d(input, **kwargs):
    """Theano's ``pool_3d``: pool the last three axes of `input` (arguments
    as :func:`pool_2d`).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(8.).reshape(1, 2, 2, 2)
    >>> pool_3d(x, ws=(2, 2, 2), mode="average_exc_pad").eval()
    array([[[[3.5]]]])
    """
    return _theano_pool(input, 3, kwargs)


class _PoolNDLayer(Layer):
    """Pooling of the trailing `nd` axes; subclasses fix `nd`."""

    nd = None

    def __init__(self, incoming, pool_size, stride=None, pad=0,
                 ignore_border=True, mode="max", **kwargs):
        super().__init__(incoming, **kwargs)
        nd, where = self.nd, self._where().rstrip(": ")
        if len(self.input_shape) != nd + 2:
            raise ValueError(
                f"{self._where()}Expected {nd + 2} input dimensions: expects "
                f"a {nd + 2}-d input (batch, channels, {nd} spatial axes), "
                f"got input_shape {self.input_shape}. "
                f"Reshape the input or use the {len(self.input_shape) - 2}-d "
                f"pooling layer.")
        self.pool_size = as_tuple(pool_size, nd, numbers.Integral,
                                  name="pool_size", owner=where)
        self.stride = (self.pool_size if stride is None else
                       as_tuple(stride, nd, numbers.Integral, name="stride",
                                owner=where))
        self.pad = as_tuple(pad, nd, numbers.Integral, name="pad", owner=where)
        self.ignore_border = ignore_border
        self.mode = mode
        if min(self.pool_size) < 1 or min(self.stride) < 1:
            raise ValueError(
                f"{self._where()}`pool_size` and `stride` must be positive, "
                f"got pool_size={self.pool_size}, stride={self.stride}.")
        if min(self.pad) < 0 or any(p >= k for p, k in
                                    zip(self.pad, self.pool_size)):
            raise ValueError(
                f"{self._where()}`pad` must be >= 0 and smaller than "
                f"`pool_size` in every dimension, got pad={self.pad} for "
                f"pool_size={self.pool_size}. Reduce the padding.")
        if any(self.pad) and not ignore_border:
            raise ValueError(
                f"{self._where()}`pad`={self.pad} needs ignore_border=True; "
                f"got ignore_border={ignore_border!r}.")
        if mode not in POOL_MODES:
            raise ValueError(
                f"{self._where()}`mode` must be one of {POOL_MODES}, got "
                f"{mode!r}.")
        shape = self.get_output_shape_for(self.input_shape)
        if any(s is not None and s <= 0 for s in shape[2:]):
            raise ValueError(
                f"{self._where()}the output would have shape {shape} for "
                f"input shape {self.input_shape}: `pool_size` "
                f"{self.pool_size} is larger than the input. Use a smaller "
                f"`pool_size`, ignore_border=False, or a larger input.")

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape[:2]) + tuple(
            pool_output_length(n, k, s, p, self.ignore_border)
            for n, k, s, p in zip(input_shape[2:], self.pool_size,
                                  self.stride, self.pad))

    def get_output_for(self, input, **kwargs):
        return pool(input, self.pool_size, self.stride, self.pad,
                    bool(self.ignore_border), self.mode)


class Pool1DLayer(_PoolNDLayer):
    """1D pooling of ``(batch, channels, length)`` inputs.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    pool_size : int or iterable of int
        Window size.
    stride : int, iterable of int, or None
        Step between windows; None means `pool_size`.
    pad : int or iterable of int
        Implicit padding on both sides, smaller than `pool_size`.
    ignore_border : bool
        If False, a last partial window is kept (requires ``pad=0``).
    mode : {'max', 'average_inc_pad', 'average_exc_pad'}
        Padding is never the maximum; 'average_inc_pad' counts it as zeros.
    **kwargs
        Passed to :class:`Layer`.

    Examples
    --------
    >>> Pool1DLayer((None, 3, 10), 3, ignore_border=False).output_shape
    (None, 3, 4)
    """

    nd = 1

    def __init__(self, incoming, pool_size, stride=None, pad=0,
                 ignore_border=True, mode="max", **kwargs):
        super().__init__(incoming, pool_size, stride, pad, ignore_border,
                         mode, **kwargs)


class Pool2DLayer(_PoolNDLayer):
    """2D pooling of ``(batch, channels, rows, columns)`` inputs.

    Parameters as :class:`Pool1DLayer`, with a value per spatial axis.

    Examples
    --------
    >>> Pool2DLayer((None, 3, 24, 24), 2).output_shape
    (None, 3, 12, 12)
    >>> Pool2DLayer((None, 3, 7, 7), 3, stride=2, pad=1,
    ...             mode="average_exc_pad").output_shape
    (None, 3, 4, 4)
    """

    nd = 2

    def __init__(self, incoming, pool_size, stride=None, pad=(0, 0),
                 ignore_border=True, mode="max", **kwargs):
        super().__init__(incoming, pool_size, stride, pad, ignore_border,
                         mode, **kwargs)


class Pool3DLayer(_PoolNDLayer):
    """3D pooling of ``(batch, channels, depth, rows, columns)`` inputs.

    Parameters as :class:`Pool1DLayer`, with a value per spatial axis.

    Examples
    --------
    >>> Pool3DLayer((None, 3, 8, 8, 5), 2, ignore_border=False).output_shape
    (None, 3, 4, 4, 3)
    """

    nd = 3

    def __init__(self, incoming, pool_size, stride=None, pad=(0, 0, 0),
                 ignore_border=True, mode="max", **kwargs):
        super().__init__(incoming, pool_size, stride, pad, ignore_border,
                         mode, **kwargs)


class MaxPool1DLayer(Pool1DLayer):
    """1D max-pooling: :class:`Pool1DLayer` with ``mode='max'``.

    Examples
    --------
    >>> MaxPool1DLayer((None, 3, 10), 2).output_shape
    (None, 3, 5)
    """

    def __init__(self, incoming, pool_size, stride=None, pad=0,
                 ignore_border=True, **kwargs):
        super().__init__(incoming, pool_size, stride, pad, ignore_border,
                         mode="max", **kwargs)


class MaxPool2DLayer(Pool2DLayer):
    """2D max-pooling: :class:`Pool2DLayer` with ``mode='max'``.

    Examples
    --------
    >>> MaxPool2DLayer((None, 32, 24, 24), (2, 2)).output_shape
    (None, 32, 12, 12)
    """

    def __init__(self, incoming, pool_size, stride=None, pad=(0, 0),
                 ignore_border=True, **kwargs):
        super().__init__(incoming, pool_size, stride, pad, ignore_border,
                         mode="max", **kwargs)


class MaxPool3DLayer(Pool3DLayer):
    """3D max-pooling: :class:`Pool3DLayer` with ``mode='max'``.

    Examples
    --------
    >>> MaxPool3DLayer((None, 2, 4, 4, 4), 2).output_shape
    (None, 2, 2, 2, 2)
    """

    def __init__(self, incoming, pool_size, stride=None, pad=(0, 0, 0),
                 ignore_border=True, **kwargs):
        super().__init__(incoming, pool_size, stride, pad, ignore_border,
                         mode="max", **kwargs)


class _UpscaleNDLayer(Layer):
    nd = None

    def __init__(self, incoming, scale_factor, mode="repeat", **kwargs):
        super().__init__(incoming, **kwargs)
        nd = self.nd
        if len(self.input_shape) != nd + 2:
            raise ValueError(
                f"{self._where()}Expected {nd + 2} input dimensions: expects "
                f"a {nd + 2}-d input (batch, channels, {nd} spatial axes), "
                f"got input_shape {self.input_shape}.")
        self.scale_factor = as_tuple(scale_factor, nd, numbers.Integral,
                                     name="scale_factor",
                                     owner=self._where().rstrip(": "))
        if min(self.scale_factor) < 1:
            raise ValueError(
                f"{self._where()}`scale_factor` must be at least 1 in every "
                f"dimension, got {self.scale_factor}.")
        modes = ("repeat", "dilate", "nearest") + (("bilinear",) if nd == 2 else ())
        if mode not in modes:
            raise ValueError(
                f"{self._where()}`mode` must be one of {modes}, got "
                f"{mode!r}.")
        self.mode = mode

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape[:2]) + tuple(
            None if n is None else n * f
            for n, f in zip(input_shape[2:], self.scale_factor))

    def get_output_for(self, input, **kwargs):
        if self.mode == "bilinear":
            from .resize import interpolate
            size = [input.shape[i + 2] * f for i, f in enumerate(self.scale_factor)]
            return interpolate(input, size, "bilinear")
        if self.mode in ("repeat", "nearest"):
            out = input
            for axis, factor in enumerate(self.scale_factor, start=2):
                if factor > 1:
                    out = pt.repeat(out, factor, axis=axis)
            return out
        shape = [input.shape[i] for i in range(2)] + [
            input.shape[i + 2] * f for i, f in enumerate(self.scale_factor)]
        index = (slice(None), slice(None)) + tuple(
            slice(None, None, f) for f in self.scale_factor)
        return pt.set_subtensor(pt.zeros(shape, dtype=input.dtype)[index],
                                input)


class Upscale1DLayer(_UpscaleNDLayer):
    """Upscale the last axis of a ``(batch, channels, length)`` input.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    scale_factor : int or iterable of int
    mode : {'repeat', 'dilate', 'nearest'} (and 'bilinear' for 2-d)
        'repeat' repeats every element `scale_factor` times; 'dilate' puts
        each element first in its block and fills the rest with zeros;
        'nearest' is 'repeat' (the name of PyTorch and Keras); 'bilinear'
        (:class:`Upscale2DLayer` only) interpolates as PyTorch's
        ``interpolate(..., mode='bilinear', align_corners=False)``; see
        :class:`ResizeLayer` for other sizes and ``align_corners``.
    **kwargs
        Passed to :class:`Layer`.

    Examples
    --------
    >>> import numpy as np
    >>> from lasagne.layers import InputLayer, get_output
    >>> l = Upscale1DLayer(InputLayer((1, 1, 2)), 2, mode="dilate")
    >>> get_output(l, np.array([[[1., 2.]]])).eval()
    array([[[1., 0., 2., 0.]]])
    """

    nd = 1


class Upscale2DLayer(_UpscaleNDLayer):
    """Upscale the last two axes of a 4-d input (see :class:`Upscale1DLayer`).

    Examples
    --------
    >>> Upscale2DLayer((None, 3, 4, 5), (2, 3)).output_shape
    (None, 3, 8, 15)
    >>> import numpy as np
    >>> from lasagne.layers import InputLayer, get_output
    >>> l = Upscale2DLayer(InputLayer((1, 1, 1, 2)), (1, 2), mode="bilinear")
    >>> get_output(l, np.array([[[[0., 1.]]]])).eval()
    array([[[[0.  , 0.25, 0.75, 1.  ]]]])
    """

    nd = 2


class Upscale3DLayer(_UpscaleNDLayer):
    """Upscale the last three axes of a 5-d input (see
    :class:`Upscale1DLayer`).

    Examples
    --------
    >>> Upscale3DLayer((None, 3, 2, 4, 5), 2).output_shape
    (None, 3, 4, 8, 10)
    """

    nd = 3


from ._pool_feature import (  # noqa: E402
    FeaturePoolLayer, FeatureWTALayer, GlobalPoolLayer,
    SpatialPyramidPoolingLayer, pool_2d_nxn_regions)
