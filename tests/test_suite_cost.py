"""Guards on what the test suite compiles (see tests/helpers.py).

``pytensor.gradient.verify_grad(..., mode="FAST_COMPILE")`` compiles its
finite-difference cost with ``FAST_RUN`` (a whole-graph Numba compilation in
PyTensor 3, 5-30 s cold) unless it is given ``no_debug_ref=False``. One
such call per contract case made the contract tests take minutes.
"""
import ast
import os

TESTS = os.path.dirname(os.path.abspath(__file__))


def _verify_grad_calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = (f.attr if isinstance(f, ast.Attribute)
                    else getattr(f, "id", None))
            if name == "verify_grad":
                yield node


def _names_fast_compile(call):
    mode = {k.arg: k.value for k in call.keywords}.get("mode")
    return (isinstance(mode, ast.Name) and mode.id == "FAST"
            or isinstance(mode, ast.Constant) and mode.value == "FAST_COMPILE")


def _keeps_the_mode(call):
    flag = {k.arg: k.value for k in call.keywords}.get("no_debug_ref")
    return isinstance(flag, ast.Constant) and flag.value is False


def fast_compile_verify_grads_on_fast_run(root=TESTS):
    """``file:line`` of each verify_grad call under `root` naming
    FAST_COMPILE without ``no_debug_ref=False``."""
    found = []
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), path)
            found += [f"{os.path.relpath(path, root)}:{call.lineno}"
                      for call in _verify_grad_calls(tree)
                      if _names_fast_compile(call)
                      and not _keeps_the_mode(call)]
    return found


def test_verify_grad_calls_keep_fast_compile():
    bad = fast_compile_verify_grads_on_fast_run()
    assert not bad, ("verify_grad(mode=FAST) without no_debug_ref=False "
                     f"compiles its cost with Numba: {bad}")


def test_the_guard_finds_a_call_that_compiles_with_fast_run(tmp_path):
    (tmp_path / "test_x.py").write_text(
        "import pytensor\n"
        "pytensor.gradient.verify_grad(f, [x], mode=FAST)\n"
        "pytensor.gradient.verify_grad(f, [x], mode=FAST,\n"
        "                              no_debug_ref=False)\n"
        "verify_grad(f, [x], mode='FAST_COMPILE')\n"
        "verify_grad(f, [x], mode=PY_MODE)\n")
    assert fast_compile_verify_grads_on_fast_run(str(tmp_path)) == [
        "test_x.py:2", "test_x.py:5"]
