import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import lasagne.random
from lasagne.layers import (DropoutLayer, GaussianNoiseLayer, InputLayer,
                            dropout_channels, dropout_locations, get_output,
                            spatial_dropout)
from tests.helpers import backend_params, BACKENDS, check_layer, compile_fn, floatX


def _sample(layer, x, mode="FAST_COMPILE", calls=1, **kwargs):
    l_in = layer.input_layer
    f = pytensor.function([l_in.input_var], get_output(layer, **kwargs), mode=mode)
    return [f(x) for _ in range(calls)]


class TestDropoutLayer:
    def test_drop_rate_and_rescale(self):
        layer = DropoutLayer(InputLayer((None, 1000)), p=0.3)
        x = floatX(np.ones((50, 1000)))
        out = _sample(layer, x)[0]
        kept = out != 0
        assert abs(kept.mean() - 0.7) < 0.01
        np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)

    def test_no_rescale(self):
        out = _sample(DropoutLayer(InputLayer((None, 100)), p=0.5, rescale=False),
                      floatX(np.ones((10, 100))))[0]
        assert set(np.unique(out)) == {0.0, 1.0}

    def test_deterministic_is_identity(self):
        layer = DropoutLayer(InputLayer((None, 10)))
        x = floatX(np.random.default_rng(0).normal(size=(3, 10)))
        np.testing.assert_array_equal(_sample(layer, x, deterministic=True)[0], x)

    def test_calls_draw_fresh_masks_and_seed_reproduces(self):
        def run():
            lasagne.random.set_rng(np.random.RandomState(99))
            layer = DropoutLayer(InputLayer((None, 100)))
            return _sample(layer, floatX(np.ones((4, 100))), calls=2)
        first, second = run()
        assert not np.array_equal(first, second)
        again = run()
        np.testing.assert_array_equal(first, again[0])
        np.testing.assert_array_equal(second, again[1])

    def test_two_outputs_get_independent_masks(self):
        layer = DropoutLayer(InputLayer((None, 200)))
        a, b = get_output(layer), get_output(layer)
        f = compile_fn([layer.input_layer.input_var], [a, b])
        ra, rb = f(floatX(np.ones((3, 200))))
        assert not np.array_equal(ra, rb)

    def test_shared_axes(self):
        layer = dropout_channels(InputLayer((None, 6, 5, 5)), p=0.5)
        assert layer.shared_axes == (2, 3)
        out = _sample(layer, floatX(np.ones((8, 6, 5, 5))))[0]
        per_map = out.reshape(8, 6, 25)
        assert np.all((per_map == per_map[..., :1]))  # whole maps kept or dropped
        assert spatial_dropout is dropout_channels
        loc = dropout_locations(InputLayer((None, 6, 5, 5)), p=0.5)
        out = _sample(loc, floatX(np.ones((2, 6, 5, 5))))[0]
        assert np.all(out == out[:, :1])

    def test_symbolic_p(self):
        p = pytensor.shared(floatX(0.5))
        layer = DropoutLayer(InputLayer((None, 2000)), p=p)
        f = compile_fn([layer.input_layer.input_var], get_output(layer))
        assert abs((f(floatX(np.ones((1, 2000)))) != 0).mean() - 0.5) < 0.05
        p.set_value(floatX(0.9))
        assert abs((f(floatX(np.ones((1, 2000)))) != 0).mean() - 0.1) < 0.03

    @pytest.mark.parametrize("backend", backend_params())
    def test_backends_draw_and_advance(self, backend):
        layer = DropoutLayer(InputLayer((None, 500)), p=0.4)
        first, second = _sample(layer, floatX(np.ones((4, 500))), mode=BACKENDS[backend], calls=2)
        assert not np.array_equal(first, second)
        assert abs((first != 0).mean() - 0.6) < 0.05
        check_layer(layer, floatX(np.ones((2, 500))), deterministic=True, backends=False)

    def test_errors(self):
        with pytest.raises(ValueError, match="DropoutLayer 'd'.*`p` must be in \\[0, 1\\), got 1.5"):
            DropoutLayer(InputLayer((None, 3)), p=1.5, name="d")
        with pytest.raises(ValueError, match="shared_axes"):
            DropoutLayer(InputLayer((None, 3)), shared_axes=(2,))


class TestGaussianNoiseLayer:
    def test_statistics_and_deterministic(self):
        layer = GaussianNoiseLayer(InputLayer((None, 4000)), sigma=0.5)
        x = floatX(np.full((5, 4000), 3.0))
        noisy = _sample(layer, x)[0]
        assert abs(noisy.mean() - 3.0) < 0.02 and abs(noisy.std() - 0.5) < 0.02
        np.testing.assert_array_equal(_sample(layer, x, deterministic=True)[0], x)

    def test_errors(self):
        with pytest.raises(ValueError, match="sigma"):
            GaussianNoiseLayer(InputLayer((None, 3)), sigma=-1)
