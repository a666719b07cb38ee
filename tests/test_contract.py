"""Every layer class the package exports goes through one contract check.

:data:`REGISTRY` maps each layer class to a :class:`Case`: a small example
instance (built once with a fixed batch size and once with ``None``), its
input arrays, and what the contract expects of it (parameter count and
tags, how its gradient is checked). ``test_every_layer_class_is_covered``
walks ``lasagne.layers`` and its drop-in modules, so a new layer class fails
the suite until it has an entry here.

Backend parity compiles the outputs of all cases into one function per
backend (three compilations for the whole registry instead of three per
layer): see ``tests/test_contract_backends.py``.
"""
import dataclasses
import importlib
import inspect
import pkgutil
from typing import Callable

import numpy as np
import pytensor.tensor as pt
import pytest

import lasagne.layers as L
import lasagne.layers.corrmm as corrmm
import lasagne.layers.cuda_convnet as cc
import lasagne.layers.dnn as dnn
import lasagne.layers.recurrent_container as rc
from lasagne import init, nonlinearities
from tests.helpers import check_contract, random_array

#: Drop-in modules not star-imported by ``lasagne.layers``.
EXTRA_MODULES = ("lasagne.layers.dnn", "lasagne.layers.corrmm",
                 "lasagne.layers.cuda_convnet")

#: Classes that are not layers one can build, each with the reason.
EXCLUDED = {
    L.Layer: "abstract base: get_output_for raises NotImplementedError",
    L.MergeLayer: "abstract base of the multi-input layers",
    L.conv.BaseConvLayer: "abstract base of the convolutions: no convolve()",
}

T, R = "trainable", "regularizable"
N = 2           # the fixed batch size


@dataclasses.dataclass
class Case:
    """How to build a layer and what its contract expects.

    `build(batch)` returns ``(layer, input_values)``; `batch` is N or None
    (the InputLayers' batch size; the arrays always have N rows).
    """
    build: Callable
    n_params: int = 0
    tags: dict = dataclasses.field(default_factory=dict)
    grad: str = "inputs"
    constant_inputs: tuple = ()


def x(*shape, seed=0, name=None):
    """An InputLayer of `shape` (first entry the batch size, maybe None) and
    its floatX value with N rows."""
    layer = L.InputLayer(shape, name=name)
    return layer, random_array((N,) + tuple(shape[1:]), seed=seed)


def single(make, *shape, seed=0):
    """A Case builder for a one-input layer: `make(input_layer)`."""
    def build(batch):
        l_in, v = x(batch, *shape, seed=seed)
        return make(l_in), {l_in: v}
    return build


def multi(make, *shapes):
    """A Case builder for a layer on several inputs: `make(*input_layers)`."""
    def build(batch):
        ins = [x(batch, *s, seed=i) for i, s in enumerate(shapes)]
        return make(*[l for l, _ in ins]), dict(ins)
    return build


def double_plus(v):                    # module-level: pickles
    return 2 * v + 1


def sum_of_products(a, b):
    return (a * b).sum(axis=1)


def norm_pool(v, axis):
    return pt.sqrt((v ** 2).sum(axis=axis) + 1e-3)


def dense_params(name, n_in, n_out, bias=True):
    return n_in * n_out + (n_out if bias else 0), {
        f"{name}.W": {T, R}, **({f"{name}.b": {T}} if bias else {})}


def _transformer(batch):
    l_in, v = x(batch, 2, 5, 6)
    loc = L.DenseLayer(l_in, 6, W=init.Normal(0.01), nonlinearity=None,
                       b=np.array([1.0, 0.1, 0.0, -0.1, 0.9, 0.0]), name="loc")
    return L.TransformerLayer(l_in, loc, name="st"), {l_in: v}


def _tps(batch):
    l_in, v = x(batch, 2, 5, 6)
    grid = np.array([[-1, -1, 1, 1], [-1, 1, -1, 1]], dtype=float)
    loc = L.DenseLayer(l_in, 8, W=init.Normal(0.01), nonlinearity=None,
                       b=grid.ravel() * 0.9, name="loc")
    return L.TPSTransformerLayer(l_in, loc, control_points=4, name="tps"), {l_in: v}


def _inverse(batch):
    l_in, v = x(batch, 4)
    dense = L.DenseLayer(l_in, 3, nonlinearity=nonlinearities.tanh, name="d")
    return L.InverseLayer(dense, dense), {l_in: v}


def _embedding(batch):
    l_in = L.InputLayer((batch, 3), input_var=pt.imatrix("idx"))
    idx = np.array([[0, 4, 2], [1, 1, 3]], dtype=np.int32)
    return L.EmbeddingLayer(l_in, 5, 3, name="emb"), {l_in: idx}


def _custom_recurrent(batch):
    l_in, v = x(batch, 3, 4)
    in_to_hid = L.DenseLayer(L.InputLayer((None, 4)), 5, name="i2h")
    hid_to_hid = L.DenseLayer(L.InputLayer((None, 5)), 5, name="h2h",
                              W=init.Normal(0.3))
    return L.CustomRecurrentLayer(l_in, in_to_hid, hid_to_hid,
                                  nonlinearity=nonlinearities.tanh,
                                  name="rnn"), {l_in: v}


def _masked(make):
    """A recurrent layer on (N, 3, 4) sequences with a mask (held constant
    in the gradient check: it only selects steps)."""
    def build(batch):
        l_in, v = x(batch, 3, 4)
        l_mask = L.InputLayer((batch, 3), name="mask")
        mask = np.array([[1, 1, 1], [1, 1, 0]], dtype=l_in.input_var.dtype)
        return make(l_in, l_mask), {l_in: v, l_mask: mask}
    return build


def recurrent_params(name, gates, n_in, n_units, extra=()):
    """Counts and tags of a gated layer's parameters."""
    count, tags = 0, {}
    for g in gates:
        tags.update({f"{name}.W_in_to_{g}": {T, R},
                     f"{name}.W_hid_to_{g}": {T, R}, f"{name}.b_{g}": {T}})
        count += n_in * n_units + n_units * n_units + n_units
    for p in extra:
        tags[f"{name}.{p}"] = {T, R}
        count += n_units
    return count, tags


def _case(counted, **kwargs):
    n, tags = counted
    return dict(n_params=n, tags=tags, **kwargs)


REGISTRY = {
    # ----- input, dense, embedding
    L.InputLayer: Case(lambda batch: (lambda l: (l, {l: random_array((N, 3))}))(
        L.InputLayer((batch, 3)))),
    L.DenseLayer: Case(single(lambda l: L.DenseLayer(
        l, 3, nonlinearity=nonlinearities.tanh, name="d"), 2, 4),
        **_case(dense_params("d", 8, 3))),
    L.NINLayer: Case(single(lambda l: L.NINLayer(
        l, 3, untie_biases=True, nonlinearity=nonlinearities.tanh, name="n"),
        2, 3, 2), n_params=2 * 3 + 3 * 3 * 2,
        tags={"n.W": {T, R}, "n.b": {T}}),
    L.EmbeddingLayer: Case(_embedding, n_params=15, tags={"emb.W": {T, R}},
                           grad="params"),
    # ----- noise (identity when deterministic)
    L.DropoutLayer: Case(single(lambda l: L.DropoutLayer(l, 0.3), 3, 2)),
    L.GaussianNoiseLayer: Case(single(lambda l: L.GaussianNoiseLayer(l), 3, 2)),
    # ----- shape
    L.FlattenLayer: Case(single(lambda l: L.FlattenLayer(l), 2, 3, 2)),
    L.ReshapeLayer: Case(single(lambda l: L.ReshapeLayer(l, ([0], -1, 2)), 2, 3, 2)),
    L.DimshuffleLayer: Case(single(lambda l: L.DimshuffleLayer(l, (2, 'x', 0, 1)), 3, 2)),
    L.PadLayer: Case(single(lambda l: L.PadLayer(l, (1, (0, 2)), val=0.5), 2, 3, 2)),
    L.SliceLayer: Case(single(lambda l: L.SliceLayer(l, slice(1, None, 2), axis=1), 5, 2)),
    # ----- merge
    L.ConcatLayer: Case(multi(lambda a, b: L.ConcatLayer(
        [a, b], axis=1, cropping=[None, None, 'center']), (2, 5), (3, 4))),
    L.ElemwiseMergeLayer: Case(multi(lambda a, b: L.ElemwiseMergeLayer(
        [a, b], pt.mul, cropping=[None, None, 'lower']), (3, 4), (3, 5))),
    L.ElemwiseSumLayer: Case(multi(lambda a, b: L.ElemwiseSumLayer(
        [a, b], coeffs=[0.5, -2.0], cropping=[None, 'upper']), (3, 4), (4, 4))),
    L.ExpressionMergeLayer: Case(multi(lambda a, b: L.ExpressionMergeLayer(
        [a, b], sum_of_products, output_shape='auto'), (4,), (4,))),
    # ----- normalization
    L.BatchNormLayer: Case(single(lambda l: L.BatchNormLayer(
        l, mean=init.Uniform((-.5, .5)), inv_std=init.Uniform((0.5, 2)),
        beta=init.Uniform(), gamma=init.Uniform((0.5, 2)), name="bn"), 3, 2),
        n_params=12, tags={"bn.beta": {T}, "bn.gamma": {T, R}, "bn.mean": set(),
                           "bn.inv_std": set()}),
    L.LocalResponseNormalization2DLayer: Case(single(
        lambda l: L.LocalResponseNormalization2DLayer(l, alpha=0.3, n=3),
        4, 2, 2)),
    L.StandardizationLayer: Case(single(lambda l: L.StandardizationLayer(l), 3, 4)),
    # ----- special
    L.NonlinearityLayer: Case(single(lambda l: L.NonlinearityLayer(
        l, nonlinearities.softplus), 3)),
    L.BiasLayer: Case(single(lambda l: L.BiasLayer(l, name="bias"), 3, 2),
                      n_params=3, tags={"bias.b": {T}}),
    L.ScaleLayer: Case(single(lambda l: L.ScaleLayer(l, name="scale"), 3, 2),
                       n_params=3, tags={"scale.scales": {T}}),
    L.ExpressionLayer: Case(single(lambda l: L.ExpressionLayer(l, double_plus), 3)),
    L.InverseLayer: Case(_inverse, **_case(dense_params("d", 4, 3))),
    L.TransformerLayer: Case(_transformer, **_case(dense_params("loc", 60, 6))),
    L.TPSTransformerLayer: Case(_tps, **_case(dense_params("loc", 60, 8))),
    L.ParametricRectifierLayer: Case(single(lambda l: L.ParametricRectifierLayer(
        l, name="prelu"), 3, 2), n_params=3, tags={"prelu.alpha": {T}}),
    L.RandomizedRectifierLayer: Case(single(
        lambda l: L.RandomizedRectifierLayer(l), 3, 2)),
    # ----- pooling and upscaling
    L.Pool1DLayer: Case(single(lambda l: L.Pool1DLayer(
        l, 3, stride=2, pad=1, mode='average_exc_pad'), 2, 7)),
    L.Pool2DLayer: Case(single(lambda l: L.Pool2DLayer(
        l, (2, 3), stride=(2, 1), ignore_border=False, mode='average_inc_pad'), 2, 5, 4)),
    L.Pool3DLayer: Case(single(lambda l: L.Pool3DLayer(
        l, 2, mode='average_inc_pad'), 1, 4, 3, 4)),
    L.MaxPool1DLayer: Case(single(lambda l: L.MaxPool1DLayer(l, 2), 2, 5)),
    L.MaxPool2DLayer: Case(single(lambda l: L.MaxPool2DLayer(
        l, 2, stride=1, pad=1), 2, 3, 4)),
    L.MaxPool3DLayer: Case(single(lambda l: L.MaxPool3DLayer(l, (1, 2, 2)), 1, 2, 4, 3)),
    L.Upscale1DLayer: Case(single(lambda l: L.Upscale1DLayer(l, 2), 2, 3)),
    L.Upscale2DLayer: Case(single(lambda l: L.Upscale2DLayer(
        l, (2, 3), mode='dilate'), 2, 2, 3)),
    L.Upscale3DLayer: Case(single(lambda l: L.Upscale3DLayer(l, (1, 2, 1)), 1, 2, 2, 2)),
    L.FeaturePoolLayer: Case(single(lambda l: L.FeaturePoolLayer(
        l, 2, pool_function=norm_pool), 4, 3)),
    L.FeatureWTALayer: Case(single(lambda l: L.FeatureWTALayer(l, 2), 4, 3)),
    L.GlobalPoolLayer: Case(single(lambda l: L.GlobalPoolLayer(l), 3, 2, 2)),
    L.SpatialPyramidPoolingLayer: Case(single(lambda l: L.SpatialPyramidPoolingLayer(
        l, [2, 1]), 2, 5, 4)),
    # ----- recurrent
    L.CustomRecurrentLayer: Case(_custom_recurrent, n_params=4 * 5 + 5 + 5 * 5 + 5 + 5,
                                 tags={"i2h.W": {T, R}, "i2h.b": {T}, "h2h.W": {T, R},
                                       "h2h.b": {T}, "rnn.hid_init": set()}),
    L.RecurrentLayer: Case(_masked(lambda l, m: L.RecurrentLayer(
        l, 3, mask_input=m, nonlinearity=nonlinearities.tanh, learn_init=True,
        W_hid_to_hid=init.Normal(0.3), name="r")),
        n_params=4 * 3 + 3 + 3 * 3 + 3, constant_inputs=("mask",),
        tags={"r.input_to_hidden.W": {T, R}, "r.input_to_hidden.b": {T},
              "r.hidden_to_hidden.W": {T, R}, "r.hid_init": {T}}),
    L.LSTMLayer: Case(_masked(lambda l, m: L.LSTMLayer(
        l, 2, mask_input=m, backwards=True, name="lstm")),
        constant_inputs=("mask",), **_case(recurrent_params(
            "lstm", ("ingate", "forgetgate", "cell", "outgate"), 4, 2,
            extra=("W_cell_to_ingate", "W_cell_to_forgetgate",
                   "W_cell_to_outgate")))),
    L.GRULayer: Case(_masked(lambda l, m: L.GRULayer(
        l, 2, mask_input=m, only_return_final=True, name="gru")),
        constant_inputs=("mask",), **_case(recurrent_params(
            "gru", ("resetgate", "updategate", "hidden_update"), 4, 2))),
}


def _c01b(make, channels, rows, cols):
    """A Case builder for a layer on a c01b input (batch last)."""
    def build(batch):
        l_in = L.InputLayer((channels, rows, cols, batch))
        return make(l_in), {l_in: random_array((channels, rows, cols, N))}
    return build


def conv_params(name, w_size, b_size):
    return w_size + b_size, {f"{name}.W": {T, R}, f"{name}.b": {T}}


tanh = nonlinearities.tanh
REGISTRY.update({
    # ----- convolutions
    L.Conv1DLayer: Case(single(lambda l: L.Conv1DLayer(
        l, 3, 3, stride=2, pad=1, nonlinearity=tanh, name="c"), 2, 7),
        **_case(conv_params("c", 3 * 2 * 3, 3))),
    L.Conv2DLayer: Case(single(lambda l: L.Conv2DLayer(
        l, 3, (3, 2), pad="full", untie_biases=True, nonlinearity=tanh,
        name="c"), 2, 5, 4), **_case(conv_params("c", 3 * 2 * 3 * 2, 3 * 7 * 5))),
    L.Conv3DLayer: Case(single(lambda l: L.Conv3DLayer(
        l, 2, 2, stride=(1, 2, 1), pad="same", nonlinearity=tanh, name="c"),
        1, 3, 4, 3), **_case(conv_params("c", 2 * 8, 2))),
    L.DilatedConv2DLayer: Case(single(lambda l: L.DilatedConv2DLayer(
        l, 2, 2, dilation=(2, 1), nonlinearity=tanh, name="c"), 2, 6, 5),
        **_case(conv_params("c", 2 * 2 * 2 * 2, 2))),
    L.TransposedConv2DLayer: Case(single(lambda l: L.TransposedConv2DLayer(
        l, 3, 3, stride=2, crop=1, nonlinearity=tanh, name="c"), 2, 3, 3),
        **_case(conv_params("c", 2 * 3 * 9, 3))),
    L.TransposedConv3DLayer: Case(single(lambda l: L.TransposedConv3DLayer(
        l, 2, 2, stride=2, nonlinearity=tanh, name="c"), 2, 2, 2, 2),
        **_case(conv_params("c", 2 * 2 * 8, 2))),
    L.LocallyConnected2DLayer: Case(single(lambda l: L.LocallyConnected2DLayer(
        l, 2, 3, nonlinearity=tanh, name="c"), 2, 3, 3),
        **_case(conv_params("c", 2 * 2 * 9 * 9, 2))),
    corrmm.Conv2DMMLayer: Case(single(lambda l: corrmm.Conv2DMMLayer(
        l, 2, 3, pad=1, nonlinearity=tanh, name="c"), 2, 4, 4),
        **_case(conv_params("c", 2 * 2 * 9, 2))),
    # ----- dnn drop-ins
    dnn.Conv2DDNNLayer: Case(single(lambda l: dnn.Conv2DDNNLayer(
        l, 2, 3, num_groups=2, nonlinearity=tanh, name="c"), 2, 4, 4),
        **_case(conv_params("c", 2 * 1 * 9, 2))),
    dnn.Conv3DDNNLayer: Case(single(lambda l: dnn.Conv3DDNNLayer(
        l, 2, 2, nonlinearity=tanh, name="c"), 1, 3, 3, 3),
        **_case(conv_params("c", 2 * 8, 2))),
    dnn.Pool2DDNNLayer: Case(single(lambda l: dnn.Pool2DDNNLayer(
        l, 2, pad=1, mode="average_exc_pad"), 2, 3, 4)),
    dnn.MaxPool2DDNNLayer: Case(single(lambda l: dnn.MaxPool2DDNNLayer(
        l, 2, stride=1), 2, 3, 4)),
    dnn.Pool3DDNNLayer: Case(single(lambda l: dnn.Pool3DDNNLayer(
        l, 2, mode="average_inc_pad"), 1, 2, 4, 4)),
    dnn.MaxPool3DDNNLayer: Case(single(lambda l: dnn.MaxPool3DDNNLayer(
        l, (1, 2, 2)), 1, 2, 4, 3)),
    dnn.SpatialPyramidPoolingDNNLayer: Case(single(
        lambda l: dnn.SpatialPyramidPoolingDNNLayer(l, [2, 1]), 2, 5, 4)),
    dnn.BatchNormDNNLayer: Case(single(lambda l: dnn.BatchNormDNNLayer(
        l, mean=init.Uniform((-.5, .5)), inv_std=init.Uniform((0.5, 2)),
        beta=init.Uniform(), gamma=init.Uniform((0.5, 2)), name="bn"), 3, 2),
        n_params=12, tags={"bn.beta": {T}, "bn.gamma": {T, R}, "bn.mean": set(),
                           "bn.inv_std": set()}),
    # ----- cuda-convnet drop-ins (c01b layout)
    cc.Conv2DCCLayer: Case(single(lambda l: cc.Conv2DCCLayer(
        l, 16, 3, pad=1, nonlinearity=tanh, name="c"), 3, 4, 4),
        **_case(conv_params("c", 16 * 3 * 9, 16))),
    cc.MaxPool2DCCLayer: Case(single(lambda l: cc.MaxPool2DCCLayer(
        l, 3, stride=2), 2, 5, 5)),
    cc.ShuffleBC01ToC01BLayer: Case(single(
        lambda l: cc.ShuffleBC01ToC01BLayer(l), 2, 3, 4)),
    cc.ShuffleC01BToBC01Layer: Case(_c01b(
        lambda l: cc.ShuffleC01BToBC01Layer(l), 2, 3, 4)),
    cc.NINLayer_c01b: Case(_c01b(lambda l: cc.NINLayer_c01b(
        l, 4, untie_biases=True, nonlinearity=tanh, name="n"), 3, 2, 2),
        n_params=3 * 4 + 4 * 2 * 2, tags={"n.W": {T, R}, "n.b": {T}}),
})


def _container(output_index=None):
    """h_t = tanh(W [x_t, h_{t-1}] + b) and y_t = dense(h_t) over (N, 3, 3)
    sequences; the container itself, or one of its outputs."""
    def build(batch):
        l_seq, v = x(batch, 3, 3)
        x_t, h_prev = L.InputLayer((None, 3)), rc.StateLayer((None, 5), name="hp")
        h_t = L.DenseLayer(L.ConcatLayer([x_t, h_prev]), 5, name="h",
                           nonlinearity=tanh)
        y_t = L.DenseLayer(h_t, 1, name="y", nonlinearity=None)
        layer = rc.RecurrentContainerLayer({x_t: l_seq}, {h_prev: h_t},
                                           outputs=[h_t, y_t], name="rc")
        if output_index is not None:
            layer = layer.output(output_index)
        return layer, {l_seq: v}
    return build


def _bidirectional(batch):
    l_in, v = x(batch, 3, 4)
    return rc.BidirectionalLayer(L.LSTMLayer(l_in, 2, name="fw"),
                                 L.GRULayer(l_in, 2, backwards=True, name="bw"),
                                 merge="concat"), {l_in: v}


_container_params = dict(
    n_params=8 * 5 + 5 + 5 + 1 + 5,
    tags={"h.W": {T, R}, "h.b": {T}, "y.W": {T, R}, "y.b": {T}, "rc.hp_init": set()})
_lstm_n, _lstm_tags = recurrent_params(
    "fw", ("ingate", "forgetgate", "cell", "outgate"), 4, 2,
    extra=("W_cell_to_ingate", "W_cell_to_forgetgate", "W_cell_to_outgate"))
_gru_n, _gru_tags = recurrent_params(
    "bw", ("resetgate", "updategate", "hidden_update"), 4, 2)

REGISTRY.update({
    # ----- recurrent containers
    rc.StateLayer: Case(lambda batch: (lambda l: (l, {l: random_array((N, 3))}))(
        rc.StateLayer((batch, 3)))),
    rc.RecurrentContainerLayer: Case(_container(), **_container_params),
    rc.ContainerOutputLayer: Case(_container(1), **_container_params),
    rc.BidirectionalLayer: Case(
        _bidirectional, n_params=_lstm_n + _gru_n + 3 * 2,
        tags={**_lstm_tags, **_gru_tags, "fw.cell_init": set(),
              "fw.hid_init": set(), "bw.hid_init": set()}),
})


def _attention(weights=False):
    """Cross-attention of (N, 3, 4) queries on (N, 5, 6) keys with a
    key-padding mask (held constant in the gradient check) and the causal
    option; or its attention weights."""
    def build(batch):
        (q, vq), (k, vk) = x(batch, 3, 4, seed=0), x(batch, 5, 6, seed=1)
        l_mask = L.InputLayer((batch, 5), name="mask")
        mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=vq.dtype)
        mha = L.MultiHeadAttentionLayer(q, num_heads=2, key_input=k,
                                        mask_input=l_mask, causal=True,
                                        b_q=init.Uniform(0.5), name="mha")
        layer = L.AttentionWeightsLayer(mha) if weights else mha
        return layer, {q: vq, k: vk, l_mask: mask}
    return build


_mha_tags = {f"mha.{w}_{p}": ({T, R} if w == "W" else {T})
             for w in "Wb" for p in "qkvo"}
_mha_n = 4 * 4 + 6 * 4 + 6 * 4 + 4 * 4 + 4 * 4

REGISTRY.update({
    # ----- sequence models (Transformer parts)
    L.LayerNormLayer: Case(single(lambda l: L.LayerNormLayer(
        l, gamma=init.Uniform((0.5, 1.5)), beta=init.Uniform(0.3), name="ln"), 3, 4),
        n_params=8, tags={"ln.gamma": {T}, "ln.beta": {T}}),
    L.RMSNormLayer: Case(single(lambda l: L.RMSNormLayer(
        l, gamma=init.Uniform((0.5, 1.5)), name="rms"), 3, 4),
        n_params=4, tags={"rms.gamma": {T}}),
    L.PositionalEmbeddingLayer: Case(single(lambda l: L.PositionalEmbeddingLayer(
        l, 5, name="pos"), 3, 4), n_params=20, tags={"pos.W": {T, R}}),
    L.SinusoidalPositionalEncodingLayer: Case(single(
        lambda l: L.SinusoidalPositionalEncodingLayer(l), 3, 5)),
    L.MultiHeadAttentionLayer: Case(_attention(), n_params=_mha_n, tags=_mha_tags,
                                    constant_inputs=("mask",)),
    L.AttentionWeightsLayer: Case(_attention(True), n_params=_mha_n, tags=_mha_tags,
                                  constant_inputs=("mask",)),
    # ----- resizing, weight normalization
    L.ResizeLayer: Case(single(lambda l: L.ResizeLayer(l, (5, 3)), 2, 3, 4)),
    L.WeightNormLayer: Case(single(lambda l: L.weight_norm(L.Conv2DLayer(
        l, 3, 2, name="c"), g=init.Uniform((0.5, 1.5)), b=init.Uniform(0.5)),
        2, 4, 4), n_params=3 * 2 * 2 * 2 + 3 + 3,
        tags={"c.W": {T, R}, "c_wn.g": {T}, "c_wn.b": {T}}),
})


def _add_hidden_inits():
    """LSTM/GRU keep their (non-learned) initial states as parameters."""
    for cls, name, inits in ((L.LSTMLayer, "lstm", ("cell_init", "hid_init")),
                             (L.GRULayer, "gru", ("hid_init",))):
        case = REGISTRY[cls]
        for p in inits:
            case.tags[f"{name}.{p}"] = set()
            case.n_params += 2


_add_hidden_inits()


# ---------------------------------------------------------------- coverage

def exported_layer_classes():
    """Every Layer subclass exported by lasagne.layers (its namespace and its
    submodules' ``__all__``) and by the drop-in modules."""
    modules = [L] + [importlib.import_module(name) for name in EXTRA_MODULES]
    for info in pkgutil.iter_modules(L.__path__, "lasagne.layers."):
        modules.append(importlib.import_module(info.name))
    found = set()
    for module in modules:
        names = getattr(module, "__all__", None)
        if names is None:
            names = [n for n in vars(module) if not n.startswith("_")]
        for name in names:
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, L.Layer):
                found.add(obj)
    return sorted(found, key=lambda c: (c.__module__, c.__name__))


def test_every_layer_class_is_covered():
    classes = exported_layer_classes()
    missing = [f"{c.__module__}.{c.__name__}" for c in classes
               if c not in REGISTRY and c not in EXCLUDED]
    assert not missing, f"layer classes without a contract case: {missing}"
    stale = [c.__name__ for c in REGISTRY if c not in classes]
    assert not stale, f"registry entries for classes no longer exported: {stale}"
    covered = sum(c in REGISTRY for c in classes)
    print(f"\ncontract: {covered} exported layer classes covered, "
          f"{len(EXCLUDED)} abstract bases excluded")
    assert covered == len(REGISTRY)


# ---------------------------------------------------------------- contract

def _ids(cls):
    return cls.__name__


@pytest.mark.parametrize("cls", list(REGISTRY), ids=_ids)
def test_contract(cls):
    case = REGISTRY[cls]
    layer, values = case.build(N)
    assert type(layer) is cls
    check_contract(layer, values, unknown_batch=case.build(None),
                   n_params=case.n_params, tags=case.tags, grad=case.grad,
                   constant_inputs=case.constant_inputs, backends=False)
