"""Smoke runs of the examples on a small subset of real data: each must
train (the loss goes down) and beat chance clearly."""
import os
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")
sys.path.insert(0, os.path.abspath(EXAMPLES))

datasets = pytest.importorskip("datasets")



needs_mnist = pytest.mark.skipif(
    not os.environ.get("LASAGNE_DATA_DIR") and not os.path.isdir(datasets.cache_dir()),
    reason="MNIST is not available offline here (set LASAGNE_DATA_DIR)")


def test_loader_verifies_checksums(tmp_path, monkeypatch):
    for name in datasets.MNIST_FILES:
        (tmp_path / name).write_bytes(b"not mnist")
    monkeypatch.setenv("LASAGNE_DATA_DIR", str(tmp_path))
    assert not datasets._complete(str(tmp_path))
    with pytest.raises(datasets.DatasetError, match="wrong MD5"):
        datasets._store(str(tmp_path / "t10k-labels-idx1-ubyte.gz"), str(tmp_path / "c"),
                        "t10k-labels-idx1-ubyte.gz")


@needs_mnist
@pytest.mark.parametrize("model", ["mlp", "custom_mlp:1,100,0,0.2"])
def test_mnist_mlp_trains(model):
    import mnist
    result = mnist.main(model, num_epochs=2, train_size=5000, batch_size=250,
                        learning_rate=0.1, seed=0)
    losses = result["history"]["train loss"]
    assert losses[1] < losses[0]
    assert result["test_accuracy"] > 0.85


def test_examples_leave_global_config_alone():
    import pytensor
    import mnist  # noqa: F401  (importing must not switch precision)
    expected = "float32" if "floatX=float32" in os.environ.get("PYTENSOR_FLAGS", "") else "float64"
    assert pytensor.config.floatX == expected


@needs_mnist
def test_multi_input_output_example_trains():
    import multi_input_output
    result = multi_input_output.main(num_epochs=2, train_size=3000, batch_size=100)
    losses = result["history"]["total loss"]
    assert losses[1] < losses[0]
    assert result["test_main_accuracy"] > 0.85 and result["test_aux_accuracy"] > 0.85


@needs_mnist
def test_multitask_example_trains_with_missing_labels():
    import multitask_missing_labels
    result = multitask_missing_labels.main(num_epochs=2, label_rate=0.3, train_size=3000)
    losses = result["history"]["total loss"]
    assert losses[1] < losses[0]
    acc = result["test_accuracy"]
    assert acc["digit"] > 0.75 and acc["parity"] > 0.8 and acc["high"] > 0.8


@needs_mnist
def test_siamese_example_trains():
    import siamese
    result = siamese.main(num_epochs=2, train_size=3000, batch_size=100)
    losses = result["history"]["train loss"]
    assert losses[1] < losses[0]
    assert result["test_accuracy"] > 0.8
