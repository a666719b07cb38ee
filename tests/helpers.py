"""Shared test helpers: cheap compilation, backend parity, layer contracts.

Compilation dominates a PyTensor test suite, so most tests compile with
:data:`FAST` (a Python VM, no Numba/C code generation). Backend parity checks
compile the same graph with Numba, the C VM and JAX and compare the numbers.
"""
import functools
import importlib.util

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

FAST = "FAST_COMPILE"

#: The backends every layer must agree on: name -> PyTensor mode.
BACKENDS = {"numba": "NUMBA", "c": "CVM", "jax": "JAX"}

HAS_JAX = importlib.util.find_spec("jax") is not None


def compile_fn(inputs, outputs, mode=FAST, **kwargs):
    """``pytensor.function`` with the cheap test mode by default."""
    return pytensor.function(inputs, outputs, mode=mode,
                             on_unused_input="ignore", **kwargs)


def tolerance(dtype=None):
    """(rtol, atol) suited to the float precision in use."""
    dtype = dtype or pytensor.config.floatX
    return (1e-4, 1e-5) if dtype == "float32" else (1e-7, 1e-9)


def backend_params():
    """pytest parameters for the three backends (JAX skipped if absent)."""
    return [pytest.param(name, id=name, marks=[pytest.mark.backends] + (
        [pytest.mark.skipif(not HAS_JAX, reason="jax is not installed")]
        if name == "jax" else []))
        for name in BACKENDS]


def run_on_backend(backend, inputs, outputs, values, **kwargs):
    """Compile on one backend and return the outputs as numpy arrays."""
    fn = pytensor.function(inputs, outputs, mode=BACKENDS[backend],
                           on_unused_input="ignore", **kwargs)
    result = fn(*values)
    if isinstance(outputs, (list, tuple)):
        return [np.asarray(r) for r in result]
    return np.asarray(result)


def assert_backends_agree(inputs, outputs, values, rtol=None, atol=None,
                          reference=None, backends=None):
    """Compile `outputs` on every backend, check all agree with `reference`
    (or with the FAST_COMPILE result if none is given). Returns the
    per-backend results."""
    default_rtol, default_atol = tolerance()
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    single = not isinstance(outputs, (list, tuple))
    outs = [outputs] if single else list(outputs)
    if reference is None:
        reference = compile_fn(inputs, outs)(*values)
    elif single:
        reference = [reference]
    results = {}
    for backend in backends or BACKENDS:
        if backend == "jax" and not HAS_JAX:
            continue
        got = run_on_backend(backend, inputs, outs, values)
        for i, (g, r) in enumerate(zip(got, reference)):
            np.testing.assert_allclose(
                g, r, rtol=rtol, atol=atol,
                err_msg=f"backend {backend!r} disagrees on output {i}")
        results[backend] = got[0] if single else got
    return results


def floatX(x):
    return np.asarray(x, dtype=pytensor.config.floatX)


@functools.lru_cache(maxsize=None)
def _rng(seed):
    return np.random.default_rng(seed)


def random_array(shape, seed=0, low=-1.0, high=1.0):
    """Deterministic floatX test data."""
    return floatX(np.random.default_rng(seed).uniform(low, high, size=shape))


def symbolic_like(shape, name="x", dtype=None):
    """A tensor variable with the given number of dimensions."""
    return pt.tensor(name=name, dtype=dtype or pytensor.config.floatX,
                     shape=(None,) * len(shape))


def check_layer(layer, input_values, reference=None, backends=False,
                rtol=None, atol=None, **get_output_kwargs):
    """Check a layer's contract and return its output (numpy).

    * the output computed for `input_values` (a dict InputLayer -> array, or
      one array for a single-input graph) has the declared
      ``layer.output_shape`` on every known dimension, and the shape
      ``get_output_shape`` gives for the concrete input shapes (``None``
      there meaning "not known in advance");
    * it equals `reference` when given;
    * with ``backends=True``, Numba, C and JAX compute the same numbers.
    """
    from lasagne.layers import InputLayer, get_all_layers, get_output, get_output_shape
    inputs = [l for l in get_all_layers(layer) if isinstance(l, InputLayer)]
    if not isinstance(input_values, dict):
        assert len(inputs) == 1, "several inputs: pass a dict"
        input_values = {inputs[0]: input_values}
    variables = [l.input_var for l in input_values]
    values = list(input_values.values())
    output = get_output(layer, **get_output_kwargs)
    computed = compile_fn(variables, output)(*values)
    declared = layer.output_shape
    assert len(declared) == computed.ndim, (declared, computed.shape)
    for d, c in zip(declared, computed.shape):
        assert d is None or d == c, f"declared {declared}, computed {computed.shape}"
    concrete = get_output_shape(layer, {l: np.shape(v) for l, v in input_values.items()})
    assert len(concrete) == computed.ndim and all(
        c is None or c == s for c, s in zip(concrete, computed.shape)), \
        f"get_output_shape {concrete}, computed {computed.shape}"
    if reference is not None:
        r, a = tolerance()
        np.testing.assert_allclose(computed, reference, rtol=rtol or r, atol=atol or a)
    if backends:
        assert_backends_agree(variables, output, values, reference=computed,
                              rtol=rtol, atol=atol)
    return computed
