"""Smoke run of examples/recurrent.py (the adding problem): a short run on
short sequences must beat the trivial predictor (MSE about 0.17)."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__),
                                                os.pardir, "examples")))


def test_adding_problem_data():
    import recurrent
    x, mask, y = recurrent.adding_problem(50, 6, 9, np.random.default_rng(1))
    lengths = mask.sum(axis=1)
    assert lengths.min() >= 6 and lengths.max() <= 9
    assert (x[..., 1].sum(axis=1) == 2).all()
    assert (x * (1 - mask)[..., None] == 0).all()  # padding is empty
    np.testing.assert_allclose((x[..., 0] * x[..., 1]).sum(1), y[:, 0],
                               rtol=1e-6)


def test_adding_problem_trains():
    import recurrent
    val_mse = recurrent.main(epochs=3, min_length=5, max_length=8, units=20,
                             batch_size=50, batches_per_epoch=100,
                             learning_rate=0.01)
    assert val_mse < 0.05
