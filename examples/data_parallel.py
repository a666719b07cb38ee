#!/usr/bin/env python
"""Data-parallel training of the MNIST CNN (with batch normalization) on
every device JAX sees: one CPU, several devices, several processes.

The loss and the updates are written as always; only the compilation of
the training step changes (:func:`lasagne.parallel.data_parallel_function`).
Evaluation uses an ordinary ``pytensor.function`` after ``step.sync()``,
and the trained parameters are saved with :mod:`lasagne.persistence`.

One process, one device::

    python examples/data_parallel.py

One process, four (simulated) CPU devices; on a machine with four GPUs
and a CUDA jaxlib, the GPUs without the flag::

    XLA_FLAGS=--xla_force_host_platform_device_count=4 \\
        python examples/data_parallel.py

Two processes (here both on this machine; on several hosts, give the
first host's address), each with two devices::

    for i in 0 1; do XLA_FLAGS=--xla_force_host_platform_device_count=2 \\
        python examples/data_parallel.py --processes 2 --process-id $i \\
        --coordinator 127.0.0.1:12355 & done; wait

Each process reads the same data and feeds its own part of every global
batch; the global batch size stays the same whatever the number of
devices, so the three runs compute the same steps.
"""
import argparse
import os
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--batch-size", type=int, default=200,
                        help="global batch size (all devices together)")
    parser.add_argument("--shard-params", action="store_true",
                        help="split parameters over the devices (FSDP-style)")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--process-id", type=int, default=0)
    parser.add_argument("--coordinator", default="127.0.0.1:12355")
    parser.add_argument("--save", metavar="FILE", default=None,
                        help="save the trained parameters (process 0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", default=None,
                        help="PyTensor mode of the evaluation function "
                             "(default: Numba; e.g. JAX); the training step "
                             "always runs on JAX")
    return parser.parse_args(argv)


def main(args):
    import jax
    if args.processes > 1:
        # Before any computation: joins the processes into one runtime.
        jax.distributed.initialize(args.coordinator,
                                   num_processes=args.processes,
                                   process_id=args.process_id)
    import numpy as np
    import pytensor
    import pytensor.tensor as pt

    import lasagne
    from lasagne import layers as L
    from lasagne.parallel import data_parallel_function, default_mesh
    from datasets import load_mnist
    from training import iterate_minibatches

    lasagne.random.set_rng(np.random.RandomState(args.seed))
    rank, nproc = jax.process_index(), jax.process_count()
    X_train, y_train, X_val, y_val, _, _ = load_mnist(verbose=rank == 0)
    X_train, y_train = X_train[:args.train_size], y_train[:args.train_size]

    x, y = pt.tensor4("x"), pt.ivector("y")
    net = L.InputLayer((None, 1, 28, 28), x)
    net = L.MaxPool2DLayer(L.batch_norm(L.Conv2DLayer(net, 32, 5)), 2)
    net = L.MaxPool2DLayer(L.batch_norm(L.Conv2DLayer(net, 32, 5)), 2)
    net = L.DenseLayer(L.DropoutLayer(net, 0.5), 256)
    net = L.DenseLayer(net, 10, nonlinearity=lasagne.nonlinearities.softmax)

    loss = lasagne.objectives.categorical_crossentropy(
        L.get_output(net), y).mean()
    params = L.get_all_params(net, trainable=True)
    updates = lasagne.updates.adam(loss, params, learning_rate=1e-3)

    mesh = default_mesh()   # every device of every process, axis "batch"
    step = data_parallel_function([x, y], loss, updates=updates, mesh=mesh,
                                  shard_params=args.shard_params)
    test_out = L.get_output(net, deterministic=True)
    accuracy = pytensor.function(
        [x, y], lasagne.objectives.categorical_accuracy(test_out, y).mean(),
        mode=args.mode)
    if rank == 0:
        print(f"{nproc} process(es), {mesh.devices.size} device(s): "
              f"{jax.devices()[0].platform}; global batch {args.batch_size}")

    part = args.batch_size // nproc
    for epoch in range(args.epochs):
        rng = np.random.RandomState(args.seed + epoch)  # same in every process
        losses = []
        for inputs, targets in iterate_minibatches(
                X_train, y_train, args.batch_size, shuffle=True, rng=rng):
            mine = slice(rank * part, (rank + 1) * part)
            losses.append(float(step(inputs[mine], targets[mine])))
        step.sync()  # device state -> the layers' shared variables
        acc = np.mean([accuracy(a, b) for a, b in
                       iterate_minibatches(X_val, y_val, 500)])
        if rank == 0:
            print(f"epoch {epoch + 1}: training loss {np.mean(losses):.4f}  "
                  f"validation accuracy {acc * 100:.2f} %", flush=True)
    if args.save and rank == 0:
        lasagne.persistence.save_params(net, args.save)
        print(f"parameters saved to {args.save}")
    if nproc > 1:
        jax.distributed.shutdown()
    return {"loss": float(np.mean(losses)), "accuracy": float(acc)}


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import pytensor
    pytensor.config.floatX = "float32"
    main(parse_args())
