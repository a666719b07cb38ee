"""Tests of lasagne.updates on plain shared variables (no layers).

Every rule is checked against something independent of this library:
* trajectories of PyTorch's optimizers, frozen below by
  tests/tools/freeze_torch_optim.py (its docstring explains how each
  PyTorch configuration is made to compute exactly Lasagne's rule);
* numpy re-implementations of Lasagne's formulas, run with arguments where
  Lasagne and PyTorch differ (epsilon placement, default hyperparameters).
  The numpy references are first checked against the PyTorch values.
"""
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import lasagne.updates as lu
from tests.helpers import BACKENDS, FAST, backend_params, compile_fn

# Frozen by tests/tools/freeze_torch_optim.py with torch 2.13.0+cpu
PROBLEM_A = [[1.0, 2.0, 0.5], [0.3, -1.0, 2.0], [-0.7, 0.4, 1.1], [1.5, 0.2, -0.3]]
PROBLEM_Y = [1.0, -2.0, 0.5, 3.0]
W0 = [0.1, -0.2, 0.3]
B0 = [0.05]
TORCH_TRAJECTORIES = {
    # lasagne.updates.sgd(loss, params, learning_rate=0.05)
    'sgd': [
        ([0.32210000000000005, 0.0887, 0.010399999999999982], [0.12100000000000002]),
        ([0.46764705000000006, 0.2685798, -0.20026870000000002], [0.17916750000000004]),
        ([0.562480577425, 0.377989676, -0.35562491715], [0.23078901125000004]),
        ([0.6233918390279626, 0.44185153724980003, -0.47242662607657504], [0.279009685620125]),
        ([0.6613824929040524, 0.4763924391504634, -0.5624270867787345], [0.3253538757208148]),
    ],
    # lasagne.updates.momentum(loss, params, learning_rate=0.05, momentum=0.9)
    'momentum': [
        ([0.32210000000000005, 0.0887, 0.010399999999999982], [0.12100000000000002]),
        ([0.6675370500000001, 0.5284098, -0.4609087], [0.24306750000000005]),
        ([1.004366267425, 0.9356203160000001, -0.9694045771500001], [0.3930005112500001]),
        ([1.2151315945754624, 1.1509814164498, -1.3803557533815751], [0.5539837909951251]),
        ([1.2341878542602172, 1.0939401898097434, -1.6080992024634047], [0.721163353128265]),
    ],
    # lasagne.updates.nesterov_momentum(loss, params, learning_rate=0.05, momentum=0.9)
    'nesterov_momentum': [
        ([0.5219900000000001, 0.34853000000000006, -0.25024], [0.18490000000000006]),
        ([0.8475248505, 0.738066078, -0.7501140070000001], [0.33098467500000006]),
        ([1.000217104108075, 0.873319501484, -1.0952153464318501], [0.48612377066375007]),
        ([0.9875694751325675, 0.7848582401055184, -1.2737714957728181], [0.6585012259689061]),
        ([0.8620568359681223, 0.5683679414262645, -1.3354371402973715], [0.8536815912345611]),
    ],
    # lasagne.updates.adagrad(loss, params, learning_rate=0.5, epsilon=0.0)
    'adagrad': [
        ([0.6, 0.3, -0.2], [0.55]),
        ([0.6622098083835809, 0.4020651412948072, -0.4979104800279579], [0.30927760350744693]),
        ([0.7300359613261407, 0.4665183350966001, -0.6176250525584125], [0.5462590821704899]),
        ([0.7002444377805659, 0.4548786273430835, -0.7383396612497596], [0.5662498995301076]),
        ([0.6790496609272895, 0.4436568736951919, -0.8192252643586821], [0.6906973410048515]),
    ],
    # lasagne.updates.rmsprop(loss, params, learning_rate=0.05, rho=0.9, epsilon=0.0)
    'rmsprop': [
        ([0.258113883008419, -0.04188611699158101, 0.141886116991581], [0.208113883008419]),
        ([0.35398962327755223, 0.05614880174613958, 0.03191200947214223], [0.28298916674635727]),
        ([0.42455234705059275, 0.12946096076874902, -0.05637960402561684], [0.3278679303754542]),
        ([0.4802489365142091, 0.18818753545303424, -0.1316043282028308], [0.35770730367254544]),
        ([0.5256630233235909, 0.23680288315498393, -0.19780335731202048], [0.3795944827668984]),
    ],
    # lasagne.updates.adadelta(loss, params, learning_rate=1.0, rho=0.9, epsilon=1e-3)
    'adadelta': [
        ([0.19997466926120866, -0.10001499404325082, 0.2000149010138404], [0.14975295184354295]),
        ([0.2927637636110201, -0.006167688622044767, 0.10005333094491285], [0.23275223325678546]),
        ([0.3738356056849196, 0.07730913308168082, 0.002638105515150438], [0.29247658174999636]),
        ([0.4423792110566956, 0.1493277444506334, -0.09024942522817948], [0.3336761895961793]),
        ([0.49919297842609484, 0.21024901638306492, -0.17725506958956], [0.3641663920752255]),
    ],
    # lasagne.updates.adam(loss, params, learning_rate=0.1, beta1=0.9, beta2=0.999, epsilon=0.0)
    'adam': [
        ([0.2, -0.10000000000000002, 0.2], [0.15000000000000002]),
        ([0.29904641464455617, -0.000813819251075959, 0.10017315976551612], [0.24742020618924104]),
        ([0.3961627826630185, 0.09675844387815608, 0.0006564234469506047], [0.3386410544335392]),
        ([0.49004518266114844, 0.19167135804952762, -0.09838154987594878], [0.41809340973788695]),
        ([0.5790612460047156, 0.28262141695269427, -0.19671475259090632], [0.4794229457628876]),
    ],
    # lasagne.updates.adamax(loss, params, learning_rate=0.1, beta1=0.9, beta2=0.999, epsilon=0.0)
    'adamax': [
        ([0.2, -0.1, 0.2], [0.15000000000000002]),
        ([0.2908845052071195, -0.008239597955748384, 0.10261961583566702], [0.2337753988235827]),
        ([0.3730235976203968, 0.07553876900688085, 0.008163989403345631], [0.30305737794041243]),
        ([0.44680531060406775, 0.151612424655158, -0.08308223801721218], [0.3595672101207816]),
        ([0.5126319707288557, 0.2202760866928598, -0.17085863513151345], [0.40499715143785675]),
    ],
    # lasagne.updates.amsgrad(loss, params, learning_rate=0.1, beta1=0.9, beta2=0.5, epsilon=0.0)
    'amsgrad': [
        ([0.2, -0.09999999999999999, 0.19999999999999998], [0.15000000000000002]),
        ([0.30233426283676434, 0.0021290323856688054, 0.09928162567293221], [0.2525008865679099]),
        ([0.40110624775628173, 0.10193205182156341, -0.0026225847740945912], [0.3403760589585931]),
        ([0.49113151126090593, 0.1942295978916188, -0.10459710181518812], [0.4088604096953156]),
        ([0.5706055025600942, 0.27706328770359945, -0.20418252452535562], [0.4583072841685311]),
    ],
}

STEPS = 5

# Lasagne calls equivalent to the frozen PyTorch configurations
TORCH_EQUIVALENT = {
    "sgd": dict(learning_rate=0.05),
    "momentum": dict(learning_rate=0.05, momentum=0.9),
    "nesterov_momentum": dict(learning_rate=0.05, momentum=0.9),
    "adagrad": dict(learning_rate=0.5, epsilon=0.0),
    "rmsprop": dict(learning_rate=0.05, rho=0.9, epsilon=0.0),
    "adadelta": dict(learning_rate=1.0, rho=0.9, epsilon=1e-3),
    "adam": dict(learning_rate=0.1, beta1=0.9, beta2=0.999, epsilon=0.0),
    "adamax": dict(learning_rate=0.1, beta1=0.9, beta2=0.999, epsilon=0.0),
    "amsgrad": dict(learning_rate=0.1, beta1=0.9, beta2=0.5, epsilon=0.0),
}


# ---------------------------------------------------------------- numpy
# Lasagne's rules written again, in numpy, one step at a time.

def np_sgd(state, p, g, learning_rate):
    return p - learning_rate * g


def np_momentum(state, p, g, learning_rate, momentum=0.9):
    v = momentum * state.get("v", 0.0) - learning_rate * g
    state["v"] = v
    return p + v


def np_nesterov_momentum(state, p, g, learning_rate, momentum=0.9):
    v = momentum * state.get("v", 0.0) - learning_rate * g
    state["v"] = v
    return p + momentum * v - learning_rate * g


def np_adagrad(state, p, g, learning_rate=1.0, epsilon=1e-6):
    state["acc"] = state.get("acc", 0.0) + g ** 2
    return p - learning_rate * g / np.sqrt(state["acc"] + epsilon)


def np_rmsprop(state, p, g, learning_rate=1.0, rho=0.9, epsilon=1e-6):
    state["acc"] = rho * state.get("acc", 0.0) + (1 - rho) * g ** 2
    return p - learning_rate * g / np.sqrt(state["acc"] + epsilon)


def np_adadelta(state, p, g, learning_rate=1.0, rho=0.95, epsilon=1e-6):
    acc = rho * state.get("acc", 0.0) + (1 - rho) * g ** 2
    delta_acc = state.get("delta_acc", 0.0)
    step = g * np.sqrt(delta_acc + epsilon) / np.sqrt(acc + epsilon)
    state["acc"] = acc
    state["delta_acc"] = rho * delta_acc + (1 - rho) * step ** 2
    return p - learning_rate * step


def np_adam(state, p, g, learning_rate=0.001, beta1=0.9, beta2=0.999,
            epsilon=1e-8, amsgrad=False):
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", 0.0) + (1 - beta1) * g
    v = beta2 * state.get("v", 0.0) + (1 - beta2) * g ** 2
    denominator = v
    if amsgrad:
        denominator = np.maximum(state.get("v_hat", 0.0), v)
        state["v_hat"] = denominator
    state.update(t=t, m=m, v=v)
    rate = learning_rate * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return p - rate * m / (np.sqrt(denominator) + epsilon)


def np_amsgrad(state, p, g, **kwargs):
    return np_adam(state, p, g, amsgrad=True, **kwargs)


def np_adamax(state, p, g, learning_rate=0.002, beta1=0.9, beta2=0.999,
              epsilon=1e-8):
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", 0.0) + (1 - beta1) * g
    u = np.maximum(beta2 * state.get("u", 0.0), np.abs(g))
    state.update(t=t, m=m, u=u)
    return p - learning_rate / (1 - beta1 ** t) * m / (u + epsilon)


NUMPY_RULES = {name: globals()["np_" + name] for name in TORCH_EQUIVALENT}


def numpy_trajectory(name, steps=STEPS, **kwargs):
    """Run the numpy version of rule `name` on the least-squares problem."""
    a, y = np.array(PROBLEM_A), np.array(PROBLEM_Y)
    params = [np.array(W0), np.array(B0)]
    states = [{}, {}]
    history = []
    for _ in range(steps):
        residual = a @ params[0] + params[1] - y
        grads = [a.T @ residual, np.array([residual.sum()])]
        params = [NUMPY_RULES[name](state, p, g, **kwargs)
                  for state, p, g in zip(states, params, grads)]
        history.append((params[0].copy(), params[1].copy()))
    return history


# ---------------------------------------------------------------- pytensor

def least_squares(dtype="float64"):
    """Shared parameters (w, b) and the loss of the problem."""
    w = pytensor.shared(np.array(W0, dtype=dtype), name="w")
    b = pytensor.shared(np.array(B0, dtype=dtype), shape=(1,), name="b")
    a = pt.constant(np.array(PROBLEM_A, dtype=dtype))
    y = pt.constant(np.array(PROBLEM_Y, dtype=dtype))
    # elementwise rather than dot: Numba warns about the transposed dot of
    # the gradient otherwise (a PyTensor kernel detail, not under test)
    loss = 0.5 * pt.sum(pt.square(pt.sum(a * w, axis=1) + b - y))
    return w, b, loss


def run_updates(updates, w, b, steps=STEPS, mode=FAST, inputs=(), values=()):
    train = pytensor.function(list(inputs), [], updates=updates, mode=mode)
    history = []
    for _ in range(steps):
        train(*values)
        history.append((w.get_value(), b.get_value()))
    return history


def assert_trajectories_close(got, expected, rtol=1e-10, atol=1e-12):
    for step, ((w, b), (w_ref, b_ref)) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(w, w_ref, rtol=rtol, atol=atol,
                                   err_msg=f"w after step {step + 1}")
        np.testing.assert_allclose(b, b_ref, rtol=rtol, atol=atol,
                                   err_msg=f"b after step {step + 1}")
    assert len(got) == len(expected)


@pytest.mark.parametrize("name", list(TORCH_EQUIVALENT))
def test_matches_torch(name):
    w, b, loss = least_squares()
    updates = getattr(lu, name)(loss, [w, b], **TORCH_EQUIVALENT[name])
    assert isinstance(updates, OrderedDict)
    assert_trajectories_close(run_updates(updates, w, b),
                              TORCH_TRAJECTORIES[name])


@pytest.mark.parametrize("name", list(TORCH_EQUIVALENT))
def test_numpy_reference_matches_torch(name):
    # validates the references used with the arguments PyTorch cannot mimic
    assert_trajectories_close(numpy_trajectory(name, **TORCH_EQUIVALENT[name]),
                              TORCH_TRAJECTORIES[name])


LASAGNE_ONLY_CASES = [
    # epsilon inside the square root / added after the maximum
    ("adagrad", dict(learning_rate=0.5, epsilon=0.3)),
    ("rmsprop", dict(learning_rate=0.05, rho=0.8, epsilon=0.3)),
    ("adadelta", dict()),
    ("adadelta", dict(learning_rate=0.5, rho=0.7, epsilon=0.2)),
    # epsilon added to the uncorrected root of the second moment
    ("adam", dict(learning_rate=0.1, beta1=0.8, beta2=0.9, epsilon=0.5)),
    ("adamax", dict(learning_rate=0.1, beta1=0.8, beta2=0.7, epsilon=0.5)),
    ("amsgrad", dict(learning_rate=0.1, beta1=0.8, beta2=0.5, epsilon=0.5)),
    # defaults of the API
    ("adagrad", dict()), ("rmsprop", dict()), ("adam", dict()),
    ("adamax", dict()), ("amsgrad", dict()),
    ("momentum", dict(learning_rate=0.01)),
    ("nesterov_momentum", dict(learning_rate=0.01)),
]


@pytest.mark.parametrize("name, kwargs", LASAGNE_ONLY_CASES)
def test_matches_numpy_reference(name, kwargs):
    w, b, loss = least_squares()
    updates = getattr(lu, name)(loss, [w, b], **kwargs)
    assert_trajectories_close(run_updates(updates, w, b),
                              numpy_trajectory(name, **kwargs))


def test_epsilon_placement_matters_in_the_reference_cases():
    # Guard against reference cases where epsilon has no visible effect.
    for name, kwargs in LASAGNE_ONLY_CASES[:7]:
        with_eps = numpy_trajectory(name, **kwargs)
        other = dict(kwargs, epsilon=kwargs.get("epsilon", 1e-6) * 2)
        assert not np.allclose(with_eps[-1][0], numpy_trajectory(name, **other)[-1][0])


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_grads_instead_of_loss(name):
    w, b, loss = least_squares()
    grads = pytensor.grad(loss, [w, b])
    updates = getattr(lu, name)(grads, [w, b], **TORCH_EQUIVALENT[name])
    assert_trajectories_close(run_updates(updates, w, b),
                              TORCH_TRAJECTORIES[name])


def test_shared_learning_rate_can_change_between_calls():
    w, b, loss = least_squares()
    lr = pytensor.shared(0.05)
    train = compile_fn([], [], updates=lu.sgd(loss, [w, b], lr))
    train()
    lr.set_value(0.0)
    train()  # no move with a zero learning rate
    np.testing.assert_allclose(w.get_value(), TORCH_TRAJECTORIES["sgd"][0][0])


def test_symbolic_learning_rate_and_momentum():
    w, b, loss = least_squares()
    lr, mu = pt.scalar("lr"), pt.scalar("mu")
    updates = lu.momentum(loss, [w, b], lr, momentum=mu)
    history = run_updates(updates, w, b, inputs=[lr, mu], values=[0.05, 0.9])
    assert_trajectories_close(history, TORCH_TRAJECTORIES["momentum"])


ALL_RULES = {
    "sgd": dict(learning_rate=0.1), "momentum": dict(learning_rate=0.1),
    "nesterov_momentum": dict(learning_rate=0.1), "adagrad": {},
    "rmsprop": {}, "adadelta": {}, "adam": {}, "adamax": {}, "amsgrad": {},
}


@pytest.mark.parametrize("name", list(ALL_RULES))
def test_state_has_the_param_type_and_float32_stays_float32(name):
    # float64 hyperparameters (floatX is float64 here) and a shared float64
    # learning rate must not upcast float32 parameters
    column = pytensor.shared(np.ones((3, 1), dtype="float32"), shape=(None, 1),
                             name="column")
    x = pt.matrix("x", dtype="float32")
    loss = pt.sum(pt.dot(x, column) ** 2)
    kwargs = dict(ALL_RULES[name])
    if "learning_rate" in kwargs:
        kwargs["learning_rate"] = pytensor.shared(np.float64(0.1))
    updates = getattr(lu, name)(loss, [column], **kwargs)
    assert column in updates
    for var, expression in updates.items():
        assert expression.type == var.type, var
        if var.ndim:
            assert var.type == column.type  # state: same dtype and shape
            assert var.get_value().shape == (3, 1)
    train = compile_fn([x], loss, updates=updates)
    train(np.ones((2, 3), dtype="float32"))
    assert column.get_value().dtype == np.float32
    assert not np.allclose(column.get_value(), 1.0)


def test_floatX_float32_graph():
    with pytensor.config.change_flags(floatX="float32"):
        w = pytensor.shared(np.array([1.0, -1.0], dtype="float32"))
        loss = pt.sum(w ** 2)
        updates = lu.adam(loss, [w], learning_rate=0.1)
        assert all(u.dtype == v.dtype for v, u in updates.items())
        compile_fn([], loss, updates=updates)()
    np.testing.assert_allclose(w.get_value(), [0.9, -0.9], rtol=1e-6)


def test_get_or_compute_grads():
    w, b, loss = least_squares()
    grads = lu.get_or_compute_grads(loss, [w, b])
    residual = np.array(PROBLEM_A) @ W0 + B0 - np.array(PROBLEM_Y)
    np.testing.assert_allclose(compile_fn([], grads[0])(),
                               np.array(PROBLEM_A).T @ residual)
    given = [w * 2, b * 2]
    assert lu.get_or_compute_grads(given, [w, b]) == given


def test_get_or_compute_grads_rejects_expressions():
    w, b, loss = least_squares()
    with pytest.raises(ValueError, match=r"params\[1\].*not a shared variable"):
        lu.sgd(loss, [w, w * 2], 0.1)
    with pytest.raises(ValueError, match="not a shared variable"):
        lu.adam(loss, [pt.vector("v")])


def test_get_or_compute_grads_rejects_length_mismatch():
    w, b, loss = least_squares()
    with pytest.raises(ValueError, match="got 1 gradients for 2 parameters"):
        lu.get_or_compute_grads([w], [w, b])


def test_apply_momentum_on_sgd_equals_momentum():
    w, b, loss = least_squares()
    updates = lu.apply_momentum(lu.sgd(loss, [w, b], 0.05), momentum=0.9)
    assert len(updates) == 4
    assert_trajectories_close(run_updates(updates, w, b),
                              TORCH_TRAJECTORIES["momentum"])


def test_apply_nesterov_momentum_on_sgd_equals_nesterov():
    w, b, loss = least_squares()
    updates = lu.apply_nesterov_momentum(lu.sgd(loss, [w, b], 0.05), momentum=0.9)
    assert_trajectories_close(run_updates(updates, w, b),
                              TORCH_TRAJECTORIES["nesterov_momentum"])


@pytest.mark.parametrize("apply", [lu.apply_momentum, lu.apply_nesterov_momentum])
def test_apply_momentum_to_some_params_only(apply):
    w, b, loss = least_squares()
    sgd_updates = lu.sgd(loss, [w, b], 0.05)
    updates = apply(sgd_updates, params=[w], momentum=0.5)
    assert len(updates) == 3 and updates[b] is sgd_updates[b]
    assert len(sgd_updates) == 2  # the input dictionary is not modified
    rule = np_momentum if apply is lu.apply_momentum else np_nesterov_momentum
    # reference: w with momentum, b with plain sgd
    a, y = np.array(PROBLEM_A), np.array(PROBLEM_Y)
    w_ref, b_ref, state = np.array(W0), np.array(B0), {}
    history = run_updates(updates, w, b)
    for w_got, b_got in history:
        residual = a @ w_ref + b_ref - y
        w_ref = rule(state, w_ref, a.T @ residual, 0.05, momentum=0.5)
        b_ref = b_ref - 0.05 * residual.sum()
        np.testing.assert_allclose(w_got, w_ref, rtol=1e-12)
        np.testing.assert_allclose(b_got, b_ref, rtol=1e-12)


@pytest.mark.parametrize("apply", [lu.apply_momentum, lu.apply_nesterov_momentum])
def test_apply_momentum_to_a_param_without_update(apply):
    w, b, loss = least_squares()
    with pytest.raises(ValueError, match=r"params\[1\].*no entry in `updates`"):
        apply(lu.sgd(loss, [w], 0.1), params=[w, b])


def test_apply_momentum_on_adam():
    # momentum composes with any update rule: step = adam's step
    w, b, loss = least_squares()
    updates = lu.apply_momentum(lu.adam(loss, [w, b], 0.1, epsilon=0.0),
                                params=[w, b], momentum=0.5)
    a, y = np.array(PROBLEM_A), np.array(PROBLEM_Y)
    params, adam_states, velocities = [np.array(W0), np.array(B0)], [{}, {}], [0.0, 0.0]
    for w_got, b_got in run_updates(updates, w, b):
        residual = a @ params[0] + params[1] - y
        grads = [a.T @ residual, np.array([residual.sum()])]
        for i in range(2):
            step = np_adam(adam_states[i], params[i], grads[i], 0.1,
                           epsilon=0.0) - params[i]
            velocities[i] = 0.5 * velocities[i] + step
            params[i] = params[i] + velocities[i]
        np.testing.assert_allclose(w_got, params[0], rtol=1e-12)
        np.testing.assert_allclose(b_got, params[1], rtol=1e-12)


def numpy_norm_constraint(x, max_norm, axes, epsilon=1e-7):
    norms = np.sqrt((x ** 2).sum(axis=axes, keepdims=True))
    return x * np.minimum(norms, max_norm) / (norms + epsilon)


@pytest.mark.parametrize("shape, norm_axes, default_axes", [
    ((5, 4), None, (0,)),
    ((3, 2, 4), None, (1, 2)),
    ((4, 3, 2, 2), None, (1, 2, 3)),
    ((2, 3, 2, 2, 2), None, (1, 2, 3, 4)),
    ((5, 4), (1,), (1,)),
    ((6,), (0,), (0,)),
])
def test_norm_constraint(shape, norm_axes, default_axes):
    rng = np.random.default_rng(3)
    x = rng.normal(size=shape) * rng.uniform(0.1, 3, size=shape[:1] + (1,) * (len(shape) - 1))
    x_norms = np.sqrt((x ** 2).sum(axis=default_axes))
    max_norm = 0.9 * np.median(x_norms)  # some slices above, some below
    var = pt.tensor("x", shape=(None,) * len(shape))
    out = compile_fn([var], lu.norm_constraint(var, max_norm, norm_axes))(x)
    np.testing.assert_allclose(
        out, numpy_norm_constraint(x, max_norm, default_axes), rtol=1e-12)
    out_norms = np.sqrt((out ** 2).sum(axis=default_axes))
    above = x_norms > max_norm
    assert above.any()
    np.testing.assert_allclose(out_norms[above], max_norm, rtol=1e-6)
    np.testing.assert_allclose(out_norms[~above], x_norms[~above], rtol=1e-6)


def test_norm_constraint_on_a_shared_update():
    W = pytensor.shared(np.array([[3.0, 0.1], [4.0, 0.1]]))
    updates = lu.sgd(pt.sum(W), [W], 0.0)
    updates[W] = lu.norm_constraint(updates[W], max_norm=1.0)
    compile_fn([], [], updates=updates)()
    np.testing.assert_allclose(W.get_value(), [[0.6, 0.1], [0.8, 0.1]], rtol=1e-6)


def test_norm_constraint_needs_axes_for_other_ranks():
    with pytest.raises(ValueError, match="Pass norm_axes"):
        lu.norm_constraint(pt.vector(), 1.0)
    with pytest.raises(ValueError, match="6 dimensions"):
        lu.norm_constraint(pt.tensor(shape=(None,) * 6), 1.0)


@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_total_norm_constraint(max_norm):
    rng = np.random.default_rng(4)
    values = [rng.normal(size=(3, 4)), rng.normal(size=(4,)), rng.normal(size=())]
    vars_ = [pt.matrix(), pt.vector(), pt.scalar()]
    scaled, norm = lu.total_norm_constraint(vars_, max_norm, return_norm=True)
    got = compile_fn(vars_, scaled + [norm])(*values)
    total = np.sqrt(sum((v ** 2).sum() for v in values))
    np.testing.assert_allclose(got[-1], total, rtol=1e-12)
    factor = min(total, max_norm) / (total + 1e-7)
    for out, value in zip(got[:-1], values):
        np.testing.assert_allclose(out, value * factor, rtol=1e-12)
    assert len(lu.total_norm_constraint(vars_, max_norm)) == 3


def test_total_norm_constraint_clips_gradients_for_sgd():
    w, b, loss = least_squares()
    grads = lu.total_norm_constraint(pytensor.grad(loss, [w, b]), 1.0)
    history = run_updates(lu.sgd(grads, [w, b], 0.05), w, b, steps=1)
    a, y = np.array(PROBLEM_A), np.array(PROBLEM_Y)
    residual = a @ W0 + B0 - y
    g = [a.T @ residual, np.array([residual.sum()])]
    total = np.sqrt(sum((x ** 2).sum() for x in g))
    np.testing.assert_allclose(history[0][0], W0 - 0.05 * g[0] / (total + 1e-7), rtol=1e-12)


def test_total_norm_constraint_keeps_float32():
    g = [pt.vector(dtype="float32"), pt.matrix(dtype="float32")]
    assert [x.dtype for x in lu.total_norm_constraint(g, 1.0)] == ["float32"] * 2
    assert lu.norm_constraint(g[1], 1.0).dtype == "float32"


@pytest.mark.parametrize("backend", backend_params())
def test_backend_parity(backend):
    # Adam compiled on each backend reproduces PyTorch
    w, b, loss = least_squares()
    updates = lu.adam(loss, [w, b], **TORCH_EQUIVALENT["adam"])
    history = run_updates(updates, w, b, steps=3, mode=BACKENDS[backend])
    assert_trajectories_close(history, TORCH_TRAJECTORIES["adam"][:3])


@pytest.mark.parametrize("name", list(ALL_RULES))
def test_float32_softmax_regression_trains(name):
    # The modules together, as a float32 user script would use them, with
    # no layer: no upcast anywhere, and the loss goes down.
    from lasagne.nonlinearities import softmax
    from lasagne.objectives import aggregate, categorical_crossentropy
    from lasagne.regularization import l2
    rng = np.random.default_rng(5)
    xs = rng.normal(size=(40, 3)).astype("float32")
    ts = (xs @ np.array([1.0, -2.0, 0.5]) > 0).astype("int32")
    with pytensor.config.change_flags(floatX="float32"):
        W = pytensor.shared(np.zeros((3, 2), dtype="float32"), name="W")
        b = pytensor.shared(np.zeros(2, dtype="float32"), shape=(2,), name="b")
        x, t = pt.matrix("x"), pt.ivector("t")
        probs = softmax(pt.dot(x, W) + b)
        loss = aggregate(categorical_crossentropy(probs, t)) + 1e-4 * l2(W)
        assert loss.dtype == "float32"
        kwargs = dict(ALL_RULES[name])
        if name in ("adam", "adamax", "amsgrad"):
            kwargs["learning_rate"] = 0.05
        if name == "adadelta":
            kwargs["epsilon"] = 1e-4  # its first steps are ~sqrt(epsilon)
        train = compile_fn([x, t], loss, updates=getattr(lu, name)(loss, [W, b], **kwargs))
        losses = [float(train(xs, ts)) for _ in range(15)]
    assert W.get_value().dtype == np.float32
    # all rules get at least 20% below log(2) here (adadelta, the slowest, ~50%)
    assert losses[-1] < 0.8 * losses[0], losses
