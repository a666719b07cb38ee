#!/usr/bin/env python
"""Cold forward compile of deep networks with unknown spatial size.

Each network is built as Lasagne users write it, with
``InputLayer((None, 3, None, None))``, and its forward pass (test mode) is
compiled in a new process with an empty PyTensor compiledir:
``pytensor.function`` is timed, then the first call on one image (Numba
compiles lazily, so that call is part of the wait).

* ``googlenet``: GoogLeNet (Szegedy et al. 2014), nine inception modules,
  strided max pooling with ``ignore_border=False``, local response
  normalization, global average pooling, dense softmax (Lasagne Recipes'
  model zoo layout).
* ``inception_v3``: Inception-v3 (Szegedy et al. 2015), batch-normalised
  convolutions, factorised 1x7 / 7x1 and 1x3 / 3x1 branches, grid
  reductions, global pooling.
* ``densenet40``: DenseNet-40 (Huang et al. 2017), growth rate 12, three
  dense blocks of twelve BN-ReLU-conv layers joined by concatenation,
  average-pooling transitions, global pooling.

    python benchmarks/deep_compile.py [--mode MODE] [googlenet]
        [inception_v3] [densenet40]

Each line prints the seconds in ``pytensor.function`` and in the first
call (wall clock, and the CPU time of the process, which a loaded machine
disturbs less), and the node count of the compiled graph.
"""
import os
import subprocess
import sys
import tempfile
import time

VARIANTS = ("googlenet", "inception_v3", "densenet40")
IMAGE = {"googlenet": 224, "inception_v3": 299, "densenet40": 32}


def _layers():
    import lasagne.layers as L
    return L


def _conv(L, incoming, n, size, stride=1, pad=0, **kwargs):
    return L.Conv2DLayer(incoming, n, size, stride=stride, pad=pad,
                         flip_filters=False, **kwargs)


def googlenet():
    """GoogLeNet as in Lasagne Recipes' model zoo (input 224 x 224)."""
    L = _layers()
    from lasagne.nonlinearities import linear, softmax

    def inception(incoming, n):
        # n = (pool_proj, 1x1, 3x3_reduce, 3x3, 5x5_reduce, 5x5)
        pooled = L.MaxPool2DLayer(incoming, 3, stride=1, pad=1)
        branches = [
            _conv(L, _conv(L, incoming, n[2], 1), n[3], 3, pad=1),
            _conv(L, _conv(L, incoming, n[4], 1), n[5], 5, pad=2),
            _conv(L, incoming, n[1], 1),
            _conv(L, pooled, n[0], 1),
        ]
        return L.ConcatLayer([branches[2], branches[0], branches[1],
                              branches[3]])

    net = L.InputLayer((None, 3, None, None))
    net = _conv(L, net, 64, 7, stride=2, pad=3)
    net = L.MaxPool2DLayer(net, 3, stride=2, ignore_border=False)
    net = L.LocalResponseNormalization2DLayer(net, alpha=0.00002, k=1)
    net = _conv(L, net, 64, 1)
    net = _conv(L, net, 192, 3, pad=1)
    net = L.LocalResponseNormalization2DLayer(net, alpha=0.00002, k=1)
    net = L.MaxPool2DLayer(net, 3, stride=2, ignore_border=False)
    net = inception(net, [32, 64, 96, 128, 16, 32])
    net = inception(net, [64, 128, 128, 192, 32, 96])
    net = L.MaxPool2DLayer(net, 3, stride=2, ignore_border=False)
    for n in ([64, 192, 96, 208, 16, 48], [64, 160, 112, 224, 24, 64],
              [64, 128, 128, 256, 24, 64], [64, 112, 144, 288, 32, 64],
              [128, 256, 160, 320, 32, 128]):
        net = inception(net, n)
    net = L.MaxPool2DLayer(net, 3, stride=2, ignore_border=False)
    net = inception(net, [128, 256, 160, 320, 32, 128])
    net = inception(net, [128, 384, 192, 384, 48, 128])
    net = L.GlobalPoolLayer(net)
    net = L.DropoutLayer(net, p=0.4)
    net = L.DenseLayer(net, 1000, nonlinearity=linear)
    return L.NonlinearityLayer(net, nonlinearity=softmax)


def inception_v3():
    """Inception-v3 as in Lasagne Recipes' model zoo (input 299 x 299)."""
    L = _layers()
    from lasagne.nonlinearities import softmax

    def bn_conv(incoming, n, size, stride=1, pad=0):
        conv = _conv(L, incoming, n, size, stride=stride, pad=pad,
                     nonlinearity=None, b=None)
        return L.NonlinearityLayer(L.BatchNormLayer(conv, epsilon=0.001))

    def avg_pool(incoming):
        return L.Pool2DLayer(incoming, 3, stride=1, pad=1,
                             mode="average_exc_pad")

    def block_a(x, pool_n):
        return L.ConcatLayer([
            bn_conv(x, 64, 1),
            bn_conv(bn_conv(x, 48, 1), 64, 5, pad=2),
            bn_conv(bn_conv(bn_conv(x, 64, 1), 96, 3, pad=1), 96, 3, pad=1),
            bn_conv(avg_pool(x), pool_n, 1)])

    def block_b(x):
        return L.ConcatLayer([
            bn_conv(x, 384, 3, stride=2),
            bn_conv(bn_conv(bn_conv(x, 64, 1), 96, 3, pad=1), 96, 3,
                    stride=2),
            L.MaxPool2DLayer(x, 3, stride=2)])

    def block_c(x, n):
        b7 = bn_conv(bn_conv(bn_conv(x, n, 1), n, (1, 7), pad=(0, 3)),
                     192, (7, 1), pad=(3, 0))
        b77 = bn_conv(x, n, 1)
        for size, pad, out in (((7, 1), (3, 0), n), ((1, 7), (0, 3), n),
                               ((7, 1), (3, 0), n), ((1, 7), (0, 3), 192)):
            b77 = bn_conv(b77, out, size, pad=pad)
        return L.ConcatLayer([bn_conv(x, 192, 1), b7, b77,
                              bn_conv(avg_pool(x), 192, 1)])

    def block_d(x):
        b3 = bn_conv(bn_conv(x, 192, 1), 320, 3, stride=2)
        b7 = bn_conv(x, 192, 1)
        for size, pad in (((1, 7), (0, 3)), ((7, 1), (3, 0))):
            b7 = bn_conv(b7, 192, size, pad=pad)
        b7 = bn_conv(b7, 192, 3, stride=2)
        return L.ConcatLayer([b3, b7, L.MaxPool2DLayer(x, 3, stride=2)])

    def block_e(x, pool):
        b3 = bn_conv(x, 384, 1)
        b33 = bn_conv(bn_conv(x, 448, 1), 384, 3, pad=1)
        pooled = (L.MaxPool2DLayer(x, 3, stride=1, pad=1) if pool == "max"
                  else avg_pool(x))
        return L.ConcatLayer([
            bn_conv(x, 320, 1),
            bn_conv(b3, 384, (1, 3), pad=(0, 1)),
            bn_conv(b3, 384, (3, 1), pad=(1, 0)),
            bn_conv(b33, 384, (1, 3), pad=(0, 1)),
            bn_conv(b33, 384, (3, 1), pad=(1, 0)),
            bn_conv(pooled, 192, 1)])

    net = L.InputLayer((None, 3, None, None))
    net = bn_conv(net, 32, 3, stride=2)
    net = bn_conv(net, 32, 3)
    net = bn_conv(net, 64, 3, pad=1)
    net = L.MaxPool2DLayer(net, 3, stride=2)
    net = bn_conv(net, 80, 1)
    net = bn_conv(net, 192, 3)
    net = L.MaxPool2DLayer(net, 3, stride=2)
    net = block_a(net, 32)
    net = block_a(net, 64)
    net = block_a(net, 64)
    net = block_b(net)
    for n in (128, 160, 160, 192):
        net = block_c(net, n)
    net = block_d(net)
    net = block_e(net, "avg")
    net = block_e(net, "max")
    net = L.GlobalPoolLayer(net)
    return L.DenseLayer(net, 1000, nonlinearity=softmax)


def densenet40(depth=40, growth=12, blocks=3):
    """DenseNet-40 (k=12) for CIFAR-10 (input 32 x 32)."""
    L = _layers()
    from lasagne.nonlinearities import rectify, softmax

    def bn_relu_conv(x, n, size):
        x = L.NonlinearityLayer(L.BatchNormLayer(x), rectify)
        return _conv(L, x, n, size, pad="same", nonlinearity=None, b=None)

    per_block = (depth - 4) // blocks
    net = L.InputLayer((None, 3, None, None))
    net = _conv(L, net, 16, 3, pad="same", nonlinearity=None, b=None)
    for block in range(blocks):
        for _ in range(per_block):
            net = L.ConcatLayer([net, bn_relu_conv(net, growth, 3)])
        if block < blocks - 1:
            net = bn_relu_conv(net, net.output_shape[1], 1)
            net = L.Pool2DLayer(net, 2, mode="average_inc_pad")
    net = L.NonlinearityLayer(L.BatchNormLayer(net), rectify)
    net = L.GlobalPoolLayer(net)
    return L.DenseLayer(net, 10, nonlinearity=softmax)


def child(variant, mode=None):
    import lasagne  # noqa: F401  (first, as in the other benchmarks)
    import numpy as np
    import pytensor
    pytensor.config.floatX = "float32"
    net = globals()[variant]()
    out = lasagne.layers.get_output(net, deterministic=True)
    x = lasagne.layers.get_all_layers(net)[0].input_var
    start, cpu = time.perf_counter(), time.process_time()
    fn = pytensor.function([x], out, mode=mode)
    compiled = time.perf_counter() - start
    compiled_cpu = time.process_time() - cpu
    size = IMAGE[variant]
    image = np.random.default_rng(0).random((1, 3, size, size),
                                            dtype=np.float32)
    start, cpu = time.perf_counter(), time.process_time()
    result = np.asarray(fn(image))  # JAX computes in the background
    first = time.perf_counter() - start
    first_cpu = time.process_time() - cpu
    assert np.isfinite(result).all()
    nodes = len(fn.maker.fgraph.apply_nodes)
    print(f"{compiled:.1f} {first:.1f} {compiled_cpu:.1f} {first_cpu:.1f} "
          f"{nodes}")


def main(variants, mode=None):
    for variant in variants:
        with tempfile.TemporaryDirectory() as compiledir:
            env = dict(os.environ,
                       PYTENSOR_FLAGS=f"base_compiledir={compiledir}")
            run = subprocess.run(
                [sys.executable, __file__, "--child", variant]
                + (["--mode", mode] if mode else []), env=env,
                capture_output=True, text=True)
        if run.returncode:
            print(f"{variant:13s} failed:\n{run.stderr[-2000:]}")
            continue
        compiled, first, compiled_cpu, first_cpu, nodes = \
            run.stdout.split()[-5:]
        print(f"{variant:13s} pytensor.function {compiled:>5s} s (CPU "
              f"{compiled_cpu:>5s} s)   first call {first:>5s} s (CPU "
              f"{first_cpu:>5s} s)   {nodes} nodes")


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", metavar="variant",
                        help=f"some of {', '.join(VARIANTS)} (default: all)")
    parser.add_argument("--mode", default=None,
                        help="PyTensor mode (default: Numba; e.g. JAX, CVM)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.mode)
    else:
        chosen = args.variants or list(VARIANTS)
        unknown = set(chosen) - set(VARIANTS)
        if unknown:
            sys.exit(f"unknown variants {sorted(unknown)}; "
                     f"choose from {VARIANTS}")
        main(chosen, args.mode)
