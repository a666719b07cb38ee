"""The Transformer encoder block as a macro of existing layers, the way
:func:`batch_norm` is one: every piece (attention, dropout, residual sum,
layer normalization, feed-forward) stays a visible layer of the graph."""
from .. import nonlinearities
from .attention import MultiHeadAttentionLayer
from .dense import DenseLayer
from .merge import ElemwiseSumLayer
from .noise import DropoutLayer
from .sequence import LayerNormLayer

__all__ = ["transformer_encoder"]


def transformer_encoder(incoming, num_heads, ff_units, mask_input=None,
                        causal=False, dropout=0.1, attention_dropout=0.0,
                        norm="post", nonlinearity=nonlinearities.gelu,
                        epsilon=1e-5, fused_attention=True, name=None):
    """One Transformer encoder block (Vaswani et al., 2017) on a sequence
    ``(batch, time, features)``, built from layers.

    With ``norm='post'`` (the original, PyTorch's default)::

        h = LayerNorm(x + Dropout(SelfAttention(x)))
        y = LayerNorm(h + Dropout(Dense(Dropout(Dense(h, ff_units, f)), d)))

    with ``norm='pre'`` (GPT-2 and most models since; trains without a
    warm-up more easily)::

        h = x + Dropout(SelfAttention(LayerNorm(x)))
        y = h + Dropout(Dense(Dropout(Dense(LayerNorm(h), ff_units, f)), d))

    Parameters
    ----------
    incoming : a :class:`Layer`
        ``(batch, time, d)`` with ``d`` known.
    num_heads : int
    ff_units : int
        Width of the feed-forward hidden layer (typically ``4 * d``).
    mask_input : a :class:`Layer`, optional
        Key-padding mask ``(batch, time)``.
    causal : bool
        Causal self-attention (a decoder-only language model).
    dropout : float
        On the attention output, the feed-forward hidden layer and its
        output (not with ``deterministic=True``).
    attention_dropout : float
        On the attention weights.
    norm : {'post', 'pre'}
    nonlinearity : callable
        Of the feed-forward hidden layer.
    epsilon : float
        Of the layer normalizations.
    fused_attention : bool
        The attention layer's `fused` option (one fused attention node
        instead of a graph of matrix products and a softmax).
    name : str, optional
        Prefix of the layer names (``name + '_attention'``, ...), which
        also name the parameters.

    Returns
    -------
    Layer
        The block's output layer, ``(batch, time, d)``.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, get_all_layers
    >>> x = InputLayer((None, 16, 32))
    >>> block = transformer_encoder(x, num_heads=4, ff_units=64, name="enc1")
    >>> block.output_shape
    (None, 16, 32)
    >>> [l.name for l in get_all_layers(block)][1:3]
    ['enc1_attention', 'enc1_attention_dropout']
    """
    if norm not in ("post", "pre"):
        raise ValueError(f"transformer_encoder: norm={norm!r}; use 'post' "
                         f"or 'pre'.")
    size = incoming.output_shape[-1]

    def named(suffix):
        return name and f"{name}_{suffix}"

    def sublayer(x, build, label):
        """The residual connection around `build`, normalized as `norm`
        says."""
        inner = LayerNormLayer(x, epsilon, name=named(f"{label}_norm")) \
            if norm == "pre" else x
        out = DropoutLayer(build(inner), p=dropout,
                           name=named(f"{label}_dropout"))
        out = ElemwiseSumLayer([x, out], name=named(f"{label}_residual"))
        if norm == "post":
            out = LayerNormLayer(out, epsilon, name=named(f"{label}_norm"))
        return out

    def attention(x):
        return MultiHeadAttentionLayer(
            x, num_heads, mask_input=mask_input, causal=causal,
            dropout=attention_dropout, fused=fused_attention,
            name=named("attention"))

    def feed_forward(x):
        hidden = DenseLayer(x, ff_units, nonlinearity=nonlinearity,
                            num_leading_axes=2, name=named("ff_hidden"))
        hidden = DropoutLayer(hidden, p=dropout, name=named("ff_hidden_dropout"))
        return DenseLayer(hidden, size, nonlinearity=None, num_leading_axes=2,
                          name=named("ff_output"))

    return sublayer(sublayer(incoming, attention, "attention"),
                    feed_forward, "ff")
