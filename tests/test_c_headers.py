"""The C backend's modules compile against a precompiled header
(:mod:`lasagne._c_headers`), and GCC really reads it."""
import os
import subprocess

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor import config
from pytensor.compile.mode import Mode
from pytensor.link.c import cmodule

from lasagne import _c_headers

needs_gcc = pytest.mark.skipif(
    not config.cxx or not _c_headers._is_gcc(config.cxx) or os.name == "nt",
    reason="precompiled headers are used with GCC only")


@pytest.fixture
def recorded(monkeypatch):
    """The arguments of each C module compilation, passed through, and
    the compiler command lines PyTensor ran."""
    calls = []
    original = _c_headers._ORIGINAL
    popen = cmodule.output_subprocess_Popen

    def record(module_name, src_code, **kwargs):
        calls.append(dict(kwargs, src_code=src_code))
        return original(module_name, src_code, **kwargs)

    def record_command(command, *args, **kwargs):
        if calls and any(str(arg).endswith("mod.cpp") for arg in command):
            calls[-1]["command"] = list(command)
        return popen(command, *args, **kwargs)

    monkeypatch.setattr(_c_headers, "_ORIGINAL", record)
    monkeypatch.setattr(cmodule, "output_subprocess_Popen", record_command)
    return calls


def _compile_new_module(scale):
    """A C module no earlier test compiled (its constant is new)."""
    x = pt.dvector("x")
    fn = pytensor.function([x], pt.exp(x) * scale + 1,
                           mode=Mode(linker="c", optimizer="fast_run"))
    return fn(np.arange(3.0))


@needs_gcc
def test_gcc_reads_the_precompiled_header(recorded):
    scale = float(np.random.default_rng().integers(10**6, 10**7))
    used = _c_headers.STATS["used"]
    np.testing.assert_allclose(_compile_new_module(scale),
                               np.exp(np.arange(3.0)) * scale + 1)
    assert _c_headers.STATS["used"] > used
    # the elementwise module (PyTensor's own helper modules start otherwise)
    call = [c for c in recorded
            if c["src_code"].startswith(_c_headers._FIRST_INCLUDE)][-1]
    assert "lasagne_headers" in call["preargs"][0]
    folder = call["preargs"][0][2:]
    assert os.path.isfile(os.path.join(folder, "Python.h.gch"))
    # PyTensor's own command again, with -H: GCC marks the header it read
    # with "!" (a header that did not fit would be marked "x", skipped).
    command = call["command"]
    output = command.index("-o")
    command[output + 1] = os.devnull
    run = subprocess.run([command[0], "-H", *command[1:]],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"! {os.path.join(folder, 'Python.h.gch')}" in run.stderr


@needs_gcc
def test_switched_off_or_other_sources_compile_as_before(recorded,
                                                         monkeypatch):
    monkeypatch.setenv("LASAGNE_C_PCH", "0")
    scale = float(np.random.default_rng().integers(10**7, 10**8))
    skipped = _c_headers.STATS["skipped"]
    np.testing.assert_allclose(_compile_new_module(scale),
                               np.exp(np.arange(3.0)) * scale + 1)
    assert _c_headers.STATS["skipped"] > skipped
    assert not any(p.startswith("-I") and "lasagne_headers" in p
                   for call in recorded for p in call["preargs"])
    assert _c_headers._leading_includes("int x;\n#include <Python.h>") == []


@needs_gcc
def test_a_header_gcc_refuses_costs_time_not_correctness(tmp_path):
    """A precompiled header that does not fit (here: not one at all) is
    skipped by GCC, which then reads the real headers."""
    (tmp_path / "Python.h.gch").write_bytes(b"not a precompiled header")
    source = tmp_path / "probe.cpp"
    source.write_text("#include <Python.h>\nint probe() { return 1; }\n")
    run = subprocess.run(
        [config.cxx, "-c", f"-I{tmp_path}",
         *[f"-I{d}" for d in cmodule.std_include_dirs()],
         "-o", str(tmp_path / "probe.o"), str(source)],
        capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
