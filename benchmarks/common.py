"""Shared machinery for side-by-side benchmarks against PyTorch.

Each benchmark times one training step of the same model in both
libraries, alternating rounds (ours, PyTorch, ours, ...) so that machine
noise hits both alike, and reports the best round of each.

PyTorch runs in its own process (:class:`TorchProcess`), set up as its CPU
performance guide says: glibc's allocator keeps freed memory instead of
returning it to the system (``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_``), and the same number of threads as ours. Only
one side runs at a time: the other waits for its next round.
"""
import json
import os
import subprocess
import sys
import time

import numpy as np


def set_threads(n):
    """Use `n` threads in both libraries (BLAS, Numba, PyTorch)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, str(n))


#: glibc allocator settings of PyTorch's CPU performance guide.
TORCH_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "1073741824",
                    "MALLOC_TRIM_THRESHOLD_": "2147483648"}


class TorchProcess:
    """A PyTorch workload of ``torch_models.py`` in a process of its own.

    Parameters
    ----------
    builder : str
        Name of the function in ``torch_models.py`` building the step.
    threads : int
        ``torch.set_num_threads`` and the OpenMP/BLAS thread variables.
    **options
        Passed to the builder (batch size, ...).

    Calling the object with a number of steps runs them there and returns
    the seconds they took.
    """

    def __init__(self, builder, threads, **options):
        env = dict(os.environ, **TORCH_MALLOC_ENV)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS"):
            env[var] = str(threads)
        here = os.path.dirname(os.path.abspath(__file__))
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(here, "torch_worker.py"),
             str(threads), builder, json.dumps(options)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=env, cwd=here)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the PyTorch worker for {builder!r} failed "
                               "to start; see its error above.")

    def __call__(self, n_steps):
        self.proc.stdin.write(f"{n_steps}\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def finish(result):
    """Wait until `result`, what a compiled function returned, is computed;
    return it. Under ``mode="JAX"`` a function returns JAX arrays at once
    and computes them in the background (asynchronous dispatch), so a
    timing loop must wait for its last result or it times the dispatch
    only. Other modes return computed numpy arrays: nothing to wait for."""
    for value in result if isinstance(result, (list, tuple)) else [result]:
        wait = getattr(value, "block_until_ready", None)
        if wait is not None:
            wait()
    return result


def time_steps(step, n_steps):
    start = time.perf_counter()
    for _ in range(n_steps):
        result = step()
    finish(result)
    return time.perf_counter() - start


def compare(name, ours, theirs, batch_size, n_steps=10, rounds=5):
    """Alternate timed rounds of our step function and a
    :class:`TorchProcess`; print and return samples/s of each (best round)
    and the ratio ours / PyTorch."""
    ours()
    theirs(1)  # warm up both
    ours_times, theirs_times = [], []
    for _ in range(rounds):
        ours_times.append(time_steps(ours, n_steps))
        theirs_times.append(theirs(n_steps))
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
    finish(first_call(fn))
    return fn, time.perf_counter() - start
