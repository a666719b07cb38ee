#!/usr/bin/env python
"""A character-level LSTM language model, trained on The Devil's Dictionary.

The text is Ambrose Bierce's *The Devil's Dictionary* (1911, public
domain), as shipped by the Debian package ``dict-devil``
(``/usr/share/dictd/devil.dict.dz``; see ``datasets.load_devils_dictionary``
for where else it is looked for). Any plain-text file works with
``--text FILE``.

The network reads windows of ``--seq-len`` characters and predicts, at
every position, the character that follows:

* characters -> integer codes -> an EmbeddingLayer (a learned vector per
  character, the same as a one-hot input times a weight matrix);
* two stacked LSTMLayers (batch, time, units);
* a DenseLayer with ``num_leading_axes=2``: the same softmax over the
  vocabulary applied at every time step.

Training is truncated back-propagation through time: each window starts
from a zero state, so gradients flow through at most ``--seq-len`` steps.
Updates are Adam on gradients whose total norm is clipped. After each
epoch the script prints the loss and perplexity on the training windows
and on held-out text (the last 5%), and samples new text with a
temperature.

    python examples/text_lstm.py [--epochs N] [--steps N] [--text FILE]
        [--text-size N] [--num-units N] [--temperature T] [--plot FILE]
    python examples/text_lstm.py --smoke        # a one-minute check
"""
import argparse
import time

import numpy as np
import pytensor
import pytensor.tensor as pt

import lasagne
from lasagne.layers import DenseLayer, EmbeddingLayer, InputLayer, LSTMLayer
from datasets import load_devils_dictionary
from training import plot_curves, progress, warm_up


class Vocabulary:
    """Maps the characters of a text to integer codes and back."""

    def __init__(self, text):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, text):
        return np.array([self.index[c] for c in text], dtype=np.int32)

    def decode(self, codes):
        return "".join(self.chars[int(i)] for i in codes)


def windows(codes, seq_len, batch_size, rng=None):
    """Yield (inputs, targets) batches of shape (batch_size, seq_len):
    non-overlapping windows of `codes` (in shuffled order when `rng` is
    given), targets shifted by one character."""
    n_windows = (len(codes) - 1) // seq_len
    starts = np.arange(n_windows) * seq_len
    if rng is not None:
        rng.shuffle(starts)
    offsets = np.arange(seq_len)
    for b in range(0, n_windows - batch_size + 1, batch_size):
        idx = starts[b:b + batch_size, None] + offsets
        yield codes[idx], codes[idx + 1]


def build_network(vocab_size, num_units=128, num_layers=2, embedding=32,
                  input_var=None, grad_clipping=5.0):
    """Characters (batch, time) -> next-character probabilities
    (batch, time, vocab_size)."""
    network = InputLayer((None, None), input_var=input_var, name="chars")
    network = EmbeddingLayer(network, vocab_size, embedding, name="embed")
    for i in range(num_layers):
        network = LSTMLayer(network, num_units, grad_clipping=grad_clipping,
                            name=f"lstm{i + 1}")
    return DenseLayer(network, vocab_size, num_leading_axes=2,
                      nonlinearity=lasagne.nonlinearities.softmax,
                      name="softmax")


def build_functions(network, input_var, target_var, learning_rate=2e-3,
                    max_norm=5.0):
    """Return (train_fn, loss_fn, predict_fn): a training step and the mean
    loss of a batch, both returning nats per character; and the
    next-character distribution after each sequence of a batch."""
    prediction = lasagne.layers.get_output(network)
    vocab_size = network.output_shape[-1]
    flat_pred = prediction.reshape((-1, vocab_size))
    loss = lasagne.objectives.categorical_crossentropy(
        flat_pred, target_var.flatten()).mean()
    params = lasagne.layers.get_all_params(network, trainable=True)
    grads = lasagne.updates.total_norm_constraint(
        pytensor.grad(loss, params), max_norm)
    updates = lasagne.updates.adam(grads, params, learning_rate)
    train_fn = pytensor.function([input_var, target_var], loss,
                                 updates=updates)
    loss_fn = pytensor.function([input_var, target_var], loss)
    predict_fn = pytensor.function([input_var], prediction[:, -1])
    return train_fn, loss_fn, predict_fn


def sample(predict_fn, vocab, seed_text, length, temperature, rng,
           context=100):
    """Generate `length` characters after `seed_text`, drawing each from
    the model's distribution sharpened (temperature < 1) or flattened
    (temperature > 1). The model sees the last `context` characters."""
    codes = list(vocab.encode(seed_text))
    for _ in range(length):
        window = np.array([codes[-context:]], dtype=np.int32)
        p = predict_fn(window)[0].astype(np.float64)
        logits = np.log(np.maximum(p, 1e-12)) / temperature
        p = np.exp(logits - logits.max())
        codes.append(rng.choice(len(p), p=p / p.sum()))
    return vocab.decode(codes[len(seed_text):])


def _seed_text(text, length, rng):
    """A random stretch of `text` to start a sample from: from the start of
    an entry (after a blank line) when the stretch holds one."""
    start = rng.randint(0, max(1, len(text) - length))
    seed_text = text[start:start + length]
    entry = seed_text.rfind("\n\n")
    return seed_text[entry + 2:] if 0 <= entry < len(seed_text) - 2 else seed_text


def mean_loss(loss_fn, codes, seq_len, batch_size):
    losses = [loss_fn(x, y) for x, y in windows(codes, seq_len, batch_size)]
    return float(np.mean(losses)) if losses else float("nan")


def main(num_epochs=10, steps_per_epoch=None, text_path=None, text_size=None,
         seq_len=100, batch_size=32, num_units=128, num_layers=2,
         learning_rate=2e-3, temperature=0.6, sample_length=300, seed=0,
         plot=None, verbose=True):
    """Train, printing per-epoch figures and samples; return the history,
    the final validation loss and the last sample."""
    with pytensor.config.change_flags(floatX="float32"):
        lasagne.random.set_rng(np.random.RandomState(seed))
        rng = np.random.RandomState(seed)
        text = load_devils_dictionary(text_path, verbose=verbose)
        if text_size:
            text = text[:text_size]
        vocab = Vocabulary(text)
        codes = vocab.encode(text)
        split = int(len(codes) * 0.95)
        train_codes, val_codes = codes[:split], codes[split:]
        val_batch = max(1, min(batch_size, (len(val_codes) - 1) // seq_len))
        if verbose:
            print(f"{len(text):,} characters, {len(vocab)} distinct; "
                  f"{len(train_codes):,} for training, {len(val_codes):,} "
                  f"held out", flush=True)

        input_var, target_var = pt.imatrix("chars"), pt.imatrix("next_chars")
        network = build_network(len(vocab), num_units, num_layers,
                                input_var=input_var)
        start = time.time()
        train_fn, loss_fn, predict_fn = build_functions(
            network, input_var, target_var, learning_rate)
        # Numba compiles at the first call: make it now, so that the
        # compile time printed is the time to the first step.
        xb = np.zeros((batch_size, seq_len), dtype="int32")
        warm_up(train_fn, xb, xb)
        warm_up(loss_fn, xb, xb)
        warm_up(predict_fn, xb)
        if verbose:
            print(f"{lasagne.layers.count_params(network, trainable=True):,} "
                  f"parameters; compiled in {time.time() - start:.1f}s",
                  flush=True)

        history = {"train loss": [], "val loss": []}
        samples = []
        per_epoch = (len(train_codes) - 1) // seq_len // batch_size
        if steps_per_epoch:
            per_epoch = min(per_epoch, steps_per_epoch)
        for epoch in range(num_epochs):
            start, losses = time.time(), []
            batches = windows(train_codes, seq_len, batch_size, rng)
            for step, (xb, yb) in enumerate(progress(batches, per_epoch,
                                                     f"epoch {epoch + 1}")):
                if step == per_epoch:
                    break
                losses.append(float(train_fn(xb, yb)))
            history["train loss"].append(float(np.mean(losses)))
            history["val loss"].append(mean_loss(loss_fn, val_codes, seq_len,
                                                 val_batch))
            took = time.time() - start
            seed_text = _seed_text(text[:split], seq_len, rng)
            samples.append(sample(predict_fn, vocab, seed_text, sample_length,
                                  temperature, rng, context=seq_len))
            if verbose:
                tl, vl = history["train loss"][-1], history["val loss"][-1]
                print(f"Epoch {epoch + 1}/{num_epochs} ({took:.1f}s, "
                      f"{len(losses)} steps): train loss {tl:.3f} "
                      f"(perplexity {np.exp(tl):.2f}), val loss {vl:.3f} "
                      f"(perplexity {np.exp(vl):.2f})", flush=True)
                print(f"--- sample (temperature {temperature}) ---\n"
                      f"{seed_text}{samples[-1]}\n---", flush=True)
        if plot:
            plot_curves(history, plot, "character LSTM, nats per character")
        return {"history": history, "val_loss": history["val loss"][-1],
                "sample": samples[-1], "vocab_size": len(vocab)}


# A configuration that trains in about a minute, for a quick check.
SMOKE = dict(num_epochs=2, steps_per_epoch=60, text_size=60000, seq_len=50,
             batch_size=32, num_units=64, num_layers=1, learning_rate=1e-2,
             sample_length=80)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=None,
                        help="at most this many training steps per epoch")
    parser.add_argument("--text", metavar="FILE", default=None,
                        help="a text file (plain or gzip); default: The "
                             "Devil's Dictionary from dict-devil")
    parser.add_argument("--text-size", type=int, default=None,
                        help="use only the first N characters")
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-units", type=int, default=128)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--temperature", type=float, default=0.6)
    parser.add_argument("--sample-length", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", metavar="FILE")
    parser.add_argument("--smoke", action="store_true",
                        help="the small configuration the tests run")
    parser.add_argument("--mode", default=None,
                        help="PyTensor mode of every compiled function "
                             "(default: Numba; e.g. JAX, CVM)")
    args = parser.parse_args()
    if args.mode:
        pytensor.config.mode = args.mode
    config = dict(num_epochs=args.epochs, steps_per_epoch=args.steps,
                  text_path=args.text, text_size=args.text_size,
                  seq_len=args.seq_len, batch_size=args.batch_size,
                  num_units=args.num_units, num_layers=args.num_layers,
                  learning_rate=args.learning_rate,
                  temperature=args.temperature,
                  sample_length=args.sample_length, seed=args.seed,
                  plot=args.plot)
    if args.smoke:
        config.update(SMOKE)
    main(**config)
