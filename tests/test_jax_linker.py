"""mode="JAX" compiles networks as users write them: None sizes, integer
targets, noise, batch norm, recurrent layers, transformers, embeddings.

Each network's training step (loss and updated parameters) under JAX is
compared with the same step under FAST_COMPILE, at two batch sizes so that
a second shape signature is compiled too."""
import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import lasagne
from lasagne import layers as L
from lasagne.jax_linker import ShapeSpecializingJAXLinker
from tests.helpers import FAST, HAS_JAX

pytestmark = pytest.mark.skipif(not HAS_JAX, reason="jax is not installed")
floatX = pytensor.config.floatX


def _step(loss, params, inputs, mode):
    # Plain SGD: every parameter changes, its new value is an output.
    grads = pytensor.grad(loss, params)
    new = [p - 0.1 * g for p, g in zip(params, grads)]
    return pytensor.function(inputs, [loss, *new], mode=mode,
                             on_unused_input="ignore")


def _agree(network, inputs, loss, values_by_batch, extra_updates=()):
    params = L.get_all_params(network, trainable=True)
    ref = _step(loss, params, inputs, FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no copied-RNG or other warning
        jax_fn = _step(loss, params, inputs, "JAX")
        for values in values_by_batch:
            got = jax_fn(*values)
            want = ref(*values)
            for g, w in zip(got, want):
                np.testing.assert_allclose(np.asarray(g), w, rtol=2e-4,
                                           atol=2e-5)
    assert isinstance(jax_fn.maker.linker, ShapeSpecializingJAXLinker)
    return jax_fn


def _floats(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(floatX)


def test_mlp_integer_targets_none_batch():
    # categorical_crossentropy indexes with arange(batch): PyTensor's own
    # JAX linker refuses it when the batch size is None.
    x, y = pt.matrix("x"), pt.ivector("y")
    net = L.DenseLayer(L.InputLayer((None, 7), x), 5, name="hidden")
    net = L.DenseLayer(net, 3, nonlinearity=lasagne.nonlinearities.softmax)
    loss = lasagne.objectives.categorical_crossentropy(
        L.get_output(net), y).mean()
    rng = np.random.default_rng(1)
    batches = [(_floats(n, 7, seed=n), rng.integers(0, 3, n).astype("int32"))
               for n in (6, 4, 6)]
    fn = _agree(net, [x, y], loss, batches)
    # One program per batch size, the third call reused the first's.
    shapes = fn.maker.linker.compiled_shapes
    assert sorted(sig[0] for sig in shapes) == [(4, 7), (6, 7)]


@pytest.mark.filterwarnings("ignore:Skipping Assert:UserWarning")  # theirs
def test_pytensor_jax_linker_fails_on_this_graph():
    """The case above is what PyTensor's own JAX linker cannot compile
    (so that the test above would fail without our linker)."""
    from pytensor.compile.mode import JAX as pytensor_jax_mode
    x, y = pt.matrix("x"), pt.ivector("y")
    net = L.DenseLayer(L.InputLayer((None, 4), x), 3,
                       nonlinearity=lasagne.nonlinearities.softmax)
    loss = lasagne.objectives.categorical_crossentropy(
        L.get_output(net), y).mean()
    grads = pytensor.grad(loss, L.get_all_params(net))
    with pytest.raises(NotImplementedError, match="arange"):
        pytensor.function([x, y], [loss, *grads], mode=pytensor_jax_mode)


def test_cnn_batch_norm_running_averages():
    x, y = pt.tensor4("x"), pt.ivector("y")
    net = L.InputLayer((None, 1, 6, 6), x)
    net = L.batch_norm(L.Conv2DLayer(net, 3, 3, pad=1))
    net = L.MaxPool2DLayer(net, 2)
    net = L.DenseLayer(net, 2, nonlinearity=lasagne.nonlinearities.softmax)
    loss = lasagne.objectives.categorical_crossentropy(
        L.get_output(net), y).mean()
    params = L.get_all_params(net, trainable=True)
    updates = lasagne.updates.sgd(loss, params, 0.1)
    batches = [(_floats(n, 1, 6, 6, seed=n), np.arange(n, dtype="int32") % 2)
               for n in (5, 3)]
    bn = [lay for lay in L.get_all_layers(net)
          if isinstance(lay, L.BatchNormLayer)][0]
    results = {}
    for mode in (FAST, "JAX"):
        values = L.get_all_param_values(net)
        with warnings.catch_warnings():
            # PyTensor warned here that it skips a broadcasting Assert,
            # left unfolded inside a fused Composite.
            warnings.simplefilter("error")
            train = pytensor.function([x, y], loss, updates=updates,
                                      mode=mode)
            losses = [float(train(*b)) for b in batches]
        results[mode] = (losses, np.asarray(bn.mean.get_value()),
                         [np.asarray(v) for v in L.get_all_param_values(net)])
        L.set_all_param_values(net, values)
    np.testing.assert_allclose(results["JAX"][0], results[FAST][0], rtol=1e-4)
    assert np.abs(results[FAST][1]).sum() > 0  # running mean moved
    np.testing.assert_allclose(results["JAX"][1], results[FAST][1],
                               rtol=1e-4, atol=1e-6)
    for a, b in zip(results["JAX"][2], results[FAST][2]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_global_pool_no_skipped_assert_warning():
    # The fused graph kept a broadcasting check (batch of the targets ==
    # batch of the predictions) inside a Composite, where the specialised
    # sizes could not be folded: PyTensor warned that JAX skips the Assert.
    x, y = pt.tensor4("x"), pt.ivector("y")
    net = L.Conv2DLayer(L.InputLayer((None, 2, 5, 5), x), 3, 3, pad="same")
    net = L.DenseLayer(L.GlobalPoolLayer(net), 3,
                       nonlinearity=lasagne.nonlinearities.softmax)
    loss = lasagne.objectives.categorical_crossentropy(
        L.get_output(net), y).mean()
    _agree(net, [x, y], loss,
           [(_floats(n, 2, 5, 5, seed=n), np.arange(n, dtype="int32") % 3)
            for n in (4, 2)])


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn", "container"])
def test_recurrent_none_batch_and_length(kind):
    x = pt.tensor3("x")
    l_in = L.InputLayer((None, None, 3), x)
    if kind == "lstm":
        net = L.LSTMLayer(l_in, 4)
    elif kind == "gru":
        net = L.GRULayer(l_in, 4)
    elif kind == "rnn":
        net = L.RecurrentLayer(l_in, 4)
    else:
        x_t, h_prev = L.InputLayer((None, 3)), L.StateLayer((None, 4))
        h_t = L.DenseLayer(L.ConcatLayer([x_t, h_prev]), 4)
        net = L.RecurrentContainerLayer({x_t: l_in}, {h_prev: h_t})
    loss = pt.sqr(L.get_output(net)).mean()
    _agree(net, [x], loss, [(_floats(2, 5, 3),), (_floats(3, 4, 3, seed=1),)])


@pytest.mark.parametrize("kind", ["affine", "tps"])
def test_spatial_transformers_none_batch(kind):
    x = pt.tensor4("x")
    l_in = L.InputLayer((None, 1, 6, 6), x)
    if kind == "affine":
        loc = L.DenseLayer(l_in, 6, W=lasagne.init.Constant(0.0),
                           b=np.array([1, 0, 0, 0, 1, 0], floatX))
        net = L.TransformerLayer(l_in, loc, downsample_factor=2)
    else:
        loc = L.DenseLayer(l_in, 8, W=lasagne.init.Normal(0.01))
        net = L.TPSTransformerLayer(l_in, loc, control_points=4)
    loss = pt.sqr(L.get_output(net)).mean()
    _agree(net, [x], loss, [(_floats(2, 1, 6, 6),), (_floats(3, 1, 6, 6),)])


def test_embedding_none_sizes():
    idx = pt.imatrix("idx")
    net = L.EmbeddingLayer(L.InputLayer((None, None), idx), 10, 3)
    loss = pt.sqr(L.get_output(net)).mean()
    rng = np.random.default_rng(0)
    _agree(net, [idx], loss,
           [(rng.integers(0, 10, (2, 5)).astype("int32"),),
            (rng.integers(0, 10, (4, 2)).astype("int32"),)])


def _noise_run(seed, calls=3):
    lasagne.random.set_rng(np.random.RandomState(seed))
    x = pt.matrix("x")
    net = L.GaussianNoiseLayer(L.InputLayer((None, 50), x), sigma=0.1)
    net = L.DropoutLayer(net, p=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = pytensor.function([x], L.get_output(net), mode="JAX")
        data = np.ones((4, 50), floatX)
        return [np.asarray(f(data)) for _ in range(calls)], net


def test_noise_fresh_each_call_and_seed_reproduces():
    first, net = _noise_run(seed=7)
    again, _ = _noise_run(seed=7)
    other, _ = _noise_run(seed=8)
    assert not np.allclose(first[0], first[1])  # fresh masks at every call
    assert not np.allclose(first[1], first[2])
    for a, b in zip(first, again):             # the seed reproduces the run
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first[0], other[0])
    dropped = (first[0] == 0).mean()
    assert 0.3 < dropped < 0.7
    # The layers' shared generators stay numpy Generators.
    rngs = [v for v in pytensor.graph.traversal.ancestors([L.get_output(net)])
            if isinstance(v, pytensor.compile.SharedVariable)]
    assert rngs and all(isinstance(r.get_value(), np.random.Generator)
                        for r in rngs)


def test_shape_dependent_alloc_and_arange():
    x = pt.matrix("x")
    out = pt.zeros((x.shape[0] * 2, x.shape[1])) + pt.arange(x.shape[1] + 1)[1:]
    f = pytensor.function([x], out.sum(), mode="JAX")
    assert float(f(np.ones((3, 4), floatX))) == 6 * (1 + 2 + 3 + 4)
    assert float(f(np.ones((1, 2), floatX))) == 2 * (1 + 2)


def test_op_from_graph_inner_sizes():
    # An OpFromGraph's inner graph computes sizes from its inputs' shapes;
    # it used to reach JAX unspecialised ("arguments of jax.numpy.arange
    # must be constants").
    from pytensor.compile.builders import OpFromGraph
    a = pt.matrix("a")
    inner = (pt.zeros((a.shape[0] * 2, a.shape[1]))
             + pt.arange(a.shape[1] + 1)[:-1])
    op = OpFromGraph([a], [inner.sum(axis=0) * a.shape[0]])
    x = pt.matrix("x")
    f = pytensor.function([x], op(x) + 1, mode="JAX")
    for rows, cols in ((3, 4), (1, 2)):
        np.testing.assert_allclose(
            np.asarray(f(np.ones((rows, cols), floatX))),
            2 * rows * rows * np.arange(cols) + 1)


def test_float32_reductions_stay_float32():
    # PyTensor's JAX reductions returned their float64 accumulator's dtype,
    # which reached the float32 convolution gradients and failed there.
    x = pt.vector("x", dtype="float32")
    total = pt.sum(x, dtype="float32", acc_dtype="float64")
    assert total.dtype == "float32"
    f = pytensor.function([x], [total, total * x], mode="JAX")
    s, scaled = f(np.ones(3, "float32"))
    assert np.asarray(s).dtype == np.float32
    assert np.asarray(scaled).dtype == np.float32


def test_mnist_cnn_example_under_jax():
    """The MNIST CNN example as users run it with ``--mode JAX`` (dropout,
    convolution, pooling, integer targets, Nesterov momentum, float32),
    tiny: it must train. Every example and benchmark was run with
    ``--mode JAX`` by hand (the issue's note lists them)."""
    import os
    import sys
    examples = os.path.join(os.path.dirname(__file__), os.pardir, "examples")
    sys.path.insert(0, os.path.abspath(examples))
    datasets = pytest.importorskip("datasets")
    if (not os.environ.get("LASAGNE_DATA_DIR")
            and not os.path.isdir(datasets.cache_dir())):
        pytest.skip("MNIST is not available offline here")
    import mnist
    result = mnist.main("cnn", num_epochs=2, train_size=1000,
                        batch_size=250, learning_rate=0.1, mode="JAX",
                        seed=0)
    losses = result["history"]["train loss"]
    assert losses[1] < losses[0]
    assert result["test_accuracy"] > 0.5
