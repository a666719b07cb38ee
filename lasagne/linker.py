"""A Numba linker that compiles each node once per machine.

PyTensor's Numba linker compiles a graph into one Numba function that calls
one function per node. Each node's function is cached on disk, but Numba
links the code of every callee into the graph's function and optimises the
whole again: every new graph (another optimizer, another width, another
loss) pays seconds of LLVM work for nodes it has compiled before.

:class:`NumbaNodeLinker` compiles each node into its own Numba function
with a Python entry point, cached on disk under the node's PyTensor cache
key, and calls the nodes in order from a small Python loop, as PyTensor's
VM calls C thunks. A node seen before, in this process or any other on the
machine, costs a dictionary lookup or a cache load; nothing is re-optimised.
The price is one Python call per node per step (microseconds), small beside
the Ops of a neural network.

Importing lasagne registers the linker as ``"numba_node"`` and the mode
``"NUMBA_NODE"`` (PyTensor's ``fast_run`` and ``numba`` rewrites, this
linker) with PyTensor.

Examples
--------
>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> import lasagne
>>> x = pt.vector("x")
>>> f = pytensor.function([x], pt.exp(x).sum(), mode="NUMBA_NODE")
>>> float(f(np.zeros(3)))
3.0
"""
import hashlib
import os

import numpy as np
from pytensor.configdefaults import config
from pytensor.link.basic import Container, LocalLinker
from pytensor.link.utils import gc_helper, map_storage, raise_with_op
from pytensor.link.vm import VMLinker
from pytensor.scalar import ScalarType
from pytensor.tensor.elemwise import Elemwise
from pytensor.scan.op import Scan

from ._flat_nodes import elemwise_source, flat_source, flat_thunk, flat_twin
from ._python_nodes import python_perform

__all__ = ["NumbaNodeLinker", "node_function", "node_cache_key",
           "compiled_form", "NODE_STATS", "cache_counts"]

#: Counters, for tests and benchmarks: ``built`` node functions made in
#: this process (compiled, or loaded from Numba's cache, at their first
#: call), ``reused`` ones found in this process's memo.
NODE_STATS = {"built": 0, "reused": 0}

#: Run the nodes :func:`~lasagne._python_nodes.python_perform` takes from
#: Python (``LASAGNE_PYTHON_NODES=0``: compile every node with Numba).
PYTHON_NODES = os.environ.get("LASAGNE_PYTHON_NODES", "1") != "0"
#: Compile elementwise nodes as their rank-free twins where they have one
#: (:mod:`lasagne._flat_nodes`; ``LASAGNE_FLAT_NODES=0``: as written).
FLAT_NODES = os.environ.get("LASAGNE_FLAT_NODES", "1") != "0"

#: Run Scan nodes as PyTensor's Python loop over an inner function linked
#: by this linker (``LASAGNE_SCAN_LOOP=0``: PyTensor's Numba Scan).
SCAN_LOOP = os.environ.get("LASAGNE_SCAN_LOOP", "1") != "0"

#: Compile elementwise nodes from their loops written out as one function
#: (:mod:`lasagne._flat_nodes`; ``LASAGNE_WRITTEN_LOOPS=0``: as PyTensor
#: compiles them).
WRITTEN_LOOPS = os.environ.get("LASAGNE_WRITTEN_LOOPS", "1") != "0"


_MEMO = {}
_SRC = "def {name}(*args):\n    return jitable_func(*args)\n"


def node_cache_key(node):
    """The key a node's function is shared and cached under, or None
    where PyTensor gives its Op no cache key."""
    from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key
    if not config.numba__cache:
        return None
    return _full_key(node, numba_funcify_and_cache_key(node.op,
                                                       node=node)[1])


def _shape_free_ops():
    from .ops.pool import MaxPoolGradGrad, Pool, PoolGrad
    return (Elemwise, Pool, PoolGrad, MaxPoolGradGrad)


_SHAPE_FREE = _shape_free_ops()


def _full_key(node, key):
    # PyTensor's key names the Op; the function generated for it can also
    # depend on the node's input and output types (a MakeVector of two
    # scalars or of four), so they are part of the key.
    if key is None:
        return None
    if isinstance(node.op, _SHAPE_FREE):
        # Their code depends on ranks and broadcastable dimensions, not on
        # static lengths: the same pooling after two layers is one function.
        types = repr([(v.type.dtype, v.type.broadcastable)
                      for v in node.inputs + node.outputs])
    else:
        types = repr([(v.type, v.type.numpy_dtype.str
                       if hasattr(v.type, "numpy_dtype") else None)
                      for v in node.inputs + node.outputs])
    digest = hashlib.sha256(types.encode()).hexdigest()[:20]
    return (f"lasagne_node_{key}_{digest}"
            f"_fastmath{int(config.numba__fastmath)}")


def cache_counts():
    """Numba cache hits and misses (signatures loaded from disk, and
    compiled) of the node functions made in this process."""
    hits = misses = 0
    for dispatcher in _MEMO.values():
        hits += sum(dispatcher.stats.cache_hits.values())
        misses += sum(dispatcher.stats.cache_misses.values())
    return hits, misses


def compiled_form(node):
    """What the linker compiles for `node`: None where it runs from Python,
    ``(twin, full)`` where it runs as its flat twin
    (:func:`lasagne._flat_nodes.flat_twin`), else `node` itself."""
    if PYTHON_NODES and python_perform(node) is not None:
        return None
    twin = flat_twin(node) if FLAT_NODES else None
    return node if twin is None else twin


def node_function(node):
    """A Numba dispatcher with a Python entry point computing `node`'s
    outputs from its inputs, shared by all nodes with the same cache key."""
    from pytensor.link.numba.dispatch.basic import (
        numba_funcify, numba_funcify_and_cache_key, numba_njit)
    from pytensor.link.numba.cache import compile_numba_function_src

    if config.numba__cache:
        jitable, key = numba_funcify_and_cache_key(node.op, node=node)
    else:
        jitable, key = numba_funcify(node.op, node=node), None
    key = _full_key(node, key)
    if key is not None:
        found = _MEMO.get(key)
        if found is not None:
            NODE_STATS["reused"] += 1
            return found
    name = getattr(jitable, "__name__", "node_fn")
    if not name.isidentifier():
        name = "node_fn"
    wrapper = compile_numba_function_src(
        _SRC.format(name=name), name,
        # A cached entry point rebuilds its environment from the module
        # named here when it is loaded in a new process.
        global_env={"jitable_func": jitable, "__name__": __name__},
        cache_key=key)
    dispatcher = numba_njit(wrapper, final_function=True,
                            cache=key is not None)
    NODE_STATS["built"] += 1
    if key is not None:
        _MEMO[key] = dispatcher
    return dispatcher


def flat_function(twin, full):
    """A Numba dispatcher computing the flat twin `twin` of an elementwise
    node (:func:`lasagne._flat_nodes.flat_twin`), its loop written out by
    :func:`lasagne._flat_nodes.flat_source` (PyTensor's compilation where
    that declines), shared by all twins with the same code."""
    written = flat_source(twin, full) if WRITTEN_LOOPS else None
    return node_function(twin) if written is None else _written(written)


def elemwise_function(node):
    """:func:`node_function` for an elementwise `node` as written, its
    loops written out by :func:`lasagne._flat_nodes.elemwise_source`
    where it can."""
    written = elemwise_source(node) if WRITTEN_LOOPS else None
    return node_function(node) if written is None else _written(written)


def _written(written):
    from pytensor.link.numba.cache import compile_numba_function_src
    from pytensor.link.numba.dispatch.basic import numba_njit
    source, env, key = written
    key = (f"lasagne_loop_{key}_fastmath{int(config.numba__fastmath)}"
           if config.numba__cache else None)
    if key is not None:
        found = _MEMO.get(key)
        if found is not None:
            NODE_STATS["reused"] += 1
            return found
    fn = compile_numba_function_src(
        source, "elemwise", global_env={**env, "__name__": __name__},
        cache_key=key)
    dispatcher = numba_njit(fn, final_function=True, cache=key is not None)
    NODE_STATS["built"] += 1
    if key is not None:
        _MEMO[key] = dispatcher
    return dispatcher


def _compiled(node):
    if isinstance(node.op, Elemwise):
        return elemwise_function(node)
    return node_function(node)


def _scalar_outputs(fn, node):
    """Numba returns a scalar output as a Python number: give it back its
    dtype, so that the next node is called with the types it was built
    for (an int32 stays int32)."""
    casts = [np.dtype(v.type.dtype).type if isinstance(v.type, ScalarType)
             else None for v in node.outputs]
    if not any(casts):
        return fn
    if len(casts) == 1:
        cast = casts[0]
        return lambda *args: cast(fn(*args))

    def cast_all(*args):
        return tuple(value if cast is None else cast(value)
                     for cast, value in zip(casts, fn(*args)))
    return cast_all


def _thunk(fn, inputs, outputs):
    if len(outputs) == 1:
        out = outputs[0]
        if len(inputs) == 1:
            a, = inputs

            def thunk():
                out[0] = fn(a[0])
        elif len(inputs) == 2:
            a, b = inputs

            def thunk():
                out[0] = fn(a[0], b[0])
        else:
            def thunk():
                out[0] = fn(*[i[0] for i in inputs])
    else:
        def thunk():
            for cell, value in zip(outputs, fn(*[i[0] for i in inputs])):
                cell[0] = value
    return thunk


def _perform_thunk(perform, node, inputs, outputs):
    # Outputs start empty at each call: a `perform` may write into the
    # array it finds there, which the caller may still hold.
    if len(inputs) == 1 and len(outputs) == 1:
        cell, out = inputs[0], outputs[0]

        def thunk():
            out[0] = None
            perform(node, [cell[0]], outputs)
    else:
        def thunk():
            for out in outputs:
                out[0] = None
            perform(node, [cell[0] for cell in inputs], outputs)
    return thunk


def _node_thunk(node, storage_map):
    """The thunk running `node` on the cells of `storage_map`: from Python,
    as its flat twin, as its own node function, or (a Scan) as PyTensor's
    Python loop over an inner function linked the same way."""
    ins = [storage_map[v] for v in node.inputs]
    outs = [storage_map[v] for v in node.outputs]
    if isinstance(node.op, Scan) and SCAN_LOOP:
        thunk = _scan_thunk(node, storage_map)
    else:
        form = compiled_form(node)
        if form is None:
            thunk = _perform_thunk(python_perform(node), node, ins, outs)
        elif form is not node:
            twin, full = form
            thunk = flat_thunk(
                flat_function(twin, full), full,
                lambda node=node: _scalar_outputs(_compiled(node), node),
                ins, outs)
        else:
            thunk = _thunk(_scalar_outputs(_compiled(node), node), ins, outs)
    thunk.inputs, thunk.outputs = ins, outs
    return thunk


def _scan_thunk(node, storage_map):
    """A Scan node run by PyTensor's Python implementation of the loop,
    its inner function linked by :class:`NumbaNodeVMLinker`: each inner
    node is compiled once per machine like any other, where PyTensor's
    Numba backend compiles the whole loop, inner nodes included, into one
    function afresh for every graph (about 40 s for an LSTM cell with its
    gradient, against a few seconds)."""
    from pytensor.compile.mode import Mode, get_mode
    op = node.op.clone()
    op.mode = Mode(NumbaNodeVMLinker(allow_gc=op.allow_gc),
                   get_mode("NUMBA_NODE").provided_optimizer)
    op._fn = None
    inner = op.make_thunk(node, storage_map, None, [], impl="py")
    outs = [storage_map[v] for v in node.outputs]

    def thunk():
        for out in outs:  # fresh outputs: the caller may hold the last ones
            out[0] = None
        inner()
    return thunk


def _frees(fgraph, order, storage_map):
    """Per node in `order`, the cells of the intermediates it is the last
    user of (freed after it runs)."""
    computed, last_user = gc_helper(order)
    outputs = set(fgraph.outputs)
    return [tuple(storage_map[v] for v in node.inputs
                  if v in computed and v not in outputs
                  and last_user[v] is node) for node in order]


def _containers(fgraph, input_storage, output_storage):
    """The input and (read-only) output containers of a linked function."""
    return ([Container(v, s) for v, s in
             zip(fgraph.inputs, input_storage, strict=True)],
            [Container(v, s, readonly=True) for v, s in
             zip(fgraph.outputs, output_storage, strict=True)])


class NumbaNodeLinker(LocalLinker):
    """Runs each node's cached Numba function in turn (see module doc)."""

    required_rewrites = ("minimum_compile", "numba")
    incompatible_rewrites = ("cxx_only", "BlasOpt", "local_careduce_fusion",
                             "scan_reduce_trace_prealloc")

    def __init__(self, allow_gc=None, schedule=None):
        if allow_gc is None:
            allow_gc = config.allow_gc
        super().__init__(allow_gc=allow_gc, scheduler=schedule)
        self.fgraph = None

    def accept(self, fgraph, no_recycling=None, profile=None):
        if no_recycling is None:
            no_recycling = []
        if self.fgraph is not None and self.fgraph is not fgraph:
            return type(self)(self.allow_gc, self._scheduler).accept(
                fgraph, no_recycling, profile)
        self.fgraph = fgraph
        self.no_recycling = no_recycling
        return self

    def make_all(self, input_storage=None, output_storage=None,
                 storage_map=None):
        fgraph = self.fgraph
        order = self.schedule(fgraph)
        input_storage, output_storage, storage_map = map_storage(
            fgraph, order, input_storage, output_storage, storage_map)
        thunks = [_node_thunk(node, storage_map) for node in order]

        # Free each intermediate after its last use, as the single Numba
        # function of PyTensor's linker does.
        frees = (_frees(fgraph, order, storage_map) if self.allow_gc
                 else [()] * len(order))
        steps = list(zip(thunks, frees))

        def run():
            i = 0
            try:
                for thunk, free in steps:
                    thunk()
                    for cell in free:
                        cell[0] = None
                    i += 1
            except Exception:
                raise_with_op(fgraph, order[i], thunks[i])

        run.storage_map = storage_map
        run.allow_gc = self.allow_gc
        return (run, *_containers(fgraph, input_storage, output_storage),
                thunks, order)


class NumbaNodeVMLinker(VMLinker):
    """The node linker's thunks under PyTensor's ``Loop`` virtual machine,
    which performs a function's updates itself: what the Python loop of
    ``Scan`` needs of its inner function (it hands preallocated gradient
    buffers to the inner function as updates)."""

    def __init__(self, allow_gc=None, schedule=None):
        super().__init__(allow_gc=allow_gc, use_cloop=False, lazy=False,
                         c_thunks=False, schedule=schedule)
        # the node linker's rewrites (VMLinker sets Python-only ones here)
        self.required_rewrites = NumbaNodeLinker.required_rewrites
        self.incompatible_rewrites = NumbaNodeLinker.incompatible_rewrites

    def make_all(self, profiler=None, input_storage=None,
                 output_storage=None, storage_map=None):
        fgraph = self.fgraph
        order = self.schedule(fgraph)
        input_storage, output_storage, storage_map = map_storage(
            fgraph, order, input_storage, output_storage, storage_map)
        compute_map = {var: [var.owner is None] for var in storage_map}
        thunks = [_node_thunk(node, storage_map) for node in order]
        for thunk in thunks:
            thunk.lazy = False
        computed, _ = gc_helper(order)
        clear = (_frees(fgraph, order, storage_map) if self.allow_gc
                 else None)
        vm = self.make_vm(order, thunks, input_storage, output_storage,
                          storage_map, clear, computed, compute_map,
                          self.updated_vars)
        vm.storage_map, vm.compute_map = storage_map, compute_map
        return (vm, *_containers(fgraph, input_storage, output_storage),
                thunks, order)


def _register():
    from pytensor.compile.mode import (Mode, predefined_linkers,
                                       predefined_modes, register_linker,
                                       register_mode)
    from pytensor.graph.rewriting.db import RewriteDatabaseQuery
    if "numba_node" not in predefined_linkers:
        register_linker("numba_node", NumbaNodeLinker())
    if "NUMBA_NODE" not in predefined_modes:
        register_mode("NUMBA_NODE", Mode(
            "numba_node", RewriteDatabaseQuery(include=["fast_run", "numba"])))


def _default_unless_chosen():
    """Make ``NUMBA_NODE`` PyTensor's default mode, unless the user chose a
    mode or a linker (``PYTENSOR_FLAGS``, ``.pytensorrc``, or in code
    before importing lasagne), or set ``LASAGNE_NODE_LINKER=0``."""
    from pytensor.compile.mode import predefined_modes
    if os.environ.get("LASAGNE_NODE_LINKER", "1") == "0":
        return
    if config.mode == "Mode" and config.linker == "auto":
        config.mode = predefined_modes["NUMBA_NODE"]


_register()
