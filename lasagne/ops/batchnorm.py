"""Fused batch normalisation over every axis but the second (channels).

Composed of PyTensor's elementwise Ops and reductions, a batch-normalised
convolution costs a dozen nodes forward and twice as many backward, each a
pass over the data on one thread. The Ops here do it in one node each:

* :class:`BatchNormTrain` -- ``(x, gamma, beta) -> (y, mean, inv_std)``:
  the per-channel mean and ``1 / sqrt(var + epsilon)`` of the batch (biased
  variance), and ``y = (x - mean) * inv_std * gamma + beta``;
* :class:`BatchNormTrainGrad` -- its gradient with respect to ``x``,
  ``gamma`` and ``beta`` in two passes over the data;
* :class:`BatchNormInference` -- ``(x, gamma, beta, mean, inv_std) -> y``
  with given (running-average) statistics.

With ``rectify=True`` the training Ops apply a ReLU to ``y`` and mask the
gradient with it: :func:`lasagne.nonlinearities.rectify` of a
:class:`BatchNormTrain` output (the ``batch_norm`` macro's ReLU on top)
builds that variant (:func:`rectify_batch_norm`), and the rewrite
:func:`merge_batch_norm_statistics` lets the running averages read its
statistics, so a batch-normalised ReLU costs one node forward and one
backward.

Statistics are per index of axis 1, over axis 0 and every axis from 2 on
(batch and spatial positions), as in :class:`lasagne.layers.BatchNormLayer`
with ``axes='auto'``. Each Op has a numpy ``perform`` (the reference, also
used by the C VM), a parallel Numba kernel
(:mod:`lasagne.ops._batchnorm_numba`) and a JAX lowering
(:mod:`lasagne.ops._batchnorm_jax`). Statistics are accumulated in float64.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.graph.rewriting.basic import in2out, node_rewriter
from pytensor.compile import optdb

from .contiguous import kernel_array

__all__ = ["BatchNormTrain", "BatchNormTrainGrad", "BatchNormInference",
           "batch_norm_train", "batch_norm_inference", "rectify_batch_norm"]


def _check(op, x, *per_channel):
    x = pt.as_tensor_variable(x)
    per_channel = [pt.as_tensor_variable(v) for v in per_channel]
    name = type(op).__name__
    if x.ndim < 2:
        raise ValueError(f"{name}: `x` needs at least 2 dimensions (batch, "
                         f"channels, ...), got {x.ndim}.")
    if x.dtype not in ("float32", "float64"):
        raise TypeError(f"{name}: `x` must be float32 or float64, got "
                        f"{x.dtype}.")
    for v in per_channel:
        if v.ndim != 1 or v.dtype != x.dtype:
            raise TypeError(
                f"{name}: per-channel inputs must be vectors of x's dtype "
                f"{x.dtype}, got {v.type}; cast them with pt.cast.")
    return x, per_channel


def _reduced_axes(ndim):
    return (0,) + tuple(range(2, ndim))


def _per_channel(v, ndim):
    """A channel vector broadcast against a tensor of rank `ndim`."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def batch_stats_numpy(x, epsilon):
    """Per-channel mean and ``1 / sqrt(var + epsilon)`` (float64)."""
    axes = _reduced_axes(x.ndim)
    mean = x.mean(axis=axes, dtype="float64")
    centred = x - _per_channel(mean, x.ndim)
    var = (centred * centred).mean(axis=axes)
    return mean, 1.0 / np.sqrt(var + epsilon)


def _three_d(a):
    """`a` (batch, channels, ...) as a (batch, channels, rest) view: the
    machine kernels are compiled for 3-d arrays only, so that a dense
    layer's batch norm runs the kernels a convolution's does."""
    rest = int(np.prod(a.shape[2:], dtype=np.int64))
    return a.reshape(a.shape[:2] + (rest,))


def _machine_kernels(x):
    """The Numba kernels compiled once per machine (train, train_grad,
    inference) where they serve `x`'s dtype, else None (numpy)."""
    if x.dtype not in (np.float32, np.float64):
        return None
    from ._batchnorm_numba import machine_kernels  # imports this module
    return machine_kernels()


class BatchNormTrain(Op):
    """Batch normalisation with the statistics of the batch.

    ``(x, gamma, beta) -> (y, mean, inv_std)``; `gamma`, `beta`, `mean` and
    `inv_std` are vectors over ``x``'s axis 1. With ``rectify=True``, ``y``
    is ``max(0, ...)`` of the normalised input.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0], [3.0]])
    >>> y, mean, inv_std = BatchNormTrain(0.0)(x, np.ones(1), np.zeros(1))
    >>> y.eval().ravel(), mean.eval(), inv_std.eval()
    (array([-1.,  1.]), array([2.]), array([1.]))
    """

    __props__ = ("epsilon", "rectify")

    def __init__(self, epsilon, rectify=False):
        self.epsilon = float(epsilon)
        self.rectify = bool(rectify)

    def make_node(self, x, gamma, beta):
        x, (gamma, beta) = _check(self, x, gamma, beta)
        channels = pt.vector(dtype=x.dtype, shape=(x.type.shape[1],))
        return Apply(self, [x, gamma, beta],
                     [x.type(), channels.type(), channels.type()])

    def perform(self, node, inputs, outputs):
        kernels = _machine_kernels(inputs[0])
        if kernels is not None:
            x, gamma, beta = [kernel_array(a) for a in inputs]
            y, mean, inv_std = kernels[0](_three_d(x), gamma, beta,
                                          self.epsilon, self.rectify)
            outputs[0][0] = y.reshape(x.shape)
            outputs[1][0], outputs[2][0] = mean, inv_std
            return
        x, gamma, beta = inputs
        mean, inv_std = batch_stats_numpy(x, self.epsilon)
        scale = gamma * inv_std
        y = (x - _per_channel(mean, x.ndim)) * _per_channel(scale, x.ndim)
        y += _per_channel(beta, x.ndim)
        if self.rectify:
            np.maximum(y, 0, out=y)
        dtype = x.dtype
        outputs[0][0] = y.astype(dtype, copy=False)
        outputs[1][0] = mean.astype(dtype)
        outputs[2][0] = inv_std.astype(dtype)

    def infer_shape(self, fgraph, node, shapes):
        channels = (shapes[0][1],)
        return [shapes[0], channels, channels]

    def pullback(self, inputs, outputs, cotangents):
        x, gamma, beta = inputs
        y, mean, inv_std = outputs
        gy, g_mean, g_inv_std = cotangents
        if isinstance(gy.type, DisconnectedType):
            gy = pt.zeros_like(x)
        masked_by = [y] if self.rectify else []
        g_x, g_gamma, g_beta = BatchNormTrainGrad(self.epsilon, self.rectify)(
            x, gy, gamma, mean, inv_std, *masked_by)
        # The statistics as outputs (used by running averages, rarely
        # differentiated): d mean / dx = 1/m, d inv_std / dx =
        # -inv_std**3 (x - mean) / m.
        m = pt.cast(x.size // x.shape[1], x.dtype)
        if not isinstance(g_mean.type, DisconnectedType):
            g_x = g_x + _per_channel(g_mean / m, x.ndim)
        if not isinstance(g_inv_std.type, DisconnectedType):
            g_x = g_x - (_per_channel(g_inv_std * inv_std ** 3 / m, x.ndim)
                         * (x - _per_channel(mean, x.ndim)))
        return [g_x, g_gamma, g_beta]


def _train_grad_symbolic(x, gy, gamma, mean, inv_std, y=None):
    """BatchNormTrainGrad's formulas in PyTensor Ops (for its own gradient)."""
    if y is not None:
        gy = gy * pt.gt(y, 0)
    axes, nd = _reduced_axes(x.ndim), x.ndim
    m = pt.cast(x.size // x.shape[1], x.dtype)
    centred = x - _per_channel(mean, nd)
    g_beta = gy.sum(axes)
    g_gamma = (gy * centred).sum(axes) * inv_std
    g_x = _per_channel(gamma * inv_std, nd) * (
        gy - _per_channel(g_beta / m, nd)
        - centred * _per_channel(g_gamma * inv_std / m, nd))
    return g_x, g_gamma, g_beta


def train_grad_numpy(x, gy, gamma, mean, inv_std, y=None):
    if y is not None:
        gy = np.where(y > 0, gy, 0)
    axes, nd = _reduced_axes(x.ndim), x.ndim
    m = x.size // x.shape[1]
    centred = x - _per_channel(mean, nd)
    g_beta = gy.sum(axis=axes, dtype="float64")
    g_gamma = (gy * centred).sum(axis=axes, dtype="float64") * inv_std
    g_x = _per_channel(gamma * inv_std, nd) * (
        gy - _per_channel(g_beta / m, nd)
        - centred * _per_channel(g_gamma * inv_std / m, nd))
    return g_x, g_gamma, g_beta


class BatchNormTrainGrad(Op):
    """Gradient of :class:`BatchNormTrain`'s ``y`` with respect to ``x``,
    ``gamma`` and ``beta``: ``(x, gy, gamma, mean, inv_std) -> (gx, ggamma,
    gbeta)``, with the batch statistics the forward pass returned. With
    ``rectify=True`` a sixth input, the (rectified) output ``y``, masks
    ``gy`` where it is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> x, gy = np.array([[1.0], [3.0]]), np.array([[1.0], [0.0]])
    >>> gx, gg, gb = BatchNormTrainGrad(0.0)(
    ...     x, gy, np.ones(1), np.array([2.0]), np.array([1.0]))
    >>> gx.eval().ravel(), gg.eval(), gb.eval()
    (array([0., 0.]), array([-1.]), array([1.]))
    """

    __props__ = ("epsilon", "rectify")

    def __init__(self, epsilon, rectify=False):
        self.epsilon = float(epsilon)
        self.rectify = bool(rectify)

    def make_node(self, x, gy, gamma, mean, inv_std, *y):
        x, (gamma, mean, inv_std) = _check(self, x, gamma, mean, inv_std)
        tensors = [pt.as_tensor_variable(gy)] + [
            pt.as_tensor_variable(v) for v in y]
        if len(y) != self.rectify:
            raise TypeError(f"BatchNormTrainGrad: takes the output `y` as a "
                            f"sixth input if and only if rectify=True; got "
                            f"{len(y)} extra inputs with rectify="
                            f"{self.rectify}.")
        for t in tensors:
            if t.type.dtype != x.dtype or t.ndim != x.ndim:
                raise TypeError(f"BatchNormTrainGrad: `gy` and `y` must "
                                f"match x's type {x.type}, got {t.type}.")
        return Apply(self, [x, tensors[0], gamma, mean, inv_std, *tensors[1:]],
                     [x.type(), gamma.type(), gamma.type()])

    def perform(self, node, inputs, outputs):
        kernels = _machine_kernels(inputs[0])
        if kernels is not None:
            inputs = [kernel_array(a) for a in inputs]
            x, gy, gamma, mean, inv_std = inputs[:5]
            y = inputs[5] if self.rectify else x
            gx, g_gamma, g_beta = kernels[1](
                _three_d(x), _three_d(gy), gamma, mean, inv_std, _three_d(y),
                self.rectify)
            outputs[0][0] = gx.reshape(x.shape)
            outputs[1][0], outputs[2][0] = g_gamma, g_beta
            return
        dtype = inputs[0].dtype
        for out, value in zip(outputs, train_grad_numpy(*inputs)):
            out[0] = np.asarray(value).astype(dtype, copy=False)

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0], shapes[2], shapes[2]]

    def pullback(self, inputs, outputs, cotangents):
        # Backpropagate through the symbolic formulas. g_x reads g_gamma
        # and g_beta: copies as the outputs keep their cotangents apart
        # from those that reach them through g_x.
        g_x, g_gamma, g_beta = _train_grad_symbolic(*inputs)
        known = {out: g for out, g in zip((g_x, g_gamma.copy(),
                                           g_beta.copy()), cotangents)
                 if not isinstance(g.type, DisconnectedType)}
        return pytensor.grad(None, list(inputs), known_grads=known,
                             disconnected_inputs="ignore",
                             return_disconnected="zero")


def inference_numpy(x, gamma, beta, mean, inv_std):
    nd = x.ndim
    scale = gamma * inv_std
    return (x - _per_channel(mean, nd)) * _per_channel(scale, nd) + \
        _per_channel(beta, nd)


class BatchNormInference(Op):
    """Batch normalisation with given statistics (running averages):
    ``(x, gamma, beta, mean, inv_std) -> (x - mean) * inv_std * gamma +
    beta``, per index of ``x``'s axis 1.

    Examples
    --------
    >>> import numpy as np
    >>> y = BatchNormInference()(np.array([[1.0], [3.0]]), np.ones(1),
    ...                          np.zeros(1), np.array([2.0]), np.ones(1))
    >>> y.eval().ravel()
    array([-1.,  1.])
    """

    __props__ = ()

    def make_node(self, x, gamma, beta, mean, inv_std):
        x, per_channel = _check(self, x, gamma, beta, mean, inv_std)
        return Apply(self, [x, *per_channel], [x.type()])

    def perform(self, node, inputs, outputs):
        kernels = _machine_kernels(inputs[0])
        if kernels is not None:
            x, *channels = map(kernel_array, inputs)
            outputs[0][0] = kernels[2](_three_d(x), *channels).reshape(
                x.shape)
            return
        outputs[0][0] = inference_numpy(*inputs).astype(inputs[0].dtype,
                                                        copy=False)

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def pullback(self, inputs, outputs, cotangents):
        x, gamma, beta, mean, inv_std = inputs
        [gy] = cotangents
        axes, nd = _reduced_axes(x.ndim), x.ndim
        centred = x - _per_channel(mean, nd)
        g_beta = gy.sum(axes)
        g_scale = (gy * centred).sum(axes)
        return [gy * _per_channel(gamma * inv_std, nd),
                g_scale * inv_std,
                g_beta,
                -g_beta * gamma * inv_std,
                g_scale * gamma]


def batch_norm_train(x, gamma, beta, epsilon):
    """Normalise `x` per channel (axis 1) with its batch statistics.

    Returns ``(y, mean, inv_std)``; see :class:`BatchNormTrain`.

    Examples
    --------
    >>> import numpy as np
    >>> y, _, _ = batch_norm_train(np.array([[0.0], [2.0]]), np.ones(1),
    ...                            np.zeros(1), epsilon=0.0)
    >>> y.eval().ravel()
    array([-1.,  1.])
    """
    return BatchNormTrain(epsilon)(x, gamma, beta)


def rectify_batch_norm(y):
    """``max(0, y)`` as one :class:`BatchNormTrain` node with
    ``rectify=True`` if `y` is the output of a :class:`BatchNormTrain`
    without it; None otherwise. The new node reads the same inputs, and
    :func:`merge_batch_norm_statistics` gives its statistics to whatever
    read the old node's (running-average updates).

    Examples
    --------
    >>> import numpy as np
    >>> y, _, _ = batch_norm_train(np.array([[0.0], [2.0]]), np.ones(1),
    ...                            np.zeros(1), epsilon=0.0)
    >>> rectify_batch_norm(y).eval().ravel()
    array([0., 1.])
    """
    node = y.owner
    if (node is None or not isinstance(node.op, BatchNormTrain)
            or node.op.rectify or y is not node.outputs[0]):
        return None
    return BatchNormTrain(node.op.epsilon, rectify=True)(*node.inputs)[0]


@node_rewriter([BatchNormTrain])
def merge_batch_norm_statistics(fgraph, node):
    """A :class:`BatchNormTrain` node whose inputs a ``rectify=True``
    twin reads as well gives its statistics' readers the twin's (the same
    numbers); its own output then has no readers left, and the node goes."""
    if node.op.rectify:
        return None
    for client, _ in fgraph.clients[node.inputs[0]]:
        if (isinstance(client.op, BatchNormTrain) and client.op.rectify
                and client.op.epsilon == node.op.epsilon
                and client.inputs == node.inputs):
            return {node.outputs[1]: client.outputs[1],
                    node.outputs[2]: client.outputs[2]}
    return None


optdb.register("lasagne_merge_batch_norm_statistics",
               in2out(merge_batch_norm_statistics), "fast_run",
               "fast_compile", position=0.5)


def batch_norm_inference(x, gamma, beta, mean, inv_std):
    """Normalise `x` per channel (axis 1) with the given statistics; see
    :class:`BatchNormInference`.

    Examples
    --------
    >>> import numpy as np
    >>> batch_norm_inference(np.array([[4.0]]), np.ones(1), np.zeros(1),
    ...                      np.array([2.0]), np.array([0.5])).eval()
    array([[1.]])
    """
    return BatchNormInference()(x, gamma, beta, mean, inv_std)


from lasagne.ops import _batchnorm_numba  # noqa: E402,F401  (registers kernels)
