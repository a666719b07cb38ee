import numpy as np
import pytensor

import lasagne.random


def test_get_set_rng():
    rng = np.random.RandomState(3)
    lasagne.random.set_rng(rng)
    assert lasagne.random.get_rng() is rng
    lasagne.random.set_rng(np.random.default_rng(3))
    assert 0 <= lasagne.random.draw_seed() < 2 ** 31


def test_shared_generator_is_reproducible_and_advances():
    import pytensor.tensor as pt
    draws = []
    for _ in range(2):
        lasagne.random.set_rng(np.random.RandomState(7))
        rng = lasagne.random.shared_generator()
        nxt, x = pt.random.normal(size=(3,), rng=rng, return_next_rng=True)
        lasagne.random.advance_on_use(rng, nxt)
        f = pytensor.function([], x, mode="FAST_COMPILE")
        first, second = f(), f()
        assert not np.allclose(first, second)
        draws.append((first, second))
    np.testing.assert_array_equal(draws[0][0], draws[1][0])
    np.testing.assert_array_equal(draws[0][1], draws[1][1])
