"""Lasagne on PyTensor: a lightweight library to build and train neural
networks whose every public function returns a raw symbolic expression."""
# Before PyTensor, and so before SciPy's OpenBLAS is loaded.
from . import _blas_timeout  # noqa: F401
import pytensor as _pytensor  # noqa: F401,E402  (fail early if missing)
from . import _numba_patches  # noqa: E402
from . import _c_headers  # noqa: E402

_numba_patches.install()   # before anything compiles
_c_headers.install()

from . import nonlinearities
from . import init
from . import layers
from . import linker
from . import objectives
from . import persistence
from . import random
from . import regularization
from . import schedules
from . import updates
from . import utils
from . import jax_linker
from .ops import _jax

jax_linker.register()
_jax.install()   # our Ops' JAX lowerings load when JAX is first used

# pytensor.function(...) compiles node by node unless the user chose a mode
# (docs/user/backends.rst, "Which mode you get").
linker._default_unless_chosen()

__version__ = "0.3.dev0"

__all__ = ["nonlinearities", "init", "layers", "objectives", "persistence",
           "schedules", "random", "regularization", "updates", "utils",
           "jax_linker", "__version__"]
