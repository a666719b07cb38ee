"""Let OpenBLAS's idle threads sleep at once instead of spinning.

A training step compiled by the Numba backend runs on two thread pools:
Numba's (the convolution and recurrent kernels, ``prange``) and
OpenBLAS's (PyTensor's matrix products, through SciPy's OpenBLAS). After
each product OpenBLAS keeps its threads spinning for a while (about 2**28
cycles by default), and on a machine with few cores those spinning
threads take the cores from the Numba kernels that run next, and Numba's
from OpenBLAS. On the 2-core reference machine the MNIST CNN step took
141 ms with the default and 98 ms with ``OPENBLAS_THREAD_TIMEOUT=4``
(threads sleep after 2**4 cycles).

OpenBLAS reads the variable once, when the library is loaded; SciPy's
OpenBLAS is loaded when lasagne's kernels import PyTensor's Numba
dispatch, after this module has run. Importing ``scipy.linalg`` before
lasagne loads it earlier and the setting has no effect. The setting is
left alone where the user has set the variable; set
``LASAGNE_TUNE_BLAS=0`` before importing lasagne to leave OpenBLAS as it
was.
"""
import os

#: The value set, as OpenBLAS reads it: idle threads sleep after 2**4 cycles.
THREAD_TIMEOUT = "4"


def set_thread_timeout():
    """Set ``OPENBLAS_THREAD_TIMEOUT`` unless it is set or opted out;
    return the value in effect (None if unset)."""
    if os.environ.get("LASAGNE_TUNE_BLAS", "1").strip().lower() not in (
            "0", "false", "no"):
        os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", THREAD_TIMEOUT)
    return os.environ.get("OPENBLAS_THREAD_TIMEOUT")


set_thread_timeout()
