import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne import init, nonlinearities
from lasagne.layers import (BiasLayer, DenseLayer, ExpressionLayer, InputLayer,
                            InverseLayer, NonlinearityLayer,
                            ParametricRectifierLayer, RandomizedRectifierLayer,
                            ScaleLayer, get_all_params, get_output, prelu, rrelu,
                            standardize)
from tests.helpers import BACKENDS, backend_params, check_layer, compile_fn, floatX, random_array


def test_nonlinearity_layer():
    x = random_array((3, 4))
    check_layer(NonlinearityLayer(InputLayer((None, 4)), nonlinearities.tanh), x, reference=np.tanh(x))
    check_layer(NonlinearityLayer(InputLayer((None, 4)), None), x, reference=x)
    with pytest.raises(TypeError, match="callable"):
        NonlinearityLayer(InputLayer((None, 4)), "tanh")


class TestBiasScale:
    def test_bias_auto_axes(self):
        layer = BiasLayer(InputLayer((None, 3, 4, 5)), b=init.Normal(1.0))
        b = layer.b.get_value()
        assert b.shape == (3,) and layer.params[layer.b] == {"trainable"}
        x = random_array((2, 3, 4, 5))
        check_layer(layer, x, reference=x + b[None, :, None, None], backends=True)

    def test_bias_custom_axes_and_none(self):
        layer = BiasLayer(InputLayer((None, 3, 4)), b=init.Normal(1.0), shared_axes=(0, 1))
        x = random_array((2, 3, 4))
        check_layer(layer, x, reference=x + layer.b.get_value())
        assert BiasLayer(InputLayer((None, 3)), b=None).get_params() == []

    def test_scale(self):
        layer = ScaleLayer(InputLayer((None, 3, 4)), scales=init.Normal(1.0), shared_axes=0)
        s = layer.scales.get_value()
        assert s.shape == (3, 4)
        x = random_array((2, 3, 4))
        check_layer(layer, x, reference=x * s)

    def test_errors(self):
        with pytest.raises(ValueError, match="BiasLayer.*known input sizes.*\\(None, None\\)"):
            BiasLayer(InputLayer((None, None)))
        with pytest.raises(ValueError, match="shared_axes"):
            ScaleLayer(InputLayer((None, 3)), shared_axes=(4,))


def test_standardize_is_fixed():
    offset, scale = floatX([1.0, 2.0]), floatX([2.0, 4.0])
    layer = standardize(InputLayer((None, 2)), offset, scale, shared_axes=0)
    x = random_array((5, 2))
    check_layer(layer, x, reference=(x - offset) / scale)
    assert get_all_params(layer, trainable=True) == []
    assert len(get_all_params(layer)) == 2


class TestExpressionLayer:
    def test_shapes(self):
        l_in = InputLayer((None, 6))
        x = random_array((2, 6))
        check_layer(ExpressionLayer(l_in, lambda v: v * 2), x, reference=x * 2)
        auto = ExpressionLayer(l_in, lambda v: v[:, ::2], output_shape="auto")
        assert auto.output_shape == (None, 3)
        check_layer(auto, x, reference=x[:, ::2])
        fixed = ExpressionLayer(l_in, lambda v: v.sum(axis=1), output_shape=(None,))
        check_layer(fixed, x, reference=x.sum(axis=1))
        fn = ExpressionLayer(l_in, lambda v: v.T, output_shape=lambda s: s[::-1])
        assert fn.output_shape == (6, None)

    def test_errors(self):
        with pytest.raises(TypeError, match="`function` must be callable"):
            ExpressionLayer(InputLayer((None, 2)), 3)
        with pytest.raises(ValueError, match="`output_shape`"):
            ExpressionLayer(InputLayer((None, 2)), abs, output_shape="guess")


def test_inverse_layer_of_dense_is_transpose():
    l_in = InputLayer((None, 5))
    dense = DenseLayer(l_in, 3, nonlinearity=None, b=init.Normal(1.0))
    inverse = InverseLayer(dense, dense)
    assert inverse.output_shape == (None, 5)
    x = random_array((4, 5))
    out = compile_fn([l_in.input_var], get_output(inverse))(x)
    y = x @ dense.W.get_value() + dense.b.get_value()
    np.testing.assert_allclose(out, y @ dense.W.get_value().T, rtol=1e-10)


class TestRectifiers:
    def test_prelu(self):
        layer = ParametricRectifierLayer(InputLayer((None, 3, 2)), alpha=init.Normal(0.2))
        alpha = layer.alpha.get_value()
        x = random_array((4, 3, 2))
        ref = np.where(x > 0, x, alpha[None, :, None] * x)
        check_layer(layer, x, reference=ref, backends=True)
        stacked = prelu(DenseLayer(InputLayer((None, 4)), 3))
        assert stacked.input_layer.nonlinearity is nonlinearities.identity
        assert isinstance(stacked, ParametricRectifierLayer)

    def test_rrelu_deterministic(self):
        layer = RandomizedRectifierLayer(InputLayer((None, 3)), lower=0.2, upper=0.4)
        x = random_array((4, 3))
        check_layer(layer, x, reference=np.where(x > 0, x, 0.3 * x), deterministic=True)

    def test_rrelu_random_slopes_in_range(self):
        layer = RandomizedRectifierLayer(InputLayer((None, 3, 50)), lower=0.2, upper=0.4)
        x = floatX(-np.ones((10, 3, 50)))
        f = compile_fn([layer.input_layer.input_var], get_output(layer))
        slopes = -f(x)
        assert np.all((slopes >= 0.2) & (slopes <= 0.4))
        # shared over batch and spatial axes: one slope per channel
        assert np.all(slopes == slopes[:1, :, :1])
        assert not np.array_equal(f(x), f(x))
        assert isinstance(rrelu(DenseLayer(InputLayer((None, 4)), 3)), RandomizedRectifierLayer)

    def test_errors(self):
        with pytest.raises(ValueError, match="0 <= lower <= upper < 1.*lower=0.5, upper=0.2"):
            RandomizedRectifierLayer(InputLayer((None, 3)), lower=0.5, upper=0.2)
