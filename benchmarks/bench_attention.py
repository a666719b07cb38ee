"""Scaled dot-product attention alone, forward and backward: the fused
:class:`lasagne.ops.attention.Attention` Op against the composed graph
(:func:`lasagne.layers.scaled_dot_product_attention`), timed in turns.

Workload (the Transformer benchmark's): batch 32, 4 heads, sequence 128,
key size 64, float32; outputs the attention output and the gradients of
``sum(out * g)`` with respect to q, k and v. Prints the best time of each
over the repetitions and the speed-up.

Usage::

    python benchmarks/bench_attention.py [--threads 2] [--repeats 15]
        [--causal]
"""
import argparse
import os
import sys
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--key-size", type=int, default=64)
    parser.add_argument("--causal", action="store_true")
    return parser.parse_args()


ARGS = parse_args()
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMBA_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

import numpy as np  # noqa: E402


def main():
    import pytensor
    import pytensor.tensor as pt
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from lasagne.layers import scaled_dot_product_attention
    from lasagne.ops.attention import fused_attention
    shape = (ARGS.batch, ARGS.heads, ARGS.length, ARGS.key_size)
    rng = np.random.default_rng(0)
    values = [rng.normal(size=shape).astype("float32") for _ in range(4)]
    q, k, v, g = (pt.tensor4(dtype="float32",
                             shape=(None, ARGS.heads, None, ARGS.key_size))
                  for _ in range(4))
    builders = {
        "fused": lambda: fused_attention(q, k, v, causal=ARGS.causal)[0],
        "composed": lambda: scaled_dot_product_attention(
            q, k, v, causal=ARGS.causal)}
    functions = {}
    for name, build in builders.items():
        out = build()
        grads = pytensor.grad((out * g).sum(), [q, k, v])
        functions[name] = pytensor.function([q, k, v, g], [out, *grads])
    results = [f(*values) for f in functions.values()]
    error = max(float(np.abs(a - b).max()) for a, b in zip(*results))
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(ARGS.repeats):
        for name, f in functions.items():
            start = time.perf_counter()
            f(*values)
            best[name] = min(best[name], time.perf_counter() - start)
    print(f"attention forward+backward: batch {ARGS.batch}, {ARGS.heads} "
          f"heads, sequence {ARGS.length}, key size {ARGS.key_size}, "
          f"causal {ARGS.causal}, float32, {ARGS.threads} threads")
    print(f"fused {best['fused'] * 1e3:7.1f} ms   composed "
          f"{best['composed'] * 1e3:7.1f} ms   speed-up "
          f"{best['composed'] / best['fused']:4.2f}   max difference "
          f"{error:.1e}", flush=True)


if __name__ == "__main__":
    main()
