"""Repository-wide pytest settings: the docstring examples (doctests) of the
package run with PyTensor's cheap FAST_COMPILE mode, since compiling each
small example with Numba would dominate their run time."""
import pytest


@pytest.fixture(autouse=True)
def _doctests_compile_cheaply(request):
    if isinstance(request.node, pytest.DoctestItem):
        import pytensor
        with pytensor.config.change_flags(mode="FAST_COMPILE"):
            yield
    else:
        yield


# Maintenance scripts (e.g. the generator of the frozen PyTorch optimizer
# trajectories) need libraries the test suite does not install.
collect_ignore = ["tests/tools"]
