"""Tests of lasagne.nonlinearities against numpy formulas, on plain
PyTensor expressions."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.special import expit

import lasagne.nonlinearities as ln
from tests.helpers import assert_backends_agree, backend_params, compile_fn

X = np.array([[-1000.0, -30.0, -2.5, -1.0, -1e-3, 0.0],
              [1e-3, 0.5, 1.0, 3.0, 30.0, 1000.0]])


def np_softmax(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def np_elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


SELU_SCALE, SELU_SCALE_NEG = 1.0507009873554805, 1.6732632423543772

CASES = {
    "sigmoid": (ln.sigmoid, expit),
    "tanh": (ln.tanh, np.tanh),
    "scaled_tanh": (ln.ScaledTanH(2.0 / 3, 1.7159), lambda x: 1.7159 * np.tanh(2.0 / 3 * x)),
    "rectify": (ln.rectify, lambda x: np.maximum(x, 0)),
    "leaky_rectify": (ln.leaky_rectify, lambda x: np.where(x > 0, x, 0.01 * x)),
    "very_leaky_rectify": (ln.very_leaky_rectify, lambda x: np.where(x > 0, x, x / 3)),
    "leaky_2": (ln.LeakyRectify(2.0), lambda x: np.where(x > 0, x, 2.0 * x)),
    "elu": (ln.elu, np_elu),
    "selu": (ln.selu, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_SCALE_NEG * np.expm1(np.minimum(x, 0)))),
    "SELU": (ln.SELU(2.0, 3.0), lambda x: 2.0 * np.where(x > 0, x, 3.0 * np.expm1(np.minimum(x, 0)))),
    "softplus": (ln.softplus, lambda x: np.logaddexp(0, x)),
    "linear": (ln.linear, lambda x: x),
    "softmax": (ln.softmax, np_softmax),
}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_numpy(name):
    fn, reference = CASES[name]
    x = pt.matrix("x")
    out = compile_fn([x], fn(x))(X)
    np.testing.assert_allclose(out, reference(X), rtol=1e-12, atol=1e-300)
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("name", list(CASES))
def test_float32_stays_float32(name):
    fn, reference = CASES[name]
    x = pt.matrix("x", dtype="float32")
    y = fn(x)
    assert y.dtype == "float32"
    out = compile_fn([x], y)(X.astype("float32"))
    np.testing.assert_allclose(out, reference(X.astype("float32")), rtol=2e-6, atol=1e-30)


@pytest.mark.parametrize("name", [n for n in CASES if n != "linear"])
def test_gradient(name):
    fn = CASES[name][0]
    # away from the kink at 0, where the one-sided derivatives differ
    value = np.array([[-2.3, -0.7, 0.4, 1.9], [0.6, -1.4, 2.2, -0.2]])
    pytensor.gradient.verify_grad(fn, [value], rng=np.random.default_rng(0),
                                  mode="FAST_COMPILE", no_debug_ref=False)


@pytest.mark.parametrize("name", ["elu", "selu", "softplus", "sigmoid", "softmax"])
def test_gradient_finite_for_large_inputs(name):
    # elu's unused exp branch must not turn into inf * 0 = nan
    x = pt.matrix("x")
    grad = pytensor.grad(pt.sum(CASES[name][0](x) * np.arange(6.0)), x)
    assert np.all(np.isfinite(compile_fn([x], grad)(X)))


@pytest.mark.parametrize("fn, slope", [(ln.rectify, (0, 1)), (ln.LeakyRectify(0.2), (0.2, 0.2)),
                                       (ln.elu, (1, 1)), (ln.LeakyRectify(3.0), (3.0, 3.0))])
def test_gradient_at_zero(fn, slope):
    # exact zeros are common (padding, rectified inputs): a one-sided slope
    x = pt.vector("x")
    grad = compile_fn([x], pytensor.grad(pt.sum(fn(x)), x))(np.zeros(3))
    assert np.all((grad >= slope[0]) & (grad <= slope[1])), grad


def test_softmax_rows():
    x = pt.matrix("x")
    values = np.random.default_rng(0).normal(size=(4, 7)) * 50
    out = compile_fn([x], ln.softmax(x))(values)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(out, np_softmax(values), rtol=1e-12)
    # invariant to a shift of each row
    shifted = compile_fn([x], ln.softmax(x))(values + np.arange(4.0)[:, None] * 100)
    np.testing.assert_allclose(shifted, out, rtol=1e-10)


def test_selu_constants_and_aliases():
    assert ln.selu.scale == SELU_SCALE and ln.selu.scale_neg == SELU_SCALE_NEG
    assert ln.identity is ln.linear and ln.ScaledTanh is ln.ScaledTanH
    assert ln.leaky_rectify.leakiness == 0.01
    assert ln.very_leaky_rectify.leakiness == 1.0 / 3
    assert ln.ScaledTanH().scale_in == 1 and ln.ScaledTanH().scale_out == 1
    assert (ln.SELU().scale, ln.SELU().scale_neg) == (1, 1)


def test_symbolic_parameters():
    x, leak, scale = pt.vector("x"), pt.scalar("leak"), pt.scalar("scale")
    y = [ln.LeakyRectify(leak)(x), ln.ScaledTanH(scale, scale)(x)]
    leaky, scaled = compile_fn([x, leak, scale], y)(np.array([-2.0, 3.0]), 0.25, 2.0)
    np.testing.assert_allclose(leaky, [-0.5, 3.0])
    np.testing.assert_allclose(scaled, 2.0 * np.tanh([-4.0, 6.0]))


def test_selu_keeps_unit_variance():
    # the point of its constants: zero mean / unit variance is a fixed point
    z = np.random.default_rng(1).normal(size=200000)
    out = compile_fn([x := pt.vector()], ln.selu(x))(z)
    assert abs(out.mean()) < 0.01 and abs(out.var() - 1) < 0.01


@pytest.mark.parametrize("backend", backend_params())
def test_backend_parity(backend):
    x = pt.matrix("x", dtype="float32")
    outputs = [fn(x) for fn, _ in CASES.values()]
    values = [X.astype("float32")]
    references = [ref(values[0]) for _, ref in CASES.values()]
    assert_backends_agree([x], outputs, values, rtol=2e-6, atol=1e-30,
                          reference=references, backends=[backend])


@pytest.mark.parametrize("name", list(CASES))
def test_picklable(name):
    # layers keep their nonlinearity; pickled networks must round-trip it
    import pickle
    fn = CASES[name][0]
    restored = pickle.loads(pickle.dumps(fn))
    if isinstance(fn, type(ln.linear)):
        assert restored is fn
    else:
        assert type(restored) is type(fn) and vars(restored) == vars(fn)
