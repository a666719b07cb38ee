#!/usr/bin/env python
"""Several heads on one trunk, trained on examples that carry only some of
the labels.

Three tasks on MNIST digits: the digit itself (10 classes), its parity
(even / odd) and whether it is at least 5. Each training example keeps each
of its labels with probability ``--label-rate`` (default 0.3): a label that
is missing has weight 0 in its task's loss. Each head's loss is averaged
over the examples that do have its label
(``lasagne.objectives.aggregate(..., weights=mask, mode='normalized_sum')``),
and the total loss is their sum.

    python examples/multitask_missing_labels.py [--epochs N] [--label-rate R]
"""
import argparse
import time

import numpy as np
import pytensor
import pytensor.tensor as pt

import lasagne
from lasagne.layers import (DenseLayer, DropoutLayer, FlattenLayer, InputLayer,
                            NonlinearityLayer)
from lasagne.nonlinearities import sigmoid, softmax
from datasets import load_mnist
from training import iterate_minibatches, plot_curves, progress

TASKS = ("digit", "parity", "high")


def task_labels(digits):
    """The three label sets for an array of digit labels."""
    return {"digit": digits.astype(np.int32),
            "parity": (digits % 2).astype(np.float32),
            "high": (digits >= 5).astype(np.float32)}


def build_network(input_var=None):
    l_in = InputLayer((None, 1, 28, 28), input_var=input_var, name="input")
    trunk = DenseLayer(DropoutLayer(l_in, p=0.2), 400, name="trunk1")
    trunk = DenseLayer(DropoutLayer(trunk, p=0.5), 200, name="trunk2")
    return {"digit": DenseLayer(trunk, 10, nonlinearity=softmax, name="digit"),
            "parity": binary_head(trunk, "parity"),
            "high": binary_head(trunk, "high")}


def binary_head(incoming, name):
    """A probability per example, shape (batch,). The sigmoid is the last
    operation, so binary_crossentropy computes the loss from the logits and
    stays finite when the sigmoid saturates: a masked example still computes
    its loss, and an infinite one times weight 0 would be NaN."""
    logit = DenseLayer(incoming, 1, nonlinearity=None, name=name)
    return NonlinearityLayer(FlattenLayer(logit, outdim=1), sigmoid,
                             name=f"{name}_prob")


def build_functions(heads, input_var, learning_rate=0.05):
    targets = {"digit": pt.ivector("digit"), "parity": pt.vector("parity"),
               "high": pt.vector("high")}
    masks = {task: pt.vector(f"{task}_mask") for task in TASKS}
    layers = [heads[t] for t in TASKS]
    outputs = dict(zip(TASKS, lasagne.layers.get_output(layers)))
    obj = lasagne.objectives
    losses = {
        "digit": obj.categorical_crossentropy(outputs["digit"], targets["digit"]),
        "parity": obj.binary_crossentropy(outputs["parity"], targets["parity"]),
        "high": obj.binary_crossentropy(outputs["high"], targets["high"]),
    }
    # missing labels weigh zero; each task averages over its labelled examples
    task_losses = [obj.aggregate(losses[t], weights=masks[t], mode="normalized_sum")
                   for t in TASKS]
    loss = sum(task_losses)
    params = lasagne.layers.get_all_params(layers, trainable=True)
    updates = lasagne.updates.nesterov_momentum(loss, params, learning_rate)
    inputs = [input_var] + [targets[t] for t in TASKS] + [masks[t] for t in TASKS]
    train_fn = pytensor.function(inputs, [loss] + task_losses, updates=updates)

    det = dict(zip(TASKS, lasagne.layers.get_output(layers, deterministic=True)))
    accuracies = [
        obj.categorical_accuracy(det["digit"], targets["digit"]).mean(),
        obj.binary_accuracy(det["parity"], targets["parity"]).mean(),
        obj.binary_accuracy(det["high"], targets["high"]).mean(),
    ]
    eval_fn = pytensor.function([input_var] + [targets[t] for t in TASKS],
                                accuracies)
    return train_fn, eval_fn


def main(num_epochs=5, label_rate=0.3, train_size=None, batch_size=100,
         seed=0, plot=None):
    with pytensor.config.change_flags(floatX="float32"):
        lasagne.random.set_rng(np.random.RandomState(seed))
        rng = np.random.RandomState(seed)
        X_train, y_train, X_val, y_val, X_test, y_test = load_mnist()
        if train_size:
            X_train, y_train = X_train[:train_size], y_train[:train_size]
        labels = task_labels(y_train)
        # each example keeps each of its labels with probability label_rate
        label_masks = {t: (rng.rand(len(X_train)) < label_rate).astype(np.float32)
                       for t in TASKS}
        print("labelled fraction per task: " + ", ".join(
            f"{t} {m.mean():.0%}" for t, m in label_masks.items()))
        input_var = pt.tensor4("input")
        heads = build_network(input_var)
        train_fn, eval_fn = build_functions(heads, input_var)
        history = {"total loss": []}
        history.update({f"{t} loss": [] for t in TASKS})
        index = np.arange(len(X_train))
        for epoch in range(num_epochs):
            start, sums, n = time.time(), np.zeros(4), 0
            batches = iterate_minibatches(index, index, batch_size, True, rng)
            for idx, _ in progress(batches, len(index) // batch_size,
                                   f"epoch {epoch + 1}"):
                sums += train_fn(X_train[idx], *[labels[t][idx] for t in TASKS],
                                 *[label_masks[t][idx] for t in TASKS])
                n += 1
            for key, value in zip(history, sums / n):
                history[key].append(float(value))
            val = eval_fn(X_val, *task_labels(y_val).values())
            print(f"Epoch {epoch + 1}/{num_epochs} ({time.time() - start:.1f}s): "
                  f"loss {history['total loss'][-1]:.4f}  val acc " +
                  ", ".join(f"{t} {a:.2%}" for t, a in zip(TASKS, val)), flush=True)
        test = eval_fn(X_test, *task_labels(y_test).values())
        print("Test accuracy: " + ", ".join(f"{t} {a:.2%}" for t, a in zip(TASKS, test)))
        if plot:
            plot_curves(history, plot, "multi-task with missing labels")
        return {"history": history, "test_accuracy": dict(zip(TASKS, map(float, test)))}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--label-rate", type=float, default=0.3)
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
    main(args.epochs, args.label_rate, args.train_size, args.batch_size,
         args.seed, args.plot)
