#!/usr/bin/env python
"""Training-step throughput of two PyTensor modes, side by side in one
process (alternating rounds, best round of each), on the MLP of
bench_mlp.py, the MNIST CNN and the ResNet-style network of bench_cnn.py.
Also checks that both modes compute the same loss.

    python benchmarks/bench_modes.py [--modes A B] [--only mlp cnn resnet]
"""
import argparse

from common import random_batch, set_threads, time_steps

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--modes", nargs=2, default=["NUMBA", "NUMBA_NODE"])
parser.add_argument("--only", nargs="*", default=["mlp", "cnn", "resnet"])
parser.add_argument("--steps", type=int, default=10)
parser.add_argument("--rounds", type=int, default=5)
args = parser.parse_args()
set_threads(args.threads)

import numpy as np  # noqa: E402
import pytensor  # noqa: E402
pytensor.config.floatX = "float32"
import pytensor.tensor as pt  # noqa: E402

import lasagne  # noqa: E402
from lasagne.layers import (Conv2DLayer, DenseLayer,  # noqa: E402
                            DropoutLayer, ElemwiseSumLayer, GlobalPoolLayer,
                            InputLayer, MaxPool2DLayer, NonlinearityLayer,
                            batch_norm)
from lasagne.nonlinearities import rectify, softmax  # noqa: E402


def mlp(x_var):
    net = InputLayer((None, 784), input_var=x_var)
    net = DropoutLayer(net, p=0.2)
    net = DenseLayer(DropoutLayer(DenseLayer(net, 800), p=0.5), 800)
    return DenseLayer(DropoutLayer(net, p=0.5), 10, nonlinearity=softmax)


def cnn(x_var):
    net = InputLayer((None, 1, 28, 28), input_var=x_var)
    net = MaxPool2DLayer(Conv2DLayer(net, 32, 5), 2)
    net = MaxPool2DLayer(Conv2DLayer(net, 32, 5), 2)
    net = DenseLayer(DropoutLayer(net, 0.5), 256)
    return DenseLayer(DropoutLayer(net, 0.5), 10, nonlinearity=softmax)


def resnet(x_var, width=16, blocks=3):
    net = InputLayer((None, 3, 32, 32), input_var=x_var)
    net = batch_norm(Conv2DLayer(net, width, 3, pad="same"))
    for _ in range(blocks):
        branch = batch_norm(Conv2DLayer(net, width, 3, pad="same"))
        branch = batch_norm(Conv2DLayer(branch, width, 3, pad="same",
                                        nonlinearity=None))
        net = NonlinearityLayer(ElemwiseSumLayer([net, branch]), rectify)
    return DenseLayer(GlobalPoolLayer(net), 10, nonlinearity=softmax)


CASES = {"mlp": (mlp, (500, 784), pt.matrix),
         "cnn": (cnn, (500, 1, 28, 28), pt.tensor4),
         "resnet": (resnet, (128, 3, 32, 32), pt.tensor4)}


def step_functions(name):
    """One training function per mode, on copies of the same parameters."""
    build, shape, var = CASES[name]
    X, y = random_batch(shape, 10)
    fns = []
    for mode in args.modes:
        lasagne.random.set_rng(np.random.RandomState(0))
        x_var, y_var = var("x"), pt.ivector("y")
        net = build(x_var)
        loss = lasagne.objectives.categorical_crossentropy(
            lasagne.layers.get_output(net), y_var).mean()
        params = lasagne.layers.get_all_params(net, trainable=True)
        updates = lasagne.updates.nesterov_momentum(loss, params, 0.01)
        fn = pytensor.function([x_var, y_var], loss, updates=updates,
                               mode=mode)
        fns.append(fn)
    first = [float(fn(X, y)) for fn in fns]
    return [lambda fn=fn: fn(X, y) for fn in fns], first


print(f"threads={args.threads}  modes={args.modes}  float32  "
      "(same seeds in both modes, so that the first losses compare)")
for name in args.only:
    steps, losses = step_functions(name)
    times = [[], []]
    for _ in range(args.rounds):
        for i, step in enumerate(steps):
            times[i].append(time_steps(step, args.steps))
    ms = [1000 * min(t) / args.steps for t in times]
    print(f"{name:7s} {args.modes[0]} {ms[0]:7.2f} ms  {args.modes[1]} "
          f"{ms[1]:7.2f} ms  ratio {ms[0] / ms[1]:5.3f}  losses "
          f"{losses[0]!r} {losses[1]!r}", flush=True)
