"""Test-wide settings: a BLAS for the C backend when one is installed, and
a fixed library RNG so tests are reproducible."""
import ctypes.util
import os

if "blas__ldflags" not in os.environ.get("PYTENSOR_FLAGS", "") and ctypes.util.find_library("openblas"):
    os.environ["PYTENSOR_FLAGS"] = ",".join(
        filter(None, [os.environ.get("PYTENSOR_FLAGS"), "blas__ldflags=-lopenblas"]))

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
