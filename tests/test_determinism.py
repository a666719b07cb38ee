"""One library seed reproduces a whole training run, dropout included."""
import numpy as np
import pytensor.tensor as pt
import pytest

import lasagne
from lasagne.layers import (DenseLayer, DropoutLayer, GaussianNoiseLayer,
                            InputLayer, get_all_param_values, get_output)
from tests.helpers import FAST, compile_fn


def train(seed, mode=FAST, steps=5):
    """The usual script: seed, build, compile, train on fixed data; return
    the final parameter values and the training losses."""
    lasagne.random.set_rng(np.random.RandomState(seed))
    l_in = InputLayer((None, 8))
    l_hid = DenseLayer(DropoutLayer(l_in, p=0.2), 16, name="hid")
    l_noisy = GaussianNoiseLayer(DropoutLayer(l_hid, p=0.5), sigma=0.1)
    l_out = DenseLayer(l_noisy, 3, name="out",
                       nonlinearity=lasagne.nonlinearities.softmax)
    targets = pt.ivector("targets")
    loss = lasagne.objectives.categorical_crossentropy(
        get_output(l_out), targets).mean()
    params = lasagne.layers.get_all_params(l_out, trainable=True)
    updates = lasagne.updates.adam(loss, params, learning_rate=0.05)
    step = compile_fn([l_in.input_var, targets], loss, updates=updates,
                      mode=mode)
    data = np.random.default_rng(0)  # the data does not depend on the seed
    x = data.normal(size=(20, 8)).astype(l_in.input_var.dtype)
    y = data.integers(0, 3, size=20).astype("int32")
    losses = [float(step(x, y)) for _ in range(steps)]
    return get_all_param_values(l_out), losses


def assert_identical(run_a, run_b):
    values_a, losses_a = run_a
    values_b, losses_b = run_b
    assert losses_a == losses_b
    assert len(values_a) == len(values_b) == 4
    for a, b in zip(values_a, values_b):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()


def test_same_seed_bit_identical():
    assert_identical(train(42), train(42))


def test_different_seed_differs():
    (values_a, losses_a), (values_b, losses_b) = train(42), train(43)
    assert losses_a != losses_b
    assert all(not np.array_equal(a, b) for a, b in zip(values_a, values_b)
               if a.size > 1 and np.any(a))


def dropout_masks(seed, calls=3):
    lasagne.random.set_rng(np.random.RandomState(seed))
    l_in = InputLayer((None, 50))
    f = compile_fn([l_in.input_var], get_output(DropoutLayer(l_in, p=0.5)))
    ones = np.ones((4, 50), dtype=l_in.input_var.dtype)
    return [f(ones) for _ in range(calls)]


def test_masks_change_between_calls_but_not_between_runs():
    masks = dropout_masks(11)
    assert all(set(np.unique(m)) == {0.0, 2.0} for m in masks)
    assert not np.array_equal(masks[0], masks[1])
    assert not np.array_equal(masks[1], masks[2])
    for a, b in zip(masks, dropout_masks(11)):
        np.testing.assert_array_equal(a, b)


def test_set_rng_after_building_does_not_matter():
    """Building consumes the library generator; a later set_rng changes
    nothing for a network already built."""
    first = train(5)
    lasagne.random.set_rng(np.random.RandomState(999))
    assert_identical(first, train(5))


@pytest.mark.slow
@pytest.mark.backends
@pytest.mark.filterwarnings(  # PyTensor's Numba dot, not this library
    r"ignore:np.dot\(\) is faster on contiguous arrays")
def test_default_backend_bit_identical():
    """The same holds on the default (Numba) backend."""
    assert_identical(train(3, mode=None, steps=3), train(3, mode=None, steps=3))
