"""Multi-head scaled dot-product attention (Vaswani et al., 2017).

Sequences are ``(batch, time, features)``, as for the recurrent layers;
a key-padding mask is ``(batch, time)``, 1 for real steps and 0 for
padding, as the recurrent layers' ``mask_input``.
"""
import numpy as np
import pytensor
import pytensor.scalar
import pytensor.tensor as pt

from .. import init
from .. import random as lasagne_random
from ..ops.attention import fused_attention
from .base import MergeLayer

__all__ = ["scaled_dot_product_attention", "MultiHeadAttentionLayer",
           "AttentionWeightsLayer"]


def _masked_scores(scores, key_mask=None, causal=False):
    """`scores` (..., T_q, T_k) with masked-out keys set to a large
    negative number (finite, so that a row with every key masked gives a
    uniform distribution instead of nan)."""
    allowed = None
    if key_mask is not None:
        # (batch, T_k) -> (batch, 1, 1, T_k) against (batch, heads, T_q, T_k)
        pad = [None] * (scores.ndim - 2)
        allowed = pt.neq(key_mask, 0)[(slice(None), *pad, slice(None))]
    if causal:
        t_q, t_k = scores.shape[-2], scores.shape[-1]
        # query i sees keys j <= i + (T_k - T_q): the last query sees all
        rows = pt.arange(t_q)[:, None] + (t_k - t_q)
        lower = pt.le(pt.arange(t_k)[None, :], rows)
        allowed = lower if allowed is None else pt.and_(allowed, lower)
    if allowed is None:
        return scores
    very_negative = pt.constant(np.asarray(-1e9 if scores.dtype == "float32"
                                           else -1e30, dtype=scores.dtype))
    return pt.switch(allowed, scores, very_negative)


def scaled_dot_product_attention(query, key, value, key_mask=None,
                                 causal=False, return_weights=False):
    """``softmax(query @ key.T / sqrt(d) + masks) @ value`` over the last
    two axes, with any leading axes (batch, heads) broadcast.

    Parameters
    ----------
    query : expression (..., T_q, d)
    key : expression (..., T_k, d)
    value : expression (..., T_k, d_v)
    key_mask : expression (batch, T_k), optional
        Nonzero for the keys to attend to; applied to every head when the
        inputs have a heads axis (batch, heads, T, d).
    causal : bool
        Query ``i`` attends only to keys ``j <= i + T_k - T_q`` (``j <= i``
        for self-attention).
    return_weights : bool
        Also return the attention weights (..., T_q, T_k).

    Examples
    --------
    >>> import numpy as np
    >>> q = k = np.eye(2)[None]
    >>> v = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    >>> out = scaled_dot_product_attention(q, k, v, causal=True).eval()
    >>> out[0, 0]
    array([1., 0.])
    """
    query, key, value = (pt.as_tensor_variable(x) for x in (query, key, value))
    scale = pt.cast(1.0 / pt.sqrt(pt.cast(query.shape[-1], "float64")),
                    query.dtype)
    scores = pt.matmul(query * scale, pt.swapaxes(key, -1, -2))
    if key_mask is not None:
        key_mask = pt.as_tensor_variable(key_mask)
    scores = _masked_scores(scores, key_mask, causal)
    weights = pt.special.softmax(scores, axis=-1)
    out = pt.matmul(weights, value)
    return (out, weights) if return_weights else out


class MultiHeadAttentionLayer(MergeLayer):
    """MultiHeadAttentionLayer(incoming, num_heads, key_input=None,
    mask_input=None, num_units=None, key_size=None, value_size=None,
    causal=False, dropout=0.0, fused=True, W_q=lasagne.init.GlorotUniform(),
    b_q=lasagne.init.Constant(0.), W_k=..., b_k=..., W_v=..., b_v=...,
    W_o=..., b_o=..., **kwargs)

    Multi-head scaled dot-product attention (Vaswani et al., 2017).

    Queries come from `incoming`, keys and values from `key_input`
    (cross-attention) or from `incoming` itself (self-attention), each
    projected per head, combined by scaled dot-product attention and
    projected back::

        Q, K, V = x_q W_q + b_q, x_k W_k + b_k, x_k W_v + b_v   (split in heads)
        A = softmax(Q K^T / sqrt(key_size) + masks)              (per head)
        output = concat_heads(dropout(A) V) W_o + b_o

    Parameters
    ----------
    incoming : a :class:`Layer` or shape tuple
        The queries, ``(batch, time_q, features_q)``.
    num_heads : int
    key_input : a :class:`Layer`, optional
        The keys and values, ``(batch, time_k, features_k)``; by default
        `incoming` (self-attention).
    mask_input : a :class:`Layer`, optional
        Key-padding mask ``(batch, time_k)``: 1 for real steps, 0 for
        padding (as the recurrent layers' ``mask_input``).
    num_units : int, optional
        Output features; by default ``features_q``.
    key_size, value_size : int, optional
        Features per head of queries/keys and of values; by default
        ``num_units // num_heads``.
    causal : bool
        Query ``i`` attends only to keys up to ``i`` (for a decoder or a
        language model).
    dropout : float
        Dropout on the attention weights (not with ``deterministic=True``).
    fused : bool
        Compute the attention (scores, masks, softmax and the weighted sum,
        and their gradient) as one :class:`lasagne.ops.attention.Attention`
        node instead of a graph of matrix products and a softmax: several
        times faster on a CPU. Attention dropout is drawn as a tensor of
        multipliers of the weights that the Op takes as an input.
    W_q, b_q, W_k, b_k, W_v, b_v, W_o, b_o : initializers, arrays or shared
        variables
        Projection weights ``(features_in, heads * size)`` and biases (None
        for none). Tagged ``trainable``; weights also ``regularizable``.

    Notes
    -----
    :class:`AttentionWeightsLayer` gives the attention weights ``(batch,
    heads, time_q, time_k)`` of a layer, for inspection; compiled together
    with the layer's output, the shared computation is done once.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, get_output_shape
    >>> x = InputLayer((None, 10, 16))
    >>> mask = InputLayer((None, 10))
    >>> l = MultiHeadAttentionLayer(x, num_heads=4, mask_input=mask)
    >>> l.output_shape
    (None, 10, 16)
    >>> sorted(p.name for p in l.get_params())[:2]
    ['W_k', 'W_o']
    """

    def __init__(self, incoming, num_heads, key_input=None, mask_input=None,
                 num_units=None, key_size=None, value_size=None, causal=False,
                 dropout=0.0, fused=True, W_q=init.GlorotUniform(),
                 b_q=init.Constant(0.),
                 W_k=init.GlorotUniform(), b_k=init.Constant(0.),
                 W_v=init.GlorotUniform(), b_v=init.Constant(0.),
                 W_o=init.GlorotUniform(), b_o=init.Constant(0.), **kwargs):
        incomings = [incoming]
        self.key_incoming_index = self.mask_incoming_index = None
        if key_input is not None:
            self.key_incoming_index = len(incomings)
            incomings.append(key_input)
        if mask_input is not None:
            self.mask_incoming_index = len(incomings)
            incomings.append(mask_input)
        super().__init__(incomings, **kwargs)
        where = f"MultiHeadAttentionLayer {self.name + ' ' if self.name else ''}"
        q_shape = self.input_shapes[0]
        k_shape = (self.input_shapes[self.key_incoming_index]
                   if key_input is not None else q_shape)
        for label, shape in (("incoming", q_shape), ("key_input", k_shape)):
            if len(shape) != 3 or shape[2] is None:
                raise ValueError(
                    f"{where}: `{label}` must output (batch, time, features) "
                    f"with a known number of features, got shape {shape}. "
                    f"Reshape it, e.g. with ReshapeLayer or DimshuffleLayer.")
        if mask_input is not None:
            m_shape = self.input_shapes[self.mask_incoming_index]
            if len(m_shape) != 2:
                raise ValueError(
                    f"{where}: `mask_input` must output (batch, time_k), got "
                    f"shape {m_shape}.")
        if not (isinstance(num_heads, (int, np.integer)) and num_heads > 0):
            raise ValueError(f"{where}: num_heads must be a positive int, got "
                             f"{num_heads!r}.")
        num_units = q_shape[2] if num_units is None else num_units
        if key_size is None or value_size is None:
            if num_units % num_heads:
                raise ValueError(
                    f"{where}: num_units={num_units} is not divisible by "
                    f"num_heads={num_heads}; choose num_heads dividing it or "
                    f"pass key_size and value_size.")
        self.num_heads = int(num_heads)
        self.num_units = int(num_units)
        self.key_size = int(key_size or num_units // num_heads)
        self.value_size = int(value_size or num_units // num_heads)
        if not 0 <= dropout < 1:
            raise ValueError(f"{where}: dropout must be in [0, 1), got {dropout!r}.")
        self.causal = bool(causal)
        self.dropout = dropout
        self.fused = bool(fused)
        h = self.num_heads
        shapes = {"q": (q_shape[2], h * self.key_size),
                  "k": (k_shape[2], h * self.key_size),
                  "v": (k_shape[2], h * self.value_size),
                  "o": (h * self.value_size, self.num_units)}
        specs = dict(q=(W_q, b_q), k=(W_k, b_k), v=(W_v, b_v), o=(W_o, b_o))
        for proj, (W, b) in specs.items():
            setattr(self, f"W_{proj}", self.add_param(W, shapes[proj], f"W_{proj}"))
            setattr(self, f"b_{proj}", None if b is None else self.add_param(
                b, shapes[proj][1:], f"b_{proj}", regularizable=False))
        self._seeds = np.random.RandomState(lasagne_random.draw_seed())

    def get_output_shape_for(self, input_shapes):
        return (input_shapes[0][0], input_shapes[0][1], self.num_units)

    def _project(self, x, proj, heads=True):
        """``x W + b`` on (batch, time, features) as one matrix product;
        split into (batch, heads, time, size) if `heads`."""
        W, b = getattr(self, f"W_{proj}"), getattr(self, f"b_{proj}")
        batch, time = x.shape[0], x.shape[1]
        y = pt.dot(x.reshape((batch * time, x.shape[2])), W)
        if b is not None:
            y = y + b
        if not heads:
            return y.reshape((batch, time, W.shape[1]))
        # the head size given, not inferred (-1): numpy cannot infer a
        # length beside a zero one (an empty batch or sequence)
        size = W.shape[1] // self.num_heads
        return y.reshape((batch, time, self.num_heads, size)).dimshuffle(
            0, 2, 1, 3)

    def _split_inputs(self, inputs):
        query = inputs[0]
        keys = (inputs[self.key_incoming_index]
                if self.key_incoming_index is not None else query)
        mask = (inputs[self.mask_incoming_index]
                if self.mask_incoming_index is not None else None)
        return query, keys, mask

    def _fused(self, inputs, dropout=False):
        """``(heads, weights)`` of one fused Attention node, with attention
        dropout if `dropout`."""
        query, keys, mask = self._split_inputs(inputs)
        q, k = self._project(query, "q"), self._project(keys, "k")
        v = self._project(keys, "v")
        # queries and keys of different float types: the Op takes one
        dtype = pytensor.scalar.upcast(q.dtype, k.dtype, v.dtype)
        q, k, v = (pt.cast(x, dtype) for x in (q, k, v))
        keep = None
        if dropout:
            shape = (q.shape[0], self.num_heads, q.shape[2], k.shape[2])
            keep = self._keep(shape, dtype)
        return fused_attention(q, k, v, mask, self.causal,
                               scale=1.0 / np.sqrt(self.key_size), keep=keep)

    def attention_weights(self, inputs):
        """The attention weights (batch, heads, time_q, time_k) for
        `inputs` (the expressions of the incoming layers), before
        dropout."""
        if self.fused:
            return self._fused(inputs)[1]
        return self._composed_weights(inputs)

    def _composed_weights(self, inputs):
        query, keys, mask = self._split_inputs(inputs)
        q, k = self._project(query, "q"), self._project(keys, "k")
        scale = pt.constant(np.asarray(1.0 / np.sqrt(self.key_size), dtype=q.dtype))
        scores = pt.matmul(q * scale, k.dimshuffle(0, 1, 3, 2))
        scores = _masked_scores(scores, mask, self.causal)
        return pt.special.softmax(scores, axis=-1)

    def get_output_for(self, inputs, deterministic=False, **kwargs):
        query, keys, _ = self._split_inputs(inputs)
        drop = self.dropout and not deterministic
        if self.fused:
            heads = self._fused(inputs, dropout=drop)[0]
        else:
            weights = self._composed_weights(inputs)
            if drop:
                weights = self._dropout(weights)
            v = self._project(keys, "v")
            heads = pt.matmul(weights, v)              # (batch, heads, T_q, size)
        batch, time = query.shape[0], query.shape[1]
        merged = heads.dimshuffle(0, 2, 1, 3).reshape(
            (batch, time, self.num_heads * self.value_size))
        return self._project(merged, "o", heads=False)

    def _keep(self, shape, dtype):
        """Dropout multipliers of the weights: 0 or ``1 / (1 - p)``."""
        name = f"{self.name}.rng" if self.name else None
        rng = lasagne_random.shared_generator(
            seed=int(self._seeds.randint(0, 2 ** 31 - 1)), name=name)
        next_rng, draw = pt.random.uniform(rng=rng, size=shape, dtype=dtype,
                                           return_next_rng=True)
        lasagne_random.advance_on_use(rng, next_rng)
        retain = pt.constant(np.asarray(1.0 - self.dropout, dtype=dtype))
        return pt.cast(draw < retain, dtype) / retain

    def _dropout(self, weights):
        return weights * self._keep(weights.shape, weights.dtype)


class AttentionWeightsLayer(MergeLayer):
    """The attention weights of a :class:`MultiHeadAttentionLayer`,
    ``(batch, heads, time_q, time_k)``, before attention dropout: a second
    output of that layer, for inspection and plots.

    Parameters
    ----------
    attention_layer : :class:`MultiHeadAttentionLayer`

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> x = InputLayer((None, 7, 8))
    >>> mha = MultiHeadAttentionLayer(x, num_heads=2)
    >>> AttentionWeightsLayer(mha).output_shape
    (None, 2, 7, 7)
    """

    def __init__(self, attention_layer, **kwargs):
        if not isinstance(attention_layer, MultiHeadAttentionLayer):
            raise TypeError(
                f"AttentionWeightsLayer: attention_layer must be a "
                f"MultiHeadAttentionLayer, got {type(attention_layer).__name__}.")
        super().__init__(attention_layer.input_layers, **kwargs)
        self.attention_layer = attention_layer

    def get_params(self, unwrap_shared=True, **tags):
        # the weights are computed with the attention layer's projections
        return self.attention_layer.get_params(unwrap_shared, **tags)

    def get_output_shape_for(self, input_shapes):
        layer = self.attention_layer
        q_shape = input_shapes[0]
        k_shape = (input_shapes[layer.key_incoming_index]
                   if layer.key_incoming_index is not None else q_shape)
        return (q_shape[0], layer.num_heads, q_shape[1], k_shape[1])

    def get_output_for(self, inputs, **kwargs):
        return self.attention_layer.attention_weights(inputs)
