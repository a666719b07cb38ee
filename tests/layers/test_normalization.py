import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne import init, nonlinearities
from lasagne.layers import (BatchNormLayer, DenseLayer, InputLayer,
                            LocalResponseNormalization2DLayer, NINLayer,
                            StandardizationLayer, batch_norm, get_all_params,
                            get_output, instance_norm, layer_norm)
from tests.helpers import check_layer, compile_fn, floatX, random_array


class TestBatchNormLayer:
    def setup_method(self):
        self.l_in = InputLayer((None, 3, 4, 5))
        self.layer = BatchNormLayer(self.l_in, beta=init.Normal(1.0), gamma=init.Normal(1.0),
                                    mean=init.Normal(1.0), inv_std=init.Uniform((0.5, 2.0)))
        self.x = random_array((6, 3, 4, 5), low=-3, high=5)

    def params(self):
        return [p.get_value()[None, :, None, None] for p in
                (self.layer.beta, self.layer.gamma, self.layer.mean, self.layer.inv_std)]

    def test_params_and_tags(self):
        l = self.layer
        assert get_all_params(l, trainable=True) == [l.beta, l.gamma]
        assert get_all_params(l, regularizable=True) == [l.gamma]
        assert l.axes == (0, 2, 3)

    def test_training_uses_batch_stats_and_updates_averages(self):
        beta, gamma, mean0, inv_std0 = self.params()
        f = compile_fn([self.l_in.input_var], get_output(self.layer))
        out = f(self.x)
        bm = self.x.mean(axis=(0, 2, 3), keepdims=True)
        binv = 1 / np.sqrt(self.x.var(axis=(0, 2, 3), keepdims=True) + 1e-4)
        np.testing.assert_allclose(out, (self.x - bm) * gamma * binv + beta, rtol=1e-8)
        np.testing.assert_allclose(self.layer.mean.get_value(), (0.9 * mean0 + 0.1 * bm).ravel(), rtol=1e-8)
        np.testing.assert_allclose(self.layer.inv_std.get_value(), (0.9 * inv_std0 + 0.1 * binv).ravel(),
                                   rtol=1e-8)

    def test_deterministic_uses_averages_without_updating(self):
        beta, gamma, mean, inv_std = self.params()
        out = check_layer(self.layer, self.x, deterministic=True, backends=True,
                          reference=(self.x - mean) * gamma * inv_std + beta)
        np.testing.assert_allclose(self.layer.mean.get_value(), mean.ravel())
        assert out.shape == self.x.shape

    def test_explicit_flags(self):
        beta, gamma, mean, inv_std = self.params()
        out = get_output(self.layer, batch_norm_use_averages=True, batch_norm_update_averages=True)
        compiled = compile_fn([self.l_in.input_var], out)(self.x)
        np.testing.assert_allclose(compiled, (self.x - mean) * gamma * inv_std + beta, rtol=1e-8)
        assert not np.allclose(self.layer.mean.get_value(), mean.ravel())

    def test_no_beta_gamma_and_error(self):
        layer = BatchNormLayer(InputLayer((None, 4)), beta=None, gamma=None)
        assert get_all_params(layer, trainable=True) == []
        x = random_array((5, 4))
        ref = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-4)
        np.testing.assert_allclose(compile_fn([layer.input_layer.input_var], get_output(layer))(x), ref,
                                   rtol=1e-8)
        with pytest.raises(ValueError, match="BatchNormLayer.*known input sizes"):
            BatchNormLayer(InputLayer((None, None)))

    def test_batch_norm_helper(self):
        dense = DenseLayer(InputLayer((None, 10)), 5, name="fc", nonlinearity=nonlinearities.tanh)
        top = batch_norm(dense)
        assert dense.b is None and dense.nonlinearity is nonlinearities.identity
        assert top.nonlinearity is nonlinearities.tanh and top.name == "fc_bn_nonlin"
        assert isinstance(top.input_layer, BatchNormLayer)


class TestLasagneBatchNormDetails:
    """Behaviours Lasagne 0.2's own suite pins down."""

    @pytest.mark.parametrize("mode", ["FAST_COMPILE", "NUMBA"])
    def test_averages_used_and_updated_gives_the_old_averages(self, mode):
        x = random_array((6, 3, 4))
        mean, inv_std = np.arange(3.0), np.array([1.0, 0.5, 2.0])
        layer = BatchNormLayer((6, 3, 4), mean=mean.copy(), inv_std=inv_std.copy(),
                               alpha=0.5, beta=None, gamma=None)
        inp = pt.tensor3()
        out = layer.get_output_for(inp, batch_norm_use_averages=True,
                                   batch_norm_update_averages=True)
        got = pytensor.function([inp], out, mode=mode)(x)
        # the output normalizes with the averages as they were ...
        np.testing.assert_allclose(got, (x - mean[None, :, None]) * inv_std[None, :, None])
        # ... and the averages move towards the batch statistics
        np.testing.assert_allclose(layer.mean.get_value(), 0.5 * mean + 0.5 * x.mean((0, 2)))

    def test_running_averages_are_tagged(self):
        layer = BatchNormLayer((None, 3))
        assert layer.get_params(batch_norm_stat=True) == [layer.mean, layer.inv_std]


class TestStandardization:
    # Lasagne's meanings: 'auto' is 'spatial' from 3-d inputs on,
    # 'features' is every axis but the batch axis
    @pytest.mark.parametrize("axes,np_axes", [("auto", (2, 3)), ("spatial", (2, 3)), ("features", (1, 2, 3)),
                                              ((1, 3), (1, 3)), (1, (1,))])
    def test_against_numpy(self, axes, np_axes):
        x = random_array((2, 3, 4, 5))
        layer = StandardizationLayer(InputLayer((None, 3, 4, 5)), axes=axes, epsilon=1e-3)
        ref = (x - x.mean(np_axes, keepdims=True)) / np.sqrt(x.var(np_axes, keepdims=True) + 1e-3)
        check_layer(layer, x, reference=ref)

    def test_auto_on_2d_input_is_the_feature_axis(self):
        x = random_array((3, 5))
        layer = StandardizationLayer(InputLayer((None, 5)), epsilon=1e-3)
        assert layer.axes == (1,)
        ref = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-3)
        check_layer(layer, x, reference=ref)

    def test_bad_axes(self):
        with pytest.raises(ValueError, match="unknown `axes` 'time'"):
            StandardizationLayer(InputLayer((None, 3)), axes="time")

    def test_instance_norm(self):
        base = NINLayer(InputLayer((None, 3, 4, 4)), 2, name="nin")
        top = instance_norm(base)
        assert [type(l).__name__ for l in (top, top.input_layer, top.input_layer.input_layer)] == \
            ["NonlinearityLayer", "BiasLayer", "ScaleLayer"]
        assert top.input_layer.input_layer.input_layer.axes == (2, 3)
        assert base.b is None
        x = random_array((2, 3, 4, 4))
        h = np.einsum("ncij,ck->nkij", x, base.W.get_value())
        ref = np.maximum((h - h.mean((2, 3), keepdims=True)) / np.sqrt(h.var((2, 3), keepdims=True) + 1e-4), 0)
        check_layer(top, x, reference=ref)
        plain = instance_norm(NINLayer(InputLayer((None, 3, 4, 4)), 2, nonlinearity=None),
                              learn_scale=False, learn_bias=False)
        assert isinstance(plain, StandardizationLayer)

    def test_layer_norm(self):
        base = DenseLayer(InputLayer((None, 6)), 4, name="d")
        top = layer_norm(base)
        scale = top.input_layer.input_layer
        assert scale.scales.get_value().shape == (4,) and scale.name == "d_ln_scale"
        x = random_array((3, 6))
        h = x @ base.W.get_value()
        ref = np.maximum((h - h.mean(1, keepdims=True)) / np.sqrt(h.var(1, keepdims=True) + 1e-4), 0)
        check_layer(top, x, reference=ref)


class TestLRN:
    def test_against_numpy(self):
        x = random_array((2, 7, 3, 3), low=-2, high=2)
        layer = LocalResponseNormalization2DLayer(InputLayer((None, 7, 3, 3)), alpha=0.1, k=1.5, beta=0.6, n=3)
        sq = x ** 2
        ref = np.empty_like(x)
        for c in range(7):
            window = sq[:, max(0, c - 1):c + 2].sum(axis=1)
            ref[:, c] = x[:, c] / (1.5 + 0.1 * window) ** 0.6
        check_layer(layer, x, reference=ref, backends=True)

    def test_errors(self):
        with pytest.raises(ValueError, match="positive odd integer.*got 4"):
            LocalResponseNormalization2DLayer(InputLayer((None, 3, 2, 2)), n=4)
        with pytest.raises(ValueError, match="4-d input"):
            LocalResponseNormalization2DLayer(InputLayer((None, 3)))
