"""Transformer encoder block training step: lasagne.layers.transformer_encoder
against torch.nn.TransformerEncoderLayer (CPU).

Workload: one post-norm encoder block, d_model 256, 4 heads, feed-forward
1024 (ReLU), dropout 0.1, sequence 128, batch 32, float32; loss the mean
squared error to a random target; Adam. PyTorch runs in its own process
(started once, with glibc's malloc kept from returning memory to the
system: MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_, as its allocator
is tuned for) and the two sides take turns, round by round, so that machine
noise hits both alike. Both use the same number of threads. Prints the best
round's samples/s of each, the ratio ours / PyTorch and our compile time.
With ``--ab`` ours is also built with the composed attention graph
(``fused_attention=False``) and timed in the same rounds, for an A/B of
the fused attention Op.

Usage::

    python benchmarks/bench_transformer.py [--threads 2] [--rounds 5]
        [--steps 5] [--mode NUMBA] [--ab]
"""
import argparse
import os
import subprocess
import sys
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--ff", type=int, default=1024)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--mode", default=None,
                        help="PyTensor mode for ours (default: Numba)")
    parser.add_argument("--attention-dropout", type=float, default=0.0,
                        help="ours' dropout on the attention weights "
                             "(PyTorch's block uses --dropout there)")
    parser.add_argument("--ab", action="store_true",
                        help="also time ours with the composed attention")
    parser.add_argument("--torch-worker", action="store_true",
                        help=argparse.SUPPRESS)
    return parser.parse_args()


ARGS = parse_args()
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMBA_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

import numpy as np  # noqa: E402


def data():
    rng = np.random.default_rng(0)
    shape = (ARGS.batch, ARGS.length, ARGS.d_model)
    return (rng.normal(size=shape).astype("float32"),
            rng.normal(size=shape).astype("float32"))


def torch_worker():
    """Serve timed rounds to the parent: read a line with a number of
    steps, answer with the seconds they took."""
    import torch
    torch.set_num_threads(ARGS.threads)
    torch.manual_seed(0)
    block = torch.nn.TransformerEncoderLayer(
        ARGS.d_model, ARGS.heads, ARGS.ff, dropout=ARGS.dropout,
        activation="relu", batch_first=True, norm_first=False)
    optimizer = torch.optim.Adam(block.parameters(), lr=1e-4)
    x, y = (torch.from_numpy(a) for a in data())

    def step():
        optimizer.zero_grad()
        loss = ((block(x) - y) ** 2).mean()
        loss.backward()
        optimizer.step()

    step()
    step()
    print("ready", flush=True)
    for line in sys.stdin:
        start = time.perf_counter()
        for _ in range(int(line)):
            step()
        print(time.perf_counter() - start, flush=True)


def build_ours(fused=True):
    import pytensor
    import pytensor.tensor as pt
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    import lasagne
    from common import finish
    from lasagne.layers import InputLayer, get_all_params, get_output
    pytensor.config.floatX = "float32"
    l_in = InputLayer((None, None, ARGS.d_model))
    block = lasagne.layers.transformer_encoder(
        l_in, ARGS.heads, ARGS.ff, dropout=ARGS.dropout,
        attention_dropout=ARGS.attention_dropout,
        nonlinearity=lasagne.nonlinearities.rectify, norm="post",
        fused_attention=fused)
    target = pt.tensor3("target", dtype="float32")
    loss = pt.mean((get_output(block) - target) ** 2)
    params = get_all_params(block, trainable=True)
    updates = lasagne.updates.adam(loss, params, learning_rate=1e-4)
    x, y = data()
    start = time.perf_counter()
    train = pytensor.function([l_in.input_var, target], loss, updates=updates,
                              mode=ARGS.mode)
    train(x, y)
    finish(train(x, y))
    return (lambda: finish(train(x, y))), time.perf_counter() - start


def main():
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="1073741824",
               MALLOC_TRIM_THRESHOLD_="2147483648")
    worker = subprocess.Popen(
        [sys.executable, __file__, "--torch-worker"] + sys.argv[1:],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    ours, compile_s = build_ours()
    composed, composed_compile_s = build_ours(False) if ARGS.ab else (None, 0)
    assert worker.stdout.readline().strip() == "ready"
    best_ours = best_composed = best_torch = float("inf")
    for _ in range(ARGS.rounds):
        start = time.perf_counter()
        for _ in range(ARGS.steps):
            ours()
        best_ours = min(best_ours, time.perf_counter() - start)
        if composed is not None:
            start = time.perf_counter()
            for _ in range(ARGS.steps):
                composed()
            best_composed = min(best_composed, time.perf_counter() - start)
        worker.stdin.write(f"{ARGS.steps}\n")
        worker.stdin.flush()
        best_torch = min(best_torch, float(worker.stdout.readline()))
    worker.stdin.close()
    worker.wait()
    rate_ours = ARGS.batch * ARGS.steps / best_ours
    rate_torch = ARGS.batch * ARGS.steps / best_torch
    print(f"Transformer encoder block training step: batch {ARGS.batch}, "
          f"sequence {ARGS.length}, d_model {ARGS.d_model}, {ARGS.heads} "
          f"heads, ff {ARGS.ff}, dropout {ARGS.dropout} (ours on the "
          f"attention weights {ARGS.attention_dropout}), float32, "
          f"{ARGS.threads} threads, mode {ARGS.mode or 'default (NUMBA_NODE unless chosen)'}")
    print(f"ours {rate_ours:8.1f} samples/s   torch {rate_torch:8.1f} "
          f"samples/s   ratio {rate_ours / rate_torch:5.2f}   compile "
          f"{compile_s:6.1f} s", flush=True)
    if composed is not None:
        rate = ARGS.batch * ARGS.steps / best_composed
        print(f"composed attention (fused_attention=False): {rate:8.1f} "
              f"samples/s   ratio {rate / rate_torch:5.2f}   compile "
              f"{composed_compile_s:6.1f} s", flush=True)


if __name__ == "__main__":
    torch_worker() if ARGS.torch_worker else main()
