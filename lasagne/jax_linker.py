"""``mode="JAX"`` for every network as written: one XLA program per shape.

PyTensor's own JAX linker converts the symbolic graph once, before it has
seen any data, so every size the graph computes from an unknown batch size
(``arange(x.shape[0])`` in a cross-entropy with integer targets, an
``alloc`` of a recurrent layer's initial state, a random draw of a dropout
mask) must be traceable by JAX without its value, and often is not
("JAX requires the arguments of `jax.numpy.arange` to be constants").

:class:`ShapeSpecializingJAXLinker` waits for the first call instead, as
``jax.jit`` does: it specialises the graph to the shapes of that call's
arguments (every size becomes a constant and is folded by PyTensor's
rewrites), converts it to JAX and compiles it with XLA, and keeps one
compiled program per shape signature. A later call with the same shapes
reuses it; a new batch size (the last, shorter minibatch of an epoch)
compiles once more. Any Op with a JAX lowering works, whatever its graph
computes from the shapes.

Shared random generators (those of the noise layers) stay the users':
each call converts the generator to JAX's key, draws, and stores a numpy
generator derived from the new key back into the shared variable, so every
call draws fresh numbers, seeding reproduces a run, and a function compiled
for another backend can still use the same shared variable.

Importing lasagne registers this linker as PyTensor's ``"JAX"`` mode and
``"jax"`` linker, so ``pytensor.function(..., mode="JAX")`` uses it. JAX
itself is imported only when a first graph is converted
(:mod:`lasagne.ops._jax`).
"""
import copy

import numpy as np
from pytensor.compile import mode as _mode
from pytensor.graph.fg import FunctionGraph
from pytensor.graph.rewriting.db import RewriteDatabaseQuery
from pytensor.link.jax.linker import JAXLinker
from pytensor.scan.op import Scan
from pytensor.tensor.basic import MakeVector
from pytensor.tensor.random.type import RandomType
from pytensor.tensor.type import TensorType

from .ops import _jax

__all__ = ["ShapeSpecializingJAXLinker", "register"]

# The rewrites of the symbolic graph, when the function is built: no
# fusion, which would shut sizes that become constants only once the graph
# is specialised (a broadcasting check's ``EQ(n, n)``) inside a Composite,
# where rewrites cannot fold them, and no JAX rewrites, done per signature.
_REWRITES = RewriteDatabaseQuery(include=["fast_run"],
                                 exclude=["fusion", "jax"])
# The rewrites of a specialised graph: first fold the sizes (PyTensor's
# JAX rewrites wrap constant sizes in nodes that cannot be folded), then
# the JAX rewrites alone.
_FOLD = RewriteDatabaseQuery(include=["fast_run", "minimum_compile"],
                             exclude=["jax", *JAXLinker.incompatible_rewrites])
_JAX_ONLY = RewriteDatabaseQuery(include=["jax"],
                                 exclude=list(JAXLinker.incompatible_rewrites))


class ShapeSpecializingJAXLinker(JAXLinker):
    """A JAX linker that compiles one XLA program per input shape signature.

    Use it through ``mode="JAX"`` (registered when lasagne is imported) or
    ``pytensor.compile.mode.Mode(linker=ShapeSpecializingJAXLinker())``.
    A compiled function's ``fn.maker.linker.compiled_shapes`` lists the
    shape signatures compiled so far.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as pt
    >>> import lasagne  # registers the linker as mode="JAX"
    >>> x = pt.vector("x")
    >>> f = pytensor.function([x], pt.arange(x.shape[0]) * x, mode="JAX")
    >>> f(np.ones(3)).tolist(), f(np.ones(2)).tolist()
    ([0.0, 1.0, 2.0], [0.0, 1.0])
    """

    def fgraph_convert(self, fgraph, input_storage, storage_map, **kwargs):
        self.scalar_shape_inputs = ()
        self.dispatcher = _ShapeDispatcher(fgraph)
        return self.dispatcher

    def jit_compile(self, fn):
        return fn

    @property
    def compiled_shapes(self):
        """The input shape signatures compiled so far, one XLA program each."""
        dispatcher = getattr(self, "dispatcher", None)
        return dispatcher.compiled_shapes if dispatcher else []

    def create_thunk_inputs(self, storage_map):
        """The input storage cells, unchanged: random generators stay numpy
        Generators there, and the dispatcher converts them at every call."""
        return [storage_map[n] for n in self.fgraph.inputs]


class _ShapeDispatcher:
    """Calls the XLA program compiled for the shapes of its arguments."""

    def __init__(self, fgraph):
        self.fgraph = fgraph
        self.rng_inputs = [isinstance(i.type, RandomType)
                           for i in fgraph.inputs]
        self.rng_outputs = [i for i, o in enumerate(fgraph.outputs)
                            if isinstance(o.type, RandomType)]
        self.programs = {}

    @property
    def compiled_shapes(self):
        return list(self.programs)

    def __call__(self, *args):
        signature = tuple(getattr(a, "shape", None) for a in args)
        program = self.programs.get(signature)
        if program is None:
            program = self.programs[signature] = self._compile(signature)
        if any(self.rng_inputs):
            args = [_to_jax_rng(a) if is_rng else a
                    for a, is_rng in zip(args, self.rng_inputs)]
        outputs = program(*args)
        if self.rng_outputs:
            outputs = list(outputs)
            for i in self.rng_outputs:
                outputs[i] = _from_jax_rng(outputs[i])
        return outputs

    def to_jax(self, signature):
        """The graph specialised to `signature` as a JAX function, and the
        positions of the inputs JAX must see as static Python ints."""
        _jax.load()  # JAX and our Ops' lowerings load at first use
        from pytensor.compile.mode import optdb
        from pytensor.link.jax.dispatch import jax_funcify
        from pytensor.link.jax.dispatch.shape import JAXShapeTuple

        _reductions_keep_their_dtype()
        fgraph = specialize_shapes(self.fgraph, signature)
        optdb.query(_FOLD).rewrite(fgraph)
        optdb.query(_JAX_ONLY).rewrite(fgraph)
        static = tuple(
            i for i, inp in enumerate(fgraph.inputs)
            if fgraph.clients[inp] and all(
                isinstance(c.op, JAXShapeTuple) for c, _ in fgraph.clients[inp]))
        return jax_funcify(fgraph), static

    def _compile(self, signature):
        import jax

        function, static = self.to_jax(signature)
        program = jax.jit(function, static_argnums=static)
        if not static:
            return program

        def with_static_ints(*args):
            return program(*(int(a) if i in static else a
                             for i, a in enumerate(args)))
        return with_static_ints


def specialize_shapes(fgraph, signature):
    """A copy of `fgraph` whose tensor inputs have the static `signature`.

    Each node is rebuilt (its Op's ``make_node`` called again), so static
    shapes propagate through the graph; rewrites then fold every size.
    Scan's inner graphs are specialised too, and OpFromGraph nodes are
    replaced by their specialised inner graphs (the same computation, which
    JAX would trace into the same program anyway).
    """
    new = {}
    for inp, shape in zip(fgraph.inputs, signature):
        if isinstance(inp.type, TensorType) and shape is not None:
            shape = tuple(known if known is not None else given
                          for known, given in zip(inp.type.shape, shape))
            new[inp] = inp.type.clone(shape=shape)(name=inp.name)
        else:
            new[inp] = inp.type(name=inp.name)
    _rebuild(fgraph.toposort(), new)
    return FunctionGraph([new[i] for i in fgraph.inputs],
                         [new.get(o, o) for o in fgraph.outputs], clone=False)


def _rebuild(nodes, new):
    """Rebuild `nodes` (in topological order) on the variables that `new`
    maps their inputs to; record their outputs' replacements in `new`."""
    from pytensor.compile.builders import OpFromGraph
    from pytensor.link.jax.dispatch.shape import JAXShapeTuple

    for node in nodes:
        inputs = [new.get(i, i) for i in node.inputs]
        if isinstance(node.op, JAXShapeTuple):
            # PyTensor's JAX rewrites put sizes in JAXShapeTuple nodes,
            # which cannot be constant-folded: make them vectors again (the
            # JAX rewrites bring them back where sizes stay symbolic).
            outputs = [MakeVector(node.outputs[0].dtype)(*inputs)]
        elif isinstance(node.op, Scan):
            outputs = _specialize_scan(node.op, inputs).make_node(
                *inputs).outputs
        elif isinstance(node.op, OpFromGraph):
            inner = dict(zip(node.op.inner_inputs, inputs))
            _rebuild(node.op.fgraph.toposort(), inner)
            outputs = [inner.get(o, o) for o in node.op.inner_outputs]
        else:
            outputs = node.op.make_node(*inputs).outputs
        for old, out in zip(node.outputs, outputs):
            if out.type != old.type and not old.type.is_super(out.type):
                out = old.type.filter_variable(out)
            new[old] = out


def _specialize_scan(op, outer_inputs):
    """A Scan whose inner graph knows the static shapes of `outer_inputs`
    (a sequence's step drops the first axis; other inputs keep theirs)."""
    from pytensor.compile.mode import optdb

    outer_of = op.get_oinp_iinp_iout_oout_mappings()["outer_inp_from_inner_inp"]
    signature = []
    for i, inner in enumerate(op.inner_inputs):
        outer = outer_inputs[outer_of[i]]
        shape = getattr(outer.type, "shape", None)
        if shape is None or not isinstance(inner.type, TensorType):
            signature.append(None)
        elif inner.type.ndim == len(shape) - 1:
            signature.append(shape[1:])
        else:
            signature.append(shape)
    inner = specialize_shapes(op.fgraph, signature)
    optdb.query(_FOLD).rewrite(inner)
    return Scan(inner.inputs, inner.outputs, op.info, mode=op.mode,
                truncate_gradient=op.truncate_gradient, name=op.name,
                profile=op.profile, allow_gc=op.allow_gc, strict=op.strict)


def _to_jax_rng(value):
    if isinstance(value, np.random.Generator):
        _jax.load()
        from pytensor.link.jax.dispatch import jax_typify
        return jax_typify(value)
    return value


def _from_jax_rng(state):
    """A numpy Generator seeded from the JAX key a program returned."""
    if isinstance(state, dict) and "jax_state" in state:
        key = np.asarray(state["jax_state"]).astype(np.uint32).ravel()
        return np.random.Generator(np.random.PCG64(key.tolist()))
    return state


def _reductions_keep_their_dtype():
    """PyTensor's JAX reductions return their accumulator's dtype (a float32
    sum accumulated in float64 comes back as float64), which then spreads
    through the graph and breaks Ops that check dtypes (the convolution
    gradients): cast them to the dtype the graph declares."""
    try:
        import jax
        from pytensor.link.jax.dispatch import jax_funcify
    except ImportError:  # no JAX here
        return
    from pytensor.tensor.elemwise import CAReduce
    pytensor_careduce = jax_funcify.dispatch(CAReduce)
    if getattr(pytensor_careduce, "_keeps_dtype", False):
        return

    def careduce(op, node=None, **kwargs):
        if node is None:
            return pytensor_careduce(op, node=node, **kwargs)
        dtype = node.outputs[0].type.dtype
        if (getattr(op, "acc_dtype", None) == "float64" and dtype != "float64"
                and not jax.config.jax_enable_x64):
            # JAX without float64 (PyTensor turns it off when floatX is
            # float32) would warn at every such sum: accumulate in `dtype`.
            op = copy.copy(op)  # a private copy, only read by PyTensor's
            op.acc_dtype = dtype  # lowering below
        reduce = pytensor_careduce(op, node=node, **kwargs)

        def reduce_in_dtype(x):
            return reduce(x).astype(dtype)
        return reduce_in_dtype

    careduce._keeps_dtype = True
    jax_funcify.register(CAReduce)(careduce)


def register():
    """Make ``mode="JAX"`` and ``linker="jax"`` use the specialising linker."""
    linker = ShapeSpecializingJAXLinker()
    _mode.predefined_linkers["jax"] = linker
    _mode.predefined_modes["JAX"] = _mode.Mode(linker, _REWRITES)
