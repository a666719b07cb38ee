#!/usr/bin/env python
"""CNN training steps, Lasagne on PyTensor vs PyTorch (CPU), side by side.

PyTorch runs in its own process, tuned (see common.py); its models are in
torch_models.py.

1. Lasagne's MNIST CNN (examples/mnist.py cnn): conv 32 5x5, max-pool 2,
   conv 32 5x5, max-pool 2, dropout, dense 256, dropout, dense 10 softmax;
   Nesterov momentum; batch 500; float32.
2. A ResNet-style network: 3x3 convolution to 16 channels, three residual
   blocks of two 3x3 convolutions with batch normalization, global average
   pooling, dense 10; 32x32x3 inputs; batch 128; float32.

    python benchmarks/bench_cnn.py [--threads N] [--mode MODE] [--only cnn|resnet]
"""
import argparse

from common import (TorchProcess, compare, compile_and_time, random_batch,
                    set_threads)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--mode", default=None, help="PyTensor mode (default: Numba)")
parser.add_argument("--only", choices=["cnn", "resnet"], default=None)
parser.add_argument("--steps", type=int, default=5)
parser.add_argument("--rounds", type=int, default=3)
args = parser.parse_args()
set_threads(args.threads)

import pytensor  # noqa: E402
pytensor.config.floatX = "float32"
import pytensor.tensor as pt  # noqa: E402

import lasagne  # noqa: E402
from lasagne.layers import (BatchNormLayer, Conv2DLayer, DenseLayer,  # noqa: E402
                            DropoutLayer, ElemwiseSumLayer, GlobalPoolLayer,
                            InputLayer, MaxPool2DLayer, NonlinearityLayer,
                            batch_norm)
from lasagne.nonlinearities import rectify, softmax  # noqa: E402


def lasagne_step(net, input_var, X, y, momentum=0.9, lr=0.01):
    y_var = pt.ivector("y")
    loss = lasagne.objectives.categorical_crossentropy(
        lasagne.layers.get_output(net), y_var).mean()
    params = lasagne.layers.get_all_params(net, trainable=True)
    updates = lasagne.updates.nesterov_momentum(loss, params, lr, momentum)
    fn, compile_time = compile_and_time(
        lambda: pytensor.function([input_var, y_var], loss, updates=updates,
                                  mode=args.mode),
        lambda f: f(X, y))
    return (lambda: fn(X, y)), compile_time


def mnist_cnn():
    batch = 500
    X, y = random_batch((batch, 1, 28, 28), 10)
    x_var = pt.tensor4("x")
    net = InputLayer((None, 1, 28, 28), input_var=x_var)
    net = MaxPool2DLayer(Conv2DLayer(net, 32, 5), 2)
    net = MaxPool2DLayer(Conv2DLayer(net, 32, 5), 2)
    net = DenseLayer(DropoutLayer(net, 0.5), 256)
    net = DenseLayer(DropoutLayer(net, 0.5), 10, nonlinearity=softmax)
    ours, compile_time = lasagne_step(net, x_var, X, y)
    theirs = TorchProcess("mnist_cnn", args.threads, batch=batch)
    result = compare("MNIST CNN train (batch 500)", ours, theirs,
                     batch, n_steps=args.steps, rounds=args.rounds)
    theirs.close()
    print(f"  compile time of our training function (incl. first call): {compile_time:.2f}s")
    return result


def resnet():
    batch, width, blocks = 128, 16, 3
    X, y = random_batch((batch, 3, 32, 32), 10)
    x_var = pt.tensor4("x")
    net = InputLayer((None, 3, 32, 32), input_var=x_var)
    net = batch_norm(Conv2DLayer(net, width, 3, pad="same"))
    for _ in range(blocks):
        branch = batch_norm(Conv2DLayer(net, width, 3, pad="same"))
        branch = batch_norm(Conv2DLayer(branch, width, 3, pad="same",
                                        nonlinearity=None))
        net = NonlinearityLayer(ElemwiseSumLayer([net, branch]), rectify)
    net = DenseLayer(GlobalPoolLayer(net), 10, nonlinearity=softmax)
    ours, compile_time = lasagne_step(net, x_var, X, y)

    theirs = TorchProcess("resnet_style", args.threads, batch=batch,
                          width=width, blocks=blocks)
    result = compare("ResNet-style train (batch 128)", ours, theirs,
                     batch, n_steps=args.steps, rounds=args.rounds)
    theirs.close()
    print(f"  compile time of our training function (incl. first call): {compile_time:.2f}s")
    return result


print(f"threads={args.threads}  mode={args.mode or 'default (NUMBA_NODE unless chosen)'}  float32")
if args.only in (None, "cnn"):
    mnist_cnn()
if args.only in (None, "resnet"):
    resnet()
