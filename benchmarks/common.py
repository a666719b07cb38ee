"""Shared machinery for side-by-side benchmarks against PyTorch.

Each benchmark times one training step of the same model in both
libraries, alternating rounds (ours, PyTorch, ours, ...) so that machine
noise hits both alike, and reports the best round of each."""
import os
import time

import numpy as np


def set_threads(n):
    """Use `n` threads in both libraries (BLAS, Numba, PyTorch)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, str(n))


def time_steps(step, n_steps):
    start = time.perf_counter()
    for _ in range(n_steps):
        step()
    return time.perf_counter() - start


def compare(name, ours, theirs, batch_size, n_steps=10, rounds=5):
    """Alternate timed rounds of the two step functions; print and return
    samples/s of each (best round) and the ratio ours / PyTorch."""
    ours()
    theirs()  # warm up both
    ours_times, theirs_times = [], []
    for _ in range(rounds):
        ours_times.append(time_steps(ours, n_steps))
        theirs_times.append(time_steps(theirs, n_steps))
    ours_rate = batch_size * n_steps / min(ours_times)
    theirs_rate = batch_size * n_steps / min(theirs_times)
    ratio = ours_rate / theirs_rate
    print(f"{name:<28} lasagne {ours_rate:9.0f} samples/s   "
          f"pytorch {theirs_rate:9.0f} samples/s   ratio {ratio:5.2f}")
    return {"ours": ours_rate, "pytorch": theirs_rate, "ratio": ratio}


def random_batch(shape, n_classes, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random(shape, dtype=np.float32)
    y = rng.integers(0, n_classes, shape[0]).astype(np.int32)
    return X, y


def compile_and_time(build_function, first_call):
    """Compile with `build_function()` and run `first_call(fn)` once; return
    (fn, seconds). Numba compiles lazily on the first call, so the compile
    time users wait for includes it."""
    start = time.perf_counter()
    fn = build_function()
    first_call(fn)
    return fn, time.perf_counter() - start
