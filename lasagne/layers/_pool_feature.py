"""Pooling across features and whole maps: feature pooling, winner-take-all,
global pooling and spatial pyramid pooling. Re-exported by
:mod:`lasagne.layers.pool`."""
import numbers

import numpy as np
import pytensor.tensor as pt

from ..ops.pool import POOL_MODES, pool
from ._pool_symbolic import symbolic_pool_2d
from .base import Layer

__all__ = ["FeaturePoolLayer", "FeatureWTALayer", "GlobalPoolLayer",
           "pool_2d_nxn_regions", "SpatialPyramidPoolingLayer"]


def _check_feature_pool(layer, pool_size, axis):
    where = layer._where()
    if not isinstance(pool_size, numbers.Integral) or pool_size < 1:
        raise ValueError(f"{where}`pool_size` must be a positive int, got "
                         f"{pool_size!r}.")
    ndim = len(layer.input_shape)
    if not isinstance(axis, numbers.Integral) or not -ndim <= axis < ndim:
        raise ValueError(f"{where}`axis` must be an axis of the "
                         f"{ndim}-d input, got {axis!r}.")
    axis = axis % ndim
    size = layer.input_shape[axis]
    if size is not None and size % pool_size:
        raise ValueError(
            f"{where}the size of axis {axis} ({size}) must be a multiple of "
            f"`pool_size` ({pool_size}). Change pool_size or the number of "
            f"features.")
    return int(pool_size), axis


def _flatten_maps(input, size):
    """``(batch, channels, ...)`` -> ``(batch, channels, pixels)``. A known
    pixel count goes in as a constant: PyTensor's JAX backend needs
    concrete reshape sizes."""
    if size is None:
        return input.flatten(3)
    return input.reshape((input.shape[0], input.shape[1], size))


def _grouped(input, pool_size, axis):
    """`input` with `axis` split into (groups, pool_size)."""
    shape = ([input.shape[i] for i in range(axis)]
             + [input.shape[axis] // pool_size, pool_size]
             + [input.shape[i] for i in range(axis + 1, input.ndim)])
    return input.reshape(shape, ndim=input.ndim + 1)


class FeaturePoolLayer(Layer):
    """FeaturePoolLayer(incoming, pool_size, axis=1,
    pool_function=pytensor.tensor.max, **kwargs)

    Pools groups of `pool_size` consecutive features along `axis` (for
    instance maxout: ``pool_function=pytensor.tensor.max``).

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    pool_size : int
        Features per group; the size of `axis` must be a multiple of it.
    axis : int
        The feature axis.
    pool_function : callable
        Called as ``pool_function(x, axis=k)`` to reduce one axis.
    **kwargs
        Passed to :class:`Layer`.

    Examples
    --------
    >>> FeaturePoolLayer((None, 12, 5), 3).output_shape
    (None, 4, 5)
    """

    def __init__(self, incoming, pool_size, axis=1, pool_function=pt.max,
                 **kwargs):
        super().__init__(incoming, **kwargs)
        self.pool_size, self.axis = _check_feature_pool(self, pool_size, axis)
        if not callable(pool_function):
            raise TypeError(f"{self._where()}`pool_function` must be callable, "
                            f"got {pool_function!r}.")
        self.pool_function = pool_function

    def get_output_shape_for(self, input_shape):
        shape = list(input_shape)
        if shape[self.axis] is not None:
            shape[self.axis] //= self.pool_size
        return tuple(shape)

    def get_output_for(self, input, **kwargs):
        grouped = _grouped(input, self.pool_size, self.axis)
        return self.pool_function(grouped, axis=self.axis + 1)


class FeatureWTALayer(Layer):
    """Winner-take-all across features: in each group of `pool_size`
    consecutive features along `axis`, the largest keeps its value and the
    others become 0 (on ties, the first of the group wins).

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    pool_size : int
        Features per group; the size of `axis` must be a multiple of it.
    axis : int
        The feature axis.
    **kwargs
        Passed to :class:`Layer`.

    Examples
    --------
    >>> import numpy as np
    >>> from lasagne.layers import InputLayer, get_output
    >>> l = FeatureWTALayer(InputLayer((1, 4)), 2)
    >>> get_output(l, np.array([[1., 3., 5., 2.]])).eval()
    array([[0., 3., 5., 0.]])
    """

    def __init__(self, incoming, pool_size, axis=1, **kwargs):
        super().__init__(incoming, **kwargs)
        self.pool_size, self.axis = _check_feature_pool(self, pool_size, axis)

    def get_output_for(self, input, **kwargs):
        grouped = _grouped(input, self.pool_size, self.axis)
        winner = pt.argmax(grouped, axis=self.axis + 1, keepdims=True)
        position = pt.arange(self.pool_size).reshape(
            (1,) * (self.axis + 1) + (self.pool_size,)
            + (1,) * (input.ndim - self.axis - 1))
        mask = pt.eq(winner, position).reshape(input.shape)
        return input * pt.cast(mask, input.dtype)


class GlobalPoolLayer(Layer):
    """GlobalPoolLayer(incoming, pool_function=pytensor.tensor.mean,
    **kwargs)

    Pools every axis after the second (global average pooling by default):
    ``(batch, channels, ...)`` becomes ``(batch, channels)``.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    pool_function : callable
        Called as ``pool_function(x, axis=2)`` on the input with its
        trailing axes flattened into one.
    **kwargs
        Passed to :class:`Layer`.

    Examples
    --------
    >>> GlobalPoolLayer((None, 16, 7, 7)).output_shape
    (None, 16)
    """

    def __init__(self, incoming, pool_function=pt.mean, **kwargs):
        super().__init__(incoming, **kwargs)
        # as in Lasagne, a 2-d input is pooled over a single element; the
        # rank of a protocol-only incoming (a mock) is not checked
        if isinstance(incoming, (Layer, tuple)) and len(self.input_shape) < 2:
            raise ValueError(f"{self._where()}expects an input of at least 2 "
                             f"dimensions (batch, channels, ...), got "
                             f"input_shape {self.input_shape}.")
        if not callable(pool_function):
            raise TypeError(f"{self._where()}`pool_function` must be callable, "
                            f"got {pool_function!r}.")
        self.pool_function = pool_function

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape[:2])

    def get_output_for(self, input, **kwargs):
        maps = self.input_shape[2:]
        size = None if None in maps else int(np.prod(maps))
        if input.ndim != len(self.input_shape):
            size = None  # not the declared input: its size is not known
        if input.ndim == 2:
            input = input.dimshuffle(0, 1, "x")
        return self.pool_function(_flatten_maps(input, size), axis=2)


def _region_reducer(mode):
    if mode == "max":
        return pt.max
    if mode in ("average_inc_pad", "average_exc_pad"):
        return pt.mean
    raise ValueError(f"pool_2d_nxn_regions: `mode` must be one of "
                     f"{POOL_MODES}, got {mode!r}.")


def pool_2d_nxn_regions(inputs, output_size, mode="max"):
    """Pool each of `output_size` x `output_size` regions of the last two
    axes (the regions of He et al.'s spatial pyramid pooling: region ``i``
    of ``n`` spans ``floor(i * h / n)`` to ``ceil((i + 1) * h / n)``).

    Parameters
    ----------
    inputs : 4-d tensor ``(batch, channels, rows, columns)``
    output_size : int
    mode : {'max', 'average_inc_pad', 'average_exc_pad'}
        Both averages take the mean of the region (there is no padding).

    Returns
    -------
    3-d tensor ``(batch, channels, output_size ** 2)``, regions in row-major
    order.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(9.).reshape(1, 1, 3, 3)
    >>> pool_2d_nxn_regions(x, 2).eval()
    array([[[4., 5., 7., 8.]]])
    """
    reduce = _region_reducer(mode)
    inputs = pt.as_tensor_variable(inputs)
    h, w = inputs.shape[2], inputs.shape[3]
    n = int(output_size)
    results = []
    for row in range(n):
        h_lo, h_hi = (row * h) // n, -((-(row + 1) * h) // n)
        for col in range(n):
            w_lo, w_hi = (col * w) // n, -((-(col + 1) * w) // n)
            region = inputs[:, :, h_lo:h_hi, w_lo:w_hi]
            results.append(reduce(region, axis=(2, 3)))
    return pt.stack(results, axis=2)


class SpatialPyramidPoolingLayer(Layer):
    """SpatialPyramidPoolingLayer(incoming, pool_dims=[4, 2, 1], mode='max',
    implementation='fast', **kwargs)

    Spatial pyramid pooling (He et al., 2014): pools the maps into
    ``n x n`` regions for every ``n`` in `pool_dims` and concatenates the
    results, giving ``(batch, channels, sum(n * n))`` whatever the map size.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    pool_dims : list of int
    mode : {'max', 'average_inc_pad', 'average_exc_pad'}
    implementation : {'fast', 'kaiming'}
        'kaiming' pools the regions of :func:`pool_2d_nxn_regions`. 'fast'
        uses one pooling per level with window ``ceil(size / n)`` and stride
        ``floor(size / n)``. With the map size known at construction, a
        level where those windows would not give exactly ``n`` outputs uses
        the 'kaiming' regions instead; for maps of unknown size the windows
        are computed from the actual size and the first ``n`` are kept.
    **kwargs
        Passed to :class:`Layer`.

    Examples
    --------
    >>> SpatialPyramidPoolingLayer((None, 8, 13, 13)).output_shape
    (None, 8, 21)
    """

    def __init__(self, incoming, pool_dims=[4, 2, 1], mode="max",
                 implementation="fast", **kwargs):
        super().__init__(incoming, **kwargs)
        where = self._where()
        if len(self.input_shape) != 4:
            raise ValueError(f"{where}Expected 4 input dimensions: expects "
                             f"a 4-d input (batch, channels, rows, columns), "
                             f"got input_shape {self.input_shape}.")
        try:
            self.pool_dims = [int(n) for n in pool_dims]
        except (TypeError, ValueError):
            raise TypeError(f"{where}`pool_dims` must be a list of ints, got "
                            f"{pool_dims!r}.") from None
        if not self.pool_dims or min(self.pool_dims) < 1:
            raise ValueError(f"{where}`pool_dims` must be a non-empty list of "
                             f"positive ints, got {pool_dims!r}.")
        if mode not in POOL_MODES:
            raise ValueError(f"{where}`mode`: Mode must be either 'max', "
                             f"'average_inc_pad' or 'average_exc_pad'. Got "
                             f"{mode!r}.")
        if implementation not in ("fast", "kaiming"):
            raise ValueError(f"{where}`implementation` must be 'fast' or "
                             f"'kaiming', got {implementation!r}.")
        self.mode = mode
        self.implementation = implementation

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape[:2]) + (sum(n * n for n in self.pool_dims),)

    def _fast_level(self, input, n):
        size = self.input_shape[2:]
        if None in size or input.ndim != len(self.input_shape):
            # maps of unknown size: windows computed from the actual size
            # (as Lasagne does), n of them per axis
            h, w = input.shape[-2], input.shape[-1]
            ws = pt.stack([-(-h // n), -(-w // n)])
            stride = pt.stack([pt.maximum(h // n, 1), pt.maximum(w // n, 1)])
            pooled = symbolic_pool_2d(input, ws, stride, self.mode, count=n)
            return _flatten_maps(pooled, n * n)
        ws = tuple(-(-s // n) for s in size)
        stride = tuple(max(1, s // n) for s in size)
        if any((s - k) // t + 1 != n for s, k, t in zip(size, ws, stride)):
            return None
        return _flatten_maps(pool(input, ws, stride, 0, True, self.mode),
                             n * n)

    def get_output_for(self, input, **kwargs):
        levels = []
        for n in self.pool_dims:
            level = None
            if self.implementation == "fast":
                level = self._fast_level(input, n)
            if level is None:
                level = pool_2d_nxn_regions(input, n, self.mode)
            levels.append(level)
        return pt.concatenate(levels, axis=2)
