"""The graph rewrite that PyTensor's JAX backend needs for the convolution
gradients (tagged ``"jax"``, so only JAX compilations run it).

It is registered when :mod:`lasagne.ops.conv` is imported, since the
rewrites run before the JAX linker converts the graph, but it imports
PyTensor's JAX dispatch (and so JAX) only when it rewrites a gradient.
"""
from pytensor.compile import optdb
from pytensor.graph.rewriting.basic import in2out, node_rewriter
from pytensor.tensor.basic import MakeVector
from pytensor.tensor.elemwise import DimShuffle

from .conv import ConvGradFilters, ConvGradFiltersBias, ConvGradInput


@node_rewriter([ConvGradInput, ConvGradFilters, ConvGradFiltersBias])
def conv_shape_as_tuple(fgraph, node):
    """Keep the shape input of the gradient Ops concrete under ``jax.jit``.

    JAX's ``MakeVector`` returns a traced array; ``JAXShapeTuple`` returns
    the tuple of its (concrete) scalar inputs, e.g. ``Shape_i`` values.
    """
    shape_node = node.inputs[2].owner
    if shape_node is None:
        return None
    # a 1-element shape vector may be a scalar turned into a vector
    if isinstance(shape_node.op, MakeVector) or (
            isinstance(shape_node.op, DimShuffle)
            and shape_node.op.input_ndim == 0
            and shape_node.op.new_order == ("x",)):
        from pytensor.link.jax.dispatch.shape import JAXShapeTuple

        new_inputs = list(node.inputs)
        new_inputs[2] = JAXShapeTuple()(*shape_node.inputs)
        return node.clone_with_new_inputs(new_inputs).outputs
    return None


optdb.register("lasagne_conv_shape_as_tuple", in2out(conv_shape_as_tuple),
               "jax", position=100.5)
