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

Both forms are compiled from loops written out here as Python source
(:func:`flat_source`, :func:`elemwise_source`), the scalar Ops of a fused
node inlined as the expressions PyTensor's Numba implementations evaluate.
"""
import hashlib

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.elemwise import Elemwise

__all__ = ["flat_twin", "flat_thunk", "flat_source", "elemwise_source"]


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


# --- The loops, written out -------------------------------------------
#
# PyTensor compiles an elementwise node through generic machinery: its
# vectorising overload, and one Numba function per scalar Op of a fused
# ``Composite``, each compiled (typed and lowered) on its own before LLVM
# inlines them. :func:`flat_source` writes a flat twin's loop as one
# Python function instead: the scalar Ops become the expressions
# PyTensor's own Numba implementations evaluate (``x0 + x1``,
# ``np.exp(x0)``), in one body. Numba types and lowers one function, in
# about half the time, and computes the same numbers to rounding: the
# expressions are PyTensor's and so are the flags (:func:`numba_njit`;
# with fastmath, LLVM may reassociate the two differently). Scalar Ops
# without such an expression are called as PyTensor compiles them.

def _scalar_templates():
    from pytensor.link.numba.dispatch import scalar as nbs

    def clip(a, env, node):
        x, lo, hi = a
        return f"({lo} if {x} < {lo} else ({hi} if {x} > {hi} else {x}))"

    def cast(a, env, node):
        name = f"dtype{len(env)}"
        env[name] = np.dtype(node.outputs[0].type.dtype)
        return f"direct_cast({a[0]}, {name})"

    return {
        nbs.numba_funcify_Add: lambda a, env, node: "(" + " + ".join(a) + ")",
        nbs.numba_funcify_Mul: lambda a, env, node: "(" + " * ".join(a) + ")",
        nbs.numba_funcify_type_casting: lambda a, env, node: a[0],
        nbs.numba_funcify_Second: lambda a, env, node: a[1],
        nbs.numba_funcify_Switch:
            lambda a, env, node: f"({a[1]} if {a[0]} else {a[2]})",
        nbs.numba_funcify_Clip: clip,
        nbs.numba_funcify_Cast: cast,
        nbs.numba_funcify_Reciprocal:
            lambda a, env, node: f"np.divide(np.float32(1.0), {a[0]})",
        nbs.numba_funcify_Sigmoid: lambda a, env, node: (
            None if node.inputs[0].type.dtype.startswith("uint")
            else f"(1 / (1 + np.exp(-{a[0]})))"),
        nbs.numba_funcify_ScalarOp: _numpy_call,
    }


def _numpy_call(args, env, node):
    """What PyTensor's generic scalar implementation calls: the numpy
    function its ``nfunc_spec`` names (None where it is elsewhere)."""
    spec = getattr(node.op, "nfunc_spec", None)
    if not spec or "." in spec[0] or not hasattr(np, spec[0]):
        return None
    return f"np.{spec[0]}({', '.join(args)})"


_TEMPLATES = None


def _scalar_expression(node, args, env, keys):
    """Source of an expression computing scalar `node` from the names in
    `args`, as PyTensor's Numba implementation of its Op does; a call of
    that implementation where no template matches (None where PyTensor
    cannot cache it)."""
    from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key
    global _TEMPLATES
    if _TEMPLATES is None:
        _TEMPLATES = _scalar_templates()
    if len(node.outputs) != 1:
        return None
    template = _TEMPLATES.get(
        numba_funcify_and_cache_key.dispatch(type(node.op)))
    if template is not None:
        expression = template(args, env, node)
        if expression is not None:
            # the source names a cast's dtype, not its value: key both
            keys.append((type(node.op).__name__, node.outputs[0].type.dtype))
            return expression
    fn, key = numba_funcify_and_cache_key(node.op, node=node)
    if key is None:
        return None
    name = f"scalar_fn{len(env)}"
    env[name] = fn
    keys.append(key)
    return f"{name}({', '.join(args)})"


def _scalar_body(node):
    """``(lines, results, env, keys)``: statements computing the scalar
    outputs of elementwise `node` from the names ``a0, a1, ...``, the
    expressions of its outputs, the globals they use, and what identifies
    them in a cache key. None where a scalar Op has no cacheable Numba
    implementation."""
    from pytensor.link.numba.dispatch.basic import direct_cast
    from pytensor.scalar import Composite
    op = node.op
    scalar = op.scalar_op
    env = {"np": np, "direct_cast": direct_cast}
    keys = []
    body = []
    if isinstance(scalar, Composite):
        inner = scalar.fgraph
        names = {v: f"a{i}" for i, v in enumerate(inner.inputs)}

        def name_of(v):
            if v not in names:  # a constant
                names[v] = f"const{len(env)}"
                env[names[v]] = v.data
                keys.append((v.type.dtype, repr(v.data)))
            return names[v]

        for inner_node in inner.toposort():
            expression = _scalar_expression(
                inner_node, [name_of(v) for v in inner_node.inputs], env,
                keys)
            if expression is None:
                return None
            names[inner_node.outputs[0]] = f"t{len(body)}"
            body.append(f"t{len(body)} = {expression}")
        results = [name_of(v) for v in inner.outputs]
    else:
        scalar_node = op.make_scalar_node(*node.inputs)
        expression = _scalar_expression(
            scalar_node, [f"a{i}" for i in range(len(node.inputs))], env,
            keys)
        if expression is None:
            return None
        results = [expression]
    return body, results, env, keys


def _outputs(node, env, shape):
    """Lines allocating the outputs of `node` with `shape` (source), or
    taking the input each destroys."""
    inplace = dict(node.op.inplace_pattern)
    lines = []
    for o, out in enumerate(node.outputs):
        if o in inplace:
            lines.append(f"    o{o} = i{inplace[o]}")
        else:
            env[f"out_dtype{o}"] = np.dtype(out.type.dtype)
            lines.append(f"    o{o} = np.empty({shape}, out_dtype{o})")
    return lines


def _finish(lines, node, env, keys):
    n_out = len(node.outputs)
    lines.append(f"    return {', '.join(f'o{o}' for o in range(n_out))}")
    source = "\n".join(lines) + "\n"
    types = [(v.type.dtype, v.type.broadcastable)
             for v in node.inputs + node.outputs]
    key = hashlib.sha256(repr((source, keys, types)).encode()).hexdigest()
    return source, env, key


def flat_source(twin, full):
    """``(source, globals, key)`` of a Numba function computing the flat
    twin `twin` (:func:`flat_twin`): one loop over the full inputs, the
    one-element inputs read once, outputs written in place where the Op
    destroys an input. None where a scalar Op has no cacheable Numba
    implementation (the linker then compiles the twin as PyTensor does)."""
    scalar = _scalar_body(twin)
    if scalar is None:
        return None
    body, results, env, keys = scalar
    nin = len(twin.inputs)
    lines = [f"def elemwise({', '.join(f'i{k}' for k in range(nin))}):",
             f"    n = i{full.index(True)}.shape[0]"]
    lines += [f"    a{k} = i{k}[0]" for k in range(nin) if not full[k]]
    lines += _outputs(twin, env, "n")
    lines.append("    for j in range(n):")
    lines += [f"        a{k} = i{k}[j]" for k in range(nin) if full[k]]
    lines += [f"        {line}" for line in body]
    lines += [f"        o{o}[j] = {r}" for o, r in enumerate(results)]
    return _finish(lines, twin, env, keys)


def elemwise_source(node):
    """``(source, globals, key)`` of a Numba function computing the
    elementwise `node` as written, of any rank, with the broadcasting its
    types declare: one loop per dimension, each input read in the
    outermost loop where all its own dimensions are known (a bias once per
    channel), the lengths of the dimensions it is not broadcast along
    checked against each other. None where :func:`_scalar_body` declines
    or the node has no dimension."""
    rank = node.outputs[0].type.ndim
    if rank == 0:
        return None
    scalar = _scalar_body(node)
    if scalar is None:
        return None
    body, results, env, keys = scalar
    nin = len(node.inputs)
    patterns = [v.type.broadcastable for v in node.inputs]
    env["_mismatch"] = _SHAPE_MISMATCH
    lines = [f"def elemwise({', '.join(f'i{k}' for k in range(nin))}):"]
    for d in range(rank):
        owners = [k for k in range(nin) if not patterns[k][d]]
        if not owners:
            lines.append(f"    s{d} = 1")
            continue
        lines.append(f"    s{d} = i{owners[0]}.shape[{d}]")
        for k in owners[1:]:
            lines += [f"    if i{k}.shape[{d}] != s{d}:",
                      "        raise ValueError(_mismatch)"]
    shape = "(" + "".join(f"s{d}, " for d in range(rank)) + ")"
    lines += _outputs(node, env, shape)
    # the loop depth at which each input's element is known
    depth = [max([d + 1 for d in range(rank) if not patterns[k][d]],
                 default=0) for k in range(nin)]

    def read(k):
        index = ", ".join("0" if patterns[k][d] else f"d{d}"
                          for d in range(rank))
        return f"a{k} = i{k}[{index}]"

    indent = "    "
    lines += [indent + read(k) for k in range(nin) if depth[k] == 0]
    for d in range(rank):
        lines.append(f"{indent}for d{d} in range(s{d}):")
        indent += "    "
        lines += [indent + read(k) for k in range(nin) if depth[k] == d + 1]
    lines += [indent + line for line in body]
    index = ", ".join(f"d{d}" for d in range(rank))
    lines += [f"{indent}o{o}[{index}] = {r}" for o, r in enumerate(results)]
    return _finish(lines, node, env, keys)


_SHAPE_MISMATCH = ("the inputs of an elementwise operation have different "
                   "lengths along a dimension that none of them is "
                   "broadcastable along")
