"""The multi-branch patterns users asked for, each shown to train: the loss
goes down, and gradients reach weights shared by several paths from every
path."""
import os
import sys

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import lasagne
from lasagne.layers import (ConcatLayer, DenseLayer, ExpressionMergeLayer,
                            InputLayer, get_all_params, get_output)
from tests.helpers import compile_fn, floatX

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "examples"))


def _train(inputs, loss, params, values, steps=30, lr=0.1):
    updates = lasagne.updates.sgd(loss, params, lr)
    step = compile_fn(inputs, loss, updates=updates)
    losses = [float(step(*values)) for _ in range(steps)]
    return losses


def _grad_norms(loss, wrt, inputs, values):
    grads = pytensor.grad(loss, wrt)
    return [float(np.abs(g).sum()) for g in compile_fn(inputs, grads)(*values)]


def test_two_inputs_two_outputs_weighted_losses():
    import multi_input_output as example
    image, side, target = pt.tensor4("image"), pt.matrix("side"), pt.ivector("t")
    main, aux, _, _ = example.build_network(image, side)
    rng = np.random.default_rng(0)
    X = floatX(rng.random((32, 1, 28, 28)))
    y = rng.integers(0, 10, 32).astype("int32")
    values = [X, example.ink_profile(X), y]
    main_pred, aux_pred = get_output([main, aux], deterministic=True)
    ce = lasagne.objectives.categorical_crossentropy
    main_loss, aux_loss = ce(main_pred, target).mean(), ce(aux_pred, target).mean()
    loss = 1.0 * main_loss + 0.2 * aux_loss
    params = get_all_params([main, aux], trainable=True)
    # the image branch is shared by both outputs: each output's loss alone
    # sends it gradient; the side branch only gets the main output's
    shared_W = next(p for p in params if p.name == "img_fc2.W")
    side_W = next(p for p in params if p.name == "side_fc.W")
    assert min(_grad_norms(main_loss, [shared_W, side_W], [image, side, target], values)) > 0
    aux_only = _grad_norms(aux_loss, [shared_W], [image, side, target], values)
    assert aux_only[0] > 0
    assert pytensor.grad(aux_loss, side_W, disconnected_inputs="ignore") is not None
    losses = _train([image, side, target], loss, params, values, lr=0.05)
    assert losses[-1] < 0.5 * losses[0]


def test_shared_layer_applied_to_two_inputs():
    """A siamese pair: one tower, two inputs, gradients from both uses."""
    l_in = InputLayer((None, 6))
    tower = DenseLayer(l_in, 4, name="tower")
    a, b = pt.matrix("a"), pt.matrix("b")
    emb_a = get_output(tower, {l_in: a})
    emb_b = get_output(tower, {l_in: b})
    target = pt.vector("same")
    distance = ((emb_a - emb_b) ** 2).sum(axis=1)
    # contrastive loss: pull same pairs together, push others past a margin
    loss = (target * distance + (1 - target) * pt.maximum(0, 1 - distance)).mean()
    rng = np.random.default_rng(1)
    va, vb = floatX(rng.normal(size=(16, 6))), floatX(rng.normal(size=(16, 6)))
    same = floatX(rng.integers(0, 2, 16))
    W = tower.W
    from_a = pytensor.grad(loss, W, consider_constant=[emb_b])
    from_b = pytensor.grad(loss, W, consider_constant=[emb_a])
    ga, gb = compile_fn([a, b, target], [from_a, from_b])(va, vb, same)
    assert np.abs(ga).sum() > 0 and np.abs(gb).sum() > 0
    losses = _train([a, b, target], loss, get_all_params(tower), [va, vb, same])
    assert losses[-1] < losses[0]


def test_shared_tower_through_expression_merge_layer():
    l_a, l_b = InputLayer((None, 5), name="a"), InputLayer((None, 5), name="b")
    shared = DenseLayer(l_a, 3, name="shared")
    twin = DenseLayer(l_b, 3, W=shared.W, b=shared.b, name="twin")

    def cosine(u, v):
        return (u * v).sum(axis=1) / pt.sqrt((u ** 2).sum(axis=1) * (v ** 2).sum(axis=1) + 1e-6)
    similarity = ExpressionMergeLayer([shared, twin], cosine, output_shape="auto")
    assert get_all_params(similarity) == [shared.W, shared.b]
    target = pt.vector("t")
    loss = ((get_output(similarity) - target) ** 2).mean()
    rng = np.random.default_rng(2)
    values = [floatX(rng.normal(size=(20, 5))), floatX(rng.normal(size=(20, 5))),
              floatX(rng.uniform(-1, 1, 20))]
    losses = _train([l_a.input_var, l_b.input_var, target], loss,
                    get_all_params(similarity), values)
    assert losses[-1] < losses[0]


def test_multitask_with_missing_labels():
    import multitask_missing_labels as example
    x = pt.tensor4("x")
    heads = example.build_network(x)
    rng = np.random.default_rng(3)
    X = floatX(rng.random((40, 1, 28, 28)))
    labels = example.task_labels(rng.integers(0, 10, 40))
    masks = {t: floatX(rng.random(40) < 0.5) for t in example.TASKS}
    masks["digit"][:] = 0  # no digit labels at all in this batch
    outputs = dict(zip(example.TASKS, get_output([heads[t] for t in example.TASKS],
                                                 deterministic=True)))
    obj = lasagne.objectives
    targets = {"digit": pt.ivector(), "parity": pt.vector(), "high": pt.vector()}
    mask_vars = {t: pt.vector() for t in example.TASKS}
    per_task = {
        "digit": obj.categorical_crossentropy(outputs["digit"], targets["digit"]),
        "parity": obj.binary_crossentropy(outputs["parity"], targets["parity"]),
        "high": obj.binary_crossentropy(outputs["high"], targets["high"]),
    }
    # the weighted mean of a batch without labels must not be NaN
    losses = [obj.aggregate(per_task[t], mask_vars[t], mode="normalized_sum") for t in example.TASKS]
    loss = sum(losses)
    inputs = [x] + [targets[t] for t in example.TASKS] + [mask_vars[t] for t in example.TASKS]
    values = [X] + [labels[t] for t in example.TASKS] + [masks[t] for t in example.TASKS]
    digit_loss = compile_fn(inputs, losses[0])(*values)
    assert digit_loss == 0.0
    params = get_all_params([heads[t] for t in example.TASKS], trainable=True)
    digit_head_W = heads["digit"].W
    trunk_W = next(p for p in params if p.name == "trunk2.W")
    g_digit, g_trunk = _grad_norms(loss, [digit_head_W, trunk_W], inputs, values)
    assert g_digit == 0.0 and g_trunk > 0  # no labels, no gradient to that head
    history = _train(inputs, loss, params, values, lr=0.05)
    assert history[-1] < history[0]


def test_siamese_tower_gets_gradients_from_both_inputs():
    import siamese
    tower_in, tower = siamese.build_tower()
    head_in, head = siamese.build_head()
    xa, xb, target = pt.tensor4("a"), pt.tensor4("b"), pt.vector("same")
    emb_a = get_output(tower, {tower_in: xa}, deterministic=True)
    emb_b = get_output(tower, {tower_in: xb}, deterministic=True)
    prob = get_output(head, {head_in: abs(emb_a - emb_b)})[:, 0]
    loss = lasagne.objectives.binary_crossentropy(prob, target).mean()
    conv1_W = next(l for l in lasagne.layers.get_all_layers(tower) if l.name == "conv1").W
    from_a = pytensor.grad(loss, conv1_W, consider_constant=[emb_b])
    from_b = pytensor.grad(loss, conv1_W, consider_constant=[emb_a])
    rng = np.random.default_rng(4)
    values = [floatX(rng.random((6, 1, 28, 28))), floatX(rng.random((6, 1, 28, 28))),
              floatX([1, 0, 1, 0, 1, 0])]
    ga, gb = compile_fn([xa, xb, target], [from_a, from_b])(*values)
    assert np.abs(ga).sum() > 0 and np.abs(gb).sum() > 0


def test_trained_network_reused_on_new_inputs():
    """Train, then ask for an inner layer's output on a new variable: the
    trained weights are used, with no copy and no retraining."""
    l_in = InputLayer((None, 4))
    trunk = DenseLayer(l_in, 8, name="trunk")
    head = DenseLayer(trunk, 3, nonlinearity=lasagne.nonlinearities.softmax)
    y = pt.ivector("y")
    loss = lasagne.objectives.categorical_crossentropy(get_output(head), y).mean()
    rng = np.random.default_rng(5)
    X = floatX(rng.normal(size=(30, 4)))
    labels = X[:, :3].argmax(axis=1).astype("int32")
    losses = _train([l_in.input_var, y], loss, get_all_params(head), [X, labels])
    assert losses[-1] < 0.7 * losses[0]
    new_x = pt.matrix("new_x")
    features = compile_fn([new_x], get_output(trunk, {l_in: new_x}))(X[:5])
    W, b = trunk.W.get_value(), trunk.b.get_value()
    np.testing.assert_allclose(features, np.maximum(X[:5] @ W + b, 0), rtol=1e-5)
    # feeding an inner layer directly: the head alone on given features
    f = pt.matrix("features")
    probs = compile_fn([f], get_output(head, {trunk: f}))(features)
    full = compile_fn([l_in.input_var], get_output(head))(X[:5])
    np.testing.assert_allclose(probs, full, rtol=1e-5)


@pytest.mark.parametrize("how", ["num_leading_axes", "reshape"])
def test_same_model_applied_to_each_time_step(how):
    """One dense model applied to every step of a sequence: every step uses
    the same weights (a numpy loop over steps agrees) and training on all
    steps sends gradient from each of them."""
    n_steps = 5
    l_seq = InputLayer((None, n_steps, 3))
    if how == "num_leading_axes":
        per_step = DenseLayer(l_seq, 2, num_leading_axes=2, name="step")
        layer = per_step
    else:
        from lasagne.layers import ReshapeLayer
        per_step = DenseLayer(ReshapeLayer(l_seq, (-1, 3)), 2, name="step")
        layer = ReshapeLayer(per_step, (-1, n_steps, 2))
    assert layer.output_shape == (None, n_steps, 2)
    rng = np.random.default_rng(6)
    X = floatX(rng.normal(size=(4, n_steps, 3)))
    target = floatX(rng.normal(size=(4, n_steps, 2)))
    out = compile_fn([l_seq.input_var], get_output(layer))(X)
    W, b = per_step.W.get_value(), per_step.b.get_value()
    expected = np.stack([np.maximum(X[:, t] @ W + b, 0) for t in range(n_steps)], axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    t_var = pt.tensor3("target")
    step_losses = ((get_output(layer) - t_var) ** 2).sum(axis=2).mean(axis=0)
    grads = [pytensor.grad(step_losses[t], per_step.W) for t in range(n_steps)]
    norms = compile_fn([l_seq.input_var, t_var], [abs(g).sum() for g in grads])(X, target)
    assert min(norms) > 0  # every time step reaches the shared weights
    losses = _train([l_seq.input_var, t_var], step_losses.sum(), [per_step.W, per_step.b],
                    [X, target])
    assert losses[-1] < losses[0]
