"""LSTM training step: lasagne.layers.LSTMLayer against torch.nn.LSTM (CPU).

Workload: input (batch 100, 100 steps, 2 features), 100 units, only the
last step, dense 1, squared error, Adam, float32, gradient through the whole
sequence. Ours and PyTorch (in its own process, tuned: see common.py)
run alternately; the best
samples/s of several rounds is printed for each, with the ratio and our
compile time, for three ways of running the LSTM: the fused recurrence Op
(the default), a pytensor.scan (fused disabled) and an unrolled graph.

Usage::

    python benchmarks/bench_lstm.py [--variants fused,scan,unroll]
        [--rounds 5] [--steps 10] [--blas-threads 1] [--torch-threads 2]

``--blas-threads`` sets OpenBLAS's threads for our side (before numpy is
imported). The per-step products are small (100 x 100 by 100 x 400): on two
cores shared with other work, one BLAS thread was faster than two in our
measurements, as threads spin waiting for each other.
"""
import argparse
import os
import sys
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", default="fused,scan,unroll")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10,
                        help="training steps per timed round")
    parser.add_argument("--blas-threads", default="1")
    parser.add_argument("--torch-threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--mode", default=None,
                        help="PyTensor mode (default: Numba; e.g. JAX)")
    return parser.parse_args()


ARGS = parse_args()
if ARGS.blas_threads:
    os.environ["OPENBLAS_NUM_THREADS"] = ARGS.blas_threads

import numpy as np  # noqa: E402
import pytensor  # noqa: E402
import pytensor.tensor as pt  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import lasagne  # noqa: E402
from common import TorchProcess, finish  # noqa: E402
from lasagne.layers import DenseLayer, InputLayer, LSTMLayer  # noqa: E402

pytensor.config.floatX = "float32"
N_FEATURES = 2


def build_ours(variant, x, y):
    """Compiled Adam training step of LSTM -> dense, and its compile time
    (pytensor.function plus the first two calls: the first JIT-compiles
    Numba code not yet in the on-disk cache, the second may compile again
    for inputs whose memory layout the first call's updates changed)."""
    length = ARGS.length if variant == "unroll" else None
    l_in = InputLayer((None, length, N_FEATURES))
    l_lstm = LSTMLayer(l_in, ARGS.units, only_return_final=True,
                       unroll_scan=(variant == "unroll"))
    l_lstm.allow_fused = variant == "fused"
    l_out = DenseLayer(l_lstm, 1, nonlinearity=None)
    target = pt.matrix("target", dtype="float32")
    prediction = lasagne.layers.get_output(l_out)
    loss = lasagne.objectives.squared_error(prediction, target).mean()
    params = lasagne.layers.get_all_params(l_out, trainable=True)
    updates = lasagne.updates.adam(loss, params, learning_rate=1e-3)
    start = time.perf_counter()
    train = pytensor.function([l_in.input_var, target], loss, updates=updates,
                              mode=ARGS.mode)
    train(x, y)
    finish(train(x, y))
    return train, time.perf_counter() - start


def samples_per_second(fn, n_steps):
    start = time.perf_counter()
    for _ in range(n_steps):
        result = fn()
    finish(result)  # JAX computes in the background
    return n_steps * ARGS.batch / (time.perf_counter() - start)


def main():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (ARGS.batch, ARGS.length, N_FEATURES))
    x = x.astype("float32")
    y = rng.uniform(-1, 1, (ARGS.batch, 1)).astype("float32")
    torch_train = TorchProcess("lstm", ARGS.torch_threads, batch=ARGS.batch,
                               length=ARGS.length, units=ARGS.units,
                               features=N_FEATURES)
    print(f"LSTM training step: batch {ARGS.batch}, {ARGS.length} steps, "
          f"{N_FEATURES} features, {ARGS.units} units, float32; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
          f"torch threads {ARGS.torch_threads}")
    for variant in ARGS.variants.split(","):
        ours, compile_s = build_ours(variant, x, y)
        torch_train(1)
        best = {"ours": 0.0, "torch": 0.0}
        for _ in range(ARGS.rounds):
            best["ours"] = max(best["ours"], samples_per_second(
                lambda: ours(x, y), ARGS.steps))
            best["torch"] = max(best["torch"], ARGS.steps * ARGS.batch
                                / torch_train(ARGS.steps))
        print(f"{variant:7s} ours {best['ours']:8.0f} samples/s   torch "
              f"{best['torch']:8.0f} samples/s   ratio "
              f"{best['ours'] / best['torch']:5.2f}   compile "
              f"{compile_s:6.1f} s", flush=True)
    torch_train.close()


if __name__ == "__main__":
    main()
