#!/usr/bin/env python
"""MLP training step, Lasagne on PyTensor vs PyTorch (CPU), side by side.

The model of examples/mnist.py: 784-800-800-10, dropout 0.2/0.5/0.5,
softmax, categorical cross-entropy, Nesterov momentum, batch 500, float32.

    python benchmarks/bench_mlp.py [--threads N] [--mode MODE]
"""
import argparse

from common import (TorchProcess, compare, compile_and_time, random_batch,
                    set_threads)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--mode", default=None, help="PyTensor mode (default: Numba)")
parser.add_argument("--batch-size", type=int, default=500)
args = parser.parse_args()
set_threads(args.threads)

import pytensor  # noqa: E402
pytensor.config.floatX = "float32"
import pytensor.tensor as pt  # noqa: E402

import lasagne  # noqa: E402
from lasagne.layers import DenseLayer, DropoutLayer, InputLayer  # noqa: E402
from lasagne.nonlinearities import softmax  # noqa: E402

X, y = random_batch((args.batch_size, 784), 10)

# ours
x_var, y_var = pt.matrix("x"), pt.ivector("y")
net = InputLayer((None, 784), input_var=x_var)
net = DropoutLayer(net, p=0.2)
net = DenseLayer(DropoutLayer(DenseLayer(net, 800), p=0.5), 800)
net = DenseLayer(DropoutLayer(net, p=0.5), 10, nonlinearity=softmax)
loss = lasagne.objectives.categorical_crossentropy(
    lasagne.layers.get_output(net), y_var).mean()
params = lasagne.layers.get_all_params(net, trainable=True)
updates = lasagne.updates.nesterov_momentum(loss, params, 0.01, 0.9)
train_fn, compile_time = compile_and_time(
    lambda: pytensor.function([x_var, y_var], loss, updates=updates, mode=args.mode),
    lambda fn: fn(X, y))

theirs = TorchProcess("mlp", args.threads, batch=args.batch_size)

print(f"threads={args.threads}  mode={args.mode or 'default (NUMBA_NODE unless chosen)'}  "
      f"batch={args.batch_size}  float32")
compare("MLP 784-800-800-10 train", lambda: train_fn(X, y), theirs,
        args.batch_size)
theirs.close()
print(f"compile time of our training function (incl. first call): {compile_time:.2f}s")
