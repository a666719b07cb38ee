"""Precompiled headers for PyTensor's C modules.

Each C module PyTensor compiles (one per distinct Op of a graph on the C
backend) starts with the same block of includes: Python's, NumPy's and
PyTensor's helpers. Parsing them is about 0.4 s of the 0.8 s g++ spends
on a typical module. This module compiles that block once into a GCC
precompiled header (``Python.h.gch``, kept in PyTensor's compiledir) and
puts its folder first on the include path of every module whose source
starts with exactly that block and whose compiler flags are those the
header was built with.

The module's code and its cache key are unchanged: GCC reads the
precompiled header in place of the ``#include <Python.h>`` line, whose
content it holds together with the rest of the block, and the block's
other includes are then no-ops. GCC checks that a precompiled header fits
the compilation and otherwise silently reads the real headers, so a
stale or foreign header costs time, never correctness.

It is used with GCC only (``g++ --version``), not on Windows, and not when
``LASAGNE_C_PCH=0``. ``STATS`` counts the modules compiled with and
without one.
"""
import hashlib
import os
import subprocess
import tempfile

from pytensor import config
from pytensor.link.c import cmodule

__all__ = ["install", "STATS"]

#: Modules compiled with a precompiled header, without one, and headers built.
STATS = {"used": 0, "skipped": 0, "built": 0}

_FIRST_INCLUDE = "#include <Python.h>"
_ORIGINAL = None
_IS_GCC = {}
_HEADERS = {}   # key -> folder holding Python.h.gch, or None if it failed


def _is_gcc(cxx):
    if cxx not in _IS_GCC:
        try:
            version = subprocess.run([cxx, "--version"], capture_output=True,
                                     text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            version = ""
        _IS_GCC[cxx] = ("Free Software Foundation" in version
                        and "clang" not in version.lower())
    return _IS_GCC[cxx]


def _leading_includes(src_code):
    """The block of ``#include`` lines the source starts with."""
    lines = []
    for line in src_code.splitlines():
        if not line.startswith("#include"):
            break
        lines.append(line)
    return lines


def _compile_flags(preargs, hide_symbols):
    """The flags PyTensor's ``compile_str`` passes besides the include
    and library paths, in its order (its ``-g``, the optimiser flags unless
    ``cmodule__remove_gxx_opt``, the symbol visibility)."""
    flags = ["-g"]
    for arg in preargs:
        if config.cmodule__remove_gxx_opt and arg.startswith("-O"):
            continue
        if arg.startswith(("-l", "-L", "-Wl,")):
            continue
        flags.append(arg)
    if hide_symbols:
        flags.append("-fvisibility=hidden")
    return flags


def _header_folder(block, flags, include_dirs):
    """The folder of the precompiled header for `block` compiled with
    `flags` and `include_dirs`, built at its first use (None if GCC
    refused it)."""
    key = hashlib.sha256(repr((config.cxx, block, flags, include_dirs))
                         .encode()).hexdigest()[:24]
    if key in _HEADERS:
        return _HEADERS[key]
    folder = os.path.join(config.compiledir, "lasagne_headers", key)
    target = os.path.join(folder, "Python.h.gch")
    if not os.path.exists(target):
        os.makedirs(folder, exist_ok=True)
        source = os.path.join(folder, "lasagne_pch_source.h")
        written = f"{source}.tmp{os.getpid()}"
        with open(written, "w") as f:
            f.write("\n".join(block) + "\n")
        os.replace(written, source)
        fd, partial = tempfile.mkstemp(suffix=".gch.part", dir=folder)
        os.close(fd)
        run = subprocess.run(
            [config.cxx, "-x", "c++-header", *flags,
             *[f"-I{d}" for d in include_dirs], "-o", partial, source],
            capture_output=True, text=True)
        if run.returncode != 0:
            os.unlink(partial)
            _HEADERS[key] = None
            return None
        os.replace(partial, target)   # atomic: others see all or nothing
        STATS["built"] += 1
    _HEADERS[key] = folder
    return folder


def _compile_str(module_name, src_code, location=None, include_dirs=None,
                 lib_dirs=None, libs=None, preargs=None, py_module=True,
                 hide_symbols=True):
    preargs = list(preargs or [])
    folder = None
    block = _leading_includes(src_code)
    if (block and block[0] == _FIRST_INCLUDE and config.cxx
            and os.environ.get("LASAGNE_C_PCH", "1") != "0"
            and _is_gcc(config.cxx)):
        dirs = [d for d in include_dirs or [] if d] + \
            cmodule.std_include_dirs()
        folder = _header_folder(block, _compile_flags(preargs, hide_symbols),
                                dirs)
    if folder is None:
        STATS["skipped"] += 1
    else:
        STATS["used"] += 1
        preargs = [f"-I{folder}", *preargs]
    return _ORIGINAL(module_name, src_code, location=location,
                     include_dirs=include_dirs, lib_dirs=lib_dirs, libs=libs,
                     preargs=preargs, py_module=py_module,
                     hide_symbols=hide_symbols)


def install():
    """Route PyTensor's C module compilation through the precompiled
    headers (idempotent)."""
    global _ORIGINAL
    if os.name == "nt" or _ORIGINAL is not None:
        return
    _ORIGINAL = cmodule.GCC_compiler.compile_str
    cmodule.GCC_compiler.compile_str = staticmethod(_compile_str)
