#!/usr/bin/env python
"""Train a network on MNIST, Lasagne style: build the graph, write the loss
and the updates, compile the functions, run the loop yourself.

Usage::

    python examples/mnist.py [MODEL] [--epochs N] [--train-size N] ...

MODEL is ``mlp`` (default), ``custom_mlp:DEPTH,WIDTH,DROP_IN,DROP_HID`` or
``cnn``. Run with ``--help`` for all options.
"""
import argparse
import os
import sys
import time

import numpy as np
import pytensor
import pytensor.tensor as pt

import lasagne
from datasets import load_mnist
from training import iterate_minibatches, plot_curves, progress, warm_up


# ---------------------------------------------------------------- models --

def build_mlp(input_var=None):
    """Two hidden layers of 800 rectifier units, dropout 20% on the input
    and 50% on the hidden layers, softmax output."""
    network = lasagne.layers.InputLayer(shape=(None, 1, 28, 28),
                                        input_var=input_var)
    network = lasagne.layers.DropoutLayer(network, p=0.2)
    network = lasagne.layers.DenseLayer(
        network, num_units=800, nonlinearity=lasagne.nonlinearities.rectify,
        W=lasagne.init.GlorotUniform())
    network = lasagne.layers.DropoutLayer(network, p=0.5)
    network = lasagne.layers.DenseLayer(
        network, num_units=800, nonlinearity=lasagne.nonlinearities.rectify)
    network = lasagne.layers.DropoutLayer(network, p=0.5)
    return lasagne.layers.DenseLayer(
        network, num_units=10, nonlinearity=lasagne.nonlinearities.softmax)


def build_custom_mlp(input_var=None, depth=2, width=800, drop_input=.2,
                     drop_hidden=.5):
    """An MLP of `depth` hidden layers of `width` units."""
    network = lasagne.layers.InputLayer(shape=(None, 1, 28, 28),
                                        input_var=input_var)
    if drop_input:
        network = lasagne.layers.dropout(network, p=drop_input)
    for _ in range(depth):
        network = lasagne.layers.DenseLayer(
            network, width, nonlinearity=lasagne.nonlinearities.rectify)
        if drop_hidden:
            network = lasagne.layers.dropout(network, p=drop_hidden)
    return lasagne.layers.DenseLayer(
        network, 10, nonlinearity=lasagne.nonlinearities.softmax)


def build_cnn(input_var=None):
    """Two convolution + max-pooling stages (32 filters of 5x5 each), a
    dense layer of 256 units and a softmax output, with dropout."""
    network = lasagne.layers.InputLayer(shape=(None, 1, 28, 28),
                                        input_var=input_var)
    network = lasagne.layers.Conv2DLayer(
        network, num_filters=32, filter_size=(5, 5),
        nonlinearity=lasagne.nonlinearities.rectify,
        W=lasagne.init.GlorotUniform())
    network = lasagne.layers.MaxPool2DLayer(network, pool_size=(2, 2))
    network = lasagne.layers.Conv2DLayer(
        network, num_filters=32, filter_size=(5, 5),
        nonlinearity=lasagne.nonlinearities.rectify)
    network = lasagne.layers.MaxPool2DLayer(network, pool_size=(2, 2))
    network = lasagne.layers.DenseLayer(
        lasagne.layers.dropout(network, p=.5), num_units=256,
        nonlinearity=lasagne.nonlinearities.rectify)
    return lasagne.layers.DenseLayer(
        lasagne.layers.dropout(network, p=.5), num_units=10,
        nonlinearity=lasagne.nonlinearities.softmax)


def build_model(model, input_var):
    if model == "mlp":
        return build_mlp(input_var)
    if model.startswith("custom_mlp"):
        spec = model.partition(":")[2] or "2,800,.2,.5"
        depth, width, drop_in, drop_hid = spec.split(",")
        return build_custom_mlp(input_var, int(depth), int(width),
                                float(drop_in), float(drop_hid))
    if model == "cnn":
        return build_cnn(input_var)
    raise SystemExit(f"Unrecognized model type {model!r}: use mlp, "
                     f"custom_mlp:DEPTH,WIDTH,DROP_IN,DROP_HID or cnn.")


# ------------------------------------------------------------------ main --

def main(model="mlp", num_epochs=10, train_size=None, batch_size=500,
         learning_rate=0.01, momentum=0.9, mode=None, seed=None, plot=None,
         floatX="float32"):
    """Train `model` and return a dict of final figures. Graphs are built
    in `floatX` precision (float32 unless PYTENSOR_FLAGS says otherwise)."""
    if "floatX" in os.environ.get("PYTENSOR_FLAGS", ""):
        floatX = pytensor.config.floatX
    with pytensor.config.change_flags(floatX=floatX):
        return _train(model, num_epochs, train_size, batch_size,
                      learning_rate, momentum, mode, seed, plot)


def _train(model, num_epochs, train_size, batch_size, learning_rate,
           momentum, mode, seed, plot):
    if seed is not None:
        lasagne.random.set_rng(np.random.RandomState(seed))
        np.random.seed(seed)
    print("Loading data...")
    X_train, y_train, X_val, y_val, X_test, y_test = load_mnist()
    if train_size:
        X_train, y_train = X_train[:train_size], y_train[:train_size]

    input_var = pt.tensor4("inputs")
    target_var = pt.ivector("targets")
    print(f"Building model {model!r}...")
    network = build_model(model, input_var)

    # Training loss: cross-entropy on the stochastic (dropout) output.
    prediction = lasagne.layers.get_output(network)
    loss = lasagne.objectives.categorical_crossentropy(prediction, target_var)
    loss = loss.mean()
    params = lasagne.layers.get_all_params(network, trainable=True)
    updates = lasagne.updates.nesterov_momentum(
        loss, params, learning_rate=learning_rate, momentum=momentum)

    # Evaluation: the deterministic output, with dropout disabled.
    test_prediction = lasagne.layers.get_output(network, deterministic=True)
    test_loss = lasagne.objectives.categorical_crossentropy(
        test_prediction, target_var).mean()
    test_acc = lasagne.objectives.categorical_accuracy(
        test_prediction, target_var).mean()

    print("Compiling functions...")
    start = time.time()
    train_fn = pytensor.function([input_var, target_var], loss,
                                 updates=updates, mode=mode)
    val_fn = pytensor.function([input_var, target_var], [test_loss, test_acc],
                               mode=mode)
    # Numba compiles at the first call: make it now, so that the figure
    # below is the time to the first step, not the epoch's.
    warm_up(train_fn, X_train[:batch_size], y_train[:batch_size])
    warm_up(val_fn, X_val[:batch_size], y_val[:batch_size])
    compile_time = time.time() - start
    print(f"  compiled in {compile_time:.1f}s")

    def evaluate(X, y):
        total_loss = total_acc = batches = 0
        for inputs, targets in iterate_minibatches(X, y, batch_size):
            err, acc = val_fn(inputs, targets)
            total_loss += err
            total_acc += acc
            batches += 1
        return total_loss / batches, total_acc / batches

    history = {"train loss": [], "validation loss": [], "validation accuracy": []}
    epoch_times = []
    print(f"Training {num_epochs} epochs on {len(X_train)} images...")
    for epoch in range(num_epochs):
        train_err = train_batches = 0
        start = time.time()
        n_batches = len(X_train) // batch_size
        for inputs, targets in progress(
                iterate_minibatches(X_train, y_train, batch_size, shuffle=True),
                n_batches, f"epoch {epoch + 1}"):
            train_err += train_fn(inputs, targets)
            train_batches += 1
        epoch_times.append(time.time() - start)
        val_loss, val_acc = evaluate(X_val, y_val)
        history["train loss"].append(train_err / train_batches)
        history["validation loss"].append(val_loss)
        history["validation accuracy"].append(val_acc)
        print(f"Epoch {epoch + 1} of {num_epochs} took {epoch_times[-1]:.2f}s  "
              f"training loss {train_err / train_batches:.6f}  "
              f"validation loss {val_loss:.6f}  "
              f"validation accuracy {val_acc * 100:.2f} %", flush=True)

    test_loss_value, test_acc_value = evaluate(X_test, y_test)
    print("Final results:")
    print(f"  test loss:     {test_loss_value:.6f}")
    print(f"  test accuracy: {test_acc_value * 100:.2f} %")
    print(f"  mean epoch time: {np.mean(epoch_times):.2f}s, "
          f"compile time: {compile_time:.1f}s")
    if plot:
        plot_curves(history, plot, title=f"MNIST {model}")
        print(f"  curves written to {plot}")
    return {"test_loss": float(test_loss_value),
            "test_accuracy": float(test_acc_value),
            "history": history, "epoch_times": epoch_times,
            "compile_time": compile_time, "network": network}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Train a Lasagne network on MNIST.")
    parser.add_argument("model", nargs="?", default="mlp",
                        help="mlp (default), custom_mlp:DEPTH,WIDTH,DROP_IN,"
                             "DROP_HID, or cnn")
    parser.add_argument("--epochs", type=int, default=10,
                        help="number of training epochs (default 10)")
    parser.add_argument("--train-size", type=int, default=None,
                        help="train on the first N of the 50,000 images")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--mode", default=None,
                        help="PyTensor mode: default Numba, or CVM, JAX, ...")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--plot", metavar="FILE", default=None,
                        help="write the training curves to a PNG file")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    main(args.model, args.epochs, args.train_size, args.batch_size,
         args.learning_rate, mode=args.mode, seed=args.seed, plot=args.plot)
    sys.exit(0)
