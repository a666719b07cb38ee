"""The documentation: the Sphinx build is clean (warnings are errors), and
the code on the user-guide pages runs and prints what the pages show."""
import doctest
import os
import subprocess
import sys

import pytensor
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
DOCS = os.path.join(ROOT, "docs")
USER_GUIDE = os.path.join(DOCS, "user")


def _pages_with_examples():
    pages = []
    for name in sorted(os.listdir(USER_GUIDE)):
        path = os.path.join(USER_GUIDE, name)
        if name.endswith(".rst"):
            with open(path, encoding="utf-8") as f:
                if "\n>>> " in f.read():
                    pages.append(name)
    return pages


def test_user_guide_has_tested_pages():
    assert {"multi_io.rst", "recurrent.rst", "saving.rst"} <= set(_pages_with_examples())


@pytest.mark.parametrize("page", _pages_with_examples())
def test_user_guide_examples_run(page):
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    with pytensor.config.change_flags(mode="FAST_COMPILE"):
        failed, attempted = doctest.testfile(
            os.path.join(USER_GUIDE, page), module_relative=False,
            optionflags=flags, report=False, verbose=False)
    assert attempted > 0
    assert failed == 0, f"{failed} of {attempted} examples on {page} failed (run " \
        f"`python -m doctest -o ELLIPSIS -o NORMALIZE_WHITESPACE docs/user/{page}` to see them)"


@pytest.mark.slow
def test_sphinx_build_has_no_warnings(tmp_path):
    pytest.importorskip("sphinx", reason="Sphinx is not installed (pip install -e '.[test]')")
    pytest.importorskip("numpydoc", reason="numpydoc is not installed (pip install -e '.[test]')")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q",
           "-b", "html", "-d", str(tmp_path / "doctrees"), DOCS, str(tmp_path / "html")]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and "WARNING" not in output and "ERROR" not in output, \
        f"`{' '.join(cmd[1:])}` reported problems:\n{output[-6000:]}"
    assert (tmp_path / "html" / "user" / "multi_io.html").is_file()
