"""Numba's parallel runtime, started before any cached code needs it.

A kernel compiled with ``parallel=True`` calls into Numba's threading layer
(``numba_parallel_for``, ``do_scheduling_unsigned``, ...). Those symbols exist
only once the layer has been launched. Numba launches it when it compiles a
parallel function, or when it loads one from *its own* cache entry. It does
not when a kernel's library is linked, from the cache, into a larger
function: PyTensor compiles each training graph into one function and caches
it whole, and such an entry carries no note that it needs the threading
layer. Loaded in a fresh process, its calls into the layer resolve to null
and the first call crashes (SIGSEGV).

Every ``numba_funcify`` of an Op whose kernel is parallel therefore calls
:func:`start_parallel_runtime` first. PyTensor funcifies every node, cached
or not, before it looks up the graph's cache entry, so the layer is running
before any cached code is loaded.
"""
import numba
from numba.core.cpu_options import ParallelOptions

__all__ = ["prange_only", "start_parallel_runtime"]


def start_parallel_runtime():
    """Launch Numba's threading layer (idempotent and cheap once done)."""
    # get_num_threads() launches the layer first: public API for the
    # launch, which registers the layer's symbols with the JIT.
    numba.get_num_threads()


def prange_only():
    """Numba's ``parallel`` option for our kernels: run the ``prange``
    loops in threads and leave every other statement serial.

    ``parallel=True`` also turns array expressions, allocations and slice
    assignments (``np.zeros``, ``a[i] = 0``, ``a += b``) into parallel
    loops of their own, each analysed and outlined into a function: seconds
    of compile time per kernel, for statements that are small next to the
    kernels' loops or run inside a thread already. An options object, not
    a dict: Numba consumes a dict's entries the first time it reads them,
    and a second compilation would find it empty, which means all on.
    """
    return ParallelOptions(dict(
        prange=True, comprehension=False, reduction=False,
        inplace_binop=False, setitem=False, numpy=False, stencil=False,
        fusion=False))
