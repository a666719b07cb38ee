"""The library-wide random number generator.

Initializers in :mod:`lasagne.init` draw from it, and noise layers seed their
own symbolic generators from it, so one call to :func:`set_rng` makes a whole
script reproducible.
"""
import numpy as np

__all__ = ["get_rng", "set_rng"]  # plus helpers for noise layers below

_rng = np.random


def get_rng():
    """Return the generator used by Lasagne (``numpy.random`` by default).

    Examples
    --------
    >>> import lasagne.random
    >>> rng = lasagne.random.get_rng()
    """
    return _rng


def set_rng(new_rng):
    """Replace the generator used by Lasagne.

    Parameters
    ----------
    new_rng : numpy.random.RandomState or numpy.random.Generator
        Any object with the ``numpy.random.RandomState`` methods (``uniform``,
        ``normal``, ``randint``...) or a ``numpy.random.Generator``.

    Examples
    --------
    >>> import numpy as np, lasagne.random
    >>> lasagne.random.set_rng(np.random.RandomState(42))
    """
    global _rng
    _rng = new_rng


def draw_seed():
    """Draw a 32-bit integer seed from the library generator; used to seed
    the symbolic generators of noise layers."""
    rng = get_rng()
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, 2 ** 31 - 1))
    return int(rng.randint(0, 2 ** 31 - 1))


def shared_generator(seed=None, name=None):
    """A shared numpy ``Generator`` for symbolic draws, seeded from the
    library generator unless `seed` is given."""
    import pytensor
    if seed is None:
        seed = draw_seed()
    return pytensor.shared(np.random.default_rng(seed), name=name)


def advance_on_use(rng, next_rng):
    """Make every compiled function that draws from the shared generator
    `rng` store `next_rng` back into it, as Lasagne users expect of noise
    layers (no ``updates`` to pass by hand)."""
    from .utils import set_default_update
    return set_default_update(rng, next_rng)
