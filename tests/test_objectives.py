"""Tests of lasagne.objectives against numpy references, on plain PyTensor
expressions (no layers)."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.special import expit

import lasagne.objectives as lo
from lasagne.nonlinearities import sigmoid, softmax
from tests.helpers import assert_backends_agree, backend_params, compile_fn

RNG = np.random.default_rng(0)
PROBS = RNG.dirichlet(np.ones(5), size=6)           # (6, 5) rows sum to 1
LABELS = np.array([0, 3, 4, 1, 1, 2], dtype="int32")
ONE_HOT = np.eye(5)[LABELS]
SCORES = RNG.normal(size=(6, 5)) * 2
BIN_P = RNG.uniform(0.02, 0.98, size=(6, 3))
BIN_T = (RNG.uniform(size=(6, 3)) > 0.5).astype(float)


def evaluate(build, *values):
    """Compile ``build(*symbols)`` for symbols of the values' ndim/dtype."""
    symbols = [pt.tensor(f"in{i}", dtype=str(np.asarray(v).dtype),
                         shape=tuple(1 if n == 1 else None for n in np.shape(v)))
               for i, v in enumerate(values)]
    return compile_fn(symbols, build(*symbols))(*values)


def np_log_softmax(z):
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def test_align_targets():
    column = pt.tensor("p", shape=(None, 1))
    vector = pt.vector("t")
    p, t = lo.align_targets(column, vector)
    assert p is column and t.type.shape == (None, 1)
    # unknown width or matching ranks: left alone
    matrix = pt.matrix("m")
    assert lo.align_targets(matrix, vector)[1] is vector
    assert lo.align_targets(column, matrix)[1] is matrix


def test_column_predictions_with_vector_targets_do_not_broadcast():
    p = pt.tensor("p", shape=(None, 1))
    t = pt.vector("t")
    values = BIN_P[:, :1], BIN_T[:, 0]
    for loss in (lo.binary_crossentropy, lo.squared_error, lo.huber_loss,
                 lo.binary_accuracy):
        assert compile_fn([p, t], loss(p, t))(*values).shape == (6, 1)


def test_binary_crossentropy():
    got = evaluate(lo.binary_crossentropy, BIN_P, BIN_T)
    expected = -(BIN_T * np.log(BIN_P) + (1 - BIN_T) * np.log(1 - BIN_P))
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_binary_crossentropy_of_sigmoid_is_stable():
    z = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    t = np.array([1.0, 1.0, 0.0, 0.0, 0.0])
    zs, ts = pt.vector("z"), pt.vector("t")
    loss = lo.binary_crossentropy(sigmoid(zs), ts)
    got, grad = compile_fn([zs, ts], [loss, pytensor.grad(loss.sum(), zs)])(z, t)
    expected = np.logaddexp(0, -z) * t + np.logaddexp(0, z) * (1 - t)
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    np.testing.assert_allclose(grad, expit(z) - t, atol=1e-12)


@pytest.mark.parametrize("rearrange", [
    lambda p: p[:, 0],                      # a (batch, 1) head's column
    lambda p: p.flatten(),
    lambda p: p.dimshuffle(1, 0)[0],
    lambda p: pt.specify_shape(p, (5, 1)).reshape((5,)),
], ids=["column", "flatten", "dimshuffle", "specify_shape"])
def test_binary_crossentropy_sees_through_slices_of_a_sigmoid(rearrange):
    """sigmoid(x)[:, 0] takes the stable path too: no inf, no nan."""
    z = np.array([[-800.0], [-40.0], [0.0], [40.0], [800.0]])
    t = np.array([1.0, 1.0, 0.0, 0.0, 0.0])
    zs, ts = pt.matrix("z"), pt.vector("t")
    loss = lo.binary_crossentropy(rearrange(sigmoid(zs)), ts)
    got, grad = compile_fn([zs, ts], [loss, pytensor.grad(loss.sum(), zs)])(z, t)
    expected = np.logaddexp(0, -z[:, 0]) * t + np.logaddexp(0, z[:, 0]) * (1 - t)
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    np.testing.assert_allclose(grad[:, 0], expit(z[:, 0]) - t, atol=1e-12)


def test_binary_crossentropy_of_a_sliced_non_sigmoid_uses_logs():
    p = np.array([[0.2, 0.9], [0.6, 0.1]])
    ps = pt.matrix("p")
    got = compile_fn([ps], lo.binary_crossentropy(ps[:, 0], pt.ones(2)))(p)
    np.testing.assert_allclose(got, -np.log(p[:, 0]), rtol=1e-12)


def test_categorical_crossentropy_int_and_one_hot_targets():
    expected = -np.log(PROBS[np.arange(6), LABELS])
    np.testing.assert_allclose(evaluate(lo.categorical_crossentropy, PROBS, LABELS),
                               expected, rtol=1e-12)
    np.testing.assert_allclose(evaluate(lo.categorical_crossentropy, PROBS, ONE_HOT),
                               expected, rtol=1e-12)


def test_categorical_crossentropy_probability_targets():
    soft = RNG.dirichlet(np.ones(5), size=6)
    np.testing.assert_allclose(evaluate(lo.categorical_crossentropy, PROBS, soft),
                               -(soft * np.log(PROBS)).sum(axis=1), rtol=1e-12)


def test_categorical_crossentropy_more_dimensions():
    probs = RNG.dirichlet(np.ones(4), size=(3, 2))  # (3, 2, 4)
    labels = np.array([[0, 3], [2, 2], [1, 0]], dtype="int64")
    expected = -np.log(np.take_along_axis(probs, labels[..., None], -1)[..., 0])
    got = evaluate(lo.categorical_crossentropy, probs, labels)
    assert got.shape == (3, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("targets", [LABELS, ONE_HOT], ids=["int", "one_hot"])
def test_categorical_crossentropy_of_softmax_is_stable(targets):
    logits = SCORES * 400  # softmax saturates to exact 0s and 1s
    z = pt.matrix("z")
    t = pt.tensor("t", dtype=str(targets.dtype), shape=(None,) * targets.ndim)
    loss = lo.categorical_crossentropy(softmax(z), t)
    got, grad = compile_fn([z, t], [loss, pytensor.grad(loss.sum(), z)])(logits, targets)
    expected = -np_log_softmax(logits)[np.arange(6), LABELS]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, np.exp(np_log_softmax(logits)) - ONE_HOT, atol=1e-12)


@pytest.mark.parametrize("targets", [LABELS, ONE_HOT], ids=["int", "one_hot"])
def test_categorical_crossentropy_zero_probabilities_elsewhere(targets):
    # exact zeros in non-target classes: no 0 * log(0) = nan, finite gradient
    probs = np.where(ONE_HOT > 0, 0.7, 0.0) + np.where(ONE_HOT > 0, 0, 0.3) * (
        np.arange(5) == (LABELS[:, None] + 1) % 5)
    p = pt.matrix("p")
    t = pt.tensor("t", dtype=str(targets.dtype), shape=(None,) * targets.ndim)
    loss = lo.categorical_crossentropy(p, t)
    got, grad = compile_fn([p, t], [loss, pytensor.grad(loss.sum(), p)])(probs, targets)
    np.testing.assert_allclose(got, -np.log(0.7) * np.ones(6), rtol=1e-12)
    np.testing.assert_allclose(grad, -ONE_HOT / 0.7, rtol=1e-12)


def test_categorical_crossentropy_gradient():
    t = pt.constant(LABELS)
    pytensor.gradient.verify_grad(
        lambda z: lo.categorical_crossentropy(softmax(z), t), [SCORES],
        rng=np.random.default_rng(0), mode="FAST_COMPILE", no_debug_ref=False)
    pytensor.gradient.verify_grad(
        lambda p: lo.categorical_crossentropy(p, pt.constant(ONE_HOT)), [PROBS],
        rng=np.random.default_rng(0), mode="FAST_COMPILE", no_debug_ref=False)


def test_categorical_crossentropy_errors():
    with pytest.raises(TypeError, match="integer class indices.*float64"):
        lo.categorical_crossentropy(pt.matrix(), pt.vector())
    with pytest.raises(TypeError, match="number of dimensions"):
        lo.categorical_crossentropy(pt.matrix(), pt.tensor3())


def test_squared_error():
    a, b = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    np.testing.assert_allclose(evaluate(lo.squared_error, a, b), (a - b) ** 2, rtol=1e-12)


LOSS = RNG.uniform(size=(4, 3))
WEIGHTS = np.array([[1.0, 0.0, 2.0], [0.5, 0.5, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])


@pytest.mark.parametrize("mode, weights, expected", [
    ("mean", None, LOSS.mean()),
    ("sum", None, LOSS.sum()),
    ("mean", WEIGHTS, (LOSS * WEIGHTS).mean()),
    ("sum", WEIGHTS, (LOSS * WEIGHTS).sum()),
    ("normalized_sum", WEIGHTS, (LOSS * WEIGHTS).sum() / WEIGHTS.sum()),
    # per-row weights broadcast over the columns
    ("sum", WEIGHTS[:, :1], (LOSS * WEIGHTS[:, :1]).sum()),
])
def test_aggregate(mode, weights, expected):
    if weights is None:
        got = evaluate(lambda l: lo.aggregate(l, mode=mode), LOSS)
    else:
        got = evaluate(lambda l, w: lo.aggregate(l, w, mode=mode), LOSS, weights)
    assert got.ndim == 0
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_aggregate_default_mode_is_mean():
    np.testing.assert_allclose(evaluate(lo.aggregate, LOSS), LOSS.mean(), rtol=1e-12)


@pytest.mark.parametrize("mask_dtype", ["bool", "int8", "int64"])
def test_aggregate_integer_mask_keeps_float32(mask_dtype):
    loss = pt.vector("loss", dtype="float32")
    mask = pt.vector("mask", dtype=mask_dtype)
    out = lo.aggregate(loss, mask, mode="normalized_sum")
    assert out.dtype == "float32"
    values = np.array([1.0, 2.0, 4.0], dtype="float32"), np.array([1, 0, 1], dtype=mask_dtype)
    assert compile_fn([loss, mask], out)(*values) == pytest.approx(2.5)


def test_aggregate_errors():
    with pytest.raises(ValueError, match="no weights were given"):
        lo.aggregate(pt.vector(), mode="normalized_sum")
    with pytest.raises(ValueError, match="'mean', 'sum' or 'normalized_sum'.*got 'max'"):
        lo.aggregate(pt.vector(), mode="max")


def test_multi_task_loss_with_missing_labels():
    """Two heads, labels missing for some examples (weight 0, placeholder
    target 0): the total loss averages each task over its labelled examples
    only, and unlabelled examples get no gradient from that task."""
    logits = pt.matrix("logits")        # classification head, 5 classes
    regression = pt.matrix("regression")  # regression head, 2 outputs
    labels, has_label = pt.ivector("labels"), pt.vector("has_label")
    targets, has_target = pt.matrix("targets"), pt.matrix("has_target")
    class_loss = lo.aggregate(lo.categorical_crossentropy(softmax(logits), labels),
                              has_label, mode="normalized_sum")
    reg_loss = lo.aggregate(lo.squared_error(regression, targets), has_target,
                            mode="normalized_sum")
    total = class_loss + 0.5 * reg_loss
    grads = pytensor.grad(total, [logits, regression])

    label_mask = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    labels_v = np.where(label_mask > 0, LABELS, 0).astype("int32")
    reg_v, targets_v = RNG.normal(size=(6, 2)), RNG.normal(size=(6, 2))
    target_mask = np.array([[1, 1], [1, 0], [0, 0], [1, 1], [0, 1], [1, 0]], dtype=float)
    targets_v = np.where(target_mask > 0, targets_v, 0.0)
    got, g_logits, g_reg = compile_fn(
        [logits, regression, labels, has_label, targets, has_target],
        [total] + grads)(SCORES, reg_v, labels_v, label_mask, targets_v, target_mask)

    labelled = label_mask > 0
    ce = -np_log_softmax(SCORES[labelled])[np.arange(labelled.sum()), LABELS[labelled]]
    sq = ((reg_v - targets_v) ** 2)[target_mask > 0]
    np.testing.assert_allclose(got, ce.mean() + 0.5 * sq.mean(), rtol=1e-12)
    np.testing.assert_array_equal(g_logits[~labelled], 0.0)
    np.testing.assert_array_equal(g_reg[target_mask == 0], 0.0)
    assert np.all(g_logits[labelled] != 0)


@pytest.mark.parametrize("log_odds", [True, False, None])
@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("delta", [1, 0.5])
def test_binary_hinge_loss(log_odds, binary, delta):
    predictions = BIN_P if log_odds is False else SCORES[:, :3]
    targets = BIN_T if binary else 2 * BIN_T - 1
    scores = np.log(BIN_P / (1 - BIN_P)) if log_odds is False else predictions
    expected = np.maximum(0, delta - scores * (2 * BIN_T - 1))
    got = evaluate(lambda p, t: lo.binary_hinge_loss(
        p, t, delta=delta, log_odds=log_odds, binary=binary), predictions, targets)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def np_multiclass_hinge(scores, labels, delta):
    out = []
    for row, label in zip(scores, labels):
        others = max(s for k, s in enumerate(row) if k != label)
        out.append(max(0.0, delta + others - row[label]))
    return np.array(out)


@pytest.mark.parametrize("delta", [1, 2.5])
@pytest.mark.parametrize("one_hot", [False, True])
def test_multiclass_hinge_loss(delta, one_hot):
    scores = SCORES.copy()
    scores[0, LABELS[0]] = 100.0  # one example beyond the margin
    targets = ONE_HOT if one_hot else LABELS
    got = evaluate(lambda p, t: lo.multiclass_hinge_loss(p, t, delta), scores, targets)
    expected = np_multiclass_hinge(scores, LABELS, delta)
    assert expected[0] == 0 and expected.min() < expected.max()
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_multiclass_hinge_loss_errors():
    with pytest.raises(TypeError, match="dimensions"):
        lo.multiclass_hinge_loss(pt.matrix(), pt.tensor3())


@pytest.mark.parametrize("delta", [1, 0.3, 2.0])
def test_huber_loss(delta):
    a, b = SCORES, RNG.normal(size=(6, 5))
    d = np.abs(a - b)
    expected = np.where(d <= delta, 0.5 * d ** 2, delta * (d - 0.5 * delta))
    assert (d <= delta).any() and (d > delta).any()
    got = evaluate(lambda p, t: lo.huber_loss(p, t, delta), a, b)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_binary_accuracy(threshold):
    got = evaluate(lambda p, t: lo.binary_accuracy(p, t, threshold), BIN_P, BIN_T)
    assert got.dtype == pytensor.config.floatX
    np.testing.assert_array_equal(got, ((BIN_P >= threshold) == BIN_T).astype(float))


def np_top_k_hits(scores, labels, k):
    return np.array([label in np.argsort(row)[-k:] for row, label in zip(scores, labels)],
                    dtype=float)


@pytest.mark.parametrize("top_k", [1, 2, 3, 5])
@pytest.mark.parametrize("one_hot", [False, True])
def test_categorical_accuracy(top_k, one_hot):
    targets = ONE_HOT if one_hot else LABELS
    got = evaluate(lambda p, t: lo.categorical_accuracy(p, t, top_k=top_k), SCORES, targets)
    assert got.dtype == pytensor.config.floatX
    expected = np_top_k_hits(SCORES, LABELS, top_k)
    np.testing.assert_array_equal(got, expected)
    if top_k == 5:
        assert expected.all()


def test_categorical_accuracy_hits_grow_with_top_k():
    counts = [np_top_k_hits(SCORES, LABELS, k).sum() for k in (1, 2, 3)]
    assert counts[0] < counts[2]  # the cases above are not all trivial


def test_categorical_accuracy_numpy_integer_top_k():
    got = evaluate(lambda p, t: lo.categorical_accuracy(p, t, top_k=np.int64(2)),
                   SCORES, LABELS)
    np.testing.assert_array_equal(got, np_top_k_hits(SCORES, LABELS, 2))


def test_categorical_accuracy_errors():
    with pytest.raises(ValueError, match="top_k.*0"):
        lo.categorical_accuracy(pt.matrix(), pt.ivector(), top_k=0)
    with pytest.raises(ValueError, match="top_k.*1.5"):
        lo.categorical_accuracy(pt.matrix(), pt.ivector(), top_k=1.5)
    with pytest.raises(TypeError, match="dimensions"):
        lo.categorical_accuracy(pt.matrix(), pt.tensor3())


@pytest.mark.parametrize("backend", backend_params())
def test_backend_parity(backend):
    z, labels, p, t = pt.matrix("z"), pt.ivector("labels"), pt.matrix("p"), pt.matrix("t")
    outputs = [
        lo.categorical_crossentropy(softmax(z), labels),
        lo.categorical_accuracy(z, labels, top_k=2),
        lo.multiclass_hinge_loss(z, labels),
        lo.binary_crossentropy(p, t),
        lo.aggregate(lo.huber_loss(p, t, 0.2), t, mode="normalized_sum"),
    ]
    assert_backends_agree([z, labels, p, t], outputs,
                          [SCORES, LABELS, BIN_P, BIN_T], backends=[backend])


FLOAT32_CASES = {
    "binary_crossentropy": lambda p, t: lo.binary_crossentropy(p, t),
    "binary_crossentropy_sigmoid": lambda p, t: lo.binary_crossentropy(sigmoid(p), t),
    "categorical_crossentropy": lambda p, t: lo.categorical_crossentropy(p, t),
    "categorical_crossentropy_softmax": lambda p, t: lo.categorical_crossentropy(softmax(p), t),
    "squared_error": lambda p, t: lo.squared_error(p, t),
    "huber_loss": lambda p, t: lo.huber_loss(p, t, delta=0.3),
    "binary_hinge_loss": lambda p, t: lo.binary_hinge_loss(p, t, delta=0.3, log_odds=True),
    "multiclass_hinge_loss": lambda p, t: lo.multiclass_hinge_loss(p, t, delta=0.3),
    "aggregate": lambda p, t: lo.aggregate(lo.squared_error(p, t), t, mode="normalized_sum"),
}


@pytest.mark.parametrize("name", list(FLOAT32_CASES))
def test_float32_losses_stay_float32(name):
    # float margins and constants must not upcast (floatX is float64 here)
    p = pt.matrix("p", dtype="float32")
    t = pt.matrix("t", dtype="float32")
    assert FLOAT32_CASES[name](p, t).dtype == "float32"


GRADIENT_CASES = {
    # (loss of one argument, value away from kinks and ties)
    "binary_crossentropy": (lambda p: lo.binary_crossentropy(p, pt.constant(BIN_T)), BIN_P),
    "squared_error": (lambda a: lo.squared_error(a, pt.constant(PROBS)), SCORES),
    "huber_loss": (lambda a: lo.huber_loss(a, pt.constant(SCORES + 0.37), delta=0.5),
                   SCORES + np.linspace(-1, 1, 30).reshape(6, 5) * 0.9),
    "binary_hinge_loss": (lambda s: lo.binary_hinge_loss(s, pt.constant(BIN_T), log_odds=True),
                          np.array([[0.3, -0.4, 2.0], [-0.1, 0.7, -3.0]] * 3)),
    "multiclass_hinge_loss": (lambda s: lo.multiclass_hinge_loss(s, pt.constant(LABELS), delta=5),
                              SCORES),
}


@pytest.mark.parametrize("name", list(GRADIENT_CASES))
def test_gradients(name):
    fn, value = GRADIENT_CASES[name]
    pytensor.gradient.verify_grad(fn, [value], rng=np.random.default_rng(0),
                                  mode="FAST_COMPILE", no_debug_ref=False)


def test_normalized_sum_of_an_all_missing_batch_is_zero_with_finite_gradient():
    import pytensor
    x = pt.vector("x")
    loss = lo.aggregate(x ** 2, pt.zeros_like(x), mode="normalized_sum")
    value, grad = pytensor.function([x], [loss, pytensor.grad(loss, x)],
                                    mode="FAST_COMPILE")(np.array([1.0, 2.0]))
    assert value == 0.0 and np.all(grad == 0.0)
