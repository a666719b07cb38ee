"""Shared test helpers: cheap compilation, backend parity, layer contracts.

Compilation dominates a PyTensor test suite, so most tests compile with
:data:`FAST` (a Python VM, no Numba/C code generation). Backend parity checks
compile the same graph with Numba, the C VM and JAX and compare the numbers.

``pytensor.gradient.verify_grad(..., mode=FAST)`` compiles its
finite-difference cost with ``FAST_RUN`` unless given
``no_debug_ref=False``: in PyTensor 3 a whole-graph Numba compilation, 5-30 s
cold, for every call. The tests pass ``no_debug_ref=False`` so that all
three of its functions compile with the mode they name.
"""
import functools
import importlib.util

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

#: The cheap mode most tests compile with: FAST_COMPILE's Python VM, with
#: only the rewrites a graph needs to run (PyTensor's ``minimum_compile``).
#: FAST_COMPILE's own rewrites (shape inference, canonicalisation) cost
#: ten times the rest of a small function's compile (0.37 s against 0.03 s
#: for a convolution and dense layer trained with Adam), and a value check
#: has no use for them; 3,000 such compiles made up a fifth of the suite.
FAST = "FAST_CHECK"


def _register_fast_check():
    from pytensor.compile.mode import (Mode, get_mode, predefined_modes,
                                       register_mode)
    if FAST not in predefined_modes:
        register_mode(FAST, Mode(get_mode("FAST_COMPILE").linker,
                                 "minimum_compile"))


_register_fast_check()

#: The backends every layer must agree on: name -> PyTensor mode.
#:
#: "numba" is the library's default mode, the node linker ``"NUMBA_NODE"``
#: (:mod:`lasagne.linker`): what users get. Alone, cold, the registry's
#: parity graph compiles in 184 s against 246 s with PyTensor's whole-graph
#: linker (``"NUMBA"``); in a whole cold CI run the two choices took the
#: same time (17:16 and 17:01 of pytest). The whole-graph linker stays checked:
#: the kernel tests of ``tests/ops/`` compile their Ops with ``mode="NUMBA"``,
#: and ``tests/test_linker.py`` runs the graph of ``mode="NUMBA"`` (a CNN, a
#: batch-normalised perceptron, an LSTM) node for node against the node
#: linker.
BACKENDS = {"numba": "NUMBA_NODE", "c": "CVM", "jax": "JAX"}

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


#: The tags every contract case states for each parameter.
CONTRACT_TAGS = ("trainable", "regularizable")


def _graph_inputs(layer, input_values):
    """The graph's InputLayers and a dict InputLayer -> value."""
    from lasagne.layers import InputLayer, get_all_layers
    inputs = [l for l in get_all_layers(layer) if isinstance(l, InputLayer)]
    if not isinstance(input_values, dict):
        assert len(inputs) == 1, "several inputs: pass a dict"
        input_values = {inputs[0]: input_values}
    return inputs, input_values


def _param_tags(layer):
    """{parameter name: set of CONTRACT_TAGS it carries} for a whole graph."""
    from lasagne.layers import get_all_params
    names = {}
    for p in get_all_params(layer):
        assert p.name not in names, f"two parameters are named {p.name!r}"
        names[p.name] = set()
    for tag in CONTRACT_TAGS:
        for p in get_all_params(layer, **{tag: True}):
            names[p.name].add(tag)
    return names


def _contract_grad(layer, input_values, grad, constant_inputs):
    """verify_grad of the deterministic output w.r.t. the float inputs not
    named in `constant_inputs` (grad="inputs"), or w.r.t. the parameters
    (grad="params")."""
    from pytensor.graph.replace import graph_replace

    from lasagne.layers import get_all_params, get_output
    values = dict(input_values)
    if grad == "inputs":
        wrt = [l for l in values if l.name not in constant_inputs]
        assert wrt and all(values[l].dtype.kind == "f" for l in wrt), \
            "grad='inputs' needs float inputs: use grad='params'"
        for l in wrt:
            assert values[l].dtype == np.float64, "verify_grad needs float64"
        fixed = {l: v for l, v in values.items() if l not in wrt}

        def fn(*xs):
            mapping = dict(zip(wrt, xs))
            mapping.update(fixed)
            return get_output(layer, mapping, deterministic=True)

        point = [values[l] for l in wrt]
    else:
        params = get_all_params(layer, trainable=True)
        assert params, "grad='params' on a layer without trainable parameters"
        output = get_output(layer, values, deterministic=True)

        def fn(*ps):
            return graph_replace(output, dict(zip(params, ps)), strict=False)

        point = [p.get_value() for p in params]
        assert all(v.dtype == np.float64 for v in point), "verify_grad needs float64"
    pytensor.gradient.verify_grad(fn, point, rng=np.random.default_rng(0),
                                  mode=FAST, no_debug_ref=False)


def _run(layer, input_values):
    from lasagne.layers import get_output
    out = get_output(layer, deterministic=True)
    return compile_fn([l.input_var for l in input_values], out)(*input_values.values())


def check_contract(layer, input_values, unknown_batch=None, n_params=0,
                   tags=None, grad="inputs", constant_inputs=(),
                   backends=True):
    """Check a layer's whole contract.

    Parameters
    ----------
    layer, input_values : the layer built on InputLayers with a fixed batch
        size, and its input values (one array or a dict InputLayer -> array).
    unknown_batch : (layer, input_values) for the same layer built on
        InputLayers whose batch size is None; its shapes are checked too.
    n_params : expected ``count_params(layer)`` (the whole graph).
    tags : expected {parameter name: set of tags among CONTRACT_TAGS} for
        every parameter of the graph (None: the graph has none).
    grad : "inputs" (verify_grad w.r.t. the float inputs, except the
        InputLayers named in `constant_inputs`), "params" (w.r.t. the
        trainable parameters, for integer-input layers) or None (say why in
        the case).
    backends : also check Numba, C and JAX agree (deterministic output).

    Checked: declared == computed output shape (both builds); parameter
    count and tags; verify_grad; pickling round trip of the graph (same
    outputs, restored and independent parameters); get/set_all_param_values
    round trip; backend parity. Returns the deterministic output.
    """
    import pickle

    from lasagne.layers import (count_params, get_all_layers,
                                get_all_param_values, get_all_params,
                                set_all_param_values)
    inputs, input_values = _graph_inputs(layer, input_values)
    # -- shapes, for a fixed and an unknown batch size
    check_layer(layer, input_values, deterministic=True)
    if unknown_batch is not None:
        check_layer(*unknown_batch, deterministic=True)
        for d_unknown, d_fixed in zip(unknown_batch[0].output_shape,
                                      layer.output_shape, strict=True):
            assert d_unknown is None or d_unknown == d_fixed, \
                (unknown_batch[0].output_shape, layer.output_shape)
    # -- parameters
    assert count_params(layer) == n_params, (count_params(layer), n_params)
    assert _param_tags(layer) == (tags or {}), _param_tags(layer)
    assert sum(p.get_value().size for p in get_all_params(layer)) == n_params
    # -- gradients
    if grad is not None:
        _contract_grad(layer, input_values, grad, constant_inputs)
    reference = _run(layer, input_values)
    # -- pickling round trip
    clone = pickle.loads(pickle.dumps(layer))
    clone_inputs = [l for l, orig in zip(get_all_layers(clone), get_all_layers(layer))
                    if orig in input_values]
    assert len(clone_inputs) == len(input_values)
    clone_values = dict(zip(clone_inputs, input_values.values()))
    assert clone.output_shape == layer.output_shape
    r, a = tolerance()
    np.testing.assert_allclose(_run(clone, clone_values), reference, rtol=r, atol=a,
                               err_msg="the unpickled graph computes other numbers")
    values = get_all_param_values(layer)
    for got, want in zip(get_all_param_values(clone), values):
        np.testing.assert_array_equal(got, want)
    for p in get_all_params(clone):          # independent copies
        p.set_value(p.get_value() + 1)
    for got, want in zip(get_all_param_values(layer), values):
        np.testing.assert_array_equal(got, want)
    # -- get/set_all_param_values round trip
    if values:
        rng = np.random.default_rng(1)
        moved = [(v + rng.uniform(0.05, 0.2, v.shape)).astype(v.dtype)
                 for v in values]
        set_all_param_values(layer, moved)
        for got, want in zip(get_all_param_values(layer), moved):
            np.testing.assert_array_equal(got, want)
        assert not np.allclose(_run(layer, input_values), reference), \
            "new parameter values do not change the output"
        set_all_param_values(layer, values)
        np.testing.assert_array_equal(_run(layer, input_values), reference)
    # -- backends
    if backends:
        from lasagne.layers import get_output
        assert_backends_agree([l.input_var for l in input_values],
                              get_output(layer, deterministic=True),
                              list(input_values.values()), reference=reference)
    return reference
