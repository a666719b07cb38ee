"""Test-wide settings: a BLAS for the C backend when one is installed, C
modules compiled without g++'s optimiser, and a fixed library RNG so tests
are reproducible.

The C backend's tests check numbers, and g++ at -O3 took most of their time
(each distinct Op of a graph is a C module of its own: the contract
registry's parity graph compiles 124 of them, 122 s cold with -O3 and 84 s
without). PyTensor's ``cmodule__remove_gxx_opt`` drops the -O flags, with
the same code and IEEE arithmetic (only floating-point contraction may
differ, far inside the tests' tolerances). ``LASAGNE_TEST_GXX_OPT=1`` keeps
the optimiser.
"""
import ctypes.util
import os

if "blas__ldflags" not in os.environ.get("PYTENSOR_FLAGS", "") and ctypes.util.find_library("openblas"):
    os.environ["PYTENSOR_FLAGS"] = ",".join(
        filter(None, [os.environ.get("PYTENSOR_FLAGS"), "blas__ldflags=-lopenblas"]))

if (os.environ.get("LASAGNE_TEST_GXX_OPT") != "1"
        and "cmodule__remove_gxx_opt" not in os.environ.get("PYTENSOR_FLAGS", "")):
    os.environ["PYTENSOR_FLAGS"] = ",".join(
        filter(None, [os.environ.get("PYTENSOR_FLAGS"),
                      "cmodule__remove_gxx_opt=True"]))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lasagne.random  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded_library_rng():
    """Every test starts from the same library RNG state."""
    old = lasagne.random.get_rng()
    lasagne.random.set_rng(np.random.RandomState(1234))
    yield
    lasagne.random.set_rng(old)
