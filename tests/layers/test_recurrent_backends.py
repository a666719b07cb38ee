"""Backend parity of the recurrent layers: an LSTM layer and the recurrent
container's LSTM, outputs and gradients, on Numba, the C VM and JAX against
FAST_COMPILE. The inputs, the references and the cell are
:mod:`tests.layers.test_recurrent`'s.

A file of its own so that a parallel test run gives these long
compilations and the rest of the recurrent tests to different workers.
"""
import numpy as np
import pytensor
import pytest

from lasagne import init
from lasagne.layers import InputLayer, get_all_params, get_output
from lasagne.layers.recurrent import RecurrentContainerLayer, StateLayer
from tests.helpers import FAST, backend_params, run_on_backend
from tests.layers.test_recurrent import B, F, H, MASK, T, X, lstm_cell, make


@pytest.mark.parametrize("backend", backend_params())
def test_lstm_backends_agree(backend):
    # JAX traces static shapes: declare every size.
    l_in, l_mask = InputLayer((B, T, F)), InputLayer((B, T))
    layer = make("lstm", l_in, l_mask, backwards=True, grad_clipping=1.0)
    out = get_output(layer)
    params = layer.get_params(trainable=True)
    outputs = [out] + pytensor.grad((out ** 2).sum(), params)
    ins = [l_in.input_var, l_mask.input_var]
    want = pytensor.function(ins, outputs, mode=FAST)(X, MASK)
    got = run_on_backend(backend, ins, outputs, [X, MASK])
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("backend", backend_params())
def test_container_backends_agree(backend):
    """The container's LSTM (masked, backwards, learned initial states):
    outputs and gradients equal on every backend, JAX included (its
    learned initial states are repeated over a batch JAX can trace)."""
    l_in, l_mask = InputLayer((B, T, F)), InputLayer((B, T))
    x_t, h_prev, c_prev = (InputLayer((None, F)), StateLayer((None, H)),
                           StateLayer((None, H)))
    gate, h_t, c_t = lstm_cell(x_t, h_prev, c_prev)
    container = RecurrentContainerLayer(
        {x_t: l_in}, {h_prev: h_t, c_prev: c_t}, mask_input=l_mask,
        backwards=True, learn_init=True,
        state_inits={h_prev: init.Normal(0.5), c_prev: init.Normal(0.5)})
    out = get_output(container)
    params = get_all_params(container, trainable=True)
    assert len(params) == 10
    outputs = [out] + pytensor.grad((out ** 2).sum(), params)
    ins = [l_in.input_var, l_mask.input_var]
    want = pytensor.function(ins, outputs, mode=FAST)(X, MASK)
    got = run_on_backend(backend, ins, outputs, [X, MASK])
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)
