"""Elementwise nodes compiled once for every rank.

An optimizer's update of a bias, a weight matrix and a filter bank is the
same fused loop, ``p - lr * g``, on arrays of rank 1, 2 and 4; the
gradient of a ReLU is the same loop on every layer's output. Compiled as
written, each rank is a Numba function of its own (a quarter of a second
or more each, with an empty cache). Where each input of an elementwise node
has either the output's full shape or a single element (a scalar broadcast
to it), the loop does not care about the shape: :func:`flat_twin` builds
the node's one-dimensional twin, which all ranks share, and the linker
runs it on flat views of the arrays, reshaping the result.

An array that has no flat view (not C-contiguous) is copied, which costs
less than compiling the node as written; shapes that differ are an error,
as they are for the node.
"""
import pytensor.tensor as pt
from pytensor.tensor.elemwise import Elemwise

__all__ = ["flat_twin", "flat_thunk"]


def flat_twin(node):
    """The 1-d twin of an elementwise `node` and, per input, whether it
    has the output's full shape (else one element); None where `node` is
    not of that kind."""
    op = node.op
    if not isinstance(op, Elemwise):
        return None
    outputs = node.outputs
    if outputs[0].type.ndim == 0 or any(any(out.type.broadcastable)
                                        for out in outputs):
        return None
    full = []
    for inp in node.inputs:
        pattern = inp.type.broadcastable
        if any(pattern) and not all(pattern):
            return None
        full.append(not any(pattern))
    if not any(full):
        return None
    twin = op.make_node(*[pt.tensor(dtype=inp.type.dtype,
                                    shape=(None,) if f else (1,))
                          for inp, f in zip(node.inputs, full)])
    return twin, tuple(full)


def flat_thunk(twin_fn, full, node, inputs, outputs):
    """Run `twin_fn` on flat views of the input cells (copies where an
    array has none: cheaper than compiling the node as written)."""
    first = full.index(True)

    def thunk():
        values = [cell[0] for cell in inputs]
        shape = values[first].shape
        flat = []
        for value, is_full in zip(values, full):
            if not is_full:
                flat.append(value.reshape(1))
            elif value.shape == shape:
                flat.append(value.reshape(-1))
            else:
                raise ValueError(
                    f"{node.op}: inputs of shapes "
                    f"{[v.shape for v in values]}; this elementwise node "
                    f"needs equal shapes (declare broadcasting in the graph, "
                    f"e.g. with dimshuffle or specify_broadcastable)")
        result = twin_fn(*flat)
        if len(outputs) == 1:
            outputs[0][0] = result.reshape(shape)
        else:
            for cell, value in zip(outputs, result):
                cell[0] = value.reshape(shape)
    return thunk
