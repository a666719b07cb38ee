import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne.layers import InputLayer, Layer, MergeLayer


class TestLayer:
    def test_input_shape_from_tuple_and_layer(self):
        l1 = Layer((None, 3))
        assert l1.input_shape == (None, 3) and l1.input_layer is None
        l2 = Layer(InputLayer((2, 3)))
        assert l2.input_shape == (2, 3)
        assert l2.output_shape == (2, 3)

    def test_non_positive_input_shape_is_refused(self):
        with pytest.raises(ValueError, match="Layer 'bad'.*non-positive.*\\(None, 0\\)"):
            Layer((None, 0), name="bad")

    def test_add_param_names_and_tags(self):
        layer = Layer((None, 3), name="lay")
        W = layer.add_param(np.zeros((3, 2)), (3, 2), name="W")
        b = layer.add_param(np.zeros(2), (2,), name="b", regularizable=False)
        s = layer.add_param(np.zeros(2), (2,), name="s", trainable=False,
                            regularizable=False, special=True)
        assert W.name == "lay.W"
        assert layer.get_params() == [W, b, s]
        assert layer.get_params(trainable=True) == [W, b]
        assert layer.get_params(regularizable=True) == [W]
        assert layer.get_params(trainable=False) == [s]
        assert layer.get_params(special=True) == [s]
        assert layer.get_params(trainable=True, regularizable=False) == [b]

    def test_add_param_errors_name_the_layer(self):
        layer = Layer((None, 3), name="lay")
        with pytest.raises(ValueError, match="Layer 'lay':.*lay.W.*\\(4, 2\\), should be \\(3, 2\\)"):
            layer.add_param(np.zeros((4, 2)), (3, 2), name="W")

    def test_expression_params_unwrap(self):
        shared = pytensor.shared(np.ones((2, 3)), name="base")
        layer = Layer((None, 3))
        expr = layer.add_param(shared.T, (3, 2), name="W")
        assert layer.get_params() == [shared]
        assert layer.get_params(unwrap_shared=False) == [expr]

    def test_abstract_methods(self):
        with pytest.raises(NotImplementedError):
            Layer((1,)).get_output_for(pt.vector())
        with pytest.raises(NotImplementedError):
            MergeLayer([(1,), (1,)]).get_output_for([])

    def test_repr(self):
        assert repr(Layer((1,), name="x")) == "<Layer 'x'>"


class TestMergeLayer:
    def test_inputs(self):
        a, b = InputLayer((None, 2)), InputLayer((None, 3))
        m = MergeLayer([a, (4, 5), b])
        assert m.input_shapes == [(None, 2), (4, 5), (None, 3)]
        assert m.input_layers == [a, None, b]

    def test_refuses_a_single_layer(self):
        with pytest.raises(TypeError, match="list of layers"):
            MergeLayer(InputLayer((None, 2)))


class TestInputLayer:
    def test_creates_variable(self):
        l = InputLayer((None, 3, 4), name="img")
        assert l.input_var.ndim == 3 and l.input_var.name == "img.input"
        assert l.input_var.dtype == pytensor.config.floatX
        assert l.output_shape == (None, 3, 4)
        assert l.get_params() == []

    def test_uses_given_variable(self):
        x = pt.imatrix("x")
        assert InputLayer((None, 5), input_var=x).input_var is x

    def test_errors(self):
        with pytest.raises(ValueError, match="InputLayer 'in'.*2 dimensions but `input_var` has 3"):
            InputLayer((None, 5), input_var=pt.tensor3(), name="in")
        with pytest.raises(ValueError, match="positive integers or None"):
            InputLayer((None, -1))
        with pytest.raises(TypeError, match="tuple of ints"):
            InputLayer(5)
