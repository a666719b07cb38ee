#!/usr/bin/env python
"""ResNet-20 training step, Lasagne on PyTensor vs PyTorch (CPU), side by side.

ResNet-20 for CIFAR-10 (He et al. 2016, section 4.2): a 3x3 convolution
to 16 channels, then 3 stages of 3 basic blocks (two 3x3 convolutions) with
16, 32 and 64 filters, the first block of the second and third stage
halving the resolution with a stride of 2 and a projection shortcut (1x1
convolution), batch normalization after every convolution, global average
pooling, dense 10 with softmax. 32x32x3 inputs, batch 128, float32, SGD
with Nesterov momentum. PyTorch runs the same network in its own process,
tuned (see common.py), with the same number of threads; rounds alternate.

    python benchmarks/bench_resnet20.py [--threads N] [--mode MODE]
        [--batch 128] [--steps 3] [--rounds 3] [--profile]

``--profile`` prints PyTensor's per-node profile of our step instead.
"""
import argparse

from common import (TorchProcess, compare, compile_and_time, random_batch,
                    set_threads)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--mode", default=None, help="PyTensor mode (default: Numba)")
parser.add_argument("--batch", type=int, default=128)
parser.add_argument("--blocks", type=int, default=3, help="blocks per stage")
parser.add_argument("--steps", type=int, default=3)
parser.add_argument("--rounds", type=int, default=3)
parser.add_argument("--profile", action="store_true")
args = parser.parse_args()
set_threads(args.threads)

import pytensor  # noqa: E402
pytensor.config.floatX = "float32"
import pytensor.tensor as pt  # noqa: E402

import lasagne  # noqa: E402
from lasagne.layers import (Conv2DLayer, DenseLayer, ElemwiseSumLayer,  # noqa: E402
                            GlobalPoolLayer, InputLayer, NonlinearityLayer,
                            batch_norm)
from lasagne.nonlinearities import rectify, softmax  # noqa: E402


def basic_block(net, filters, stride):
    branch = batch_norm(Conv2DLayer(net, filters, 3, stride=stride, pad=1))
    branch = batch_norm(Conv2DLayer(branch, filters, 3, pad=1,
                                    nonlinearity=None))
    if stride != 1 or net.output_shape[1] != filters:
        net = batch_norm(Conv2DLayer(net, filters, 1, stride=stride,
                                     nonlinearity=None))
    return NonlinearityLayer(ElemwiseSumLayer([net, branch]), rectify)


def resnet20(input_var, blocks):
    net = InputLayer((None, 3, 32, 32), input_var=input_var)
    net = batch_norm(Conv2DLayer(net, 16, 3, pad=1))
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(blocks):
            net = basic_block(net, filters,
                              2 if stage > 0 and block == 0 else 1)
    return DenseLayer(GlobalPoolLayer(net), 10, nonlinearity=softmax)


def main():
    X, y = random_batch((args.batch, 3, 32, 32), 10)
    x_var, y_var = pt.tensor4("x"), pt.ivector("y")
    net = resnet20(x_var, args.blocks)
    loss = lasagne.objectives.categorical_crossentropy(
        lasagne.layers.get_output(net), y_var).mean()
    params = lasagne.layers.get_all_params(net, trainable=True)
    updates = lasagne.updates.nesterov_momentum(loss, params, 0.01, 0.9)
    fn, compile_time = compile_and_time(
        lambda: pytensor.function([x_var, y_var], loss, updates=updates,
                                  mode=args.mode, profile=args.profile),
        lambda f: f(X, y))
    print(f"threads={args.threads}  mode={args.mode or 'default (NUMBA_NODE unless chosen)'}  "
          f"batch={args.batch}  float32  "
          f"{len(fn.maker.fgraph.apply_nodes)} nodes")
    if args.profile:
        for _ in range(args.steps):
            fn(X, y)
        fn.profile.summary(n_ops_to_print=25, n_apply_to_print=40)
        return
    theirs = TorchProcess("resnet20", args.threads, batch=args.batch,
                          blocks=args.blocks)
    compare(f"ResNet-20 train (batch {args.batch})", lambda: fn(X, y), theirs,
            args.batch, n_steps=args.steps, rounds=args.rounds)
    theirs.close()
    print(f"  compile time of our training function (incl. first call): "
          f"{compile_time:.2f}s")


if __name__ == "__main__":
    main()
