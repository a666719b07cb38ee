"""Spatial transformer layers (Jaderberg et al., 2015): an affine or a thin
plate spline warp, predicted by a localization network, resamples the
input maps bilinearly. Re-exported by :mod:`lasagne.layers.special`.

Coordinates are normalised to [-1, 1] on both axes (-1 is the first
row / column, 1 the last). A sampling grid of the output size is mapped
through the transform and the input is read there by bilinear
interpolation; where the grid leaves the input, `border_mode` says which
pixels stand in: ``'nearest'`` the closest border pixel, ``'mirror'`` the
input reflected about its border pixels, ``'wrap'`` the input tiled
periodically. Sampling uses PyTensor's gathers, so gradients flow to the
input and to the transform parameters.
"""
import numbers

import numpy as np
import pytensor.tensor as pt

from ..utils import as_tuple
from .base import MergeLayer

__all__ = ["TransformerLayer", "TPSTransformerLayer"]

BORDER_MODES = ("nearest", "mirror", "wrap")


class _SamplingLayer(MergeLayer):
    """What both transformers share: arguments, output shape, sampling."""

    def __init__(self, incoming, localization_network, downsample_factor,
                 border_mode, **kwargs):
        super().__init__([incoming, localization_network], **kwargs)
        where = self._where()
        if len(self.input_shapes[0]) != 4:
            raise ValueError(
                f"{where}expects a 4-d input (batch, channels, rows, "
                f"columns), got input shape {self.input_shapes[0]}.")
        self.downsample_factor = as_tuple(
            downsample_factor, 2, numbers.Real, name="downsample_factor",
            owner=where.rstrip(": "))
        if min(self.downsample_factor) <= 0:
            raise ValueError(
                f"{where}`downsample_factor` must be positive, got "
                f"{self.downsample_factor}.")
        if border_mode not in BORDER_MODES:
            raise ValueError(
                f"{where}`border_mode` must be one of {BORDER_MODES}, got "
                f"{border_mode!r}.")
        self.border_mode = border_mode

    def get_output_shape_for(self, input_shapes):
        shape = input_shapes[0]
        return tuple(shape[:2]) + tuple(
            None if s is None else int(s // f)
            for s, f in zip(shape[2:], self.downsample_factor))

    def _out_size(self, input):
        """Output rows and columns: ints when known, else expressions."""
        known = self.get_output_shape_for([self.input_shapes[0]])[2:]
        return tuple(
            k if k is not None else
            pt.cast(pt.floor_div(input.shape[2 + i], f), "int64")
            for i, (k, f) in enumerate(zip(known, self.downsample_factor)))

    def _sample(self, input, x, y):
        """Bilinear sampling of `input` at normalised coordinates `x`, `y`
        (each ``(batch, out_rows, out_cols)``). No reshapes: PyTensor's JAX
        backend needs concrete reshape sizes, and the batch may be unknown."""
        rows, cols = input.shape[2], input.shape[3]
        dtype = input.dtype
        # [-1, 1] -> [0, size - 1] in pixels.
        px = (x + 1) * (pt.cast(cols, dtype) - 1) / 2
        py = (y + 1) * (pt.cast(rows, dtype) - 1) / 2
        x0, y0 = pt.floor(px), pt.floor(py)
        fx, fy = px - x0, py - y0
        ix0, ix1 = (self._border(v, cols) for v in (x0, x0 + 1))
        iy0, iy1 = (self._border(v, rows) for v in (y0, y0 + 1))
        # The example index of every output pixel, without an arange of
        # the (possibly unknown) batch size.
        example = pt.cumsum(pt.ones_like(input[:, 0, 0, 0], dtype="int64")) - 1
        example = example[:, None, None] + pt.zeros_like(ix0)
        pixels = input.dimshuffle(0, 2, 3, 1)  # (batch, rows, cols, channels)

        def term(weight, iy, ix):
            return weight[:, :, :, None] * pixels[example, iy, ix]

        out = (term((1 - fx) * (1 - fy), iy0, ix0)
               + term((1 - fx) * fy, iy1, ix0)
               + term(fx * (1 - fy), iy0, ix1)
               + term(fx * fy, iy1, ix1))
        return out.dimshuffle(0, 3, 1, 2)

    def _border(self, index, size):
        """Integer pixel index for a float index, by the border mode."""
        size_f = pt.cast(size, index.dtype)
        if self.border_mode == "nearest":
            index = pt.clip(index, 0, size_f - 1)
        elif self.border_mode == "wrap":
            index = pt.mod(index, size_f)
        else:  # mirror: reflect about the first and last pixels
            period = pt.maximum(2 * (size_f - 1), 1)
            folded = pt.mod(index, period)
            index = pt.minimum(folded, period - folded)
            index = pt.minimum(index, size_f - 1)  # 1-pixel inputs
        return pt.cast(index, "int64")


def _grid(rows, cols, dtype):
    """Normalised coordinates ``(x, y)`` of every output pixel, each of
    shape ``(rows, cols)``; numpy when the size is known, expressions
    otherwise."""
    if isinstance(rows, int) and isinstance(cols, int):
        y, x = np.meshgrid(np.linspace(-1, 1, rows), np.linspace(-1, 1, cols),
                           indexing="ij")
        return x.astype(dtype), y.astype(dtype)

    def axis(n):
        n = pt.cast(n, "int64")
        step = 2.0 / pt.maximum(n - 1, 1)
        return pt.cast(pt.arange(n) * step - 1, dtype)

    xs, ys = axis(cols), axis(rows)
    return (xs[None, :] * pt.ones_like(ys)[:, None],
            ys[:, None] * pt.ones_like(xs)[None, :])


class TransformerLayer(_SamplingLayer):
    """Spatial transformer with an affine transform.

    The localization network gives, for each example, the 6 entries of a
    2x3 matrix ``theta`` (row-major) mapping output coordinates
    ``(x, y, 1)`` to input coordinates (both normalised to [-1, 1]).
    ``[1, 0, 0, 0, 1, 0]`` is the identity.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The maps to transform, ``(batch, channels, rows, columns)``.
    localization_network : a :class:`Layer` instance
        Gives ``(batch, 6)`` transform parameters.
    downsample_factor : float or iterable of 2 floats
        The output has ``rows // factor`` rows (likewise columns).
    border_mode : {'nearest', 'mirror', 'wrap'}
        The values read outside the input (see the module docstring).
    **kwargs
        Passed to :class:`MergeLayer`.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> l_in = InputLayer((None, 3, 28, 28))
    >>> l_loc = InputLayer((None, 6))
    >>> TransformerLayer(l_in, l_loc, downsample_factor=2).output_shape
    (None, 3, 14, 14)
    """

    def __init__(self, incoming, localization_network, downsample_factor=1,
                 border_mode="nearest", **kwargs):
        super().__init__(incoming, localization_network, downsample_factor,
                         border_mode, **kwargs)
        loc = self.input_shapes[1]
        if len(loc) != 2 or loc[1] not in (6, None):
            raise ValueError(
                f"{self._where()}the localization network must give shape "
                f"(batch, 6), got {loc}.")

    def get_output_for(self, inputs, **kwargs):
        input, theta = inputs
        x, y = (pt.as_tensor(v) for v in
                _grid(*self._out_size(input), input.dtype))
        t = [pt.cast(theta[:, i], input.dtype)[:, None, None]
             for i in range(6)]
        # Source coordinates of every output pixel, (batch, rows, cols).
        source_x = t[0] * x + t[1] * y + t[2]
        source_y = t[3] * x + t[4] * y + t[5]
        return self._sample(input, source_x, source_y)


def _tps_kernel(r2):
    """U = r^2 log(r^2), 0 at r = 0 (numpy or PyTensor)."""
    if isinstance(r2, np.ndarray):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(r2 > 0, r2 * np.log(np.where(r2 > 0, r2, 1)), 0)
    return pt.switch(r2 > 0, r2 * pt.log(pt.switch(r2 > 0, r2, 1)), 0)


class TPSTransformerLayer(_SamplingLayer):
    """TPSTransformerLayer(incoming, localization_network,
    downsample_factor=1, control_points=16, precompute_grid='auto',
    border_mode='nearest', **kwargs)

    Spatial transformer with a thin plate spline warp.

    `control_points` source points lie on a regular square grid over
    [-1, 1]^2. The localization network gives, per example, the offsets of
    their destinations: ``(batch, 2 * control_points)``, all x offsets
    then all y offsets. The spline maps every control point to its
    destination and interpolates smoothly in between; zero offsets give
    the identity.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The maps to transform, ``(batch, channels, rows, columns)``.
    localization_network : a :class:`Layer` instance
        Gives ``(batch, 2 * control_points)`` offsets.
    downsample_factor : float or iterable of 2 floats
        The output has ``rows // factor`` rows (likewise columns).
    control_points : int
        A perfect square, at least 4.
    precompute_grid : 'auto' or bool
        Compute the spline basis of the output grid once, in numpy. Needs
        the map size at construction; 'auto' does so when it is known.
    border_mode : {'nearest', 'mirror', 'wrap'}
    **kwargs
        Passed to :class:`MergeLayer`.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> l_in = InputLayer((None, 3, 28, 28))
    >>> l_loc = InputLayer((None, 32))
    >>> TPSTransformerLayer(l_in, l_loc, control_points=16).output_shape
    (None, 3, 28, 28)
    """

    def __init__(self, incoming, localization_network, downsample_factor=1,
                 control_points=16, precompute_grid="auto",
                 border_mode="nearest", **kwargs):
        super().__init__(incoming, localization_network, downsample_factor,
                         border_mode, **kwargs)
        where = self._where()
        side = (int(round(np.sqrt(control_points)))
                if isinstance(control_points, numbers.Integral) else 0)
        if side < 2 or side * side != control_points:
            raise ValueError(
                f"{where}`control_points` must be a perfect square of at "
                f"least 4 (4, 9, 16, ...), got {control_points!r}.")
        self.control_points = int(control_points)
        loc = self.input_shapes[1]
        if len(loc) != 2 or loc[1] not in (2 * control_points, None):
            raise ValueError(
                f"{where}the localization network must give shape (batch, "
                f"2 * control_points) = (batch, {2 * control_points}), got "
                f"{loc}.")
        known = None not in self.input_shapes[0][2:]
        if precompute_grid == "auto":
            precompute_grid = known
        elif precompute_grid not in (True, False):
            raise ValueError(f"{where}`precompute_grid` must be 'auto', True "
                             f"or False, got {precompute_grid!r}.")
        if precompute_grid and not known:
            raise ValueError(
                f"{where}precompute_grid=True needs the map size at "
                f"construction, got input shape {self.input_shapes[0]}. "
                f"Give the size or use precompute_grid=False.")
        self.precompute_grid = bool(precompute_grid)
        self._source, self._solve = self._spline_system(side)

    def _spline_system(self, side):
        """Source points (2, n) and the matrix taking destinations (n,) to
        spline coefficients (n + 3,): affine part first, then weights."""
        y, x = np.meshgrid(np.linspace(-1, 1, side), np.linspace(-1, 1, side),
                           indexing="ij")
        source = np.stack([x.ravel(), y.ravel()])
        n = source.shape[1]
        system = np.zeros((n + 3, n + 3))
        affine = np.vstack([np.ones(n), source])  # (3, n)
        system[:3, 3:] = affine
        system[3:, :3] = affine.T
        r2 = ((source[:, :, None] - source[:, None, :]) ** 2).sum(axis=0)
        system[3:, 3:] = _tps_kernel(r2)
        # Coefficients solve system @ c = [0, 0, 0, destinations].
        return source, np.linalg.inv(system)[:, 3:]

    def _basis(self, x, y):
        """Rows 1, x, y, U(|p - c_i|) for every grid point p:
        ``(control_points + 3, rows, cols)``."""
        sx, sy = self._source
        if isinstance(x, np.ndarray):
            r2 = ((x[None] - sx[:, None, None]) ** 2
                  + (y[None] - sy[:, None, None]) ** 2)
            return np.concatenate([np.ones_like(x)[None], x[None], y[None],
                                   _tps_kernel(r2)])
        r2 = ((x[None] - sx[:, None, None]) ** 2
              + (y[None] - sy[:, None, None]) ** 2)
        return pt.concatenate([pt.ones_like(x)[None], x[None], y[None],
                               _tps_kernel(r2)], axis=0)

    def get_output_for(self, inputs, **kwargs):
        input, offsets = inputs
        dtype = input.dtype
        out_size = self._out_size(input)
        if self.precompute_grid:
            basis = pt.constant(self._basis(*_grid(*out_size, "float64"))
                                .astype(dtype))
        else:
            basis = self._basis(*(pt.as_tensor(v) for v in
                                  _grid(*out_size, dtype)))
        n = self.control_points
        offsets = pt.cast(offsets, dtype)
        solve = pt.constant(self._solve.T.astype(dtype))  # (n, n + 3)
        source = []
        for k in range(2):  # x, then y
            dest = offsets[:, k * n:(k + 1) * n] + self._source[k].astype(dtype)
            coefficients = pt.dot(dest, solve)  # (batch, n + 3)
            source.append(pt.tensordot(coefficients, basis, axes=[[1], [0]]))
        return self._sample(input, *source)
