"""Smoke runs of the examples on a small subset of real data: each must
train (the loss goes down) and beat chance clearly."""
import math
import os
import sys

import pytest


EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")
sys.path.insert(0, os.path.abspath(EXAMPLES))

datasets = pytest.importorskip(
    "datasets", reason="examples/datasets.py is not beside the tests")



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
@pytest.mark.parametrize("model", ["mlp", "custom_mlp:1,100,0,0.2", "cnn"])
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
    # pairs are half same, half different: chance is 0.5; 60 small steps
    # reach about 0.74 (the full run is on the examples page)
    assert result["test_accuracy"] > 0.65


@needs_mnist
def test_data_parallel_example_trains():
    # One process, the devices this test process has (see
    # tests/test_parallel.py for several devices and processes).
    import data_parallel
    result = data_parallel.main(data_parallel.parse_args(
        ["--epochs", "1", "--train-size", "2000", "--batch-size", "100"]))
    assert result["accuracy"] > 0.8


def _devils_dictionary_or_skip():
    try:
        return datasets.find_devils_dictionary(verbose=False)
    except datasets.DatasetError:
        pytest.skip("dict-devil text not available")


def test_text_lstm_example_trains():
    import text_lstm
    path = _devils_dictionary_or_skip()
    result = text_lstm.main(text_path=path, verbose=False, **text_lstm.SMOKE)
    losses = result["history"]["train loss"]
    # from about log(vocabulary size) (uniform guessing) downwards
    assert losses[0] < 1.05 * math.log(result["vocab_size"])
    assert losses[1] < losses[0] - 0.2
    assert result["val_loss"] < losses[0]
    assert len(result["sample"]) == text_lstm.SMOKE["sample_length"]


def test_text_transformer_example_trains():
    import text_transformer
    path = _devils_dictionary_or_skip()
    result = text_transformer.main(text_path=path, verbose=False,
                                   **text_transformer.SMOKE)
    losses = result["history"]["train loss"]
    assert losses[0] < 1.05 * math.log(result["vocab_size"])
    assert losses[1] < losses[0] - 0.2
    assert result["val_loss"] < losses[0]
    assert len(result["sample"]) == text_transformer.SMOKE["sample_length"]


def test_text_transformer_time_budget_stops_training():
    import text_transformer
    path = _devils_dictionary_or_skip()
    result = text_transformer.main(text_path=path, verbose=False,
                                   time_budget=1e-3,
                                   **dict(text_transformer.SMOKE, num_epochs=3))
    assert len(result["history"]["train loss"]) == 1   # one step, one epoch
    assert result["train_seconds"] > 0


def test_devils_dictionary_loses_the_dictd_header(tmp_path):
    import gzip
    raw = ("00-database-dictfmt-1.13.0\nhttp://example.invalid/devils.txt\n"
           "00-database-short\n     The Devil's Dictionary\nnote\n\n"
           "        THE DEVIL'S DICTIONARY\n\nABASEMENT, n.  A decent and "
           "customary mental attitude.\n\n abcdefghijklmnopqrstuvwxyz\n")
    path = tmp_path / "devil.dict.dz"
    with gzip.open(path, "wt") as f:
        f.write(raw)
    text = datasets.load_devils_dictionary(str(path))
    assert text.startswith("        THE DEVIL'S DICTIONARY\n")
    assert text.endswith("attitude.\n")
    plain = tmp_path / "plain.txt"
    plain.write_text("Any text.\n")
    assert datasets.load_devils_dictionary(str(plain)) == "Any text.\n"
    with pytest.raises(datasets.DatasetError, match="no such file"):
        datasets.find_devils_dictionary(str(tmp_path / "missing.txt"))


def test_text_lstm_windows_and_sampling():
    import numpy as np
    import text_lstm
    vocab = text_lstm.Vocabulary("abcab\n")
    codes = vocab.encode("abcab\nabcab\n")
    assert vocab.decode(codes) == "abcab\nabcab\n"
    batches = list(text_lstm.windows(codes, 3, 2))
    assert len(batches) == 1  # 3 full windows of 3 (+1 target), batches of 2
    x, y = batches[0]
    assert x.shape == y.shape == (2, 3)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])  # targets: shifted by one
    # a model that always predicts "c" samples only "c" at any temperature
    c = vocab.index["c"]

    def predict(window):
        p = np.full((1, len(vocab)), 1e-9)
        p[0, c] = 1.0
        return p
    rng = np.random.RandomState(0)
    assert text_lstm.sample(predict, vocab, "ab", 5, 0.5, rng) == "ccccc"
