"""Fused scaled dot-product attention.

Composed of PyTensor's Ops, attention costs a ``BatchedDot`` for the
scores, a masking ``Switch``, a ``Softmax`` and a second ``BatchedDot``
forward, and four ``BatchedDot`` plus the softmax gradient backward. On a
CPU the ``BatchedDot`` nodes call multi-threaded BLAS once per (batch,
head) on small matrices, where the BLAS threads spend their time waiting
for one another. The Ops here do each direction in one node, one (batch,
head) per Numba thread, with single-threaded BLAS inside:

* :class:`Attention` -- ``(q, k, v[, key_mask][, keep]) -> (out,
  weights)``: ``weights = softmax(q k^T * scale + masks)`` and ``out =
  (weights * keep) v``;
* :class:`AttentionGrad` -- the gradient with respect to ``q``, ``k`` and
  ``v`` from the forward pass's ``weights`` (and, where the weights are
  differentiated as well, their cotangent).

``q`` is ``(batch, heads, T_q, d)``, ``k`` ``(batch, heads, T_k, d)``,
``v`` ``(batch, heads, T_k, d_v)``; ``key_mask`` ``(batch, T_k)`` is
nonzero for the keys to attend to. With ``causal=True`` query ``i``
attends only to keys ``j <= i + T_k - T_q``. A masked score is set to a
large negative number (-1e9 in float32, -1e30 in float64), so that a row
whose keys are all masked is uniform rather than ``nan``, as in
:func:`lasagne.layers.scaled_dot_product_attention`.

Attention dropout: with ``dropout=True`` the Op takes ``keep``, the
dropout multipliers of the weights ``(batch, heads, T_q, T_k)`` (0 for a
dropped weight, ``1 / (1 - p)`` for a kept one), drawn by the caller; the
``weights`` output is before dropout. ``keep`` gets no gradient.

Each Op has a numpy reference (:func:`attention_numpy`,
:func:`attention_grad_numpy`), a parallel Numba kernel
(:mod:`lasagne.ops._attention_numba`) and a JAX lowering
(:mod:`lasagne.ops._attention_jax`). ``perform`` (what the C VM and the
default node linker run) calls the Numba kernels compiled once per machine
for float32 and float64, and the numpy reference for other dtypes.
"""
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

__all__ = ["Attention", "AttentionGrad", "fused_attention"]


def masked_value(dtype):
    """The score given to a masked-out key."""
    return -1e9 if np.dtype(dtype) == np.float32 else -1e30


def _check_inputs(name, q, k, v, key_mask):
    q, k, v = (pt.as_tensor_variable(x) for x in (q, k, v))
    for label, x in (("q", q), ("k", k), ("v", v)):
        if x.ndim != 4:
            raise ValueError(f"{name}: `{label}` must be (batch, heads, time, "
                             f"size), got {x.ndim} dimensions ({x.type}).")
        if x.dtype not in ("float32", "float64") or x.dtype != q.dtype:
            raise TypeError(f"{name}: q, k and v must share a float dtype "
                            f"(float32 or float64), got {q.dtype}, {k.dtype}, "
                            f"{v.dtype}; cast them with pt.cast.")
    if key_mask is not None:
        key_mask = pt.as_tensor_variable(key_mask)
        if key_mask.ndim != 2:
            raise ValueError(f"{name}: `key_mask` must be (batch, T_k), got "
                             f"{key_mask.ndim} dimensions ({key_mask.type}).")
    return q, k, v, key_mask


def allowed_numpy(shape_q, shape_k, key_mask, causal):
    """Boolean (batch or 1, 1, T_q, T_k) of the scores kept, or None."""
    allowed = None
    t_q, t_k = shape_q[2], shape_k[2]
    if key_mask is not None:
        allowed = (np.asarray(key_mask) != 0)[:, None, None, :]
    if causal:
        lower = (np.arange(t_k)[None, :]
                 <= np.arange(t_q)[:, None] + (t_k - t_q))[None, None]
        allowed = lower if allowed is None else allowed & lower
    return allowed


def attention_numpy(q, k, v, key_mask, causal, scale, keep=None):
    """Reference forward pass: ``(out, weights)``."""
    scores = np.matmul(q, np.swapaxes(k, -1, -2)) * q.dtype.type(scale)
    allowed = allowed_numpy(q.shape, k.shape, key_mask, causal)
    if allowed is not None:
        scores = np.where(allowed, scores, q.dtype.type(masked_value(q.dtype)))
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    weights = weights.astype(q.dtype, copy=False)
    dropped = weights if keep is None else weights * keep
    return np.matmul(dropped, v).astype(q.dtype, copy=False), weights


def attention_grad_numpy(q, k, v, weights, g_out, key_mask, g_weights,
                         causal, scale, keep=None):
    """Reference backward pass: ``(g_q, g_k, g_v)``. Masked scores are
    constants: they get no gradient (they have weight 0 unless a whole row
    is masked)."""
    dropped = weights if keep is None else weights * keep
    g_v = np.matmul(np.swapaxes(dropped, -1, -2), g_out)
    g_p = np.matmul(g_out, np.swapaxes(v, -1, -2))
    if keep is not None:
        g_p = g_p * keep
    if g_weights is not None:
        g_p = g_p + g_weights
    g_s = weights * (g_p - (g_p * weights).sum(axis=-1, keepdims=True))
    g_s *= q.dtype.type(scale)
    allowed = allowed_numpy(q.shape, k.shape, key_mask, causal)
    if allowed is not None:
        g_s = np.where(allowed, g_s, 0)
    g_q = np.matmul(g_s, k)
    g_k = np.matmul(np.swapaxes(g_s, -1, -2), q)
    return tuple(g.astype(q.dtype, copy=False) for g in (g_q, g_k, g_v))


class Attention(Op):
    """Scaled dot-product attention over (batch, heads): ``(q, k, v[,
    key_mask]) -> (out, weights)`` (see the module docstring).

    Parameters
    ----------
    scale : float
        Multiplies the scores ``q k^T`` (usually ``1 / sqrt(d)``).
    causal : bool
        Query ``i`` attends only to keys ``j <= i + T_k - T_q``.
    masked : bool
        Whether the Op takes a ``key_mask`` input.
    dropout : bool
        Whether the Op takes a ``keep`` input (dropout multipliers of the
        weights, applied to the output only).

    Examples
    --------
    >>> import numpy as np
    >>> q = k = np.eye(2).reshape(1, 1, 2, 2)
    >>> v = np.array([[[[1.0, 0.0], [0.0, 1.0]]]])
    >>> out, weights = Attention(scale=1.0, causal=True)(q, k, v)
    >>> out.eval()[0, 0, 0], weights.eval()[0, 0, 0]
    (array([1., 0.]), array([1., 0.]))
    """

    __props__ = ("scale", "causal", "masked", "dropout")

    def __init__(self, scale, causal=False, masked=False, dropout=False):
        self.scale = float(scale)
        self.causal = bool(causal)
        self.masked = bool(masked)
        self.dropout = bool(dropout)

    def make_node(self, q, k, v, *rest):
        if len(rest) != self.masked + self.dropout:
            raise TypeError(f"Attention: takes a key_mask input if and only "
                            f"if masked=True and keep if and only if "
                            f"dropout=True; got {len(rest)} extra inputs with "
                            f"masked={self.masked}, dropout={self.dropout}.")
        q, k, v, mask = _check_inputs("Attention", q, k, v,
                                      rest[0] if self.masked else None)
        keep = []
        if self.dropout:
            keep = [_check_keep("Attention", q, rest[-1])]
        batch, heads, t_q = q.type.shape[:3]
        out = pt.tensor(dtype=q.dtype,
                        shape=(batch, heads, t_q, v.type.shape[3]))
        weights = pt.tensor(dtype=q.dtype,
                            shape=(batch, heads, t_q, k.type.shape[2]))
        inputs = [q, k, v] + ([mask] if mask is not None else []) + keep
        return Apply(self, inputs, [out, weights])

    def perform(self, node, inputs, outputs):
        q, k, v = inputs[:3]
        mask = inputs[3] if self.masked else None
        keep = inputs[-1] if self.dropout else None
        if q.dtype in _attention_numba.KERNEL_DTYPES:
            out, weights = _attention_numba.perform_forward(
                self, q, k, v, mask, keep)
        else:
            out, weights = attention_numpy(q, k, v, mask, self.causal,
                                           self.scale, keep)
        outputs[0][0] = out
        outputs[1][0] = weights

    def infer_shape(self, fgraph, node, shapes):
        q, k, v = shapes[:3]
        return [(q[0], q[1], q[2], v[3]), (q[0], q[1], q[2], k[2])]

    def connection_pattern(self, node):
        return ([[True, True]] * 3 + [[False, False]] * self.masked
                + [[False, False]] * self.dropout)

    def pullback(self, inputs, outputs, cotangents):
        q, k, v = inputs[:3]
        out, weights = outputs
        g_out, g_weights = cotangents
        if isinstance(g_out.type, DisconnectedType):
            g_out = pt.zeros_like(out)
        extra = ([] if isinstance(g_weights.type, DisconnectedType)
                 else [g_weights])
        grads = AttentionGrad(self.scale, self.causal, self.masked,
                              bool(extra), self.dropout)(
            q, k, v, weights, g_out, *inputs[3:], *extra)
        return list(grads) + [DisconnectedType()()] * (self.masked
                                                       + self.dropout)


class AttentionGrad(Op):
    """Gradient of :class:`Attention`: ``(q, k, v, weights, g_out[,
    key_mask][, keep][, g_weights]) -> (g_q, g_k, g_v)``, with the forward
    pass's weights; masked scores are constants and get no gradient.

    Parameters
    ----------
    scale, causal, masked, dropout : as the forward :class:`Attention`
    with_weights_grad : bool
        Whether the Op takes the cotangent of the weights as its last input.

    Examples
    --------
    >>> import numpy as np
    >>> q = k = v = np.ones((1, 1, 2, 1))
    >>> w = np.full((1, 1, 2, 2), 0.5)
    >>> g_q, g_k, g_v = AttentionGrad(1.0)(q, k, v, w, np.ones((1, 1, 2, 1)))
    >>> g_v.eval().ravel(), g_q.eval().ravel()
    (array([1., 1.]), array([0., 0.]))
    """

    __props__ = ("scale", "causal", "masked", "with_weights_grad", "dropout")

    def __init__(self, scale, causal=False, masked=False,
                 with_weights_grad=False, dropout=False):
        self.scale = float(scale)
        self.causal = bool(causal)
        self.masked = bool(masked)
        self.with_weights_grad = bool(with_weights_grad)
        self.dropout = bool(dropout)

    def _split(self, inputs):
        """``(q, k, v, weights, g_out, key_mask, g_weights, keep)`` from the
        node's inputs (None for those it does not take)."""
        rest = list(inputs[5:])
        mask = rest.pop(0) if self.masked else None
        keep = rest.pop(0) if self.dropout else None
        g_weights = rest.pop(0) if self.with_weights_grad else None
        return (*inputs[:5], mask, g_weights, keep)

    def make_node(self, q, k, v, weights, g_out, *rest):
        expected = self.masked + self.dropout + self.with_weights_grad
        if len(rest) != expected:
            raise TypeError(f"AttentionGrad: takes key_mask if masked=True, "
                            f"keep if dropout=True and g_weights if "
                            f"with_weights_grad=True; got {len(rest)} extra "
                            f"inputs for {expected}.")
        mask = rest[0] if self.masked else None
        q, k, v, mask = _check_inputs("AttentionGrad", q, k, v, mask)
        tensors = [pt.as_tensor_variable(x) for x in
                   (weights, g_out, *rest[self.masked:])]
        for x in tensors:
            if x.ndim != 4 or x.dtype != q.dtype:
                raise TypeError(f"AttentionGrad: weights and cotangents must "
                                f"be 4-d {q.dtype}, got {x.type}.")
        inputs = [q, k, v, *tensors[:2]] + ([mask] if self.masked else []) \
            + tensors[2:]
        return Apply(self, inputs, [q.type(), k.type(), v.type()])

    def perform(self, node, inputs, outputs):
        q, k, v, weights, g_out, mask, g_weights, keep = self._split(inputs)
        if q.dtype in _attention_numba.KERNEL_DTYPES:
            grads = _attention_numba.perform_backward(
                self, q, k, v, weights, g_out, mask, g_weights, keep)
        else:
            grads = attention_grad_numpy(q, k, v, weights, g_out, mask,
                                         g_weights, self.causal, self.scale,
                                         keep)
        for cell, g in zip(outputs, grads):
            cell[0] = g

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0], shapes[1], shapes[2]]

    def connection_pattern(self, node):
        pattern = [[True] * 3] * 5 + [[False] * 3] * self.masked
        pattern += [[False] * 3] * self.dropout
        return pattern + [[True] * 3] * self.with_weights_grad

    def pullback(self, inputs, outputs, cotangents):
        # Second derivatives through the same formulas in PyTensor Ops.
        import pytensor
        q, k, v, weights, g_out, mask, g_weights, keep = self._split(inputs)
        dropped = weights if keep is None else weights * keep
        g_v = pt.matmul(pt.swapaxes(dropped, -1, -2), g_out)
        g_p = pt.matmul(g_out, pt.swapaxes(v, -1, -2))
        if keep is not None:
            g_p = g_p * keep
        if g_weights is not None:
            g_p = g_p + g_weights
        g_s = weights * (g_p - (g_p * weights).sum(axis=-1, keepdims=True))
        g_s = g_s * np.asarray(self.scale, dtype=q.dtype)
        allowed = _allowed_symbolic(q, k, mask, self.causal)
        if allowed is not None:
            g_s = pt.switch(allowed, g_s, 0)
        g_q = pt.matmul(g_s, k)
        g_k = pt.matmul(pt.swapaxes(g_s, -1, -2), q)
        known = {out: g for out, g in zip((g_q, g_k, g_v), cotangents)
                 if not isinstance(g.type, DisconnectedType)}
        constant = [x for x in (mask, keep) if x is not None]
        wrt = [x for x in inputs if not any(x is c for c in constant)]
        grads = iter(pytensor.grad(None, wrt, known_grads=known,
                                   disconnected_inputs="ignore",
                                   return_disconnected="zero"))
        return [DisconnectedType()() if any(x is c for c in constant)
                else next(grads) for x in inputs]


def _allowed_symbolic(q, k, key_mask, causal):
    allowed = None
    if key_mask is not None:
        allowed = pt.neq(key_mask, 0)[:, None, None, :]
    if causal:
        t_q, t_k = q.shape[2], k.shape[2]
        lower = pt.le(pt.arange(t_k)[None, :],
                      pt.arange(t_q)[:, None] + (t_k - t_q))
        allowed = lower if allowed is None else pt.and_(allowed, lower)
    return allowed


def _check_keep(name, q, keep):
    keep = pt.as_tensor_variable(keep)
    if keep.ndim != 4 or keep.dtype != q.dtype:
        raise TypeError(f"{name}: `keep` (the dropout multipliers of the "
                        f"weights) must be a 4-d {q.dtype} tensor (batch, "
                        f"heads, T_q, T_k), got {keep.type}.")
    return keep


def fused_attention(q, k, v, key_mask=None, causal=False, scale=None,
                    keep=None):
    """``(out, weights)`` of scaled dot-product attention as one
    :class:`Attention` node; `scale` defaults to ``1 / sqrt(d)``; `keep`,
    if given, multiplies the weights for the output (attention dropout:
    0 or ``1 / (1 - p)``, same shape as the weights).

    Examples
    --------
    >>> import numpy as np
    >>> q = k = v = np.ones((1, 1, 3, 4))
    >>> out, weights = fused_attention(q, k, v)
    >>> weights.eval()[0, 0, 0]
    array([0.33333333, 0.33333333, 0.33333333])
    """
    q = pt.as_tensor_variable(q)
    if scale is None:
        if q.type.shape[3] is None:
            raise ValueError("fused_attention: the key size (q's last axis) "
                             "must be known to derive the scale; pass scale=.")
        scale = 1.0 / np.sqrt(q.type.shape[3])
    op = Attention(scale, causal, masked=key_mask is not None,
                   dropout=keep is not None)
    extra = [x for x in (key_mask, keep) if x is not None]
    return tuple(op(q, k, v, *extra))


from lasagne.ops import _attention_numba  # noqa: E402,F401  (registers kernels)
