"""Repository-wide pytest settings.

Tests and doctests compile with a cheap mode by default
(``pytensor.function`` and ``.eval()`` without a mode):
:data:`tests.helpers.FAST`, FAST_COMPILE's Python VM with only the rewrites
a graph needs to run. Most tests check values, and compiling each small
graph with Numba, or even rewriting it as FAST_COMPILE does, would
dominate their run time. Tests that exercise the real backends keep the
default mode: those marked ``backends`` (parity of Numba, C and JAX, which
name their modes anyway) and those marked ``real_mode``, which this file
gives to whole modules that test kernels or run the examples as users do
(:data:`REAL_MODE_MODULES`).
"""
import os

import pytest

#: Worker processes for a run of the whole suite (``python -m pytest`` with no
#: paths) when pytest-xdist is installed: one per core. Runs of chosen files
#: or tests stay in one process unless ``-n`` is given.
#: ``LASAGNE_TEST_WORKERS=0`` turns the parallel run off.
_WORKERS_ENV = "LASAGNE_TEST_WORKERS"

#: Test modules (paths from the repository root, or folders ending in "/")
#: that compile with the default mode, as users do.
REAL_MODE_MODULES = (
    "tests/ops/",                   # the kernels and their Numba dispatch
    "tests/test_examples.py",       # example trainings, as users run them
    "tests/test_example_recurrent.py",
    "tests/test_determinism.py",    # also checks the default mode
)

_ROOT = os.path.dirname(os.path.abspath(__file__))


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """Run the whole suite on one worker per core (pytest-xdist).

    Each test module runs whole in one worker (``--dist loadfile``), so its
    module-scoped fixtures (compiled functions shared by its tests) are built
    once; the compile caches on disk (PyTensor's compiledir, Numba's cache,
    the library's kernel cache) are shared by the workers.
    """
    if not config.pluginmanager.hasplugin("xdist"):
        return
    if config.option.numprocesses is not None or os.environ.get("PYTEST_XDIST_WORKER"):
        return      # the user chose, or this is a worker already
    workers = os.environ.get(_WORKERS_ENV)
    if workers is None:
        if config.args != list(config.getini("testpaths")) and config.args != [_ROOT]:
            return  # chosen files or tests: one process, as before
        workers = "auto"
    if workers == "0" or getattr(config.option, "collectonly", False):
        return
    config.option.numprocesses = workers if workers == "auto" else int(workers)
    if config.option.dist == "no":
        config.option.dist = "loadfile"
        # The files in the order pytest_collection_modifyitems gives them
        # (the longest first), not by their number of tests.
        config.option.loadscopereorder = False


#: The test files that take longest in a cold run (``--durations=0``),
#: longest first. A parallel run hands them out first, so that the workers
#: finish together instead of one waiting on a long file handed out last;
#: the other files follow in their usual order. Backend parity of the
#: contract registry and of the recurrent layers has files of its own so
#: that its long compilations and the rest of those tests can go to
#: different workers.
SLOW_MODULES = (
    "tests/test_examples.py",
    "tests/test_contract_backends.py",
    "tests/test_linker.py",
    "tests/ops/test_pool.py",
    "tests/layers/test_recurrent_backends.py",
    "tests/test_parallel.py",
    "tests/test_jax_linker.py",
    "tests/layers/test_recurrent.py",
    "tests/test_contract.py",
    "tests/ops/test_conv.py",
    "tests/ops/test_parallel_cache.py",
    "tests/test_docs.py",
    "tests/layers/test_transform.py",
    "tests/test_shape_properties.py",
    "tests/ops/test_memory.py",
    "tests/ops/test_recurrent.py",
    "tests/layers/test_resize.py",
    "tests/test_blas_timeout.py",
    "tests/test_updates_modern.py",
    "tests/test_updates.py",
    "tests/test_objectives.py",
    "tests/ops/test_batchnorm.py",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = os.path.relpath(str(item.path), _ROOT).replace(os.sep, "/")
        if any(path == m or (m.endswith("/") and path.startswith(m))
               for m in REAL_MODE_MODULES):
            item.add_marker(pytest.mark.real_mode)
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return      # one process: the usual order
    rank = {m: i for i, m in enumerate(SLOW_MODULES)}
    items.sort(key=lambda item: rank.get(
        os.path.relpath(str(item.path), _ROOT).replace(os.sep, "/"),
        len(rank)))


@pytest.fixture(autouse=True)
def _compile_cheaply_by_default(request):
    if (request.node.get_closest_marker("real_mode")
            or request.node.get_closest_marker("backends")):
        yield
        return
    import pytensor

    from pytensor.compile.mode import get_mode

    from tests.helpers import FAST
    # a Mode instance: config.mode takes only PyTensor's own mode names
    with pytensor.config.change_flags(mode=get_mode(FAST)):
        yield


# Maintenance scripts (e.g. the generator of the frozen PyTorch optimizer
# trajectories) need libraries the test suite does not install.
collect_ignore = ["tests/tools"]
