"""A catalogue of user mistakes with the core layers and graph helpers.

Every case is refused at construction time (or when the graph helper is
called) with a ValueError or TypeError whose message names the layer (all
layers here are called 'bad'), the argument and the value received.
"""
import re
import warnings

import numpy as np
import pytensor.tensor as pt
import pytest

from lasagne.layers import (BatchNormLayer, BiasLayer, ConcatLayer, DenseLayer,
                            DimshuffleLayer, DropoutLayer, ElemwiseMergeLayer,
                            ElemwiseSumLayer, EmbeddingLayer, ExpressionLayer,
                            FlattenLayer, GaussianNoiseLayer, InputLayer,
                            InverseLayer, LocalResponseNormalization2DLayer,
                            NINLayer, NonlinearityLayer, PadLayer,
                            ParametricRectifierLayer, RandomizedRectifierLayer,
                            ReshapeLayer, ScaleLayer, SliceLayer,
                            StandardizationLayer, get_output,
                            set_all_param_values)


def inp(*shape):
    return InputLayer(shape)


def case(id, make, exc, *fragments):
    """`make()` must raise `exc` with every fragment in its message."""
    return pytest.param(make, exc, fragments, id=id)


def layer(cls):
    return f"{cls.__name__} 'bad'"


D, N = layer(DenseLayer), layer(NINLayer)

CASES = [
    # ----- InputLayer
    case("input shape not a tuple", lambda: InputLayer(5, name="bad"),
         TypeError, layer(InputLayer), "`shape`", "5"),
    case("input shape negative", lambda: InputLayer((None, -1), name="bad"),
         ValueError, layer(InputLayer), "`shape`", "(None, -1)"),
    case("input shape float", lambda: InputLayer((None, 2.5), name="bad"),
         ValueError, layer(InputLayer), "`shape`", "(None, 2.5)"),
    case("input_var wrong ndim", lambda: InputLayer(
        (None, 3), input_var=pt.tensor3("x"), name="bad"),
         ValueError, layer(InputLayer), "`input_var`", "has 3"),
    # ----- any layer built on a shape
    case("zero input dimension", lambda: DenseLayer((None, 0), 3, name="bad"),
         ValueError, D, "input_shape", "(None, 0)"),
    # ----- DenseLayer
    case("dense negative units", lambda: DenseLayer(inp(None, 4), -3,
                                                    name="bad"),
         ValueError, D, "`num_units`", "-3"),
    case("dense zero units", lambda: DenseLayer(inp(None, 4), 0, name="bad"),
         ValueError, D, "`num_units`", "got 0"),
    case("dense float units", lambda: DenseLayer(inp(None, 4), 2.5,
                                                 name="bad"),
         ValueError, D, "`num_units`", "2.5"),
    case("dense string units", lambda: DenseLayer(inp(None, 4), "10",
                                                  name="bad"),
         ValueError, D, "`num_units`", "'10'"),
    case("dense unknown trailing dim", lambda: DenseLayer(
        inp(None, None), 3, name="bad"),
         ValueError, D, "num_leading_axes", "(None, None)"),
    case("dense num_leading_axes too large", lambda: DenseLayer(
        inp(None, 4), 3, num_leading_axes=2, name="bad"),
         ValueError, D, "`num_leading_axes`", "is 2"),
    case("dense nonlinearity string", lambda: DenseLayer(
        inp(None, 4), 3, nonlinearity="relu", name="bad"),
         TypeError, D, "`nonlinearity`", "'relu'"),
    case("dense W wrong shape", lambda: DenseLayer(
        inp(None, 4), 3, W=np.ones((4, 4)), name="bad"),
         ValueError, D, "bad.W", "(4, 4)", "(4, 3)"),
    case("dense b wrong shape", lambda: DenseLayer(
        inp(None, 4), 3, b=np.ones(4), name="bad"),
         ValueError, D, "bad.b", "(4,)", "(3,)"),
    # TypeError, as Lasagne 0.2 raises for a spec of no accepted kind (the
    # error is a RuntimeError too, as Lasagne 0.1 raised)
    case("dense W string", lambda: DenseLayer(
        inp(None, 4), 3, W="glorot", name="bad"),
         TypeError, D, "bad.W", "'glorot'"),
    case("dense W string (0.1 type)", lambda: DenseLayer(
        inp(None, 4), 3, W="glorot", name="bad"),
         RuntimeError, D, "bad.W", "'glorot'"),
    case("dense W initializer returns wrong shape", lambda: DenseLayer(
        inp(None, 4), 3, W=lambda shape: np.ones(5), name="bad"),
         ValueError, D, "bad.W", "(5,)"),
    # ----- NINLayer
    case("nin unknown channels", lambda: NINLayer(inp(None, None, 5), 3,
                                                  name="bad"),
         ValueError, N, "channels", "(None, None, 5)"),
    case("nin negative units", lambda: NINLayer(inp(None, 2, 5), -1,
                                                name="bad"),
         ValueError, N, "`num_units`", "-1"),
    case("nin untied biases unknown size", lambda: NINLayer(
        inp(None, 2, None), 3, untie_biases=True, name="bad"),
         ValueError, N, "untie_biases", "(None, 2, None)"),
    case("nin nonlinearity string", lambda: NINLayer(
        inp(None, 2, 5), 3, nonlinearity="tanh", name="bad"),
         TypeError, N, "`nonlinearity`", "'tanh'"),
    # ----- shape layers
    case("flatten outdim zero", lambda: FlattenLayer(inp(None, 2, 3), 0,
                                                     name="bad"),
         ValueError, layer(FlattenLayer), "`outdim`", "0"),
    case("reshape two -1", lambda: ReshapeLayer(inp(None, 6), (-1, -1),
                                                name="bad"),
         ValueError, layer(ReshapeLayer), "`shape`", "(-1, -1)"),
    case("reshape bad entry", lambda: ReshapeLayer(inp(None, 6), (2, "a"),
                                                   name="bad"),
         ValueError, layer(ReshapeLayer), "`shape`", "'a'"),
    case("reshape reference out of range", lambda: ReshapeLayer(
        inp(None, 6), ([0], [5]), name="bad"),
         ValueError, layer(ReshapeLayer), "`shape`", "[5]"),
    case("reshape size mismatch", lambda: ReshapeLayer(inp(2, 6), (5, 2),
                                                       name="bad"),
         ValueError, layer(ReshapeLayer), "`shape`", "(5, 2)", "(2, 6)"),
    case("dimshuffle repeated axis", lambda: DimshuffleLayer(
        inp(None, 3), (0, 0), name="bad"),
         ValueError, layer(DimshuffleLayer), "`pattern`", "(0, 0)"),
    case("dimshuffle axis out of range", lambda: DimshuffleLayer(
        inp(None, 3), (0, 2), name="bad"),
         ValueError, layer(DimshuffleLayer), "`pattern`", "(0, 2)"),
    case("dimshuffle drops a non-broadcastable axis", lambda: DimshuffleLayer(
        inp(None, 3), (0,), name="bad"),
         ValueError, layer(DimshuffleLayer), "`pattern`", "(0,)"),
    case("pad negative width", lambda: PadLayer(inp(None, 3, 4), -1,
                                                name="bad"),
         ValueError, layer(PadLayer), "`width`", "-1"),
    case("pad too many widths", lambda: PadLayer(
        inp(None, 3, 4), [1, 1, 1], name="bad"),
         ValueError, layer(PadLayer), "`width`", "[1, 1, 1]"),
    case("slice axis out of range", lambda: SliceLayer(
        inp(None, 3), 0, axis=4, name="bad"),
         ValueError, layer(SliceLayer), "`axis`", "4"),
    case("slice float index", lambda: SliceLayer(inp(None, 3), 1.5,
                                                 name="bad"),
         TypeError, layer(SliceLayer), "`indices`", "1.5"),
    # ----- merge layers
    case("concat incompatible shapes", lambda: ConcatLayer(
        [inp(None, 3, 4), inp(None, 3, 5)], axis=1, name="bad"),
         ValueError, layer(ConcatLayer), "(None, 3, 4)", "(None, 3, 5)"),
    case("concat axis out of range", lambda: ConcatLayer(
        [inp(None, 3), inp(None, 3)], axis=2, name="bad"),
         ValueError, layer(ConcatLayer), "`axis`", "2"),
    case("concat bad cropping mode", lambda: ConcatLayer(
        [inp(None, 3), inp(None, 4)], cropping=[None, "middle"], name="bad"),
         ValueError, layer(ConcatLayer), "cropping", "'middle'"),
    case("sum incompatible shapes", lambda: ElemwiseSumLayer(
        [inp(None, 3), inp(None, 4)], name="bad"),
         ValueError, layer(ElemwiseSumLayer), "(None, 3)", "(None, 4)"),
    case("sum ndim mismatch", lambda: ElemwiseSumLayer(
        [inp(None, 3), inp(None, 3, 1)], name="bad"),
         ValueError, layer(ElemwiseSumLayer), "(None, 3)", "(None, 3, 1)"),
    case("sum coeffs wrong length", lambda: ElemwiseSumLayer(
        [inp(None, 3), inp(None, 3)], coeffs=[1, 2, 3], name="bad"),
         ValueError, layer(ElemwiseSumLayer), "`coeffs`", "[1, 2, 3]"),
    case("merge function string", lambda: ElemwiseMergeLayer(
        [inp(None, 3), inp(None, 3)], "max", name="bad"),
         TypeError, layer(ElemwiseMergeLayer), "`merge_function`", "'max'"),
    case("merge of a single layer", lambda: ConcatLayer(inp(None, 3),
                                                        name="bad"),
         TypeError, layer(ConcatLayer), "`incomings`", "<InputLayer>"),
    # ----- noise layers
    case("dropout p = 1", lambda: DropoutLayer(inp(None, 3), p=1.0,
                                               name="bad"),
         ValueError, layer(DropoutLayer), "`p`", "1.0"),
    case("dropout negative p", lambda: DropoutLayer(inp(None, 3), p=-0.1,
                                                    name="bad"),
         ValueError, layer(DropoutLayer), "`p`", "-0.1"),
    case("dropout shared_axes out of range", lambda: DropoutLayer(
        inp(None, 3), shared_axes=(5,), name="bad"),
         ValueError, layer(DropoutLayer), "`shared_axes`", "(5,)"),
    case("dropout shared_axes string", lambda: DropoutLayer(
        inp(None, 3), shared_axes="all", name="bad"),
         ValueError, layer(DropoutLayer), "`shared_axes`", "'all'"),
    case("gaussian noise negative sigma", lambda: GaussianNoiseLayer(
        inp(None, 3), sigma=-1.0, name="bad"),
         ValueError, layer(GaussianNoiseLayer), "`sigma`", "-1.0"),
    # ----- special layers
    case("nonlinearity layer string", lambda: NonlinearityLayer(
        inp(None, 3), "relu", name="bad"),
         TypeError, layer(NonlinearityLayer), "`nonlinearity`", "'relu'"),
    case("bias bad shared_axes string", lambda: BiasLayer(
        inp(None, 3), shared_axes="none", name="bad"),
         ValueError, layer(BiasLayer), "`shared_axes`", "'none'"),
    case("bias shared_axes out of range", lambda: BiasLayer(
        inp(None, 3), shared_axes=(7,), name="bad"),
         ValueError, layer(BiasLayer), "`shared_axes`", "(7,)"),
    case("bias wrong shape", lambda: BiasLayer(
        inp(None, 3), b=np.zeros(4), name="bad"),
         ValueError, layer(BiasLayer), "bad.b", "(4,)", "(3,)"),
    case("scale wrong shape", lambda: ScaleLayer(
        inp(None, 3, 5), scales=np.ones((3, 5)), name="bad"),
         ValueError, layer(ScaleLayer), "bad.scales", "(3, 5)", "(3,)"),
    case("expression function not callable", lambda: ExpressionLayer(
        inp(None, 3), "x * 2", name="bad"),
         TypeError, layer(ExpressionLayer), "`function`", "'x * 2'"),
    case("expression bad output_shape", lambda: ExpressionLayer(
        inp(None, 3), lambda x: x, output_shape="same", name="bad"),
         ValueError, layer(ExpressionLayer), "`output_shape`", "'same'"),
    case("inverse of an input layer", lambda: InverseLayer(
        inp(None, 3), InputLayer((None, 3), name="other"), name="bad"),
         ValueError, layer(InverseLayer), "`layer`", "<InputLayer 'other'>"),
    case("prelu bad shared_axes", lambda: ParametricRectifierLayer(
        inp(None, 3), shared_axes=(0, 9), name="bad"),
         ValueError, layer(ParametricRectifierLayer), "`shared_axes`",
         "(0, 9)"),
    case("rrelu lower above upper", lambda: RandomizedRectifierLayer(
        inp(None, 3), lower=0.9, upper=0.1, name="bad"),
         ValueError, layer(RandomizedRectifierLayer), "`lower`", "0.9",
         "`upper`", "0.1"),
    # ----- normalization layers
    case("lrn on 2-d input", lambda: LocalResponseNormalization2DLayer(
        inp(None, 3), name="bad"),
         ValueError, layer(LocalResponseNormalization2DLayer), "(None, 3)"),
    case("lrn even n", lambda: LocalResponseNormalization2DLayer(
        inp(None, 3, 4, 4), n=4, name="bad"),
         ValueError, layer(LocalResponseNormalization2DLayer), "`n`", "4"),
    case("batchnorm axes out of range", lambda: BatchNormLayer(
        inp(None, 3), axes=(0, 3), name="bad"),
         ValueError, layer(BatchNormLayer), "`axes`", "(0, 3)"),
    case("batchnorm axes string", lambda: BatchNormLayer(
        inp(None, 3), axes="batch", name="bad"),
         ValueError, layer(BatchNormLayer), "`axes`", "'batch'"),
    case("batchnorm beta wrong shape", lambda: BatchNormLayer(
        inp(None, 3), beta=np.zeros(4), name="bad"),
         ValueError, layer(BatchNormLayer), "bad.beta", "(4,)", "(3,)"),
    case("standardization axes out of range", lambda: StandardizationLayer(
        inp(None, 3, 4), axes=(5,), name="bad"),
         ValueError, layer(StandardizationLayer), "`axes`", "(5,)"),
    # ----- EmbeddingLayer
    case("embedding zero input_size", lambda: EmbeddingLayer(
        inp(None, 5), input_size=0, output_size=3, name="bad"),
         ValueError, layer(EmbeddingLayer), "`input_size`", "0"),
    case("embedding negative output_size", lambda: EmbeddingLayer(
        inp(None, 5), input_size=10, output_size=-2, name="bad"),
         ValueError, layer(EmbeddingLayer), "`output_size`", "-2"),
    case("embedding W wrong shape", lambda: EmbeddingLayer(
        inp(None, 5), input_size=10, output_size=3, W=np.ones((3, 10)),
        name="bad"),
         ValueError, layer(EmbeddingLayer), "bad.W", "(3, 10)", "(10, 3)"),
]


@pytest.mark.parametrize("make, exc, fragments", CASES)
def test_refused_with_a_clear_message(make, exc, fragments):
    with pytest.raises((ValueError, TypeError, RuntimeError)) as info:
        make()
    # Lasagne's type, or a subclass of both Lasagne's and ours
    assert isinstance(info.value, exc), f"{type(info.value).__name__}: {info.value}"
    message = str(info.value)
    missing = [f for f in fragments if f not in message]
    assert not missing, f"{missing} not in: {message}"


# ----- graph helpers


def test_get_output_dict_naming_a_foreign_layer():
    l_in = InputLayer((None, 3), name="in")
    out = DenseLayer(l_in, 2, name="out")
    stranger = InputLayer((None, 3), name="stranger")
    with pytest.raises(ValueError, match=re.escape(
            "the `inputs` dict maps <InputLayer 'stranger'>, which is not "
            "part of the graph")):
        get_output(out, {stranger: pt.matrix()})


def test_get_output_dict_key_not_a_layer():
    out = DenseLayer(InputLayer((None, 3), name="in"), 2)
    with pytest.raises(TypeError, match=re.escape(
            "the keys of the `inputs` dict must be Layer instances, got 'in' "
            "of type str")):
        get_output(out, {"in": pt.matrix()})


def test_get_output_single_input_for_several_input_layers():
    merged = ConcatLayer([InputLayer((None, 3), name="a"),
                          InputLayer((None, 3), name="b")])
    with pytest.raises(ValueError, match=re.escape(
            "the graph has 2 input layers (<InputLayer 'a'>, "
            "<InputLayer 'b'>), so `inputs` must be a dict")):
        get_output(merged, pt.matrix())


def test_get_output_unused_kwarg_warns_with_close_match():
    out = DropoutLayer(InputLayer((None, 3)))
    with pytest.warns(UserWarning, match=re.escape(
            "unused keyword argument 'determinstic'. Did you mean "
            "'deterministic'?")):
        get_output(out, determinstic=True)


def test_get_output_unused_kwarg_without_close_match():
    out = DenseLayer(InputLayer((None, 3)), 2)
    with pytest.warns(UserWarning, match="unused keyword argument 'colour'. "
                                         "No layer of this graph accepts it"):
        get_output(out, colour="red")


def test_get_output_deterministic_never_warns():
    out = DenseLayer(InputLayer((None, 3)), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_output(out, deterministic=True)


def test_set_all_param_values_wrong_count_and_shape():
    out = DenseLayer(InputLayer((None, 3)), 2, name="fc")
    with pytest.raises(ValueError, match="got 1 values for 2 parameters"):
        set_all_param_values(out, [np.ones((3, 2))])
    with pytest.raises(ValueError, match=re.escape(
            "value of shape (2, 3) does not fit parameter fc.W of shape "
            "(3, 2)")):
        set_all_param_values(out, [np.ones((2, 3)), np.ones(2)])


def test_catalogue_size():
    # a guard against cases being dropped unnoticed
    assert len(CASES) == 65


def test_string_nonlinearity_suggests_the_function():
    with pytest.raises(TypeError, match=re.escape(
            "got 'rectify'. Did you mean lasagne.nonlinearities.rectify?")):
        DenseLayer(InputLayer((None, 4)), 3, nonlinearity="rectify")
