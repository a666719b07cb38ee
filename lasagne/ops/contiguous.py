"""An identity Op whose result is always a C-contiguous array.

PyTensor's Numba backend compiles a function for the types of the arrays
it is called with, and an array's memory layout is part of its type. The
gradient of a parameter that enters the graph through a concatenation
(the four gate weights of an LSTM joined into one matrix, say) is a
strided view of the joint gradient; an update rule that works in place
then leaves that view as the parameter's new value, and the next call
meets a new layout and compiles the whole training function a second time
(tens of seconds). Passing gradients through :func:`as_contiguous` keeps
every update C-contiguous, at the cost of a copy only for the gradients
that were views.
"""
import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import (
    numba_njit, register_funcify_default_op_cache_key)

from ._cache import KERNEL_SALT

__all__ = ["AsContiguous", "KERNEL_DTYPES", "as_contiguous",
           "kernel_array"]

#: The dtypes the kernels compiled once per machine (convolution, pooling,
#: recurrence, attention, batch norm) are compiled for.
KERNEL_DTYPES = ("float32", "float64")


def kernel_array(a, dtype=None):
    """`a` as our kernels take it from ``perform``: C-contiguous and
    writable (a strided or read-only array, from JAX or a memory map,
    would be another signature of the kernels)."""
    a = np.ascontiguousarray(a, dtype)
    return a if a.flags.writeable else a.copy()


class AsContiguous(Op):
    """``np.ascontiguousarray``: the input itself when it is C-contiguous,
    else a C-contiguous copy."""
    __props__ = ()
    view_map = {0: [0]}

    def make_node(self, x):
        x = pt.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.ascontiguousarray(inputs[0])

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def pullback(self, inputs, outputs, cotangents):
        return [cotangents[0]]


def as_contiguous(x):
    """`x` as a C-contiguous array (scalars are returned unchanged).

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as pt
    >>> m = pt.matrix("m")
    >>> f = pytensor.function([m], as_contiguous(m[:, ::2]))
    >>> f(np.ones((2, 4))).flags.c_contiguous
    True
    """
    x = pt.as_tensor_variable(x)
    if x.ndim == 0:
        return x
    return _as_contiguous(x)


_as_contiguous = AsContiguous()


@register_funcify_default_op_cache_key(AsContiguous)
def numba_funcify_AsContiguous(op, node, **kwargs):
    @numba_njit
    def as_contiguous_array(x):
        return np.ascontiguousarray(x)

    return as_contiguous_array, KERNEL_SALT

