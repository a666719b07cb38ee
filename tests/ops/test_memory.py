"""The allocator tuning applied when lasagne.ops is imported."""
import ctypes.util
import os
import subprocess
import sys

import pytest

from lasagne.ops import _memory

GLIBC = sys.platform.startswith("linux") and "musl" not in (
    ctypes.util.find_library("c") or "")

PROBE = ("import lasagne.ops._memory as m, lasagne; "
         "print(m._tuned, m.tune_allocator())")


def _run(env_value):
    env = dict(os.environ)
    env.pop("LASAGNE_TUNE_MALLOC", None)
    if env_value is not None:
        env["LASAGNE_TUNE_MALLOC"] = env_value
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout.split()


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_importing_lasagne_tunes_glibc_once():
    assert _run(None) == ["True", "True"]
    assert _memory.tune_allocator() is True  # idempotent in this process


@pytest.mark.parametrize("value", ["0", "false", "no"])
def test_environment_variable_leaves_the_allocator_alone(value):
    assert _run(value) == ["False", "False"]


FAULTS = """
import resource
import numpy as np
import lasagne
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
a = np.ones(1 << 24, np.float32)
del a
before = faults()
b = np.ones(1 << 24, np.float32)
print(faults() - before)
"""


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
@pytest.mark.parametrize("tuned", [True, False])
def test_large_blocks_are_reused_from_the_heap(tuned):
    """Filling a 64 MiB array a second time, after freeing the first, maps
    no new pages once tuned; untuned, glibc maps the block afresh: at least
    32 faults even with 2 MiB transparent huge pages, 16384 without."""
    env = dict(os.environ, LASAGNE_TUNE_MALLOC="1" if tuned else "0")
    out = subprocess.run([sys.executable, "-c", FAULTS], env=env, check=True,
                         capture_output=True, text=True)
    faults = int(out.stdout.strip())
    if tuned:
        assert faults < 16
    else:
        assert faults >= 32
