#!/usr/bin/env python
"""CNN training steps, Lasagne on PyTensor vs PyTorch (CPU), side by side.

1. Lasagne's MNIST CNN (examples/mnist.py cnn): conv 32 5x5, max-pool 2,
   conv 32 5x5, max-pool 2, dropout, dense 256, dropout, dense 10 softmax;
   Nesterov momentum; batch 500; float32.
2. A ResNet-style network: 3x3 convolution to 16 channels, three residual
   blocks of two 3x3 convolutions with batch normalization, global average
   pooling, dense 10; 32x32x3 inputs; batch 128; float32.

    python benchmarks/bench_cnn.py [--threads N] [--mode MODE] [--only cnn|resnet]
"""
import argparse

from common import compare, compile_and_time, random_batch, set_threads

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
import torch  # noqa: E402
import torch.nn as tnn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import lasagne  # noqa: E402
from lasagne.layers import (BatchNormLayer, Conv2DLayer, DenseLayer,  # noqa: E402
                            DropoutLayer, ElemwiseSumLayer, GlobalPoolLayer,
                            InputLayer, MaxPool2DLayer, NonlinearityLayer,
                            batch_norm)
from lasagne.nonlinearities import rectify, softmax  # noqa: E402

torch.set_num_threads(args.threads)


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


def torch_step(model, X, y, lr=0.01):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True)
    tX, ty = torch.from_numpy(X), torch.from_numpy(y).long()

    def step():
        opt.zero_grad()
        F.cross_entropy(model(tX), ty).backward()
        opt.step()
    return step


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
    model = tnn.Sequential(
        tnn.Conv2d(1, 32, 5), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(32, 32, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
        tnn.Dropout(0.5), tnn.Linear(512, 256), tnn.ReLU(),
        tnn.Dropout(0.5), tnn.Linear(256, 10))
    result = compare("MNIST CNN train (batch 500)", ours, torch_step(model, X, y),
                     batch, n_steps=args.steps, rounds=args.rounds)
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

    class Block(tnn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = tnn.Conv2d(width, width, 3, padding=1, bias=False)
            self.b1 = tnn.BatchNorm2d(width)
            self.c2 = tnn.Conv2d(width, width, 3, padding=1, bias=False)
            self.b2 = tnn.BatchNorm2d(width)

        def forward(self, x):
            return F.relu(x + self.b2(self.c2(F.relu(self.b1(self.c1(x))))))

    model = tnn.Sequential(
        tnn.Conv2d(3, width, 3, padding=1, bias=False), tnn.BatchNorm2d(width),
        tnn.ReLU(), *[Block() for _ in range(blocks)],
        tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(width, 10))
    result = compare("ResNet-style train (batch 128)", ours, torch_step(model, X, y),
                     batch, n_steps=args.steps, rounds=args.rounds)
    print(f"  compile time of our training function (incl. first call): {compile_time:.2f}s")
    return result


print(f"threads={args.threads}  mode={args.mode or 'NUMBA (default)'}  float32")
if args.only in (None, "cnn"):
    mnist_cnn()
if args.only in (None, "resnet"):
    resnet()
