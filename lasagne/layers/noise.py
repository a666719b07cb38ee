"""Noise layers: dropout and Gaussian noise.

Each layer owns a shared random generator seeded from
:func:`lasagne.random.get_rng`. Any compiled function that uses the layer's
noisy output advances that generator, so successive calls draw fresh noise
and the same library seed reproduces a whole run.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt

from .. import random as lasagne_random
from .. import utils
from .base import Layer

__all__ = ["DropoutLayer", "dropout", "dropout_channels", "spatial_dropout",
           "dropout_locations", "GaussianNoiseLayer"]


class _NoiseLayer(Layer):
    """A layer with its own symbolic random generator."""

    def __init__(self, incoming, **kwargs):
        super().__init__(incoming, **kwargs)
        # Seeds for the generators of successive get_output calls: two
        # outputs of the same layer get independent noise, and the library
        # seed still fixes everything.
        self._seeds = np.random.RandomState(lasagne_random.draw_seed())

    def _draw(self, distribution, **kwargs):
        """Draw from ``pt.random.<distribution>`` with a new shared generator
        that every compiled function using the draw advances."""
        name = f"{self.name}.rng" if self.name else None
        rng = lasagne_random.shared_generator(
            seed=int(self._seeds.randint(0, 2 ** 31 - 1)), name=name)
        next_rng, sample = getattr(pt.random, distribution)(
            rng=rng, return_next_rng=True, **kwargs)
        lasagne_random.advance_on_use(rng, next_rng)
        return sample


class DropoutLayer(_NoiseLayer):
    """Dropout: sets input elements to zero with probability `p`.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    p : float or scalar expression
        The probability of setting a value to zero.
    rescale : bool
        Scale the kept values by ``1 / (1 - p)``, so that the expected
        output equals the input and no rescaling is needed at test time.
    shared_axes : tuple of int
        Axes along which one mask value is shared (e.g. ``(2, 3)`` drops
        whole feature maps of a 4-d input).

    Notes
    -----
    Pass ``deterministic=True`` to :func:`lasagne.layers.get_output` to get
    the noise-free output for evaluation.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DropoutLayer
    >>> l = DropoutLayer(InputLayer((None, 100)), p=0.2)
    >>> l.output_shape
    (None, 100)
    """

    def __init__(self, incoming, p=0.5, rescale=True, shared_axes=(),
                 **kwargs):
        super().__init__(incoming, **kwargs)
        if isinstance(p, (int, float)) and not 0 <= p < 1:
            raise ValueError(
                f"{self._where()}dropout probability `p` must be in [0, 1), "
                f"got {p!r}.")
        self.p = p
        self.rescale = rescale
        ndim = len(self.input_shape)
        try:
            axes = tuple(shared_axes)
        except TypeError:
            axes = (shared_axes,)
        if any(not isinstance(a, utils.int_types) or not -ndim <= a < ndim
               for a in axes):
            raise ValueError(
                f"{self._where()}`shared_axes` must be axes of the "
                f"{ndim}-dimensional input, got {shared_axes!r}.")
        self.shared_axes = tuple(a % ndim for a in axes)

    def get_output_for(self, input, deterministic=False, **kwargs):
        if deterministic or (isinstance(self.p, (int, float)) and self.p == 0):
            return input
        # the mask is drawn in a float type even for integer inputs, as in
        # Lasagne (rescale=False keeps an integer input's dtype)
        fdtype = (input.dtype if input.dtype.startswith("float")
                  else pytensor.config.floatX)
        one = pt.constant(1, dtype=fdtype)
        retain = one - pt.cast(self.p, fdtype)
        if self.rescale:
            input = input / retain
        mask_shape = tuple(1 if a in self.shared_axes else input.shape[a]
                           for a in range(input.ndim))
        mask = self._draw("uniform", size=mask_shape, dtype=fdtype)
        keep = pt.cast(mask < retain, input.dtype)
        if self.shared_axes:
            keep = pt.specify_broadcastable(keep, *self.shared_axes)
        return input * keep


dropout = DropoutLayer


def dropout_channels(incoming, *args, **kwargs):
    """Spatial dropout: drop whole channels (all positions of a feature map).

    A :class:`DropoutLayer` whose mask is shared over every axis after the
    second, i.e. ``shared_axes=(2, 3, ...)`` for input ``(batch, channels,
    ...)``.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> l = dropout_channels(InputLayer((None, 8, 5, 5)), p=0.3)
    >>> l.shared_axes
    (2, 3)
    """
    ndim = len(getattr(incoming, "output_shape", incoming))
    kwargs["shared_axes"] = tuple(range(2, ndim))
    return DropoutLayer(incoming, *args, **kwargs)


spatial_dropout = dropout_channels


def dropout_locations(incoming, *args, **kwargs):
    """Dropout of spatial locations across all channels: the mask is shared
    over the channel axis (``shared_axes=(1,)``).

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> dropout_locations(InputLayer((None, 8, 5, 5)), p=0.3).shared_axes
    (1,)
    """
    kwargs["shared_axes"] = (1,)
    return DropoutLayer(incoming, *args, **kwargs)


class GaussianNoiseLayer(_NoiseLayer):
    """Adds zero-mean Gaussian noise of standard deviation `sigma`.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    sigma : float or scalar expression
        Standard deviation of the noise.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, GaussianNoiseLayer
    >>> GaussianNoiseLayer(InputLayer((None, 3)), sigma=0.5).sigma
    0.5
    """

    def __init__(self, incoming, sigma=0.1, **kwargs):
        super().__init__(incoming, **kwargs)
        if isinstance(sigma, (int, float)) and sigma < 0:
            raise ValueError(
                f"{self._where()}`sigma` must be non-negative, got {sigma!r}.")
        self.sigma = sigma

    def get_output_for(self, input, deterministic=False, **kwargs):
        if deterministic or (isinstance(self.sigma, (int, float))
                             and self.sigma == 0):
            return input
        noise = self._draw("normal", loc=0.0, scale=1.0, size=input.shape,
                           dtype=input.dtype)
        return input + pt.cast(self.sigma, input.dtype) * noise
