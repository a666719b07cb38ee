"""Initializers: callables that return a numpy array of a given shape.

Pass one as the ``W`` or ``b`` argument of a layer, or call it yourself to
fill any shared variable. Random initializers draw from
:func:`lasagne.random.get_rng`, which may be a ``numpy.random.RandomState``
or a ``numpy.random.Generator``; every array is returned as
``pytensor.config.floatX``.
"""
import numbers

import numpy as np

from .random import get_rng
from .utils import _ShapeError, floatX

__all__ = [
    "Initializer", "Normal", "Uniform", "Glorot", "GlorotNormal",
    "GlorotUniform", "He", "HeNormal", "HeUniform", "Constant", "Sparse",
    "Orthogonal",
]


class Initializer:
    """Base class of the initializers.

    Subclasses implement :meth:`sample`; calling an instance is the same as
    calling :meth:`sample`.

    Examples
    --------
    >>> class Twos(Initializer):
    ...     def sample(self, shape):
    ...         return floatX(np.full(shape, 2.0))
    >>> Twos()((2,)).tolist()
    [2.0, 2.0]
    """

    def __call__(self, shape):
        """Same as :meth:`sample`."""
        return self.sample(shape)

    def sample(self, shape):
        """Return a floatX numpy array of the given shape.

        Parameters
        ----------
        shape : tuple of int
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement sample(shape).")

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


def _check_gain(gain, owner):
    """`gain` as a float; the string 'relu' stands for sqrt(2)."""
    if isinstance(gain, str) and gain == "relu":
        return np.sqrt(2)
    if isinstance(gain, numbers.Real) and not isinstance(gain, bool):
        return float(gain)
    raise ValueError(
        f"{owner}: argument `gain` must be a number or the string 'relu' "
        f"(for sqrt(2)), got {gain!r}.")


class Normal(Initializer):
    """Draw from a normal distribution.

    Parameters
    ----------
    std : float
        Standard deviation.
    mean : float
        Mean.

    Examples
    --------
    >>> Normal(std=0.1)((100, 50)).shape
    (100, 50)
    """

    def __init__(self, std=0.01, mean=0.0):
        if std < 0:
            raise ValueError(
                f"Normal: argument `std` must be non-negative, got {std!r}.")
        self.std = std
        self.mean = mean

    def sample(self, shape):
        return floatX(get_rng().normal(self.mean, self.std, size=shape))


class Uniform(Initializer):
    """Draw from a uniform distribution.

    Parameters
    ----------
    range : float or tuple of two floats
        A number ``r`` draws from ``[-r, r)``; a tuple ``(low, high)`` from
        ``[low, high)``. Ignored when `std` is given.
    std : float, optional
        If given, draw from the uniform distribution of this standard
        deviation centred on `mean`, i.e. from
        ``[mean - sqrt(3) * std, mean + sqrt(3) * std)``.
    mean : float
        Centre of the interval when `std` is given.

    Examples
    --------
    >>> w = Uniform((2.0, 3.0))((1000,))
    >>> bool(w.min() >= 2.0 and w.max() < 3.0)
    True
    """

    def __init__(self, range=0.01, std=None, mean=0.0):
        if std is not None:
            if std < 0:
                raise ValueError(
                    f"Uniform: argument `std` must be non-negative, got "
                    f"{std!r}.")
            low, high = mean - np.sqrt(3) * std, mean + np.sqrt(3) * std
        elif isinstance(range, numbers.Real):
            low, high = -range, range
        else:
            try:
                low, high = range
            except (TypeError, ValueError):
                raise ValueError(
                    f"Uniform: argument `range` must be a number r (for "
                    f"[-r, r)) or a tuple (low, high), got {range!r}.") from None
        if low > high:
            raise ValueError(
                f"Uniform: the interval [{low!r}, {high!r}) is empty (from "
                f"range={range!r}, std={std!r}, mean={mean!r}); pass a "
                f"non-negative range or std, or a tuple with low <= high.")
        self.range = (low, high)

    def sample(self, shape):
        low, high = self.range
        return floatX(get_rng().uniform(low, high, size=shape))


class Glorot(Initializer):
    """Glorot (Xavier) initialization (Glorot & Bengio, 2010): draws with
    standard deviation ``gain * sqrt(2 / ((fan_in + fan_out) * receptive))``.

    For a shape ``(a, b, *rest)`` the fans are ``a`` and ``b`` and the
    receptive field size is ``prod(rest)`` (1 for dense weights): this fits
    dense weights ``(num_inputs, num_units)`` and convolution filters
    ``(num_filters, num_channels, *filter_size)``. With ``c01b=True`` the
    shape must be ``(channels, rows, columns, filters)``.

    Parameters
    ----------
    initializer : callable
        Called as ``initializer(std=std)``, giving the initializer that
        draws, e.g. :class:`Normal` or :class:`Uniform`.
    gain : float or 'relu'
        Scale factor; ``'relu'`` means ``sqrt(2)``.
    c01b : bool
        Whether the shape is in the c01b layout of cuda_convnet.

    Examples
    --------
    >>> Glorot(Normal, gain="relu")((300, 100)).shape
    (300, 100)
    """

    def __init__(self, initializer, gain=1.0, c01b=False):
        self.initializer = initializer
        self.gain = _check_gain(gain, type(self).__name__)
        self.c01b = c01b

    def sample(self, shape):
        shape = tuple(shape)
        name = type(self).__name__
        if self.c01b:
            if len(shape) != 4:
                raise _ShapeError(
                    f"{name}: with c01b=True the shape must have 4 dimensions "
                    f"(channels, rows, columns, filters), got {shape}.")
            fan_a, fan_b = shape[0], shape[3]
            receptive = shape[1] * shape[2]
        else:
            if len(shape) < 2:
                raise _ShapeError(
                    f"{name} needs a shape of at least 2 dimensions (fan-in "
                    f"and fan-out), got {shape}. Use e.g. Constant or Normal "
                    f"for biases.")
            fan_a, fan_b = shape[:2]
            receptive = int(np.prod(shape[2:]))
        std = self.gain * np.sqrt(2.0 / ((fan_a + fan_b) * receptive))
        return self.initializer(std=std).sample(shape)


class GlorotNormal(Glorot):
    """:class:`Glorot` initialization drawing from a normal distribution.

    Examples
    --------
    >>> GlorotNormal()((20, 10, 3, 3)).shape
    (20, 10, 3, 3)
    """

    def __init__(self, gain=1.0, c01b=False):
        super().__init__(Normal, gain, c01b)


class GlorotUniform(Glorot):
    """:class:`Glorot` initialization drawing from a uniform distribution
    (of the same standard deviation).

    Examples
    --------
    >>> w = GlorotUniform()((3, 5))
    >>> bool(abs(w).max() <= np.sqrt(6 / 8))
    True
    """

    def __init__(self, gain=1.0, c01b=False):
        super().__init__(Uniform, gain, c01b)


class He(Initializer):
    """He initialization (He et al., 2015): draws with standard deviation
    ``gain * sqrt(1 / fan_in)``.

    The fan-in is ``shape[0]`` for dense weights ``(num_inputs,
    num_units)``, ``prod(shape[1:])`` for convolution filters
    ``(num_filters, num_channels, *filter_size)`` and ``prod(shape[:3])``
    in the c01b layout.

    Parameters
    ----------
    initializer : callable
        Called as ``initializer(std=std)``.
    gain : float or 'relu'
        Scale factor; ``'relu'`` means ``sqrt(2)``.
    c01b : bool
        Whether the shape is in the c01b layout of cuda_convnet.

    Examples
    --------
    >>> He(Normal, gain="relu")((300, 100)).shape
    (300, 100)
    """

    def __init__(self, initializer, gain=1.0, c01b=False):
        self.initializer = initializer
        self.gain = _check_gain(gain, type(self).__name__)
        self.c01b = c01b

    def sample(self, shape):
        shape = tuple(shape)
        name = type(self).__name__
        if self.c01b:
            if len(shape) != 4:
                raise _ShapeError(
                    f"{name}: with c01b=True the shape must have 4 dimensions "
                    f"(channels, rows, columns, filters), got {shape}.")
            fan_in = int(np.prod(shape[:3]))
        elif len(shape) == 2:
            fan_in = shape[0]
        elif len(shape) > 2:
            fan_in = int(np.prod(shape[1:]))
        else:
            raise _ShapeError(
                f"{name} needs a shape of at least 2 dimensions, got {shape}. "
                f"Use e.g. Constant or Normal for biases.")
        std = self.gain * np.sqrt(1.0 / fan_in)
        return self.initializer(std=std).sample(shape)


class HeNormal(He):
    """:class:`He` initialization drawing from a normal distribution.

    Examples
    --------
    >>> HeNormal(gain="relu")((20, 10, 3, 3)).shape
    (20, 10, 3, 3)
    """

    def __init__(self, gain=1.0, c01b=False):
        super().__init__(Normal, gain, c01b)


class HeUniform(He):
    """:class:`He` initialization drawing from a uniform distribution
    (of the same standard deviation).

    Examples
    --------
    >>> w = HeUniform()((4, 5))
    >>> bool(abs(w).max() <= np.sqrt(3 / 4))
    True
    """

    def __init__(self, gain=1.0, c01b=False):
        super().__init__(Uniform, gain, c01b)


class Constant(Initializer):
    """Fill with a constant value.

    Parameters
    ----------
    val : float
        The value.

    Examples
    --------
    >>> Constant(0.5)((2, 2)).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """

    def __init__(self, val=0.0):
        self.val = val

    def sample(self, shape):
        return floatX(np.full(shape, self.val))


class Sparse(Initializer):
    """Sparse weight matrix: in each column (each output unit), a random
    ``int(sparsity * rows)`` of the entries are drawn from a normal
    distribution of mean 0, the others are zero (Martens, 2010).

    Parameters
    ----------
    sparsity : float
        Fraction of non-zero entries per column, between 0 and 1.
    std : float
        Standard deviation of the non-zero entries.

    Examples
    --------
    >>> w = Sparse(sparsity=0.2)((10, 4))
    >>> (w != 0).sum(axis=0).tolist()
    [2, 2, 2, 2]
    """

    def __init__(self, sparsity=0.1, std=0.01):
        if not 0 <= sparsity <= 1:
            raise ValueError(
                f"Sparse: argument `sparsity` is the fraction of non-zero "
                f"weights per column and must be between 0 and 1, got "
                f"{sparsity!r}.")
        self.sparsity = sparsity
        self.std = std

    def sample(self, shape):
        shape = tuple(shape)
        if len(shape) != 2:
            raise _ShapeError(
                f"Sparse only initializes 2-dimensional weights "
                f"(num_inputs, num_units), got shape {shape}.")
        rows, cols = shape
        nonzero = int(self.sparsity * rows)
        rng = get_rng()
        w = np.zeros(shape)
        for col in range(cols):
            chosen = rng.permutation(rows)[:nonzero]
            w[chosen, col] = rng.normal(0.0, self.std, size=nonzero)
        return floatX(w)


class Orthogonal(Initializer):
    """Random orthogonal matrix, scaled by `gain` (Saxe et al., 2013).

    The shape ``(a, *rest)`` is treated as a matrix of ``a`` rows and
    ``prod(rest)`` columns: its rows are orthonormal if there are no more
    rows than columns, its columns otherwise. Drawn uniformly (Haar
    measure) from the orthogonal matrices.

    Parameters
    ----------
    gain : float or 'relu'
        Scale factor; ``'relu'`` means ``sqrt(2)``.

    Examples
    --------
    >>> q = Orthogonal()((3, 3))
    >>> np.allclose(q @ q.T, np.eye(3))
    True
    """

    def __init__(self, gain=1.0):
        self.gain = _check_gain(gain, "Orthogonal")

    def sample(self, shape):
        shape = tuple(shape)
        if len(shape) < 2:
            raise _ShapeError(
                f"Orthogonal needs a shape of at least 2 dimensions, got "
                f"{shape}. Use e.g. Constant or Normal for biases.")
        rows, cols = shape[0], int(np.prod(shape[1:]))
        tall = (max(rows, cols), min(rows, cols))
        q, r = np.linalg.qr(get_rng().normal(0.0, 1.0, size=tall))
        # sign fix: makes the distribution uniform over orthogonal matrices
        q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
        if rows < cols:
            q = q.T
        return floatX(self.gain * q.reshape(shape))
