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
less than compiling the node as written. Full inputs whose shapes differ
(a dimension of length 1 broadcast, where the graph allows it, or an
error) take the node as written, compiled at that first use.
"""
import pytensor.tensor as pt
from pytensor.tensor.elemwise import Elemwise

__all__ = ["flat_twin", "flat_thunk"]


def _same_shape_expected(inp, own, pattern):
    """Whether `inp` should have the output's shape: no dimension it is
    broadcast along, except a length of 1 that its type records (a filter
    bank over one channel, beside a gradient whose type does not know)
    and that no ``dimshuffle`` added for broadcasting."""
    from pytensor.tensor.elemwise import DimShuffle
    added = (inp.owner is not None and isinstance(inp.owner.op, DimShuffle)
             and "x" in inp.owner.op.new_order)
    return all(p or not o for o, p in zip(own, pattern)) or (
        not added and all(p or not o or length == 1 for o, p, length
                          in zip(own, pattern, inp.type.shape)))


def flat_twin(node):
    """The 1-d twin of an elementwise `node` and, per input, whether it
    has the output's full shape (else one element: broadcastable in every
    dimension); None where `node` is not of that kind."""
    op = node.op
    if not isinstance(op, Elemwise) or node.outputs[0].type.ndim == 0:
        return None
    pattern = node.outputs[0].type.broadcastable
    full = []
    for inp in node.inputs:
        own = inp.type.broadcastable
        if all(own):
            full.append(False)
        elif _same_shape_expected(inp, own, pattern):
            full.append(True)
        else:
            return None
    if not any(full):
        return None
    full = tuple(full)
    twin = op.make_node(*[pt.tensor(dtype=inp.type.dtype,
                                    shape=(None,) if f else (1,))
                          for inp, f in zip(node.inputs, full)])
    return twin, full


def flat_thunk(twin_fn, full, node_fn, inputs, outputs):
    """Run `twin_fn` on flat views of the input cells (copies where an
    array has none: cheaper than compiling the node as written) when the
    full inputs' shapes are equal, else ``node_fn()``, the node as written
    (made at that first use), which broadcasts them or says why not."""
    first = full.index(True)
    written = []

    def as_written(values):
        if not written:
            written.append(node_fn())
        return written[0](*values)

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
                result = as_written(values)
                if len(outputs) == 1:
                    outputs[0][0] = result
                else:
                    for cell, out in zip(outputs, result):
                        cell[0] = out
                return
        result = twin_fn(*flat)
        if len(outputs) == 1:
            outputs[0][0] = result.reshape(shape)
        else:
            for cell, value in zip(outputs, result):
                cell[0] = value.reshape(shape)
    return thunk
