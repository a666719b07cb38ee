import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne import init, nonlinearities
from lasagne.layers import DenseLayer, InputLayer, NINLayer, get_output
from tests.helpers import check_layer, random_array


def relu(x):
    return np.maximum(x, 0)


class TestDenseLayer:
    def test_params_and_shape(self):
        l = DenseLayer(InputLayer((None, 10)), num_units=5, name="fc")
        assert l.W.get_value().shape == (10, 5) and l.b.get_value().shape == (5,)
        assert l.output_shape == (None, 5)
        assert l.params[l.W] == {"trainable", "regularizable"}
        assert l.params[l.b] == {"trainable"}

    def test_output_against_numpy(self):
        l_in = InputLayer((None, 3, 4))
        l = DenseLayer(l_in, num_units=6, b=init.Normal(1.0))
        x = random_array((7, 3, 4))
        ref = relu(x.reshape(7, 12) @ l.W.get_value() + l.b.get_value())
        check_layer(l, x, reference=ref)

    @pytest.mark.parametrize("num_leading_axes,expected", [(2, (None, 5, 7)), (-1, (None, 5, 7)), (1, (None, 7))])
    def test_num_leading_axes(self, num_leading_axes, expected):
        l = DenseLayer(InputLayer((None, 5, 4)), 7, num_leading_axes=num_leading_axes,
                       nonlinearity=None, b=None)
        assert l.output_shape == expected and l.b is None
        x = random_array((2, 5, 4))
        W = l.W.get_value()
        ref = x @ W if len(expected) == 3 else x.reshape(2, 20) @ W
        check_layer(l, x, reference=ref)

    def test_backends(self):
        l = DenseLayer(InputLayer((None, 4)), 3, nonlinearity=nonlinearities.tanh)
        check_layer(l, random_array((5, 4)), backends=True)

    def test_errors(self):
        with pytest.raises(ValueError, match="DenseLayer 'd'.*`num_units`.*0"):
            DenseLayer(InputLayer((None, 4)), 0, name="d")
        with pytest.raises(ValueError, match="trailing input dimensions \\(None,\\)"):
            DenseLayer(InputLayer((None, None)), 3)
        with pytest.raises(ValueError, match="num_leading_axes"):
            DenseLayer(InputLayer((None, 4)), 3, num_leading_axes=2)
        with pytest.raises(ValueError, match="should be \\(4, 3\\)"):
            DenseLayer(InputLayer((None, 4)), 3, W=np.zeros((3, 3)))

    def test_gradient(self):
        l = DenseLayer(InputLayer((None, 3)), 2, nonlinearity=nonlinearities.tanh)
        W = l.W.get_value()

        def f(x):
            return get_output(l, x)
        pytensor.gradient.verify_grad(f, [random_array((4, 3))], rng=np.random.default_rng(0),
                                      mode="FAST_COMPILE", no_debug_ref=False)
        assert np.array_equal(W, l.W.get_value())


class TestNINLayer:
    @pytest.mark.parametrize("untie", [False, True])
    def test_against_numpy(self, untie):
        l = NINLayer(InputLayer((None, 3, 4, 5)), 6, untie_biases=untie, b=init.Normal(1.0))
        x = random_array((2, 3, 4, 5))
        W, b = l.W.get_value(), l.b.get_value()
        ref = np.einsum("ncij,ck->nkij", x, W)
        ref = ref + (b[None] if untie else b[None, :, None, None])
        check_layer(l, x, reference=relu(ref))
        assert l.output_shape == (None, 6, 4, 5)

    def test_backends(self):
        check_layer(NINLayer(InputLayer((None, 2, 3)), 4), random_array((2, 2, 3)), backends=True)

    def test_errors(self):
        with pytest.raises(ValueError, match="known number of channels"):
            NINLayer(InputLayer((None, None, 3)), 4)
        with pytest.raises(ValueError, match="untie_biases"):
            NINLayer(InputLayer((None, 2, None)), 4, untie_biases=True)
