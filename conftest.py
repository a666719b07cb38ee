"""Repository-wide pytest settings.

Tests and doctests compile with PyTensor's cheap FAST_COMPILE mode by
default (``pytensor.function`` and ``.eval()`` without a mode): most of
them check values, and compiling each small graph with Numba would
dominate their run time. Tests that exercise the real backends keep the
default mode: those marked ``backends`` (parity of Numba, C and JAX, which
name their modes anyway) and those marked ``real_mode``, which this file
gives to whole modules that test kernels or run the examples as users do
(:data:`REAL_MODE_MODULES`).
"""
import os

import pytest

#: Test modules (paths from the repository root, or folders ending in "/")
#: that compile with the default mode, as users do.
REAL_MODE_MODULES = (
    "tests/ops/",                   # the kernels and their Numba dispatch
    "tests/test_examples.py",       # example trainings, as users run them
    "tests/test_example_recurrent.py",
    "tests/test_determinism.py",    # also checks the default mode
)

_ROOT = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = os.path.relpath(str(item.path), _ROOT).replace(os.sep, "/")
        if any(path == m or (m.endswith("/") and path.startswith(m))
               for m in REAL_MODE_MODULES):
            item.add_marker(pytest.mark.real_mode)


@pytest.fixture(autouse=True)
def _compile_cheaply_by_default(request):
    if (request.node.get_closest_marker("real_mode")
            or request.node.get_closest_marker("backends")):
        yield
        return
    import pytensor
    with pytensor.config.change_flags(mode="FAST_COMPILE"):
        yield


# Maintenance scripts (e.g. the generator of the frozen PyTorch optimizer
# trajectories) need libraries the test suite does not install.
collect_ignore = ["tests/tools"]
