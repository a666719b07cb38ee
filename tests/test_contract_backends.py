"""Backend parity of the contract registry: the outputs of all its cases
compiled into one function per backend (three compilations for the whole
registry instead of three per layer), against the FAST_COMPILE numbers.

A file of its own (the registry is :mod:`tests.test_contract`'s) so that a
parallel test run gives these long compilations and the per-layer contract
checks to different workers.
"""
import numpy as np
import pytest

import lasagne.layers as L
from tests.helpers import backend_params, compile_fn, run_on_backend, tolerance
from tests.test_contract import N, REGISTRY


@pytest.mark.slow   # one graph of ~65 layers: Numba alone takes ~2.5 min here
# PyTensor's JAX backend drops the recurrent graphs' shape Asserts, saying so
@pytest.mark.filterwarnings("ignore:Skipping Assert:UserWarning")
@pytest.mark.parametrize("backend", backend_params())
def test_backends_agree(backend):
    """All registry layers in one function per backend (deterministic
    outputs), against the FAST_COMPILE numbers."""
    variables, values, outputs, names = [], [], [], []
    for cls, case in REGISTRY.items():
        layer, inputs = case.build(N)
        variables += [l.input_var for l in inputs]
        values += list(inputs.values())
        outputs.append(L.get_output(layer, deterministic=True))
        names.append(cls.__name__)
    reference = compile_fn(variables, outputs)(*values)
    got = run_on_backend(backend, variables, outputs, values)
    rtol, atol = tolerance()
    for name, g, r in zip(names, got, reference, strict=True):
        np.testing.assert_allclose(g, r, rtol=rtol, atol=atol,
                                   err_msg=f"{backend} disagrees on {name}")
