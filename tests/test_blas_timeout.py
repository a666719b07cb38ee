"""OPENBLAS_THREAD_TIMEOUT set on import (lasagne/_blas_timeout.py)."""
import os
import subprocess
import sys

import pytest

PROBE = "import os, lasagne; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"


def _timeout_after_import(**env_changes):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_THREAD_TIMEOUT", "LASAGNE_TUNE_BLAS")}
    env.update(env_changes)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def test_import_sets_a_short_timeout():
    assert _timeout_after_import() == "4"


def test_a_value_set_by_the_user_is_kept():
    assert _timeout_after_import(OPENBLAS_THREAD_TIMEOUT="9") == "9"


@pytest.mark.parametrize("value", ["0", "false", "No"])
def test_opt_out_leaves_the_variable_unset(value):
    assert _timeout_after_import(LASAGNE_TUNE_BLAS=value) == "None"

