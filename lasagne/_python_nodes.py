"""Nodes the node linker runs from Python, compiling nothing.

Compiling a node with Numba costs a quarter of a second at the least, and a
training graph has dozens of nodes whose work numpy does as fast: shapes
and views (``Shape_i``, ``DimShuffle``, ``Reshape``, ``Subtensor``),
checks (``SpecifyShape``, ``Assert``), small bookkeeping on scalars (an
optimizer's step count, a learning rate), matrix products, joins and
splits, copies of the outputs, reductions, argmax and the softmax of a
classifier. Matrix products and the uniform and normal draws of noise
layers call small Numba kernels compiled once per machine.
:func:`python_perform` gives such a node a function run from Python, with
PyTensor's ``perform`` calling convention; the linker compiles the others
(fused elementwise loops, other random draws) with Numba.

A Python call costs a few microseconds, as a Numba entry point does; where
the work is large, numpy's routines (pairwise sums, ``concatenate``) match
Numba's, and matrix products call the same Numba ``np.dot`` as before,
compiled once per machine.
"""
import numba
import numpy as np
from pytensor.compile.ops import DeepCopyOp
from pytensor.raise_op import CheckAndRaise
from pytensor.scalar import basic as ps
from pytensor.tensor.basic import (ARange, Alloc, AllocEmpty, Join,
                                   MakeVector, ScalarFromTensor, Split,
                                   TensorFromScalar)
from pytensor.tensor.elemwise import CAReduce, DimShuffle, Elemwise
from pytensor.tensor.math import Argmax, Dot
from pytensor.tensor.random.basic import NormalRV, UniformRV
from pytensor.tensor.random.op import RandomVariableWithCoreShape
from pytensor.tensor.random.type import RandomGeneratorType
from pytensor.tensor.random.utils import custom_rng_deepcopy
from pytensor.tensor.shape import Reshape, Shape, Shape_i, SpecifyShape
from pytensor.tensor.special import LogSoftmax, Softmax
from pytensor.tensor.type_other import NoneTypeT
from pytensor.tensor.subtensor import (AdvancedSubtensor, AdvancedSubtensor1,
                                       IncSubtensor, Subtensor)

from .ops.contiguous import KERNEL_DTYPES, AsContiguous
from .ops.attention import Attention, AttentionGrad
from .ops.batchnorm import (BatchNormInference, BatchNormTrain,
                            BatchNormTrainGrad)
from .ops.conv import _ConvOpBase
from .ops.pool import Pool, PoolGrad, _machine as _pool_machine
from .ops.recurrent import _RecurrenceBase

__all__ = ["python_perform"]

#: Ops whose own ``perform`` is numpy at numpy's speed.
_PERFORM_OPS = (Shape, Shape_i, SpecifyShape, Reshape, CheckAndRaise,
                MakeVector, ScalarFromTensor, TensorFromScalar, ARange, Alloc,
                AllocEmpty, Join, Split, DimShuffle, Subtensor, IncSubtensor,
                AdvancedSubtensor1, AdvancedSubtensor, AsContiguous, DeepCopyOp,
                Argmax)

#: Reductions run as ``ufunc.reduce``, with the value an empty reduction
#: starts from (None: numpy's identity).
_REDUCTIONS = {ps.Add: (np.add, None), ps.Mul: (np.multiply, None),
               ps.ScalarMaximum: (np.maximum, -np.inf),
               ps.ScalarMinimum: (np.minimum, np.inf)}


def python_perform(node):
    """A ``perform(node, inputs, output_storage)`` function running `node`
    from Python, or None where the node is better compiled."""
    op = node.op
    if isinstance(op, _PERFORM_OPS):
        return op.perform
    if isinstance(op, Dot):
        return _dot(node)
    if isinstance(op, Elemwise):
        return _elemwise(node)
    if isinstance(op, CAReduce):
        return _reduction(node)
    if isinstance(op, (Softmax, LogSoftmax)):
        return _softmax(node)
    if isinstance(op, RandomVariableWithCoreShape):
        return _draw(node)
    if isinstance(op, _ConvOpBase) and op._kernels(node) is not None:
        return op.perform  # the kernels compiled once per machine
    if isinstance(op, (Pool, PoolGrad)) and _pool_machine(op, node):
        return op.perform  # likewise, with the window at run time
    if (isinstance(op, (_RecurrenceBase, BatchNormTrain, BatchNormTrainGrad,
                        BatchNormInference, Attention, AttentionGrad))
            and node.inputs[0].dtype in KERNEL_DTYPES):
        return op.perform  # likewise
    return None


def _elemwise(node):
    """Elemwise on scalars (0-d arrays: an optimizer's step count, a
    learning rate): its ``perform``. On arrays, even a single ufunc stays
    compiled: numpy's ``perform`` allocates and copies where the compiled
    loop writes in place (a ResNet-20 step spent 47 ms there against 21)."""
    op = node.op
    if len(node.inputs) + len(node.outputs) > 32:
        return None
    if all(out.type.ndim == 0 for out in node.outputs):
        op.prepare_node(node, None, None, "py")
        return op.perform
    return None


@numba.njit(cache=True)
def _blas_dot(x, y):
    return np.dot(x, y)


def warm_products(dtype):
    """Compile (or load) the products of every layout a training step
    uses, for `dtype` (:mod:`lasagne.precompile`)."""
    m = np.arange(12, dtype=dtype).reshape(3, 4)
    v = np.ones(4, dtype)
    for x, y in ((m, m.T), (m.T, m), (m, np.ascontiguousarray(m.T)),
                 (np.ascontiguousarray(m.T).T, m.T), (m, v), (v, m.T),
                 (v, v)):
        _blas_dot(x, y)


def _dot(node):
    """Products of float matrices and vectors through Numba's ``np.dot``,
    compiled once per machine and layout: SciPy's OpenBLAS, as the Numba
    backend calls it. Numpy's own OpenBLAS keeps its threads spinning
    after a product (it is loaded before lasagne can set
    ``OPENBLAS_THREAD_TIMEOUT``), and they took the cores from the
    convolution kernels that ran next: the MNIST CNN step was 35 % slower.
    Other dtypes, and read-only arrays, go through numpy."""
    x, y = node.inputs
    dtype = node.outputs[0].type.dtype
    if not (x.type.dtype == y.type.dtype == dtype
            and dtype in ("float32", "float64")):
        return node.op.perform

    def perform(node, inputs, outputs):
        a, b = inputs
        if a.flags.writeable and b.flags.writeable:
            outputs[0][0] = np.asarray(_blas_dot(a, b))
        else:
            outputs[0][0] = np.asarray(np.dot(a, b))
    return perform


def _reduction(node):
    op = node.op
    found = _REDUCTIONS.get(type(op.scalar_op))
    dtype = np.dtype(node.outputs[0].type.dtype)
    if found is None or dtype.kind not in "fc":
        return None
    ufunc, initial = found
    acc = np.dtype(getattr(op, "acc_dtype", None) or dtype)
    kwargs = {} if initial is None else {"initial": initial}
    axis = op.axis

    def perform(node, inputs, outputs):
        with np.errstate(all="ignore"):  # overflow gives inf, as compiled
            value = ufunc.reduce(inputs[0], axis=axis, dtype=acc, **kwargs)
        outputs[0][0] = np.asarray(value, dtype=dtype)
    return perform


def _softmax(node):
    """Softmax and log-softmax as PyTensor defines them (the maximum
    subtracted first), sums accumulated in float64."""
    axis = node.op.axis
    dtype = np.dtype(node.outputs[0].type.dtype)
    log = isinstance(node.op, LogSoftmax)

    def perform(node, inputs, outputs):
        x = np.asarray(inputs[0], dtype=dtype)
        with np.errstate(all="ignore"):  # inf and nan pass through
            shifted = x - x.max(axis=axis, keepdims=True)
            exp = np.exp(shifted)
            total = exp.sum(axis=axis, keepdims=True, dtype=np.float64)
        if log:
            shifted -= np.log(total).astype(dtype)
            outputs[0][0] = shifted
        else:
            exp /= total.astype(dtype)
            outputs[0][0] = exp
    return perform


@numba.njit(cache=True)
def _fill_uniform(rng, low, high, out):
    # numpy's Generator.uniform: low + (high - low) * next_double, in float64
    scale = high - low
    for i in range(out.size):
        out[i] = low + scale * rng.random()


@numba.njit(cache=True)
def _fill_normal(rng, loc, scale, out):
    # numpy's Generator.normal: loc + scale * ziggurat standard normal
    for i in range(out.size):
        out[i] = loc + scale * rng.standard_normal()


_FILLS = {UniformRV: _fill_uniform, NormalRV: _fill_normal}


def warm_draws(dtype):
    """Compile (or load) the uniform and normal draws into `dtype`
    (:mod:`lasagne.precompile`)."""
    rng = np.random.default_rng(0)
    for fill in _FILLS.values():
        fill(rng, 0.0, 1.0, np.empty(2, dtype))


def _draw(node):
    """The uniform and normal draws of noise layers (one value per
    parameter, a float sample) through kernels compiled once per machine,
    drawing the same numbers from the generator as numpy (and PyTensor's
    Numba backend) do; a generator of any other kind, or another
    distribution, compiles as before. The generator is advanced in place where the
    node destroys it (PyTensor's ``random_make_inplace``), else a copy."""
    core = node.op.core_op
    fill = _FILLS.get(type(core))
    _core_shape, rng, size, *params = node.inputs
    sample = node.outputs[1]
    if (fill is None or sample.type.dtype not in ("float32", "float64")
            or not all(all(p.type.broadcastable) for p in params)
            or not isinstance(rng.type, RandomGeneratorType)):
        return None
    dtype = np.dtype(sample.type.dtype)
    inplace = core.inplace
    no_size = isinstance(size.type, NoneTypeT)

    def perform(node, inputs, outputs):
        _core_shape, rng, size, a, b = inputs
        if not inplace:
            rng = custom_rng_deepcopy(rng)
        shape = (np.broadcast_shapes(a.shape, b.shape) if no_size
                 else tuple(int(n) for n in size))
        out = np.empty(shape, dtype)
        fill(rng, a.item(), b.item(), out.reshape(-1))
        outputs[0][0] = rng
        outputs[1][0] = out
    return perform
