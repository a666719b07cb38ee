"""Run by tests/test_parallel.py in a fresh process, so that XLA's host
device count (XLA_FLAGS) is set before JAX is imported.

    python tests/parallel_worker.py local OUT.npz
        for each net: parameters after a few steps on one device (plain
        mode="JAX"), data-parallel on every device, and sharded.
    python tests/parallel_worker.py dist OUT.npz PROCESS_ID NPROC PORT
        the data-parallel steps in one of NPROC processes (jax.distributed),
        each fed its own part of every global batch.
"""
import sys

import numpy as np


def build(kind):
    import pytensor
    import pytensor.tensor as pt
    import lasagne
    from lasagne import layers as L

    lasagne.random.set_rng(np.random.RandomState(0))
    y = pt.ivector("y")
    if kind == "mlp":
        x = pt.matrix("x")
        net = L.DenseLayer(L.InputLayer((None, 8), x), 8)
        net = L.DenseLayer(net, 3, nonlinearity=lasagne.nonlinearities.softmax)
        shape = (8,)
    elif kind == "cnn_bn":
        x = pt.tensor4("x")
        net = L.InputLayer((None, 1, 6, 6), x)
        net = L.batch_norm(L.Conv2DLayer(net, 4, 3, pad=1))
        net = L.MaxPool2DLayer(net, 2)
        net = L.DenseLayer(net, 3, nonlinearity=lasagne.nonlinearities.softmax)
        shape = (1, 6, 6)
    else:
        x = pt.tensor3("x")
        net = L.LSTMLayer(L.InputLayer((None, 5, 2), x), 4,
                          only_return_final=True)
        net = L.DenseLayer(net, 3, nonlinearity=lasagne.nonlinearities.softmax)
        shape = (5, 2)
    loss = lasagne.objectives.categorical_crossentropy(
        L.get_output(net), y).mean()
    params = L.get_all_params(net, trainable=True)
    updates = lasagne.updates.adam(loss, params, learning_rate=0.01)
    rng = np.random.default_rng(1)
    floatX = pytensor.config.floatX
    batches = [(rng.normal(size=(8,) + shape).astype(floatX),
                rng.integers(0, 3, 8).astype("int32")) for _ in range(3)]
    return net, [x, y], loss, updates, batches


def state(net):
    from lasagne import layers as L
    return [np.asarray(v) for v in L.get_all_param_values(net)]


def local(out):
    import jax
    import pytensor
    from lasagne.parallel import data_parallel_function, default_mesh
    from jax.sharding import Mesh

    results = {"devices": np.array(len(jax.devices()))}
    steps = {}
    for kind in ("mlp", "cnn_bn", "lstm"):
        for variant in ("one", "replicated", "sharded"):
            net, inputs, loss, updates, batches = build(kind)
            if variant == "one":
                step = pytensor.function(inputs, loss, updates=updates,
                                         mode="JAX")
            else:
                step = data_parallel_function(
                    inputs, loss, updates=updates, mesh=default_mesh(),
                    shard_params=variant == "sharded")
            losses = [float(step(*b)) for b in batches]
            steps[kind, variant] = step
            if variant != "one":
                step.sync()
                results[f"{kind}/{variant}/split"] = np.array(sum(
                    not a.sharding.is_fully_replicated
                    for a in step._state.values() if hasattr(a, "sharding")))
            results[f"{kind}/{variant}/loss"] = np.array(losses)
            for j, v in enumerate(state(net)):
                results[f"{kind}/{variant}/{j}"] = v
        # A one-device mesh gives the same as plain mode="JAX" too.
    net, inputs, loss, updates, batches = build("mlp")
    step = data_parallel_function(inputs, loss, updates=updates,
                                  mesh=Mesh(np.array(jax.devices()[:1]), ("b",)))
    for b in batches:
        step(*b)
    step.sync()
    for j, v in enumerate(state(net)):
        results[f"mlp/mesh1/{j}"] = v
    # The batch is checked before anything runs: the step made above will do.
    step = steps["mlp", "replicated"]
    try:
        step(batches[0][0][:6], batches[0][1][:6])  # 6 rows, 4 devices
    except ValueError as exc:
        results["bad_batch_error"] = np.array(str(exc))
    np.savez(out, **results)


def dist(out, process_id, nproc, port):
    import jax
    jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=nproc,
                               process_id=process_id)
    from lasagne.parallel import data_parallel_function, default_mesh

    results = {"devices": np.array(len(jax.devices()))}
    for kind in ("mlp",):
        net, inputs, loss, updates, batches = build(kind)
        step = data_parallel_function(inputs, loss, updates=updates,
                                      mesh=default_mesh())
        part = slice(process_id * 8 // nproc, (process_id + 1) * 8 // nproc)
        losses = [float(step(*(v[part] for v in b))) for b in batches]
        step.sync()
        results[f"{kind}/dist/loss"] = np.array(losses)
        for j, v in enumerate(state(net)):
            results[f"{kind}/dist/{j}"] = v
    np.savez(out, **results)
    jax.distributed.shutdown()


if __name__ == "__main__":
    if sys.argv[1] == "local":
        local(sys.argv[2])
    else:
        dist(sys.argv[2], *map(int, sys.argv[3:6]))
