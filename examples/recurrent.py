#!/usr/bin/env python
"""An LSTM learns the adding problem (Hochreiter & Schmidhuber, 1997).

Each sequence has two channels: random values in [0, 1] and a 0/1 marker
that is 1 at exactly two steps, one in each half of the sequence. The target
is the sum of the two marked values. Sequences have different lengths
(padded to the longest, with a mask), so the network must carry the marked
values across many steps and ignore the padding. Predicting the mean (1.0)
scores a mean squared error of about 0.17; a trained LSTM gets below 0.01.

Usage::

    python examples/recurrent.py [--epochs 10] [--min-length 25]
        [--max-length 30] [--units 100] [--batches-per-epoch 100]
"""
import argparse
import os
import sys
import time

import numpy as np
import pytensor
import pytensor.tensor as pt

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lasagne  # noqa: E402
from training import warm_up  # noqa: E402


def adding_problem(n, min_length, max_length, rng, dtype="float32"):
    """Inputs (n, max_length, 2), masks (n, max_length) and targets (n, 1).

    Examples
    --------
    >>> x, mask, y = adding_problem(4, 5, 8, np.random.default_rng(0))
    >>> x.shape, mask.shape, y.shape
    ((4, 8, 2), (4, 8), (4, 1))
    >>> bool(np.allclose((x[..., 0] * x[..., 1]).sum(axis=1), y[:, 0]))
    True
    """
    x = np.zeros((n, max_length, 2), dtype=dtype)
    mask = np.zeros((n, max_length), dtype=dtype)
    y = np.zeros((n, 1), dtype=dtype)
    lengths = rng.integers(min_length, max_length + 1, size=n)
    for i, length in enumerate(lengths):
        x[i, :length, 0] = rng.uniform(size=length)
        mask[i, :length] = 1
        first = rng.integers(0, length // 2)
        second = rng.integers(length // 2, length)
        x[i, [first, second], 1] = 1
        y[i, 0] = x[i, first, 0] + x[i, second, 0]
    return x, mask, y


def build_model(max_length, units):
    l_in = lasagne.layers.InputLayer((None, max_length, 2))
    l_mask = lasagne.layers.InputLayer((None, max_length))
    l_lstm = lasagne.layers.LSTMLayer(
        l_in, units, mask_input=l_mask, grad_clipping=100.0,
        only_return_final=True)
    l_out = lasagne.layers.DenseLayer(l_lstm, 1, nonlinearity=None)
    return l_in, l_mask, l_out


def main(epochs=10, min_length=25, max_length=30, units=100, batch_size=100,
         batches_per_epoch=100, learning_rate=0.005, seed=0, floatX="float32"):
    """Train and return the final validation MSE. Runs in `floatX`
    precision (float32 unless PYTENSOR_FLAGS says otherwise)."""
    if "floatX" in os.environ.get("PYTENSOR_FLAGS", ""):
        floatX = pytensor.config.floatX
    with pytensor.config.change_flags(floatX=floatX):
        return _train(epochs, min_length, max_length, units, batch_size,
                      batches_per_epoch, learning_rate, seed)


def _train(epochs, min_length, max_length, units, batch_size,
           batches_per_epoch, learning_rate, seed):
    dtype = pytensor.config.floatX
    rng = np.random.default_rng(seed)
    lasagne.random.set_rng(np.random.RandomState(seed))
    l_in, l_mask, l_out = build_model(max_length, units)
    target = pt.matrix("target")
    prediction = lasagne.layers.get_output(l_out)
    loss = lasagne.objectives.squared_error(prediction, target).mean()
    params = lasagne.layers.get_all_params(l_out, trainable=True)
    updates = lasagne.updates.adam(loss, params, learning_rate=learning_rate)
    start = time.perf_counter()
    inputs = [l_in.input_var, l_mask.input_var, target]
    train = pytensor.function(inputs, loss, updates=updates)
    evaluate = pytensor.function(inputs, loss)
    # Numba compiles at the first call: make it now (on a batch of its own
    # generator, so that training draws the same batches).
    warm_batch = adding_problem(batch_size, min_length, max_length,
                                np.random.default_rng(0), dtype)
    warm_up(train, *warm_batch)
    warm_up(evaluate, *warm_batch)
    print(f"compiled in {time.perf_counter() - start:.1f} s "
          "(including the first call)")
    x_val, mask_val, y_val = adding_problem(1000, min_length, max_length, rng,
                                            dtype)
    print(f"trivial predictor (mean) MSE: {((y_val - 1.0) ** 2).mean():.4f}")
    total = 0.0
    val_mse = None
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        train_loss = 0.0
        for _ in range(batches_per_epoch):
            batch = adding_problem(batch_size, min_length, max_length, rng,
                                   dtype)
            train_loss += float(train(*batch))
        elapsed = time.perf_counter() - start
        total += elapsed
        val_mse = float(evaluate(x_val, mask_val, y_val))
        print(f"epoch {epoch:3d}  train MSE {train_loss / batches_per_epoch:.4f}"
              f"  validation MSE {val_mse:.4f}  {elapsed:5.1f} s "
              f"(total {total:.1f} s)", flush=True)
    return val_mse


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--min-length", type=int, default=25)
    parser.add_argument("--max-length", type=int, default=30)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--batches-per-epoch", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", default=None,
                        help="PyTensor mode of every compiled function "
                             "(default: Numba; e.g. JAX, CVM)")
    args = parser.parse_args()
    if args.mode:
        pytensor.config.mode = args.mode
    main(args.epochs, args.min_length, args.max_length, args.units,
         args.batch_size, args.batches_per_epoch, args.learning_rate,
         args.seed)
