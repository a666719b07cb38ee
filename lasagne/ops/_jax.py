"""Lasagne's JAX lowerings, loaded when JAX is first used.

Importing JAX (and with it PyTensor's JAX dispatch) takes about two
seconds, which every process that imports lasagne would pay, most of them
never compiling for JAX. So the modules that register our Ops' lowerings
with ``jax_funcify`` are imported by :func:`load`, which runs before a
graph is converted to JAX:

- PyTensor's ``JAXLinker.fgraph_convert`` (``pytensor.compile.mode.JAX``,
  any ``Mode(linker=JAXLinker())``) calls it first, once :func:`install`
  has wrapped it; PyTensor itself imports its dispatch there too;
- :class:`lasagne.jax_linker.ShapeSpecializingJAXLinker` (``mode="JAX"``,
  :mod:`lasagne.parallel`) calls it before each conversion;
- :func:`install` calls it at once when PyTensor's JAX dispatch is already
  imported (by the user, or by an earlier ``import jax``-using library).

PyTensor's JAX dispatch turns JAX's 64-bit types on or off by ``floatX``
when it is first imported; :func:`load` imports it with the ``floatX`` of
the time lasagne was imported, as ``import lasagne`` did before, so that a
first JAX compilation inside ``change_flags(floatX="float32")`` (the
examples) still computes with the same types.

The JAX rewrites (tag ``"jax"``) run before the linker, so they are
registered with the Ops instead (:mod:`lasagne.ops._conv_jax_rewrite`).
"""
import functools
import importlib
import importlib.util
import sys
import threading

from pytensor import config
from pytensor.link.jax.linker import JAXLinker

__all__ = ["load", "install"]

#: The modules that register a lowering with ``jax_funcify``.
LOWERINGS = (
    "lasagne.ops._contiguous_jax",
    "lasagne.ops._conv_jax",
    "lasagne.ops._pool_jax",
    "lasagne.ops._attention_jax",
    "lasagne.ops._batchnorm_jax",
    "lasagne.ops._recurrent_jax",
)

_lock = threading.RLock()
_loaded = False
_floatX = None   # config.floatX when install() ran (lasagne was imported)


def load():
    """Register Lasagne's JAX lowerings (imports JAX); a no-op after the
    first call, or where JAX is not installed."""
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded or importlib.util.find_spec("jax") is None:
            return
        if "pytensor.link.jax.dispatch" not in sys.modules:
            with config.change_flags(floatX=_floatX or config.floatX):
                importlib.import_module("pytensor.link.jax.dispatch")
        for name in LOWERINGS:
            importlib.import_module(name)
        _loaded = True


def _loading_first(fgraph_convert):
    @functools.wraps(fgraph_convert)
    def fgraph_convert_after_load(self, *args, **kwargs):
        load()
        return fgraph_convert(self, *args, **kwargs)

    fgraph_convert_after_load.loads_lasagne_lowerings = True
    return fgraph_convert_after_load


def install():
    """Load the lowerings before PyTensor's JAX linker converts a graph,
    and now if PyTensor's JAX dispatch is already imported."""
    global _floatX
    _floatX = _floatX or config.floatX
    if not getattr(JAXLinker.fgraph_convert, "loads_lasagne_lowerings", False):
        JAXLinker.fgraph_convert = _loading_first(JAXLinker.fgraph_convert)
    if "pytensor.link.jax.dispatch" in sys.modules:
        load()
