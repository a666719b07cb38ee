"""Data-parallel steps (lasagne.parallel) on 4 XLA host devices and on two
processes joined by jax.distributed, against the one-device step.

XLA's host device count must be set before JAX is imported, and this test
process has imported it already: the steps run in fresh processes
(tests/parallel_worker.py), which write their parameters to .npz files."""
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import HAS_JAX

pytestmark = pytest.mark.skipif(not HAS_JAX, reason="jax is not installed")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "parallel_worker.py")
KINDS = ("mlp", "cnn_bn", "lstm")


def _env(devices):
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                        f" --xla_force_host_platform_device_count={devices}")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT,
                                                      env.get("PYTHONPATH")]))
    env["JAX_PLATFORMS"] = "cpu"
    return env


def _params(results, kind, variant):
    prefix = f"{kind}/{variant}/"
    count = sum(1 for k in results if k.startswith(prefix)
                and k[len(prefix):].isdigit())
    return [results[f"{prefix}{j}"] for j in range(count)]


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    out = tmp_path_factory.mktemp("parallel") / "local.npz"
    subprocess.run([sys.executable, WORKER, "local", str(out)], env=_env(4),
                   check=True, timeout=900, cwd=ROOT)
    return dict(np.load(out))


def _assert_same(got, want):
    assert len(got) == len(want) > 0
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_four_devices_equal_one_device(local, kind):
    assert int(local["devices"]) == 4
    one = _params(local, kind, "one")
    replicated = _params(local, kind, "replicated")
    _assert_same(replicated, one)
    np.testing.assert_allclose(local[f"{kind}/replicated/loss"],
                               local[f"{kind}/one/loss"], rtol=1e-5)
    # The steps did train (adam moved every parameter tensor off its
    # initial value) and the runs are not trivially equal.
    initial_losses = local[f"{kind}/one/loss"]
    assert not np.allclose(initial_losses[0], initial_losses[-1])


@pytest.mark.parametrize("kind", KINDS)
def test_sharded_parameters_equal_replicated(local, kind):
    _assert_same(_params(local, kind, "sharded"),
                 _params(local, kind, "replicated"))
    # Some state really was split over the devices, and none when replicated.
    assert int(local[f"{kind}/sharded/split"]) > 0
    assert int(local[f"{kind}/replicated/split"]) == 0


def test_one_device_mesh_equals_plain_jax(local):
    _assert_same(_params(local, "mlp", "mesh1"), _params(local, "mlp", "one"))


def test_batch_that_does_not_split_is_refused(local):
    message = str(local["bad_batch_error"])
    assert "6 rows" in message and "4 devices" in message


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one_process(local, tmp_path):
    port = _free_port()
    outs = [tmp_path / f"p{i}.npz" for i in range(2)]
    procs = [subprocess.Popen([sys.executable, WORKER, "dist", str(out),
                               str(i), "2", str(port)],
                              env=_env(2), cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
             for i, out in enumerate(outs)]
    try:
        logs = [p.communicate(timeout=600)[0].decode(errors="replace")
                for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-3000:]
    for out in outs:
        results = dict(np.load(out))
        assert int(results["devices"]) == 4  # 2 processes x 2 devices
        np.testing.assert_allclose(results["mlp/dist/loss"],
                                   local["mlp/one/loss"], rtol=1e-5)
        _assert_same(_params(results, "mlp", "dist"),
                     _params(local, "mlp", "one"))
