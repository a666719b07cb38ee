#!/usr/bin/env python
"""Cold compile time of training functions: each in a new process with an
empty PyTensor compiledir, timing ``pytensor.function`` plus the first call
(Numba compiles lazily).

Our kernels stay in Numba's on-disk cache (they are compiled once per dtype
and machine); delete ``lasagne/ops/__pycache__/*.nb*`` first to time a
machine's very first use.

* ``cnn``: Lasagne's MNIST CNN (examples/mnist.py cnn), Nesterov momentum.
* ``mlp``: the same network without convolution, pooling, dropout and
  softmax (two dense layers, squared error, SGD): PyTensor's own floor.
* ``lstm``: an LSTM layer (64 units) and a softmax layer, Adam.

    python benchmarks/cold_compile.py [--mode JAX] [cnn] [mlp] [lstm]

``--mode`` compiles with another PyTensor mode (default: Numba).
"""
import os
import subprocess
import sys
import tempfile
import time

VARIANTS = ("cnn", "mlp", "lstm")


def build(variant):
    """The training function's inputs, loss, updates and a batch."""
    import numpy as np
    import pytensor.tensor as pt

    import lasagne
    from lasagne.layers import (Conv2DLayer, DenseLayer, DropoutLayer,
                                InputLayer, LSTMLayer, MaxPool2DLayer,
                                get_all_params, get_output)
    from lasagne.nonlinearities import linear, softmax

    rng = np.random.default_rng(0)
    y_var = pt.ivector("y")
    if variant == "lstm":
        x_var = pt.tensor3("x")
        net = InputLayer((None, 20, 32), input_var=x_var)
        net = LSTMLayer(net, 64, only_return_final=True)
        net = DenseLayer(net, 10, nonlinearity=softmax)
        X = rng.standard_normal((16, 20, 32)).astype("float32")
    else:
        x_var = pt.tensor4("x")
        net = InputLayer((None, 1, 28, 28), input_var=x_var)
        if variant == "cnn":
            net = MaxPool2DLayer(Conv2DLayer(net, 32, 5), 2)
            net = MaxPool2DLayer(Conv2DLayer(net, 32, 5), 2)
            net = DenseLayer(DropoutLayer(net, 0.5), 256)
            net = DenseLayer(DropoutLayer(net, 0.5), 10, nonlinearity=softmax)
        else:
            net = DenseLayer(DenseLayer(net, 256), 10, nonlinearity=linear)
        X = rng.standard_normal((500, 1, 28, 28)).astype("float32")
    out = get_output(net)
    params = get_all_params(net, trainable=True)
    if variant == "mlp":
        loss = ((out - y_var[:, None]) ** 2).mean()
        updates = lasagne.updates.sgd(loss, params, 0.01)
    else:
        loss = lasagne.objectives.categorical_crossentropy(out, y_var).mean()
        updates = (lasagne.updates.adam(loss, params) if variant == "lstm"
                   else lasagne.updates.nesterov_momentum(loss, params, 0.01))
    Y = rng.integers(0, 10, X.shape[0]).astype("int32")
    return [x_var, y_var], loss, updates, (X, Y)


def child(variant, mode=None):
    import lasagne  # noqa: F401  (first, as in the other benchmarks)
    import pytensor
    pytensor.config.floatX = "float32"
    inputs, loss, updates, batch = build(variant)
    start = time.perf_counter()
    fn = pytensor.function(inputs, loss, updates=updates, mode=mode)
    fn(*batch)
    print(f"{time.perf_counter() - start:.1f}")


def main(variants, mode=None):
    for variant in variants:
        with tempfile.TemporaryDirectory() as compiledir:
            env = dict(os.environ,
                       PYTENSOR_FLAGS=f"base_compiledir={compiledir}")
            run = subprocess.run(
                [sys.executable, __file__, "--child", variant]
                + ([mode] if mode else []), env=env,
                capture_output=True, text=True, check=True)
        print(f"{variant:5s} cold compile {run.stdout.split()[-1]} s")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:4])
    else:
        argv, mode = sys.argv[1:], None
        if "--mode" in argv:
            at = argv.index("--mode")
            mode = argv[at + 1]
            del argv[at:at + 2]
        chosen = argv or list(VARIANTS)
        unknown = set(chosen) - set(VARIANTS)
        if unknown:
            sys.exit(f"unknown variants {sorted(unknown)}; "
                     f"choose from {VARIANTS}")
        main(chosen, mode)
