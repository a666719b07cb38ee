"""Keep large temporary arrays in the heap instead of fresh ``mmap`` pages.

Training steps allocate and free the same large buffers on every call:
padded convolution inputs, stored gate activations, gradients of whole sequences (tens
of MB each). glibc serves blocks above its ``mmap`` threshold (at most
32 MiB after its dynamic adjustment, 128 KiB at start) with fresh pages
from the kernel and returns them on ``free``, so every step pays a page
fault and a zero-fill per 4 KiB page again. On this project's reference
machine that cost a third of an LSTM training step.

:func:`tune_allocator` raises the ``mmap`` and trim thresholds, so freed
buffers are reused by the next step. PyTorch's CPU allocator keeps freed
blocks for reuse the same way. It is applied once when :mod:`lasagne.ops`
is imported, on glibc only; set the environment variable
``LASAGNE_TUNE_MALLOC=0`` before importing lasagne to leave the allocator
as it was. The process then keeps up to :data:`TRIM_THRESHOLD` bytes of
freed memory instead of handing it back to the system at once.
"""
import ctypes
import os

#: Blocks up to this size come from the heap, not from ``mmap``.
MMAP_THRESHOLD = 1 << 30
#: Free memory kept at the top of the heap before it is trimmed.
TRIM_THRESHOLD = 1 << 31

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_tuned = None


def tune_allocator():
    """Apply the thresholds once; return True if glibc accepted them."""
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if os.environ.get("LASAGNE_TUNE_MALLOC", "1").strip() in ("0", "false",
                                                             "no"):
        return _tuned
    try:
        # the symbols already loaded into this process, libc's among them
        # (no library search at import time)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no mallopt: nothing to tune
        return _tuned
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _tuned = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                  and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _tuned
