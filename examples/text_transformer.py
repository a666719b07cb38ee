#!/usr/bin/env python
"""A character-level Transformer language model, trained on The Devil's
Dictionary: the same text, split, batches and sampling as
``text_lstm.py``, with causal self-attention in place of the LSTMs.

The network reads windows of ``--seq-len`` characters and predicts, at
every position, the character that follows, seeing only the characters
before it (causal attention):

* characters -> an EmbeddingLayer, plus a learned PositionalEmbeddingLayer;
* ``--num-layers`` pre-norm Transformer blocks
  (``lasagne.layers.transformer_encoder(..., causal=True, norm='pre')``:
  multi-head self-attention and a GELU feed-forward layer, each with a
  residual connection);
* a final LayerNormLayer and a DenseLayer with ``num_leading_axes=2``: the
  softmax over the vocabulary at every position.

Updates are AdamW on gradients clipped to a global norm
(``lasagne.updates.clip_grad_norm``), with a learning rate warmed up
linearly and then decayed along a cosine (``lasagne.schedules``). After
each epoch the script prints the loss and perplexity on the training
windows and on the held-out last 5% of the text, and samples text.
``--time-budget SECONDS`` stops training after that much training time
(compilation excluded), to compare models at equal wall-clock time.

    python examples/text_transformer.py [--epochs N] [--steps N]
        [--time-budget S] [--text FILE] [--text-size N] [--d-model N]
        [--num-layers N] [--num-heads N] [--temperature T] [--plot FILE]
        [--mode MODE]
    python examples/text_transformer.py --smoke        # a quick check
"""
import argparse
import time

import numpy as np
import pytensor
import pytensor.tensor as pt

import lasagne
from lasagne.layers import (DenseLayer, EmbeddingLayer, InputLayer,
                            LayerNormLayer, PositionalEmbeddingLayer,
                            transformer_encoder)
from datasets import load_devils_dictionary
from text_lstm import Vocabulary, _seed_text, mean_loss, sample, windows
from training import plot_curves, progress


def build_network(vocab_size, seq_len, d_model=128, num_layers=3,
                  num_heads=4, dropout=0.1, input_var=None):
    """Characters (batch, time <= seq_len) -> next-character probabilities
    (batch, time, vocab_size)."""
    network = InputLayer((None, None), input_var=input_var, name="chars")
    network = EmbeddingLayer(network, vocab_size, d_model, name="embed",
                             W=lasagne.init.Normal(0.02))
    network = PositionalEmbeddingLayer(network, seq_len, name="position")
    for i in range(num_layers):
        network = transformer_encoder(
            network, num_heads, 4 * d_model, causal=True, norm="pre",
            dropout=dropout, name=f"block{i + 1}")
    network = LayerNormLayer(network, name="final_norm")
    return DenseLayer(network, vocab_size, num_leading_axes=2,
                      nonlinearity=lasagne.nonlinearities.softmax,
                      name="softmax")


def build_functions(network, input_var, target_var, total_steps,
                    learning_rate=1e-3, warmup_steps=100, max_norm=1.0,
                    weight_decay=0.01):
    """Return (train_fn, loss_fn, predict_fn), as in text_lstm.py."""
    vocab_size = network.output_shape[-1]

    def loss_of(prediction):
        return lasagne.objectives.categorical_crossentropy(
            prediction.reshape((-1, vocab_size)), target_var.flatten()).mean()

    loss = loss_of(lasagne.layers.get_output(network))
    # decay the weight matrices only, not biases, norms or embeddings' scale
    decayed = lasagne.layers.get_all_params(network, trainable=True,
                                            regularizable=True)
    others = lasagne.layers.get_all_params(network, trainable=True,
                                           regularizable=False)
    lr = lasagne.schedules.linear_warmup(
        lasagne.schedules.cosine_decay(learning_rate, total_steps,
                                       learning_rate / 10),
        warmup_steps)
    grads = lasagne.updates.clip_grad_norm(loss, decayed + others, max_norm)
    updates = lasagne.updates.adamw(grads[:len(decayed)], decayed, lr,
                                    beta2=0.99, weight_decay=weight_decay)
    updates.update(lasagne.updates.adamw(grads[len(decayed):], others, lr,
                                         beta2=0.99, weight_decay=0.0))
    train_fn = pytensor.function([input_var, target_var], loss,
                                 updates=updates)
    test_prediction = lasagne.layers.get_output(network, deterministic=True)
    loss_fn = pytensor.function([input_var, target_var], loss_of(test_prediction))
    predict_fn = pytensor.function([input_var], test_prediction[:, -1])
    return train_fn, loss_fn, predict_fn


def main(num_epochs=10, steps_per_epoch=None, time_budget=None,
         text_path=None, text_size=None, seq_len=100, batch_size=32,
         d_model=128, num_layers=3, num_heads=4, dropout=0.1,
         learning_rate=1e-3, temperature=0.6, sample_length=300, seed=0,
         plot=None, verbose=True):
    """Train, printing per-epoch figures and samples; return the history,
    the final validation loss, the training time and the last sample."""
    with pytensor.config.change_flags(floatX="float32"):
        lasagne.random.set_rng(np.random.RandomState(seed))
        rng = np.random.RandomState(seed)
        text = load_devils_dictionary(text_path, verbose=verbose)
        if text_size:
            text = text[:text_size]
        vocab = Vocabulary(text)
        codes = vocab.encode(text)
        split = int(len(codes) * 0.95)          # the split of text_lstm.py
        train_codes, val_codes = codes[:split], codes[split:]
        val_batch = max(1, min(batch_size, (len(val_codes) - 1) // seq_len))
        per_epoch = (len(train_codes) - 1) // seq_len // batch_size
        if steps_per_epoch:
            per_epoch = min(per_epoch, steps_per_epoch)
        if verbose:
            print(f"{len(text):,} characters, {len(vocab)} distinct; "
                  f"{len(train_codes):,} for training, {len(val_codes):,} "
                  f"held out", flush=True)

        input_var, target_var = pt.imatrix("chars"), pt.imatrix("next_chars")
        network = build_network(len(vocab), seq_len, d_model, num_layers,
                                num_heads, dropout, input_var=input_var)
        start = time.time()
        train_fn, loss_fn, predict_fn = build_functions(
            network, input_var, target_var, num_epochs * per_epoch,
            learning_rate, warmup_steps=min(100, per_epoch))
        if verbose:
            print(f"{lasagne.layers.count_params(network, trainable=True):,} "
                  f"parameters; compiled in {time.time() - start:.1f}s",
                  flush=True)

        history = {"train loss": [], "val loss": []}
        samples, trained_for, out_of_time = [], 0.0, False
        for epoch in range(num_epochs):
            start, losses = time.time(), []
            batches = windows(train_codes, seq_len, batch_size, rng)
            for step, (xb, yb) in enumerate(progress(batches, per_epoch,
                                                     f"epoch {epoch + 1}")):
                if step == per_epoch:
                    break
                step_start = time.time()
                losses.append(float(train_fn(xb, yb)))
                trained_for += time.time() - step_start
                if time_budget and trained_for >= time_budget:
                    out_of_time = True
                    break
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
            if out_of_time:
                if verbose:
                    print(f"time budget of {time_budget:.0f}s of training "
                          f"reached", flush=True)
                break
        if verbose:
            print(f"trained for {trained_for:.1f}s; held-out perplexity "
                  f"{np.exp(history['val loss'][-1]):.2f}", flush=True)
        if plot:
            plot_curves(history, plot,
                        "character Transformer, nats per character")
        return {"history": history, "val_loss": history["val loss"][-1],
                "train_seconds": trained_for, "sample": samples[-1],
                "vocab_size": len(vocab)}


# A configuration that trains in about a minute, for a quick check.
SMOKE = dict(num_epochs=2, steps_per_epoch=40, text_size=60000, seq_len=50,
             batch_size=32, d_model=64, num_layers=1, num_heads=2,
             learning_rate=3e-3, sample_length=80)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=None,
                        help="at most this many training steps per epoch")
    parser.add_argument("--time-budget", type=float, default=None,
                        metavar="SECONDS",
                        help="stop after this much training time")
    parser.add_argument("--text", metavar="FILE", default=None,
                        help="a text file (plain or gzip); default: The "
                             "Devil's Dictionary from dict-devil")
    parser.add_argument("--text-size", type=int, default=None,
                        help="use only the first N characters")
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--num-layers", type=int, default=3)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
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
                  time_budget=args.time_budget, text_path=args.text,
                  text_size=args.text_size, seq_len=args.seq_len,
                  batch_size=args.batch_size, d_model=args.d_model,
                  num_layers=args.num_layers, num_heads=args.num_heads,
                  dropout=args.dropout, learning_rate=args.learning_rate,
                  temperature=args.temperature,
                  sample_length=args.sample_length, seed=args.seed,
                  plot=args.plot)
    if args.smoke:
        config.update(SMOKE)
    main(**config)
