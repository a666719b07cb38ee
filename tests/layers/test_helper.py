import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne.layers import (ConcatLayer, DenseLayer, DropoutLayer, InputLayer,
                            Layer, count_params, get_all_layers,
                            get_all_param_values, get_all_params, get_output,
                            get_output_shape, set_all_param_values)
from tests.helpers import compile_fn


@pytest.fixture
def diamond():
    """in -> a -> (b, c) -> concat: a graph with a shared ancestor."""
    l_in = InputLayer((None, 4), name="in")
    a = DenseLayer(l_in, 3, name="a")
    b = DenseLayer(a, 2, name="b")
    c = DenseLayer(a, 5, name="c")
    top = ConcatLayer([b, c], name="top")
    return l_in, a, b, c, top


class TestGetAllLayers:
    def test_topological_and_unique(self, diamond):
        l_in, a, b, c, top = diamond
        layers = get_all_layers(top)
        assert layers == [l_in, a, b, c, top]
        assert get_all_layers([b, c]) == [l_in, a, b, c]

    def test_treat_as_input(self, diamond):
        l_in, a, b, c, top = diamond
        assert get_all_layers(top, treat_as_input=[a]) == [a, b, c, top]
        assert get_all_layers(top, treat_as_input=[b]) == [b, l_in, a, c, top]


class TestGetOutput:
    def test_default_input_vars(self, diamond):
        l_in, a, b, c, top = diamond
        x = np.random.default_rng(0).normal(size=(6, 4))
        out = compile_fn([l_in.input_var], get_output(top))(x)
        relu = lambda v: np.maximum(v, 0)
        ha = relu(x @ a.W.get_value() + a.b.get_value())
        expected = np.concatenate([relu(ha @ b.W.get_value()), relu(ha @ c.W.get_value())], axis=1)
        np.testing.assert_allclose(out, expected, rtol=1e-10)

    def test_expression_and_array_inputs(self, diamond):
        l_in, a, *_ = diamond
        x = pt.matrix("other")
        y = get_output(a, x)
        assert l_in.input_var not in pytensor.graph.traversal.graph_inputs([y])
        value = np.ones((2, 4))
        np.testing.assert_allclose(get_output(a, value).eval(),
                                   np.maximum(value @ a.W.get_value(), 0))

    def test_dict_inputs_replace_inner_layers(self, diamond):
        l_in, a, b, c, top = diamond
        h = pt.matrix("h")
        out = get_output(b, {a: h})
        val = np.ones((2, 3))
        np.testing.assert_allclose(compile_fn([h], out)(val), np.maximum(val @ b.W.get_value(), 0))

    def test_several_layers_share_one_pass(self):
        l_in = InputLayer((None, 50))
        drop = DropoutLayer(l_in, p=0.5)
        out1, out2 = get_output([drop, drop])
        assert out1 is out2
        outs = get_output([DenseLayer(drop, 3), DenseLayer(drop, 4)])
        # one dropout mask feeds both heads
        rvs = [v for v in pytensor.graph.traversal.ancestors(outs)
               if v.owner is not None and "uniform" in str(v.owner.op)]
        assert len({v.owner for v in rvs}) == 1

    def test_dict_with_unknown_layer_is_refused(self, diamond):
        l_in, a, b, c, top = diamond
        stranger = InputLayer((None, 4), name="stranger")
        with pytest.raises(ValueError, match="stranger.*not part of the graph"):
            get_output(b, {stranger: pt.matrix()})

    def test_single_input_expression_with_two_inputs_is_refused(self):
        merged = ConcatLayer([InputLayer((None, 2)), InputLayer((None, 2))])
        with pytest.raises(ValueError, match="2 input layers.*dict"):
            get_output(merged, pt.matrix())

    def test_unused_kwarg_warns_with_suggestion(self, diamond):
        top = diamond[-1]
        with pytest.warns(UserWarning, match="'determinstic'. Did you mean 'deterministic'"):
            get_output(top, determinstic=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            get_output(top, deterministic=True)  # accepted by habit, no warning

    def test_layer_built_from_shape_needs_mapping(self):
        layer = DenseLayer((None, 3), 2)
        with pytest.raises(ValueError, match="built from an input shape"):
            get_output(layer)
        x = pt.matrix()
        assert get_output(layer, {layer: x}) is x


class TestShapesAndParams:
    def test_get_output_shape(self, diamond):
        l_in, a, b, c, top = diamond
        assert get_output_shape(top) == (None, 7)
        assert get_output_shape(top, (10, 4)) == (10, 7)
        assert get_output_shape([b, c], {l_in: (3, 4)}) == [(3, 2), (3, 5)]
        assert get_output_shape(b, {a: (8, 3)}) == (8, 2)

    def test_get_all_params_tags_and_count(self, diamond):
        l_in, a, b, c, top = diamond
        params = get_all_params(top)
        assert [p.name for p in params] == ["a.W", "a.b", "b.W", "b.b", "c.W", "c.b"]
        assert [p.name for p in get_all_params(top, regularizable=True)] == ["a.W", "b.W", "c.W"]
        assert count_params(top) == 4 * 3 + 3 + 3 * 2 + 2 + 3 * 5 + 5
        assert count_params(top, regularizable=False) == 3 + 2 + 5

    def test_tied_weights_are_counted_once(self):
        l_in = InputLayer((None, 6))
        enc = DenseLayer(l_in, 3, name="enc")
        dec = DenseLayer(enc, 6, W=enc.W.T, name="dec")
        assert [p.name for p in get_all_params(dec)] == ["enc.W", "enc.b", "dec.b"]

    def test_param_values_round_trip(self, diamond):
        top = diamond[-1]
        values = get_all_param_values(top)
        new = [np.random.default_rng(i).normal(size=v.shape) for i, v in enumerate(values)]
        set_all_param_values(top, new)
        for got, want in zip(get_all_param_values(top), new):
            np.testing.assert_array_equal(got, want)

    def test_set_values_checks_everything_first(self, diamond):
        top = diamond[-1]
        before = get_all_param_values(top)
        bad = [np.ones_like(v) for v in before]
        bad[-1] = np.ones(99)
        with pytest.raises(ValueError, match="shape \\(99,\\).*nothing was changed"):
            set_all_param_values(top, bad)
        with pytest.raises(ValueError, match="got 1 values for 6 parameters"):
            set_all_param_values(top, bad[:1])
        for got, want in zip(get_all_param_values(top), before):
            np.testing.assert_array_equal(got, want)


class Doubler:
    """Not a Layer subclass: follows the single-input layer protocol only."""

    def __init__(self, incoming):
        self.input_layer = incoming
        self.input_shape = incoming.output_shape
        self.output_shape = self.input_shape
        self.get_output_kwargs = []
        self.params = {}

    def get_output_shape_for(self, input_shape):
        return input_shape

    def get_output_for(self, input, **kwargs):
        return 2 * input

    def get_params(self, **tags):
        return []


class PairSum:
    """Not a MergeLayer subclass: follows the multi-input protocol only."""

    def __init__(self, incomings):
        self.input_layers = list(incomings)
        self.input_shapes = [l.output_shape for l in incomings]
        self.output_shape = self.input_shapes[0]
        self.get_output_kwargs = []

    def get_output_shape_for(self, input_shapes):
        return input_shapes[0]

    def get_output_for(self, inputs, **kwargs):
        return inputs[0] + inputs[1]

    def get_params(self, **tags):
        return []


class TestDuckTypedLayers:
    """As in Lasagne, the helpers walk any object that follows the layer
    protocol, not only Layer subclasses."""

    def test_walk_output_and_shape(self):
        l_in = InputLayer((None, 3))
        dbl = Doubler(l_in)
        dense = DenseLayer(dbl, 2, W=np.ones((3, 2)), nonlinearity=None)
        top = PairSum([dense, Doubler(dense)])
        assert get_all_layers(top)[:3] == [l_in, dbl, dense]
        assert len(get_all_layers(top)) == 5
        x = np.arange(6.0).reshape(2, 3)
        out = get_output(top, x).eval()
        # dense(2x) summed with 2 * dense(2x)
        np.testing.assert_allclose(out, 3 * (2 * x) @ np.ones((3, 2)))
        assert get_output_shape(top, (7, 3)) == (7, 2)
        assert get_all_params(top) == [dense.W, dense.b]

    def test_merge_layer_of_duck_typed_inputs(self):
        l_in = InputLayer((None, 2))
        cat = ConcatLayer([Doubler(l_in), Doubler(Doubler(l_in))])
        assert cat.output_shape == (None, 4)
        x = np.array([[1.0, 2.0]])
        np.testing.assert_allclose(get_output(cat, x).eval(),
                                   [[2.0, 4.0, 4.0, 8.0]])

    def test_none_maps_the_input_of_layers_built_from_shapes(self):
        # Lasagne: {None: expr} feeds a layer built from a shape tuple
        dense = DenseLayer((None, 3), 2, W=np.ones((3, 2)), nonlinearity=None)
        out = get_output(dense, {None: np.ones((1, 3))}).eval()
        np.testing.assert_allclose(out, [[3.0, 3.0]])
        assert get_output_shape(dense, {None: (5, 3)}) == (5, 2)
