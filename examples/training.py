"""Small helpers shared by the examples: minibatches, a progress bar, a
warm-up call, and training curves."""
import sys
import time

import numpy as np


def iterate_minibatches(inputs, targets, batchsize, shuffle=False, rng=None):
    """Yield (inputs, targets) minibatches of exactly `batchsize` examples
    (a last incomplete batch is dropped, as in Lasagne's examples)."""
    assert len(inputs) == len(targets)
    indices = np.arange(len(inputs))
    if shuffle:
        (rng or np.random).shuffle(indices)
    for start in range(0, len(inputs) - batchsize + 1, batchsize):
        excerpt = indices[start:start + batchsize]
        yield inputs[excerpt], targets[excerpt]


def warm_up(fn, *args):
    """Call the compiled function `fn` once on `args` and undo what it
    changed (parameters, optimizer state, random generators).

    Numba compiles a function at its first call; calling it once right
    after ``pytensor.function`` makes the time reported as compile time the
    time a user waits, and leaves training exactly as it would have been.
    """
    shared = fn.get_shared()
    saved = [var.get_value(borrow=False) for var in shared]
    fn(*args)
    for var, value in zip(shared, saved):
        var.set_value(value, borrow=True)


def progress(iterable, total, desc):
    """tqdm's progress bar if it is installed, else a plain one."""
    try:
        from tqdm import tqdm
        return tqdm(iterable, total=total, desc=desc, leave=False,
                    dynamic_ncols=True, disable=not sys.stderr.isatty())
    except ImportError:
        return _plain_progress(iterable, total, desc)


def _plain_progress(iterable, total, desc):
    start = time.time()
    interactive = sys.stderr.isatty()
    for i, item in enumerate(iterable, 1):
        yield item
        if interactive:
            sys.stderr.write(f"\r{desc}: {i}/{total} ({time.time() - start:.1f}s)")
            sys.stderr.flush()
    if interactive:
        sys.stderr.write("\r" + " " * 60 + "\r")


def plot_curves(history, filename, title=""):
    """Write the training curves in `history` (a dict name -> list of
    per-epoch values) as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in history.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
    ax.set_xlabel("epoch")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(filename, dpi=100)
    plt.close(fig)
