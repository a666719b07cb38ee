"""Layers that change the shape of their input: flatten, reshape,
dimshuffle, pad, slice."""
import numpy as np
import pytensor.tensor as pt

from .. import utils
from ..theano_extensions.padding import pad as _pad
from .base import Layer

__all__ = ["FlattenLayer", "flatten", "ReshapeLayer", "reshape",
           "DimshuffleLayer", "dimshuffle", "PadLayer", "pad", "SliceLayer"]


class FlattenLayer(Layer):
    """Flattens the trailing dimensions of the input.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    outdim : int
        The number of dimensions of the output; the last one collects all
        trailing dimensions of the input.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, FlattenLayer
    >>> FlattenLayer(InputLayer((None, 3, 4, 5))).output_shape
    (None, 60)
    """

    def __init__(self, incoming, outdim=2, **kwargs):
        super().__init__(incoming, **kwargs)
        if not isinstance(outdim, utils.int_types) or outdim < 1:
            raise ValueError(
                f"{self._where()}`outdim` must be a positive integer, got "
                f"{outdim!r}.")
        self.outdim = int(outdim)
        # checked now for a layer or shape; an object that only follows the
        # layer protocol (a mock, say) may declare any shape: as in Lasagne,
        # the check then waits for the shapes the layer is used with
        if isinstance(incoming, (Layer, tuple)):
            self.get_output_shape_for(self.input_shape)

    def get_output_shape_for(self, input_shape):
        if self.outdim > len(input_shape):
            raise ValueError(
                f"{self._where()}`outdim` must be an integer from 1 to the "
                f"input's {len(input_shape)} dimensions, got {self.outdim} "
                f"for input shape {tuple(input_shape)}.")
        to_flatten = input_shape[self.outdim - 1:]
        if any(s is None for s in to_flatten):
            flat = None
        else:
            flat = int(np.prod(to_flatten))
        return tuple(input_shape[:self.outdim - 1]) + (flat,)

    def get_output_for(self, input, **kwargs):
        return input.flatten(self.outdim)


flatten = FlattenLayer


class ReshapeLayer(Layer):
    """Reshapes the input.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    shape : tuple
        The new shape. Entries are integers, ``-1`` (at most once: inferred
        from the rest), or a one-element list ``[i]`` meaning "the size of
        input dimension i" (e.g. ``([0], -1)`` keeps the batch size).

    Examples
    --------
    >>> from lasagne.layers import InputLayer, ReshapeLayer
    >>> ReshapeLayer(InputLayer((None, 6, 4)), ([0], 3, -1)).output_shape
    (None, 3, 8)
    """

    def __init__(self, incoming, shape, **kwargs):
        super().__init__(incoming, **kwargs)
        shape = tuple(shape)
        for s in shape:
            if isinstance(s, utils.int_types):
                if s == 0 or s < -1:
                    raise ValueError(
                        f"{self._where()}`shape` entries must be positive, "
                        f"-1 or [i], got {s!r} in {shape}.")
            elif isinstance(s, list):
                if (len(s) != 1 or not isinstance(s[0], utils.int_types)
                        or not 0 <= s[0] < len(self.input_shape)):
                    raise ValueError(
                        f"{self._where()}`shape` reference {s!r} must be a "
                        f"one-element list [i] with i an input dimension "
                        f"(0 to {len(self.input_shape) - 1}).")
            elif isinstance(s, pt.TensorVariable):
                if s.ndim != 0:
                    raise ValueError(
                        f"{self._where()}symbolic `shape` entries must be "
                        f"scalars, got {s!r} with {s.ndim} dimensions.")
            else:
                raise ValueError(
                    f"{self._where()}`shape` entries must be int, [int] or "
                    f"a scalar expression, got {s!r}.")
        if sum(s == -1 for s in shape if isinstance(s, utils.int_types)) > 1:
            raise ValueError(
                f"{self._where()}`shape` may contain -1 at most once, got "
                f"{shape}.")
        self.shape = shape
        self.get_output_shape_for(self.input_shape)  # validates sizes now

    def get_output_shape_for(self, input_shape, **kwargs):
        # symbolic sizes (Lasagne allows them here) count as unknown
        input_shape = [s if isinstance(s, utils.int_types) else None
                       for s in input_shape]
        output_shape = list(self.shape)
        masked_input = list(input_shape)
        masked_output = list(self.shape)
        for dim, o in enumerate(output_shape):
            if isinstance(o, list):
                if o[0] >= len(input_shape):
                    raise ValueError(
                        f"{self._where()}`shape` refers to input dimension "
                        f"{o[0]}, but the input has only {len(input_shape)}.")
                output_shape[dim] = input_shape[o[0]]
                masked_output[dim] = input_shape[o[0]]
                if input_shape[o[0]] is None and masked_input[o[0]] is None:
                    # an unknown size copied through cancels out
                    masked_input[o[0]] = 1
                    masked_output[dim] = 1
        for dim, o in enumerate(output_shape):
            if isinstance(o, pt.TensorVariable):
                output_shape[dim] = None
                masked_output[dim] = None
        input_size = (None if any(x is None for x in masked_input)
                      else int(np.prod(masked_input)))
        output_size = (None if any(x is None for x in masked_output)
                       else int(np.prod(masked_output)))
        del masked_input, masked_output
        if -1 in output_shape:
            dim = output_shape.index(-1)
            if input_size is None or output_size is None:
                output_shape[dim] = None
                output_size = None
            else:
                output_size *= -1
                if input_size % output_size:
                    raise ValueError(
                        f"{self._where()}cannot reshape input of shape "
                        f"{tuple(input_shape)} to `shape` {self.shape}: the "
                        f"total size is not divisible by the known output "
                        f"sizes (they do not match).")
                output_shape[dim] = input_size // output_size
                output_size = input_size
        if (input_size is not None and output_size is not None
                and input_size != output_size):
            raise ValueError(
                f"{self._where()}cannot reshape input of shape "
                f"{tuple(input_shape)} ({input_size} elements) to "
                f"`shape` {self.shape} ({output_size} elements): the sizes "
                f"do not match.")
        return tuple(output_shape)

    def get_output_for(self, input, **kwargs):
        output_shape = [input.shape[s[0]] if isinstance(s, list) else s
                        for s in self.shape]
        return input.reshape(tuple(output_shape))


reshape = ReshapeLayer


class DimshuffleLayer(Layer):
    """Permutes the dimensions of the input, and adds or drops broadcastable
    ones.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    pattern : tuple
        Input dimension indices in their new order; ``'x'`` inserts a new
        dimension of size 1. An input dimension left out must have size 1.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DimshuffleLayer
    >>> DimshuffleLayer(InputLayer((None, 3, 1)), (1, 'x', 0)).output_shape
    (3, 1, None)
    """

    def __init__(self, incoming, pattern, **kwargs):
        super().__init__(incoming, **kwargs)
        pattern = tuple(pattern)
        used = set()
        for p in pattern:
            if isinstance(p, utils.int_types):
                if p in used:
                    raise ValueError(
                        f"{self._where()}`pattern` {pattern} uses input "
                        f"dimension {p} more than once.")
                if not 0 <= p < len(self.input_shape):
                    raise ValueError(
                        f"{self._where()}`pattern` {pattern} refers to "
                        f"dimension {p}, but the input has "
                        f"{len(self.input_shape)} dimensions.")
                used.add(p)
            elif p != "x":
                raise ValueError(
                    f"{self._where()}`pattern` entries must be integers or "
                    f"'x', got {p!r} in {pattern}.")
        self.pattern = pattern
        self.get_output_shape_for(self.input_shape)

    def get_output_shape_for(self, input_shape):
        output_shape = []
        dims_used = [False] * len(input_shape)
        for p in self.pattern:
            if p == "x":
                output_shape.append(1)
            else:
                output_shape.append(input_shape[p])
                dims_used[p] = True
        for i, (size, used) in enumerate(zip(input_shape, dims_used)):
            if not used and size != 1 and size is not None:
                raise ValueError(
                    f"{self._where()}`pattern` {self.pattern} drops input "
                    f"dimension {i} of size {size}; only dimensions of size "
                    f"1 can be dropped.")
        return tuple(output_shape)

    def get_output_for(self, input, **kwargs):
        dropped = [i for i in range(input.ndim) if i not in self.pattern]
        if dropped:
            input = pt.specify_broadcastable(input, *dropped)
        return input.dimshuffle(self.pattern)


dimshuffle = DimshuffleLayer


class PadLayer(Layer):
    """Pads the trailing dimensions of the input with a constant.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    width : int, or iterable of int or of (before, after) pairs
        Padding per trailing dimension.
    val : float
        The padding value.
    batch_ndim : int
        The number of leading dimensions left unpadded.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, PadLayer
    >>> PadLayer(InputLayer((None, 3, 5, 5)), width=(1, (2, 0))).output_shape
    (None, 3, 7, 7)
    """

    def __init__(self, incoming, width, val=0, batch_ndim=2, **kwargs):
        super().__init__(incoming, **kwargs)
        if not isinstance(batch_ndim, utils.int_types) or batch_ndim < 0:
            raise ValueError(
                f"{self._where()}`batch_ndim` must be a non-negative integer, "
                f"got {batch_ndim!r}.")
        self.width = width
        self.val = val
        self.batch_ndim = int(batch_ndim)
        # checked now for a layer or shape; for a protocol-only incoming
        # that cannot be padded, when used (see FlattenLayer)
        if isinstance(incoming, (Layer, tuple)) or \
                self.batch_ndim < len(self.input_shape):
            self._pad_widths(self.input_shape)

    def _pad_widths(self, input_shape):
        ndim = len(input_shape)
        if self.batch_ndim >= ndim:
            raise ValueError(
                f"{self._where()}`batch_ndim` must be from 0 to {ndim - 1} "
                f"for a {ndim}-dimensional input, got {self.batch_ndim}.")
        return _normalize_pad_widths(self.width, ndim - self.batch_ndim,
                                     self._where())

    def get_output_shape_for(self, input_shape):
        output_shape = list(input_shape)
        for k, (before, after) in enumerate(self._pad_widths(input_shape)):
            axis = self.batch_ndim + k
            if output_shape[axis] is not None:
                output_shape[axis] += before + after
        return tuple(output_shape)

    def get_output_for(self, input, **kwargs):
        return _pad(input, self.width, self.val, self.batch_ndim)


pad = PadLayer


def _normalize_pad_widths(width, n_axes, where=""):
    """Turn `width` into a list of (before, after) pairs, one per padded
    axis."""
    if isinstance(width, utils.int_types):
        widths = [(int(width), int(width))] * n_axes
    else:
        widths = []
        for w in width:
            if isinstance(w, utils.int_types):
                widths.append((int(w), int(w)))
            else:
                w = tuple(w)
                if len(w) != 2:
                    raise ValueError(
                        f"{where}each `width` entry must be an int or a "
                        f"(before, after) pair, got {w!r}.")
                widths.append((int(w[0]), int(w[1])))
        if len(widths) > n_axes:
            raise ValueError(
                f"{where}`width` {width!r} gives {len(widths)} entries but "
                f"only {n_axes} trailing dimensions can be padded.")
        widths += [(0, 0)] * (n_axes - len(widths))
    if any(b < 0 or a < 0 for b, a in widths):
        raise ValueError(f"{where}`width` must be non-negative, got {width!r}.")
    return widths


class SliceLayer(Layer):
    """Slices the input along one axis.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    indices : int or slice
        An index (the axis is removed) or a slice (the axis is kept).
    axis : int
        The axis to slice.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, SliceLayer
    >>> SliceLayer(InputLayer((None, 10, 4)), slice(2, None, 2), axis=1).output_shape
    (None, 4, 4)
    >>> SliceLayer(InputLayer((None, 10, 4)), -1, axis=1).output_shape
    (None, 4)
    """

    def __init__(self, incoming, indices, axis=-1, **kwargs):
        super().__init__(incoming, **kwargs)
        ndim = len(self.input_shape)
        if not isinstance(axis, utils.int_types) or not -ndim <= axis < ndim:
            raise ValueError(
                f"{self._where()}`axis` {axis!r} is out of range for an input "
                f"of {ndim} dimensions.")
        if not isinstance(indices, (slice,) + utils.int_types):
            raise TypeError(
                f"{self._where()}`indices` must be an int or a slice, got "
                f"{indices!r}.")
        if isinstance(indices, slice) and indices.step == 0:
            raise ValueError(
                f"{self._where()}`indices` {indices!r} has a step of 0; use "
                f"a non-zero step.")
        self.slice = indices
        self.axis = int(axis)
        size = self.input_shape[self.axis]
        if (isinstance(indices, utils.int_types) and size is not None
                and not -size <= indices < size):
            raise ValueError(
                f"{self._where()}`indices` {indices} is out of range for axis "
                f"{axis} of size {size}.")

    def get_output_shape_for(self, input_shape):
        output_shape = list(input_shape)
        if isinstance(self.slice, utils.int_types):
            del output_shape[self.axis]
        elif input_shape[self.axis] is not None:
            output_shape[self.axis] = len(range(*self.slice.indices(
                input_shape[self.axis])))
        else:
            output_shape[self.axis] = None
        return tuple(output_shape)

    def get_output_for(self, input, **kwargs):
        axis = self.axis % input.ndim
        index = [slice(None)] * axis + [self.slice]
        return input[tuple(index)]
