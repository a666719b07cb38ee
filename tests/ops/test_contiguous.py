"""as_contiguous, and the update rules that use it to keep every parameter
C-contiguous (a new memory layout recompiles a Numba function)."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import lasagne.updates as lu
from lasagne.layers import (DenseLayer, InputLayer, LSTMLayer,
                            get_all_params, get_output)
from lasagne.ops.contiguous import AsContiguous, as_contiguous
from tests.helpers import BACKENDS, FAST, backend_params


@pytest.mark.parametrize("mode", [FAST] + list(BACKENDS.values()),
                         ids=["fast_compile"] + list(BACKENDS))
def test_as_contiguous_copies_views_only(mode):
    if mode == "JAX":
        pytest.importorskip("jax", reason="jax is not installed (pip install -e '.[jax]')")
    m = pt.matrix("m")
    f = pytensor.function([m], [as_contiguous(m[:, ::2]), as_contiguous(m)],
                          mode=mode)
    value = np.arange(12.0).reshape(3, 4)
    strided, whole = (np.asarray(a) for a in f(value))
    np.testing.assert_array_equal(strided, value[:, ::2])
    assert strided.flags.c_contiguous
    np.testing.assert_array_equal(whole, value)


def test_as_contiguous_leaves_scalars_and_passes_gradients():
    s = pt.scalar("s")
    assert as_contiguous(s) is s
    m = pt.matrix("m")
    out = as_contiguous(m.T)
    assert isinstance(out.owner.op, AsContiguous)
    g = pytensor.grad((out * np.arange(6.0).reshape(3, 2)).sum(), m)
    np.testing.assert_array_equal(
        g.eval({m: np.zeros((2, 3))}, mode=FAST),
        np.arange(6.0).reshape(3, 2).T)


@pytest.mark.parametrize("rule", [
    lambda loss, params: lu.adam(loss, params, 0.01),
    lambda loss, params: lu.nesterov_momentum(loss, params, 0.01),
], ids=["adam", "nesterov_momentum"])
def test_updates_of_joined_gate_weights_stay_contiguous(rule):
    """An LSTM joins its gate weights into one matrix, so their gradients
    are strided views; after a compiled (Numba, in-place) training step
    every shared value is still C-contiguous, so the next call runs the
    same compiled code instead of compiling it again."""
    l_in = InputLayer((None, 4, 2))
    l_out = DenseLayer(LSTMLayer(l_in, 3, only_return_final=True), 1)
    loss = get_output(l_out).sum() ** 2
    params = get_all_params(l_out, trainable=True)
    train = pytensor.function([l_in.input_var], loss,
                              updates=rule(loss, params),
                              mode=BACKENDS["numba"])
    train(np.random.default_rng(0).standard_normal((5, 4, 2)))
    strided = [shared.name for shared in train.get_shared()
               if not shared.get_value(borrow=True).flags.c_contiguous]
    assert strided == []
