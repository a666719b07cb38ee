"""Concatenation whose shape formula stays compact in deep networks.

PyTensor's :class:`~pytensor.tensor.basic.Join` gives every output axis
the shape ``switch(axis == join_axis, sum of the inputs' sizes, first
input's size)``, so each non-joined size refers to the sizes of *all* the
joined inputs until the switch is folded. In an inception module (four
branches) or a dense block (a layer joined to its own input) the spatial
size of module ``k`` then reaches that of module ``k - 1`` through four
(or two) paths. The graph stays small, but PyTensor's additive
canonicaliser flattens sums as trees: once something needs the size (a
:class:`~lasagne.layers.GlobalPoolLayer`'s mean divides by it), it builds
an ``Add`` with ``4 ** k`` inputs, and the function graph spends minutes
removing clients from lists of that length. A GoogLeNet never finished
compiling.

:class:`Concatenate` is a ``Join`` whose axis is a constant known when the
graph is built; its shape formula is the sum of the inputs' sizes along
that axis and one input's size along every other axis (a constant one
where an input's type knows it), so shape graphs grow linearly with depth.
It is a subclass of ``Join``: every backend, rewrite and gradient of
``Join`` applies to it unchanged.
"""
import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Constant
from pytensor.tensor.basic import Join

__all__ = ["Concatenate", "concatenate"]


class Concatenate(Join):
    """``Join`` with a compact shape formula (see the module docstring).

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> x, y = pt.matrix("x"), pt.matrix("y")
    >>> Concatenate()(1, x, y).ndim
    2
    """

    __props__ = ()

    def infer_shape(self, fgraph, node, ishapes):
        axis = node.inputs[0]
        if not isinstance(axis, Constant):
            return super().infer_shape(fgraph, node, ishapes)
        shapes = ishapes[1:]
        ndim = len(shapes[0])
        axis = int(axis.data) % ndim
        out = []
        for dim in range(ndim):
            if dim == axis:
                out.append(pt.add(*(shape[dim] for shape in shapes)))
                continue
            known = [tensor.type.shape[dim] for tensor in node.inputs[1:]
                     if tensor.type.shape[dim] is not None]
            out.append(np.int64(known[0]) if known else shapes[0][dim])
        return [tuple(out)]


_concatenate = Concatenate()


def concatenate(tensors, axis=0):
    """Join `tensors` along the integer `axis` (one tensor is returned as
    it is), with :class:`Concatenate`'s compact shape formula.

    Examples
    --------
    >>> import numpy as np
    >>> concatenate([np.ones((2, 1)), np.zeros((2, 2))], axis=1).eval()
    array([[1., 0., 0.],
           [1., 0., 0.]])
    """
    tensors = [pt.as_tensor_variable(t) for t in tensors]
    if len(tensors) == 1:
        return tensors[0]
    return _concatenate(int(axis), *tensors)
