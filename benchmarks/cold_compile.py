#!/usr/bin/env python
"""Time to the first training step: each case in a new process with an
empty PyTensor compiledir, timing ``pytensor.function`` plus the first call
(Numba compiles lazily). Wall and CPU seconds are printed: on a loaded
machine the CPU time is the steadier figure.

* ``mlp``: two dense layers (256, 10), squared error, SGD.
* ``cnn``: Lasagne's MNIST CNN (examples/mnist.py cnn), Nesterov momentum.
* ``lstm``: an LSTM layer (64 units) and a softmax layer, Adam.
* ``resnet20``: ResNet-20 for CIFAR-10 (He et al. 2016: 3 stages of 3
  residual blocks, 16/32/64 channels, batch normalization), batch 128.
* ``variant``: the MNIST CNN with other widths (16 filters, 128
  units) trained with Adam, compiled after ``cnn`` in the same compiledir,
  as when a user edits a script and runs it again.

Our own kernels (convolution, recurrence, batch norm, the matrix products
of the node linker) are compiled once per machine into Numba's cache beside
their sources, by ``python -m lasagne.precompile`` after installing (or at
their first use); ``--cold-kernels`` deletes that cache first, to time a
machine's very first use without that step.

    python benchmarks/cold_compile.py [--mode MODE] [--cold-kernels] [case ...]
"""
import argparse
import glob
import os
import resource
import subprocess
import sys
import tempfile
import time

CASES = ("mlp", "cnn", "lstm", "resnet20", "variant")


def _mnist_cnn(x_var, filters=32, units=256):
    from lasagne.layers import (Conv2DLayer, DenseLayer, DropoutLayer,
                                InputLayer, MaxPool2DLayer)
    from lasagne.nonlinearities import softmax
    net = InputLayer((None, 1, 28, 28), input_var=x_var)
    net = MaxPool2DLayer(Conv2DLayer(net, filters, 5), 2)
    net = MaxPool2DLayer(Conv2DLayer(net, filters, 5), 2)
    net = DenseLayer(DropoutLayer(net, 0.5), units)
    return DenseLayer(DropoutLayer(net, 0.5), 10, nonlinearity=softmax)


def _resnet20(x_var):
    from lasagne.layers import (Conv2DLayer, DenseLayer, ElemwiseSumLayer,
                                ExpressionLayer, GlobalPoolLayer, InputLayer,
                                NonlinearityLayer, PadLayer, batch_norm)
    from lasagne.nonlinearities import rectify, softmax
    net = InputLayer((None, 3, 32, 32), input_var=x_var)
    net = batch_norm(Conv2DLayer(net, 16, 3, pad="same"))
    for stage, width in enumerate((16, 32, 64)):
        for block in range(3):
            stride = 2 if stage > 0 and block == 0 else 1
            branch = batch_norm(Conv2DLayer(net, width, 3, stride=stride,
                                            pad="same"))
            branch = batch_norm(Conv2DLayer(branch, width, 3, pad="same",
                                            nonlinearity=None))
            shortcut = net
            if stride == 2:
                # He et al.'s option A: subsample, pad the new channels.
                shortcut = ExpressionLayer(
                    net, lambda x: x[:, :, ::2, ::2],
                    lambda s: (s[0], s[1], s[2] // 2, s[3] // 2))
                shortcut = PadLayer(shortcut, [width // 4, 0, 0],
                                    batch_ndim=1)
            net = NonlinearityLayer(ElemwiseSumLayer([branch, shortcut]),
                                    rectify)
    return DenseLayer(GlobalPoolLayer(net), 10, nonlinearity=softmax)


def build(case):
    """The training function's inputs, loss, updates and a batch."""
    import numpy as np
    import pytensor.tensor as pt

    import lasagne
    from lasagne.layers import (DenseLayer, InputLayer, LSTMLayer,
                                get_all_params, get_output)
    from lasagne.nonlinearities import linear, softmax

    rng = np.random.default_rng(0)
    y_var = pt.ivector("y")
    if case == "lstm":
        x_var = pt.tensor3("x")
        net = InputLayer((None, 20, 32), input_var=x_var)
        net = LSTMLayer(net, 64, only_return_final=True)
        net = DenseLayer(net, 10, nonlinearity=softmax)
        X = rng.standard_normal((16, 20, 32)).astype("float32")
    elif case == "resnet20":
        x_var = pt.tensor4("x")
        net = _resnet20(x_var)
        X = rng.standard_normal((128, 3, 32, 32)).astype("float32")
    else:
        x_var = pt.tensor4("x")
        if case == "cnn":
            net = _mnist_cnn(x_var)
        elif case == "variant":
            net = _mnist_cnn(x_var, filters=16, units=128)
        else:
            net = InputLayer((None, 1, 28, 28), input_var=x_var)
            net = DenseLayer(DenseLayer(net, 256), 10, nonlinearity=linear)
        X = rng.standard_normal((500, 1, 28, 28)).astype("float32")
    out = get_output(net)
    params = get_all_params(net, trainable=True)
    if case == "mlp":
        loss = ((out - y_var[:, None]) ** 2).mean()
        updates = lasagne.updates.sgd(loss, params, 0.01)
    else:
        loss = lasagne.objectives.categorical_crossentropy(out, y_var).mean()
        updates = (lasagne.updates.adam(loss, params)
                   if case in ("lstm", "variant")
                   else lasagne.updates.nesterov_momentum(loss, params, 0.01))
    Y = rng.integers(0, 10, X.shape[0]).astype("int32")
    return [x_var, y_var], loss, updates, (X, Y)


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(case, mode):
    import lasagne  # noqa: F401  (first, as in the other benchmarks)
    import pytensor
    pytensor.config.floatX = "float32"
    inputs, loss, updates, batch = build(case)
    start, cpu = time.perf_counter(), _cpu()
    fn = pytensor.function(inputs, loss, updates=updates, mode=mode)
    float(fn(*batch))  # waits for the loss (JAX computes in the background)
    print(f"{time.perf_counter() - start:.1f} {_cpu() - cpu:.1f}")


def _run(case, mode, compiledir):
    env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={compiledir}")
    command = [sys.executable, __file__, "--child", case]
    if mode:
        command += ["--mode", mode]
    run = subprocess.run(command, env=env, capture_output=True, text=True)
    if run.returncode:
        sys.exit(f"{case} failed:\n{run.stderr[-3000:]}")
    return run.stdout.split()[-2:]


def main(cases, mode, cold_kernels):
    for case in cases:
        if cold_kernels:
            package = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                   os.pardir, "lasagne")
            for folder in ("__pycache__", os.path.join("ops", "__pycache__")):
                for path in glob.glob(os.path.join(package, folder,
                                                   "*.nb[ic]")):
                    os.remove(path)
        with tempfile.TemporaryDirectory() as compiledir:
            if case == "variant":
                wall, cpu = _run("cnn", mode, compiledir)
                print(f"(cnn      {mode or 'default':10s} first step after "
                      f"{wall} s (CPU {cpu} s), before the variant)")
            wall, cpu = _run(case, mode, compiledir)
        print(f"{case:8s} {mode or 'default':10s} first step after "
              f"{wall} s (CPU {cpu} s)", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", metavar="case",
                        help=f"any of {', '.join(CASES)} (default: all)")
    parser.add_argument("--mode", default=None,
                        help="PyTensor mode (default: the default mode)")
    parser.add_argument("--cold-kernels", action="store_true")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; choose from {CASES}")
    if args.child:
        child(args.child, args.mode)
    else:
        main(args.cases or list(CASES), args.mode, args.cold_kernels)
