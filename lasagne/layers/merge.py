"""Layers that merge several inputs: concatenation and elementwise
combinations, with optional automatic cropping to a common shape."""
import pytensor
import pytensor.tensor as pt

from .. import utils
from ..ops.concat import concatenate
from .base import MergeLayer
from .special import _check_expression_args

__all__ = ["autocrop", "autocrop_array_shapes", "ConcatLayer", "concat",
           "ElemwiseMergeLayer", "ElemwiseSumLayer", "ExpressionMergeLayer"]

_CROP_MODES = (None, "lower", "upper", "center")


def _check_cropping(cropping, where=""):
    if cropping is None:
        return
    for c in cropping:
        if c not in _CROP_MODES:
            raise ValueError(
                f"{where}unknown cropping mode {c!r} in {list(cropping)}; "
                f"allowed per axis: None, 'lower', 'upper', 'center'.")


def _fail_early(layer):
    """Check the input shapes at construction when they are shape tuples.
    Incomings that merely follow the layer protocol (as Lasagne allows) may
    carry anything as their shape until the layer is used."""
    if all(isinstance(s, (tuple, list)) for s in layer.input_shapes):
        layer.get_output_shape_for(layer.input_shapes)


def autocrop(inputs, cropping):
    """Crop input expressions to a common size along selected axes.

    Parameters
    ----------
    inputs : list of expressions
        Tensors of equal dimensionality.
    cropping : list or None
        One entry per leading axis: ``None`` (no cropping), ``'lower'``
        (keep the first elements), ``'upper'`` (keep the last ones) or
        ``'center'``; axes beyond the list are not cropped. ``None`` crops
        nothing.

    Returns
    -------
    list of expressions

    Examples
    --------
    >>> import numpy as np
    >>> a, b = np.ones((2, 5)), np.ones((2, 3))
    >>> [x.eval().shape for x in autocrop([a, b], [None, 'center'])]
    [(2, 3), (2, 3)]
    """
    return _autocrop(inputs, cropping)


def _autocrop(inputs, cropping, known_shapes=None):
    """autocrop, using sizes known in advance (declared layer shapes or
    static types) as Python ints, so backends such as JAX see static
    slices."""
    if cropping is None:
        return inputs
    _check_cropping(cropping, "autocrop: ")
    inputs = [utils.as_theano_expression(x) for x in inputs]
    ndim = inputs[0].ndim
    if any(x.ndim != ndim for x in inputs):
        raise ValueError(
            f"autocrop: all inputs must have the same number of dimensions, "
            f"got {[x.ndim for x in inputs]}.")
    known_shapes = [s if isinstance(s, (tuple, list)) and len(s) == ndim
                    else (None,) * ndim  # unknown, e.g. a duck-typed input
                    for s in (known_shapes or [None] * len(inputs))]

    def size(i, dim):
        static = known_shapes[i][dim]
        if static is None:
            static = inputs[i].type.shape[dim]
        return static if static is not None else inputs[i].shape[dim]

    slices_by_input = [[] for _ in inputs]
    for dim, mode in enumerate(cropping):
        sizes = [size(i, dim) for i in range(len(inputs))]
        if mode is None:
            for slices in slices_by_input:
                slices.append(slice(None))
            continue
        if all(isinstance(s, utils.int_types) for s in sizes):
            smallest = min(sizes)
        else:
            smallest = sizes[0]
            for other in sizes[1:]:
                smallest = pt.minimum(smallest, other)
        for full, slices in zip(sizes, slices_by_input):
            if mode == "lower":
                slices.append(slice(0, smallest))
            elif mode == "upper":
                slices.append(slice(full - smallest, full))
            else:
                offset = (full - smallest) // 2
                slices.append(slice(offset, offset + smallest))
    return [x[tuple(slices)] for x, slices in zip(inputs, slices_by_input)]


def autocrop_array_shapes(input_shapes, cropping):
    """The shapes :func:`autocrop` produces, computed from input shapes.

    Examples
    --------
    >>> autocrop_array_shapes([(2, 5), (2, 3)], [None, 'lower'])
    [(2, 3), (2, 3)]
    """
    if cropping is None:
        return input_shapes
    _check_cropping(cropping, "autocrop_array_shapes: ")
    ndims = {len(s) for s in input_shapes}
    if len(ndims) != 1:
        raise ValueError(
            f"autocrop_array_shapes: all shapes must have the same number of "
            f"dimensions, got {input_shapes}.")
    result = []
    columns = list(zip(*input_shapes))
    cropped = []
    for dim, sizes in enumerate(columns):
        mode = cropping[dim] if dim < len(cropping) else None
        if mode is None or any(s is None for s in sizes):
            cropped.append(list(sizes) if mode is None else
                           [None] * len(sizes))
        else:
            cropped.append([min(sizes)] * len(sizes))
    for i in range(len(input_shapes)):
        result.append(tuple(column[i] for column in cropped))
    return result


class ConcatLayer(MergeLayer):
    """Concatenates its inputs along an axis.

    Parameters
    ----------
    incomings : list of :class:`Layer` instances or tuples
    axis : int
        The axis to concatenate along.
    cropping : list or None
        Crop the other axes to a common size first (see :func:`autocrop`).

    Examples
    --------
    >>> from lasagne.layers import InputLayer, ConcatLayer
    >>> a, b = InputLayer((None, 3)), InputLayer((None, 4))
    >>> ConcatLayer([a, b]).output_shape
    (None, 7)
    """

    def __init__(self, incomings, axis=1, cropping=None, **kwargs):
        super().__init__(incomings, **kwargs)
        _check_cropping(cropping, self._where())
        self.axis = axis
        if cropping is not None:
            cropping = list(cropping)
            if -len(cropping) <= axis < len(cropping):
                cropping[axis] = None  # sizes may differ along this axis
        self.cropping = cropping
        _fail_early(self)

    def get_output_shape_for(self, input_shapes):
        input_shapes = autocrop_array_shapes(input_shapes, self.cropping)
        ndim = len(input_shapes[0])
        if any(len(s) != ndim for s in input_shapes):
            raise ValueError(
                f"{self._where()}all inputs must have the same number of "
                f"dimensions, got shapes {input_shapes}.")
        if not -ndim <= self.axis < ndim:
            raise ValueError(
                f"{self._where()}`axis` {self.axis} is out of range for "
                f"{ndim}-dimensional inputs.")
        axis = self.axis % ndim
        output_shape = []
        for dim, sizes in enumerate(zip(*input_shapes)):
            if dim == axis:
                output_shape.append(None if any(s is None for s in sizes)
                                    else sum(sizes))
                continue
            known = {s for s in sizes if s is not None}
            if len(known) > 1:
                raise ValueError(
                    f"{self._where()}mismatch in input shapes {input_shapes}: "
                    f"all sizes must agree on every axis but the "
                    f"concatenation axis {self.axis} (dimension {dim} differs)."
                    f" Pass cropping=... to crop them to a common size.")
            output_shape.append(known.pop() if known else None)
        return tuple(output_shape)

    def get_output_for(self, inputs, **kwargs):
        inputs = _autocrop(inputs, self.cropping, self.input_shapes)
        return concatenate(inputs, axis=self.axis)


concat = ConcatLayer


class ElemwiseMergeLayer(MergeLayer):
    """Combines its inputs elementwise with a binary function.

    Parameters
    ----------
    incomings : list of :class:`Layer` instances or tuples
    merge_function : callable
        A binary elementwise function, e.g. ``pytensor.tensor.mul``, applied
        left to right over the inputs.
    cropping : list or None
        See :func:`autocrop`.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from lasagne.layers import InputLayer, ElemwiseMergeLayer
    >>> a, b = InputLayer((None, 3)), InputLayer((None, 3))
    >>> ElemwiseMergeLayer([a, b], pt.maximum).output_shape
    (None, 3)
    """

    def __init__(self, incomings, merge_function, cropping=None, **kwargs):
        super().__init__(incomings, **kwargs)
        if not callable(merge_function):
            raise TypeError(
                f"{self._where()}`merge_function` must be callable, got "
                f"{merge_function!r}.")
        _check_cropping(cropping, self._where())
        self.merge_function = merge_function
        self.cropping = cropping
        _fail_early(self)

    def get_output_shape_for(self, input_shapes):
        input_shapes = autocrop_array_shapes(input_shapes, self.cropping)
        ndim = len(input_shapes[0])
        if any(len(s) != ndim for s in input_shapes):
            raise ValueError(
                f"{self._where()}all inputs must have the same number of "
                f"dimensions, got shapes {input_shapes}.")
        output_shape = []
        for dim, sizes in enumerate(zip(*input_shapes)):
            known = {s for s in sizes if s is not None}
            if len(known) > 1:
                raise ValueError(
                    f"{self._where()}mismatch in input shapes {input_shapes} "
                    f"at dimension {dim}: elementwise merging needs equal "
                    f"shapes. Pass cropping=... to crop them to a common size.")
            output_shape.append(known.pop() if known else None)
        return tuple(output_shape)

    def get_output_for(self, inputs, **kwargs):
        inputs = _autocrop(inputs, self.cropping, self.input_shapes)
        output = inputs[0]
        for other in inputs[1:]:
            output = self.merge_function(output, other)
        return output


class ElemwiseSumLayer(ElemwiseMergeLayer):
    """Sums its inputs elementwise, each scaled by a coefficient.

    Parameters
    ----------
    incomings : list of :class:`Layer` instances or tuples
    coeffs : number or list of numbers
        One coefficient for all inputs, or one per input.
    cropping : list or None
        See :func:`autocrop`.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, ElemwiseSumLayer
    >>> a, b = InputLayer((None, 3)), InputLayer((None, 3))
    >>> ElemwiseSumLayer([a, b], coeffs=[1, -1]).coeffs
    [1, -1]
    """

    def __init__(self, incomings, coeffs=1, cropping=None, **kwargs):
        super().__init__(incomings, merge_function=pt.add, cropping=cropping,
                         **kwargs)
        if isinstance(coeffs, list):
            if len(coeffs) != len(self.input_shapes):
                raise ValueError(
                    f"{self._where()}`coeffs` has {len(coeffs)} entries for "
                    f"{len(self.input_shapes)} inputs (got {coeffs!r}); give "
                    f"one per input or a single number.")
        else:
            coeffs = [coeffs] * len(self.input_shapes)
        self.coeffs = coeffs

    def get_output_for(self, inputs, **kwargs):
        inputs = [x * c if c != 1 else x for x, c in zip(inputs, self.coeffs)]
        return super().get_output_for(inputs, **kwargs)


class ExpressionMergeLayer(MergeLayer):
    """Combines several inputs with an arbitrary function: the merges that
    are not elementwise, such as a dot product or the cosine similarity of
    two branches.

    Parameters
    ----------
    incomings : list of :class:`Layer` instances or tuples
    function : callable
        Called with one expression per input, in order; returns the output
        expression.
    output_shape : None, tuple, 'auto' or callable
        ``None``: the shape of the first input. A tuple: the output shape.
        ``'auto'``: inferred by applying `function` to zeros of the input
        shapes (unknown sizes are probed with two different values; a size
        that changes with them is reported as ``None``). A callable: maps
        the list of input shapes to the output shape.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from lasagne.layers import InputLayer
    >>> a, b = InputLayer((None, 8)), InputLayer((None, 8))
    >>> def cosine(u, v):
    ...     return (u * v).sum(axis=1) / pt.sqrt((u ** 2).sum(axis=1)
    ...                                          * (v ** 2).sum(axis=1))
    >>> ExpressionMergeLayer([a, b], cosine, output_shape='auto').output_shape
    (None,)
    """

    def __init__(self, incomings, function, output_shape=None, **kwargs):
        super().__init__(incomings, **kwargs)
        _check_expression_args(self, function, output_shape)
        self.function = function
        self._output_shape = output_shape
        _fail_early(self)

    def get_output_shape_for(self, input_shapes):
        if self._output_shape is None:
            return tuple(input_shapes[0])
        if isinstance(self._output_shape, tuple):
            return self._output_shape
        if callable(self._output_shape):
            return tuple(self._output_shape(input_shapes))
        # 'auto': probe twice with different sizes for the unknown ones
        probes = []
        for fill in (2, 3):
            zeros = [pt.zeros(tuple(fill if s is None else s for s in shape),
                              dtype=pytensor.config.floatX)
                     for shape in input_shapes]
            try:
                probes.append(utils._eval_shape(self.function(*zeros)))
            except Exception as exc:
                raise ValueError(
                    f"{self._where()}could not infer the output shape by "
                    f"applying `function` to inputs of shapes "
                    f"{input_shapes} ({type(exc).__name__}: {exc}). Pass "
                    f"output_shape explicitly.") from exc
        return tuple(a if a == b else None for a, b in zip(*probes))

    def get_output_for(self, inputs, **kwargs):
        return self.function(*inputs)
