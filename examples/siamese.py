#!/usr/bin/env python
"""A siamese network on MNIST: one convolutional tower, applied to two
digits, learns to tell whether they are the same digit.

The tower is an ordinary layer graph built once. Calling
``get_output(tower, {tower_input: images_a})`` and again with ``images_b``
applies the same layers (the same weights) to both inputs; a small head
on ``|embedding_a - embedding_b|`` gives the probability that the digits
match. Gradients from both uses reach the tower's weights.

    python examples/siamese.py [--epochs N] [--train-size N] [--plot FILE]
"""
import argparse
import time

import numpy as np
import pytensor
import pytensor.tensor as pt

import lasagne
from lasagne.layers import (Conv2DLayer, DenseLayer, DropoutLayer, InputLayer,
                            MaxPool2DLayer, get_output)
from lasagne.nonlinearities import sigmoid
from datasets import load_mnist
from training import plot_curves, progress


def build_tower():
    """Image -> 64-d embedding. Returns (input_layer, embedding_layer)."""
    l_in = InputLayer((None, 1, 28, 28), name="tower_input")
    net = Conv2DLayer(l_in, 16, 5, name="conv1")
    net = MaxPool2DLayer(net, 2, name="pool1")
    net = Conv2DLayer(net, 32, 5, name="conv2")
    net = MaxPool2DLayer(net, 2, name="pool2")
    net = DenseLayer(DropoutLayer(net, p=0.3), 64, name="embedding")
    return l_in, net


def build_head():
    """|embedding_a - embedding_b| -> probability of the same digit."""
    l_diff = InputLayer((None, 64), name="difference")
    return l_diff, DenseLayer(l_diff, 1, nonlinearity=sigmoid, name="same")


def make_pairs(X, y, n_pairs, rng):
    """Half of the pairs show the same digit, half two different ones."""
    by_class = [np.flatnonzero(y == c) for c in range(10)]
    first = rng.randint(0, len(X), n_pairs)
    same = rng.rand(n_pairs) < 0.5
    second = np.empty(n_pairs, dtype=int)
    for i, (a, s) in enumerate(zip(first, same)):
        cls = y[a] if s else rng.choice([c for c in range(10) if c != y[a]])
        second[i] = rng.choice(by_class[cls])
    return X[first], X[second], same.astype(np.float32)


def build_functions(learning_rate=0.05):
    tower_in, tower = build_tower()
    head_in, head = build_head()
    xa, xb, target = pt.tensor4("a"), pt.tensor4("b"), pt.vector("same")

    def probability(deterministic):
        emb_a = get_output(tower, {tower_in: xa}, deterministic=deterministic)
        emb_b = get_output(tower, {tower_in: xb}, deterministic=deterministic)
        return get_output(head, {head_in: abs(emb_a - emb_b)})[:, 0]

    loss = lasagne.objectives.binary_crossentropy(probability(False), target).mean()
    params = lasagne.layers.get_all_params([tower, head], trainable=True)
    updates = lasagne.updates.nesterov_momentum(loss, params, learning_rate)
    train_fn = pytensor.function([xa, xb, target], loss, updates=updates)
    accuracy = lasagne.objectives.binary_accuracy(probability(True), target).mean()
    eval_fn = pytensor.function([xa, xb, target], accuracy)
    return train_fn, eval_fn, tower, head


def main(num_epochs=3, train_size=None, batch_size=100, seed=0, plot=None):
    with pytensor.config.change_flags(floatX="float32"):
        lasagne.random.set_rng(np.random.RandomState(seed))
        rng = np.random.RandomState(seed)
        X_train, y_train, X_val, y_val, X_test, y_test = load_mnist()
        if train_size:
            X_train, y_train = X_train[:train_size], y_train[:train_size]
        train_fn, eval_fn, _, _ = build_functions()
        val_pairs = make_pairs(X_val, y_val, 2000, rng)
        history = {"train loss": [], "validation accuracy": []}
        for epoch in range(num_epochs):
            start = time.time()
            A, B, same = make_pairs(X_train, y_train, len(X_train), rng)
            n_batches = len(A) // batch_size
            total = 0.0
            for i in progress(range(n_batches), n_batches, f"epoch {epoch + 1}"):
                sl = slice(i * batch_size, (i + 1) * batch_size)
                total += train_fn(A[sl], B[sl], same[sl])
            history["train loss"].append(total / n_batches)
            history["validation accuracy"].append(float(eval_fn(*val_pairs)))
            print(f"Epoch {epoch + 1}/{num_epochs} ({time.time() - start:.1f}s): "
                  f"loss {history['train loss'][-1]:.4f}  validation pair accuracy "
                  f"{history['validation accuracy'][-1]:.2%}", flush=True)
        test_acc = float(eval_fn(*make_pairs(X_test, y_test, 5000, rng)))
        print(f"Test pair accuracy: {test_acc:.2%}")
        if plot:
            plot_curves(history, plot, "siamese network")
        return {"history": history, "test_accuracy": test_acc}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", metavar="FILE")
    parser.add_argument("--mode", default=None,
                        help="PyTensor mode of every compiled function "
                             "(default: Numba; e.g. JAX, CVM)")
    args = parser.parse_args()
    if args.mode:
        pytensor.config.mode = args.mode
    main(args.epochs, args.train_size, args.batch_size, args.seed, args.plot)
