#!/usr/bin/env python
"""A network with two inputs and two outputs, trained on MNIST.

* input 1: the image, through an image branch of dense layers;
* input 2: side information, here the ink profile of the image (how much
  ink each row and each column holds: 56 numbers), through its own branch;
* the branches are concatenated and feed the main output (the digit);
* an auxiliary output sits on the image branch alone (the digit again),
  which keeps that branch useful on its own.

The loss is ``1.0 * main + 0.2 * auxiliary``. In Lasagne each of these is a
line of graph: several InputLayers, a ConcatLayer, and one
``get_output([main, aux])`` call computing both outputs in one pass.

    python examples/multi_input_output.py [--epochs N] [--train-size N] [--plot FILE]
"""
import argparse
import time

import numpy as np
import pytensor
import pytensor.tensor as pt

import lasagne
from lasagne.layers import ConcatLayer, DenseLayer, DropoutLayer, InputLayer
from lasagne.nonlinearities import softmax
from datasets import load_mnist
from training import iterate_minibatches, plot_curves, progress


def ink_profile(images):
    """Row and column sums of each image: (N, 1, 28, 28) -> (N, 56)."""
    return np.concatenate([images.sum(axis=3)[:, 0], images.sum(axis=2)[:, 0]],
                          axis=1).astype(np.float32) / 28


def build_network(image_var=None, side_var=None):
    """Return (main_output, aux_output, image_input, side_input)."""
    l_image = InputLayer((None, 1, 28, 28), input_var=image_var, name="image")
    l_side = InputLayer((None, 56), input_var=side_var, name="side")
    image_branch = DenseLayer(DropoutLayer(l_image, p=0.2), 256, name="img_fc1")
    image_branch = DenseLayer(DropoutLayer(image_branch, p=0.5), 128,
                              name="img_fc2")
    side_branch = DenseLayer(l_side, 32, name="side_fc")
    merged = ConcatLayer([image_branch, side_branch], name="merge")
    main = DenseLayer(DropoutLayer(merged, p=0.5), 10, nonlinearity=softmax,
                      name="main_out")
    aux = DenseLayer(image_branch, 10, nonlinearity=softmax, name="aux_out")
    return main, aux, l_image, l_side


def build_functions(main, aux, image_var, side_var, target_var,
                    main_weight=1.0, aux_weight=0.2, learning_rate=0.05):
    # both outputs in one pass: they share the image branch and its dropout
    main_pred, aux_pred = lasagne.layers.get_output([main, aux])
    ce = lasagne.objectives.categorical_crossentropy
    main_loss = ce(main_pred, target_var).mean()
    aux_loss = ce(aux_pred, target_var).mean()
    loss = main_weight * main_loss + aux_weight * aux_loss
    params = lasagne.layers.get_all_params([main, aux], trainable=True)
    updates = lasagne.updates.nesterov_momentum(loss, params, learning_rate)
    train_fn = pytensor.function([image_var, side_var, target_var],
                                 [loss, main_loss, aux_loss], updates=updates)
    main_det, aux_det = lasagne.layers.get_output([main, aux],
                                                  deterministic=True)
    acc = lasagne.objectives.categorical_accuracy
    eval_fn = pytensor.function(
        [image_var, side_var, target_var],
        [acc(main_det, target_var).mean(), acc(aux_det, target_var).mean()])
    return train_fn, eval_fn


def main(num_epochs=5, train_size=None, batch_size=100, seed=0, plot=None):
    with pytensor.config.change_flags(floatX="float32"):
        lasagne.random.set_rng(np.random.RandomState(seed))
        rng = np.random.RandomState(seed)
        X_train, y_train, X_val, y_val, X_test, y_test = load_mnist()
        if train_size:
            X_train, y_train = X_train[:train_size], y_train[:train_size]
        image_var, side_var = pt.tensor4("image"), pt.matrix("side")
        target_var = pt.ivector("target")
        main_out, aux_out, _, _ = build_network(image_var, side_var)
        train_fn, eval_fn = build_functions(main_out, aux_out, image_var,
                                            side_var, target_var)
        history = {"total loss": [], "main loss": [], "aux loss": []}
        for epoch in range(num_epochs):
            start, sums, n = time.time(), np.zeros(3), 0
            batches = iterate_minibatches(X_train, y_train, batch_size, True, rng)
            for xb, yb in progress(batches, len(X_train) // batch_size,
                                   f"epoch {epoch + 1}"):
                sums += train_fn(xb, ink_profile(xb), yb)
                n += 1
            for key, value in zip(history, sums / n):
                history[key].append(float(value))
            main_acc, aux_acc = eval_fn(X_val, ink_profile(X_val), y_val)
            print(f"Epoch {epoch + 1}/{num_epochs} ({time.time() - start:.1f}s): "
                  f"loss {history['total loss'][-1]:.4f} (main "
                  f"{history['main loss'][-1]:.4f}, aux {history['aux loss'][-1]:.4f})  "
                  f"val acc main {main_acc:.2%}, aux {aux_acc:.2%}", flush=True)
        main_acc, aux_acc = eval_fn(X_test, ink_profile(X_test), y_test)
        print(f"Test accuracy: main output {main_acc:.2%}, auxiliary {aux_acc:.2%}")
        if plot:
            plot_curves(history, plot, "two inputs, two outputs")
        return {"history": history, "test_main_accuracy": float(main_acc),
                "test_aux_accuracy": float(aux_acc)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
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
