"""Tests of lasagne.init: sample statistics against the documented formulas,
orthogonality, reproducibility and errors.

The library RNG is seeded per test (conftest); sample sizes are large
enough that the tolerances below hold with a wide margin for any seed.
init only produces numpy arrays (no compiled graph), so it needs no backend
parity test.
"""
import numpy as np
import pytensor
import pytest

import lasagne.init as li
import lasagne.random


def assert_std(w, expected, rtol=0.03):
    assert abs(w.std() - expected) <= rtol * expected, (w.std(), expected)


def assert_mean(w, expected, std):
    # the sample mean is within 6 standard errors
    assert abs(w.mean() - expected) <= 6 * std / np.sqrt(w.size), (w.mean(), expected)


def test_initializer_base():
    with pytest.raises(NotImplementedError, match="sample"):
        li.Initializer()((2, 2))

    class Sevens(li.Initializer):
        def sample(self, shape):
            return np.full(shape, 7.0)

    assert Sevens()((2, 3)).tolist() == [[7.0] * 3] * 2


def test_repr_shows_arguments():
    assert repr(li.Normal(0.5)) == "Normal(std=0.5, mean=0.0)"


@pytest.mark.parametrize("std, mean", [(0.01, 0.0), (2.0, -3.0)])
def test_normal(std, mean):
    w = li.Normal(std, mean)((400, 250))
    assert w.shape == (400, 250) and w.dtype == pytensor.config.floatX
    assert_std(w, std)
    assert_mean(w, mean, std)


def test_normal_rejects_negative_std():
    with pytest.raises(ValueError, match="std.*-1"):
        li.Normal(std=-1)


@pytest.mark.parametrize("kwargs, low, high", [
    (dict(), -0.01, 0.01),
    (dict(range=2.0), -2.0, 2.0),
    (dict(range=(1.0, 4.0)), 1.0, 4.0),
    (dict(std=2.0, mean=5.0), 5.0 - 2.0 * np.sqrt(3), 5.0 + 2.0 * np.sqrt(3)),
    (dict(range=(7, 9), std=1.0), -np.sqrt(3), np.sqrt(3)),  # std wins
])
def test_uniform(kwargs, low, high):
    w = li.Uniform(**kwargs)((500, 200))
    assert w.dtype == pytensor.config.floatX
    assert w.min() >= low and w.max() < high
    width = high - low
    # the extremes come close to the bounds
    assert w.min() < low + 0.001 * width and w.max() > high - 0.001 * width
    assert_std(w, width / np.sqrt(12))
    assert_mean(w, (low + high) / 2, width / np.sqrt(12))


@pytest.mark.parametrize("kwargs, match", [
    (dict(range=(1.0, 2.0, 3.0)), "number r .* or a tuple"),
    (dict(range="wide"), "number r .* or a tuple"),
    (dict(range=(2.0, 1.0)), "empty"),
    (dict(range=-1.0), "empty"),
    (dict(std=-0.5), "std.*non-negative"),
])
def test_uniform_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        li.Uniform(**kwargs)


GLOROT_CASES = [
    # shape, c01b, fan_a + fan_b, receptive field size
    ((300, 500), False, 800, 1),
    ((64, 32, 3, 3), False, 96, 9),
    ((64, 32, 5), False, 96, 5),
    ((32, 16, 3, 3, 3), False, 48, 27),
    ((32, 3, 3, 64), True, 96, 9),
]


@pytest.mark.parametrize("gain, gain_value", [(1.0, 1.0), ("relu", np.sqrt(2)), (0.5, 0.5)])
@pytest.mark.parametrize("shape, c01b, fans, receptive", GLOROT_CASES)
def test_glorot(shape, c01b, fans, receptive, gain, gain_value):
    std = gain_value * np.sqrt(2.0 / (fans * receptive))
    w = li.GlorotNormal(gain=gain, c01b=c01b)(shape)
    assert w.shape == shape and w.dtype == pytensor.config.floatX
    assert_std(w, std, rtol=0.06)
    u = li.GlorotUniform(gain=gain, c01b=c01b)(shape)
    assert np.abs(u).max() <= np.sqrt(3) * std
    assert_std(u, std, rtol=0.06)


def test_glorot_with_custom_initializer():
    seen = []

    def make(std):
        seen.append(std)
        return li.Constant(std)

    w = li.Glorot(make, gain=2.0)((10, 30))
    assert seen == [pytest.approx(2.0 * np.sqrt(2 / 40))]
    assert np.all(w == w.flat[0])


HE_CASES = [
    # shape, c01b, fan_in
    ((300, 500), False, 300),
    ((64, 32, 3, 3), False, 288),
    ((64, 32, 5), False, 160),
    ((32, 3, 3, 64), True, 288),
]


@pytest.mark.parametrize("gain, gain_value", [(1.0, 1.0), ("relu", np.sqrt(2))])
@pytest.mark.parametrize("shape, c01b, fan_in", HE_CASES)
def test_he(shape, c01b, fan_in, gain, gain_value):
    std = gain_value * np.sqrt(1.0 / fan_in)
    w = li.HeNormal(gain=gain, c01b=c01b)(shape)
    assert w.shape == shape and w.dtype == pytensor.config.floatX
    assert_std(w, std, rtol=0.06)
    u = li.HeUniform(gain=gain, c01b=c01b)(shape)
    assert np.abs(u).max() <= np.sqrt(3) * std
    assert_std(u, std, rtol=0.06)
    assert li.He(li.Normal, gain=gain, c01b=c01b)(shape).shape == shape


@pytest.mark.parametrize("cls", [li.GlorotNormal, li.GlorotUniform, li.HeNormal,
                                 li.HeUniform])
def test_fan_initializers_errors(cls):
    with pytest.raises(ValueError, match=r"at least 2 dimensions.*\(100,\)"):
        cls()((100,))
    with pytest.raises(ValueError, match="c01b=True.*4 dimensions"):
        cls(c01b=True)((10, 20, 3))
    with pytest.raises(ValueError, match="gain.*'relu'.*'tanh'"):
        cls(gain="tanh")


def test_constant():
    assert np.all(li.Constant()((3, 2)) == 0)
    w = li.Constant(-1.5)((4,))
    assert w.dtype == pytensor.config.floatX and w.tolist() == [-1.5] * 4


@pytest.mark.parametrize("sparsity, rows, nonzero", [(0.1, 200, 20), (0.25, 10, 2), (0.0, 5, 0), (1.0, 6, 6)])
def test_sparse(sparsity, rows, nonzero):
    w = li.Sparse(sparsity=sparsity, std=0.5)((rows, 300))
    assert w.dtype == pytensor.config.floatX
    assert ((w != 0).sum(axis=0) == nonzero).all()
    if nonzero:
        values = w[w != 0]
        assert_std(values, 0.5, rtol=0.1)
    # the non-zero rows differ between columns
    if 0 < nonzero < rows:
        assert len({tuple(np.flatnonzero(c)) for c in w.T}) > 1


def test_sparse_errors():
    with pytest.raises(ValueError, match="2-dimensional"):
        li.Sparse()((3, 4, 5))
    with pytest.raises(ValueError, match="between 0 and 1.*1.5"):
        li.Sparse(sparsity=1.5)


@pytest.mark.parametrize("shape", [(50, 50), (20, 70), (70, 20), (16, 4, 3, 3), (64, 4, 3, 3)])
@pytest.mark.parametrize("gain, gain_value", [(1.0, 1.0), ("relu", np.sqrt(2)), (3.0, 3.0)])
def test_orthogonal(shape, gain, gain_value):
    w = li.Orthogonal(gain=gain)(shape)
    assert w.shape == shape and w.dtype == pytensor.config.floatX
    flat = w.reshape(shape[0], -1) / gain_value
    rows, cols = flat.shape
    if rows <= cols:
        np.testing.assert_allclose(flat @ flat.T, np.eye(rows), atol=1e-10)
    else:
        np.testing.assert_allclose(flat.T @ flat, np.eye(cols), atol=1e-10)


def test_orthogonal_is_not_biased_towards_positive_diagonal():
    # the sign correction after QR makes the diagonal symmetric around 0
    diagonals = np.concatenate([np.diag(li.Orthogonal()((20, 20))) for _ in range(50)])
    assert abs(np.mean(diagonals > 0) - 0.5) < 0.1


def test_orthogonal_errors():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        li.Orthogonal()((10,))
    with pytest.raises(ValueError, match="gain"):
        li.Orthogonal(gain=None)


RANDOM_INITIALIZERS = [
    li.Normal(), li.Uniform(), li.GlorotNormal(), li.GlorotUniform(),
    li.HeNormal(), li.HeUniform(), li.Sparse(sparsity=0.5), li.Orthogonal(),
]


@pytest.mark.parametrize("make_rng", [np.random.RandomState, np.random.default_rng],
                         ids=["RandomState", "Generator"])
@pytest.mark.parametrize("init", RANDOM_INITIALIZERS, ids=lambda i: type(i).__name__)
def test_reproducible_under_set_rng(init, make_rng):
    lasagne.random.set_rng(make_rng(42))
    first = init((6, 8))
    second = init((6, 8))
    lasagne.random.set_rng(make_rng(42))
    again = init((6, 8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)  # the generator advanced


@pytest.mark.parametrize("init", RANDOM_INITIALIZERS + [li.Constant(1.0)],
                         ids=lambda i: type(i).__name__)
def test_float32_when_floatX_is_float32(init):
    with pytensor.config.change_flags(floatX="float32"):
        assert init((5, 4)).dtype == np.float32


def test_usable_to_fill_a_shared_variable():
    W = pytensor.shared(li.GlorotUniform()((3, 4)), name="W")
    assert W.get_value().shape == (3, 4)


@pytest.mark.parametrize("init", RANDOM_INITIALIZERS + [li.Constant(1.0), li.GlorotNormal(gain="relu", c01b=True)],
                         ids=lambda i: type(i).__name__)
def test_picklable(init):
    import pickle
    restored = pickle.loads(pickle.dumps(init))
    assert vars(restored) == vars(init)
