"""Graph rewriting of deep networks with unknown spatial size grows
linearly with depth (issue 14: a GoogLeNet never finished compiling).

Nothing is timed: the rewrites that users get run on the forward graph
(no kernels are compiled), and a feature of the function graph records the
largest node built and the longest client list seen while rewriting. Both
were exponential in the number of concatenation modules before
:class:`lasagne.ops.concat.Concatenate`: PyTensor's additive canonicaliser
flattened the shape formula of ``Join`` (which refers to every joined
input) into an ``Add`` with ``branches ** depth`` inputs.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.aliasing import add_supervisor_to_fgraph
from pytensor.compile.io import In
from pytensor.compile.mode import get_mode
from pytensor.graph.basic import Constant
from pytensor.graph.features import Feature
from pytensor.graph.fg import FunctionGraph
from pytensor.graph.traversal import graph_inputs

import lasagne.layers as L
from lasagne.nonlinearities import softmax
from lasagne.ops.concat import Concatenate, concatenate


def _inception(net):
    """Four branches (1x1, 1x1-3x3, 1x1-5x5, pool-1x1) joined on channels."""
    return L.ConcatLayer([
        L.Conv2DLayer(net, 2, 1),
        L.Conv2DLayer(L.Conv2DLayer(net, 2, 1), 2, 3, pad=1),
        L.Conv2DLayer(L.Conv2DLayer(net, 2, 1), 2, 5, pad=2),
        L.Conv2DLayer(L.MaxPool2DLayer(net, 3, stride=1, pad=1), 2, 1)])


def _dense_layer(net):
    """A dense block's layer: the input joined with a convolution of it."""
    return L.ConcatLayer([net, L.Conv2DLayer(net, 2, 3, pad="same")])


def _network(module, depth):
    net = L.InputLayer((None, 3, None, None))
    for _ in range(depth):
        net = module(net)
    net = L.MaxPool2DLayer(net, 3, stride=2, ignore_border=False)
    net = L.GlobalPoolLayer(net)
    return L.DenseLayer(net, 10, nonlinearity=softmax)


class _Sizes(Feature):
    """Largest number of inputs of a node, and of clients of a variable,
    seen while the graph is rewritten, and the number of nodes imported."""

    def __init__(self):
        self.inputs = self.clients = self.imported = 0

    def on_import(self, fgraph, node, reason):
        self.imported += 1
        self.inputs = max(self.inputs, len(node.inputs))
        for var in node.inputs:
            self.clients = max(self.clients, len(fgraph.clients[var]))


def _rewrite(out):
    """Rewrite `out`'s graph as users' functions are rewritten; the sizes
    seen meanwhile and the number of nodes left."""
    inputs = [v for v in graph_inputs([out]) if not isinstance(v, Constant)]
    fgraph = FunctionGraph(inputs, [out], clone=True)
    add_supervisor_to_fgraph(fgraph, [In(v) for v in inputs])
    sizes = _Sizes()
    fgraph.attach_feature(sizes)
    get_mode("FAST_RUN").optimizer.rewrite(fgraph)
    return sizes, len(fgraph.apply_nodes)


def _rewrite_sizes(network):
    sizes, nodes = _rewrite(L.get_output(network, deterministic=True))
    return sizes.inputs, sizes.clients, nodes


@pytest.mark.parametrize("module, depth", [(_inception, 2),
                                           (_dense_layer, 4)])
def test_rewriting_grows_linearly_with_depth(module, depth):
    shallow = _rewrite_sizes(_network(module, depth))
    deep = _rewrite_sizes(_network(module, 2 * depth))
    names = ("inputs of a node", "clients of a variable", "nodes")
    for name, k, two_k in zip(names, shallow, deep):
        # Linear growth: doubling the depth at most doubles the size (an
        # exponential blow-up gave 4 ** 4 = 256 inputs against 16).
        assert two_k <= 2 * k + 8, (name, k, two_k)


def _residual_block(net):
    """He et al.'s basic block: two 'same' convolutions with batch norm
    and an identity shortcut."""
    branch = L.batch_norm(L.Conv2DLayer(net, 4, 3, pad="same"))
    branch = L.batch_norm(L.Conv2DLayer(branch, 4, 3, pad="same",
                                        nonlinearity=None))
    return L.NonlinearityLayer(L.ElemwiseSumLayer([branch, net]))


def _residual_rewrite(blocks):
    net = L.Conv2DLayer(L.InputLayer((None, 3, None, None)), 4, 3, pad=1)
    for _ in range(blocks):
        net = _residual_block(net)
    net = L.DenseLayer(L.GlobalPoolLayer(net), 10, nonlinearity=softmax)
    sizes, nodes = _rewrite(L.get_output(net))
    return sizes.imported, nodes


def test_residual_blocks_rewrite_in_constant_work_per_block():
    """Each residual block adds a fixed, small amount of rewriting work.

    A stride-1 'same' convolution's inferred length is its input's length
    variable itself, so the shapes of the branch and of the shortcut are
    the same variables and the sum needs no broadcast check. With a shape
    formula per convolution, every sum added PyTensor's equality checks of
    two formulas and the shape graphs grew with depth: 104 nodes imported
    per block while rewriting and 19 nodes per block left in the graph,
    against 15 and 7 now (ResNet-20's graph rewriting went from 12.6 s
    to 7.4 s)."""
    imported_4, nodes_4 = _residual_rewrite(4)
    imported_8, nodes_8 = _residual_rewrite(8)
    per_block_imported = (imported_8 - imported_4) / 4
    per_block_nodes = (nodes_8 - nodes_4) / 4
    assert per_block_imported <= 24, per_block_imported
    # two convolutions, two batch norms, the sum and rectifier, and at
    # most a few contiguity copies
    assert per_block_nodes <= 9, per_block_nodes


def test_concatenate_values_and_shape_formula():
    x = pt.tensor4("x")
    y = pt.tensor4("y", shape=(None, 2, None, 5))
    joined = concatenate([x, y], axis=1)
    assert isinstance(joined.owner.op, Concatenate)
    fn = pytensor.function([x, y], [joined, joined.shape],
                           mode="FAST_COMPILE")
    a = np.arange(30.).reshape(1, 1, 6, 5).astype(x.dtype)
    b = -np.arange(60.).reshape(1, 2, 6, 5).astype(x.dtype)
    value, shape = fn(a, b)
    np.testing.assert_array_equal(value, np.concatenate([a, b], axis=1))
    np.testing.assert_array_equal(shape, (1, 3, 6, 5))
    # The shape formula: a sum along the axis, one input's size elsewhere
    # (the constant 5 that y's type knows).
    xs = [pt.lscalar(f"x{i}") for i in range(4)]
    ys = [pt.lscalar(f"y{i}") for i in range(4)]
    [formula] = joined.owner.op.infer_shape(None, joined.owner,
                                            [(), xs, ys])
    assert formula[0] is xs[0] and formula[2] is xs[2]
    assert int(formula[3]) == 5
    assert formula[1].eval({xs[1]: 1, ys[1]: 2}) == 3
    assert concatenate([x], axis=1) is x


def test_concatenate_negative_axis_and_gradient():
    x, y = pt.matrix("x"), pt.matrix("y")
    joined = concatenate([x, y], axis=-1)
    cost = (joined * np.arange(5.).astype(x.dtype)).sum()
    gx, gy = pytensor.grad(cost, [x, y])
    fn = pytensor.function([x, y], [joined, gx, gy], mode="FAST_COMPILE")
    a, b = np.ones((2, 2), x.dtype), np.zeros((2, 3), x.dtype)
    value, ga, gb = fn(a, b)
    np.testing.assert_array_equal(value, np.concatenate([a, b], axis=1))
    np.testing.assert_array_equal(ga, [[0, 1], [0, 1]])
    np.testing.assert_array_equal(gb, [[2, 3, 4], [2, 3, 4]])
