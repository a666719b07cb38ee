"""Numba functions compiled once per machine and called by symbol.

Numba links the code of every function a jitted function calls into it and
optimises the whole again there. PyTensor compiles each graph into one
function that calls one function per node, so a kernel called from a node
is re-optimised, and its machine code emitted again, in the node's function
and again in the graph's: seconds per kernel for every new graph.

An :class:`Exported` function avoids that. It is compiled with
``numba.njit(cache=True)`` for one fixed signature per dtype, so it is
compiled once per machine and then loaded from Numba's cache; its machine
code is registered with LLVM under a stable name (:meth:`Exported.register`);
and jitted callers call it through an intrinsic (:attr:`Exported.call`) that
only declares that name, so none of its code enters theirs.

A caller compiled in this process registers the symbol while it is typed.
A caller loaded from PyTensor's on-disk cache in a new process is not typed
again, so every ``numba_funcify`` that produces such a caller must call
:meth:`Exported.register` for its dtype first: PyTensor funcifies every node
before it looks up the cache.
"""
import llvmlite.binding as llvm
import numpy as np
from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.core.extending import intrinsic

__all__ = ["Exported"]


class Exported:
    """A cached Numba function called by symbol from other jitted code.

    Parameters
    ----------
    name : str
        Unique among exported functions: the symbol is
        ``lasagne_<name>_<dtype>``.
    dispatcher : numba Dispatcher
        Made with ``numba.njit(cache=True, no_cpython_wrapper=True, ...)``.
    signature : callable
        ``signature(dtype)`` returns the tuple of Numba argument types the
        function is compiled for with arrays of `dtype`.
    dtype_arg : int
        The argument whose (array) dtype selects the signature.
    requires : sequence of Exported
        Functions this one calls by symbol, registered before it loads.
    """

    def __init__(self, name, dispatcher, signature, dtype_arg=0,
                 requires=()):
        self.dispatcher = dispatcher
        self.signature = signature
        self.dtype_arg = dtype_arg
        self.requires = tuple(requires)
        self.stem = "lasagne_" + name
        self._registered = {}
        self.call = self._intrinsic()

    def symbol_name(self, dtype):
        return f"{self.stem}_{np.dtype(dtype).name}"

    def register(self, dtype):
        """Compile (or load from Numba's cache) the function for `dtype`
        and make its symbol known to LLVM. Returns its return type."""
        dtype = np.dtype(dtype).name
        if dtype not in self._registered:
            for other in self.requires:
                other.register(dtype)
            argtypes = self.signature(dtype)
            self.dispatcher.compile(argtypes)
            result = self.dispatcher.overloads[argtypes]
            llvm.add_symbol(self.symbol_name(dtype),
                            result.library.get_pointer_to_function(
                                result.fndesc.llvm_func_name))
            self._registered[dtype] = result.signature.return_type
        return self._registered[dtype]

    def _intrinsic(self):
        exported = self
        name = self.stem

        @intrinsic(prefer_literal=False)
        def call(typingctx, *args):
            selector = args[exported.dtype_arg] if args else None
            if (not isinstance(selector, types.Array)
                    or selector.dtype not in (types.float32, types.float64)):
                raise TypingError(f"{name}: argument {exported.dtype_arg} "
                                  "must be a float32 or float64 array, got "
                                  f"{selector}")
            dtype = str(selector.dtype)
            expected = exported.signature(dtype)
            if tuple(args) != expected:
                raise TypingError(f"{name}: argument types {tuple(args)} "
                                  f"differ from the compiled {expected}")
            restype = exported.register(dtype)
            symbol = exported.symbol_name(dtype)

            def codegen(context, builder, signature, llargs):
                argtypes = signature.args
                if len(argtypes) == 1 and isinstance(argtypes[0],
                                                     types.StarArgTuple):
                    argtypes = tuple(argtypes[0].types)
                    llargs = cgutils.unpack_tuple(builder, llargs[0])
                fnty = context.call_conv.get_function_type(restype, argtypes)
                fn = cgutils.get_or_insert_function(builder.module, fnty,
                                                    symbol)
                status, result = context.call_conv.call_function(
                    builder, fn, restype, argtypes, llargs)
                with cgutils.if_unlikely(builder, status.is_error):
                    context.call_conv.return_status_propagate(builder, status)
                return result

            return restype(types.StarArgTuple.from_types(args)), codegen

        return call
