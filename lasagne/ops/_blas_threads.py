"""Thread-local BLAS thread count for Numba kernels.

The recurrent kernels run one lane per Numba thread, each lane calling
GEMM on its own batch slice. If OpenBLAS also spawns its threads inside
every call, the two thread pools fight for the cores (and spin-wait), which
on a small or busy machine makes a convolution several times slower. OpenBLAS
(>= 0.3.27) offers ``openblas_set_num_threads_local``, which sets the count
for the calling thread only: a lane calls it with 1 on entry and restores the
previous value on exit.

Numba's ``np.dot`` calls the BLAS bundled with SciPy
(``scipy.linalg.cython_blas``), so the function is looked up in that library
and published to LLVM under a private symbol name. The compiled code refers
to the name, not the address, so PyTensor's on-disk Numba cache stays valid
across processes. Where the function is not found (another BLAS), the
symbol points to a no-op and the kernels still work.
"""
import ctypes
import os
import re

from llvmlite import binding, ir
from numba import types
from numba.core import cgutils
from numba.core.typing import signature
from numba.extending import intrinsic

SYMBOL = "lasagne_openblas_set_num_threads_local"

_PROTOTYPE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)


@_PROTOTYPE
def _noop(n):  # pragma: no cover - only used without OpenBLAS
    return 1


def _scipy_blas_library():
    """Path of the shared library that scipy.linalg.cython_blas uses."""
    try:
        import scipy.linalg.cython_blas  # noqa: F401  (maps the library)
    except ImportError:  # pragma: no cover
        return None
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "/" in line}
    except OSError:  # pragma: no cover - not Linux
        return None
    for path in sorted(paths):
        name = os.path.basename(path)
        # SciPy's OpenBLAS, not NumPy's 64-bit-integer build (suffix "64_")
        if re.match(r"lib(scipy_)?openblas(?!64)", name):
            return path
    return None


def _address():
    path = _scipy_blas_library()
    if path is not None:
        try:
            fn = getattr(ctypes.CDLL(path), "openblas_set_num_threads_local")
            return ctypes.cast(fn, ctypes.c_void_p).value
        except (OSError, AttributeError):
            pass
    return ctypes.cast(_noop, ctypes.c_void_p).value


binding.add_symbol(SYMBOL, _address())


@intrinsic
def blas_threads_local(typingctx, n):
    """Set this thread's BLAS thread count; return the previous one."""
    if not isinstance(n, types.Integer):
        return None
    sig = signature(types.int32, n)

    def codegen(context, builder, signature_, args):
        fnty = ir.FunctionType(ir.IntType(32), [ir.IntType(32)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, SYMBOL)
        arg = context.cast(builder, args[0], signature_.args[0], types.int32)
        return builder.call(fn, [arg])

    return sig, codegen
