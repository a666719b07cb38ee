"""Tests of the update rules after Lasagne 0.2 (adamw, lion, nadam, radam),
of global-norm clipping and of lasagne.schedules, against PyTorch
trajectories and scheduler values frozen below by
`tests/tools/freeze_torch_optim.py --modern` (Lion against a
transcription of the paper's algorithm in PyTorch, which has no Lion)."""
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import lasagne.schedules as ls
import lasagne.updates as lu
from tests.helpers import BACKENDS, backend_params, compile_fn
from tests.test_updates import (assert_trajectories_close, least_squares,
                                run_updates)

# Frozen by tests/tools/freeze_torch_optim.py --modern with torch 2.14.1+cu130
MODERN_EQUIVALENT = {
    'adamw': {'learning_rate': 0.1, 'beta1': 0.9, 'beta2': 0.99, 'epsilon': 0.0, 'weight_decay': 0.5},
    'nadam': {'learning_rate': 0.1, 'beta1': 0.8, 'beta2': 0.9, 'epsilon': 0.001, 'momentum_decay': 0.05},
    'radam': {'learning_rate': 0.1, 'beta1': 0.8, 'beta2': 0.9, 'epsilon': 0.001},
    'lion': {'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.95, 'weight_decay': 0.3},
}
MODERN_TRAJECTORIES = {
    'adamw': [
        ([0.195, -0.09, 0.185], [0.14750000000000002]),
        ([0.2843493184555026, 0.013657236117802105, 0.07598110694050879], [0.23816826311288591]),
        ([0.36751409068850444, 0.11053573790358609, -0.027190446454834302], [0.3201067238327835]),
        ([0.4438136440343755, 0.20006345345823928, -0.12462533919013147], [0.390730010307321]),
        ([0.5124578385334325, 0.28155410597539193, -0.21640042963143827], [0.44724255711802685]),
        ([0.5726333961434239, 0.3542644892648224, -0.3025447110588365], [0.487692864144061]),
        ([0.6236319178240823, 0.4174873404108387, -0.3830267964815283], [0.512027776632152]),
        ([0.6649850590107138, 0.47066290196144134, -0.457750962786569], [0.5223136518393174]),
    ],
    'nadam': [
        ([0.20954910872996732, -0.09044520296953903, 0.19044514401413828], [0.15949666051928474]),
        ([0.28859721585653253, -0.010545665487161331, 0.10568369150484604], [0.23060738820891774]),
        ([0.36026872116610625, 0.062498126457306055, 0.025099560688964774], [0.28912692503716836]),
        ([0.4279039791304525, 0.13211114842431765, -0.05502878924944233], [0.3375662880707595]),
        ([0.4914294807764612, 0.19831295904451937, -0.13514520638138708], [0.37562403987761656]),
        ([0.5499121510500721, 0.26022100402974885, -0.21471722932342213], [0.40371688119315086]),
        ([0.6022641204133528, 0.3167431108271509, -0.2929210499051737], [0.4239531061407322]),
        ([0.6474615287339461, 0.36680850178233076, -0.36892285621410925], [0.4398267280088287]),
    ],
    'radam': [
        ([0.5442, 0.3774, -0.27920000000000006], [0.19200000000000006]),
        ([0.8182823333333333, 0.7129773333333335, -0.6829971111111113], [0.30548333333333344]),
        ([0.9581580954918033, 0.860729559198543, -0.9429110294171221], [0.4000308948087433]),
        ([0.9980280252733011, 0.8720995980494224, -1.090669638047713], [0.4836268271458394]),
        ([0.9689529694280523, 0.793772926974707, -1.1567618032670448], [0.5623894944796669]),
        ([0.9605283644163713, 0.7828488295611535, -1.1580440660847278], [0.5858678479814142]),
        ([0.9448373097939097, 0.7646327841815382, -1.1548067292872952], [0.6164222372175354]),
        ([0.922012408854531, 0.7395058149745486, -1.146709785839816], [0.6525901278304063]),
    ],
    'lion': [
        ([0.14850000000000002, -0.14700000000000002, 0.2455], [0.09925]),
        ([0.19627250000000002, -0.09479500000000002, 0.1918175], [0.14776125]),
        ([0.24332841250000004, -0.04337307500000001, 0.1389402375], [0.19554483125000002]),
        ([0.28967848631250004, 0.007277521124999992, 0.08685613393750001], [0.24261165878125002]),
        ([0.33533330901781255, 0.05716835830812499, 0.03555329192843751], [0.2889724838995313]),
        ([0.38030330938254536, 0.10631083293350313, -0.01498000745048906], [0.3346378966410383]),
        ([0.42459875974180716, 0.1547161704395006, -0.06475530733873172], [0.37961832819142277]),
        ([0.4682297783456801, 0.2023954278829081, -0.11378397772865076], [0.4239240532685514]),
    ],
    # adam(clip_grad_norm(loss, params, 1.0, epsilon=1e-6), params,
    #      learning_rate=one_cycle(0.3, total_steps=8), epsilon=0.0)
    'clipped_one_cycle_adam': [
        ([0.11200000000000002, -0.188, 0.288], [0.06200000000000001]),
        ([0.35774217398968045, 0.0577558539968219, 0.042163002223614326], [0.30762052645776067]),
        ([0.6453853161860652, 0.34694537473270703, -0.2501466519757143], [0.5660313260995378]),
        ([0.8530589337274281, 0.5681067492225277, -0.4944665249084542], [0.5983635787010102]),
        ([0.9279630526160673, 0.6671335985773071, -0.6623498656663938], [0.5452854981473634]),
        ([0.9316265659090435, 0.6832422697625978, -0.7461221217044449], [0.5054980141840566]),
        ([0.9263839512874088, 0.6806535478668736, -0.7678584394164113], [0.4949561319824163]),
        ([0.9263834626762961, 0.6806531677715311, -0.7678595255297742], [0.4949556584058477]),
    ],
}
TORCH_SCHEDULES = {
    # lasagne.schedules.linear_warmup(0.5, warmup_steps=5, start_factor=0.2)
    'linear_warmup': [0.1, 0.18000000000000002, 0.26, 0.34, 0.42000000000000004, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
    # lasagne.schedules.cosine_decay(0.5, decay_steps=12, final_learning_rate=0.01)
    'cosine_decay': [0.5, 0.4916518274408217, 0.4671762239271875, 0.4282411613907041, 0.3775, 0.3184106660501176, 0.255, 0.19158933394988245, 0.13250000000000006, 0.08175883860929588, 0.04282377607281252, 0.01834817255917829],
    # lasagne.schedules.step_decay(0.5, step_size=3, gamma=0.5)
    'step_decay': [0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125, 0.125, 0.125, 0.0625, 0.0625, 0.0625],
    # lasagne.schedules.exponential_decay(0.5, gamma=0.8)
    'exponential_decay': [0.5, 0.4, 0.32000000000000006, 0.25600000000000006, 0.20480000000000007, 0.16384000000000007, 0.13107200000000005, 0.10485760000000005, 0.08388608000000004, 0.06710886400000003, 0.05368709120000003, 0.042949672960000025],
    # lasagne.schedules.one_cycle(0.5, total_steps=12)
    'one_cycle': [0.020000000000000018, 0.17489482710979154, 0.43964257956106434, 0.49720771772545586, 0.46650648492070584, 0.4058728269748815, 0.32368949884755166, 0.23131855133348753, 0.14153049910434962, 0.0667387650944153, 0.01728349371269761, 2e-06],
    # lasagne.schedules.one_cycle(0.5, total_steps=12, pct_start=0.4, div_factor=5, final_div_factor=20, anneal='linear')
    'one_cycle_linear': [0.1, 0.20526315789473681, 0.31052631578947365, 0.4157894736842105, 0.48625000000000007, 0.41750000000000004, 0.34875, 0.28, 0.21125000000000005, 0.14250000000000002, 0.07375000000000004, 0.0050000000000000044],
}

STEPS = 8


@pytest.mark.parametrize("name", list(MODERN_EQUIVALENT))
def test_matches_torch(name):
    w, b, loss = least_squares()
    updates = getattr(lu, name)(loss, [w, b], **MODERN_EQUIVALENT[name])
    assert isinstance(updates, OrderedDict)
    assert_trajectories_close(run_updates(updates, w, b, steps=STEPS),
                              MODERN_TRAJECTORIES[name])


def test_radam_reference_uses_both_branches():
    # rho_t > 5 first at step 6 with beta2 = 0.9: the frozen steps cover the
    # momentum-only steps and the rectified ones
    beta2 = MODERN_EQUIVALENT["radam"]["beta2"]
    rho_inf = 2 / (1 - beta2) - 1
    rho = [rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t) for t in range(1, STEPS + 1)]
    assert rho[0] <= 5 < rho[-1]


def test_clipped_one_cycle_adam_matches_torch():
    w, b, loss = least_squares()
    lr = ls.one_cycle(0.3, total_steps=STEPS)
    grads = lu.clip_grad_norm(loss, [w, b], 1.0, epsilon=1e-6)
    updates = lu.adam(grads, [w, b], learning_rate=lr, epsilon=0.0)
    assert_trajectories_close(run_updates(updates, w, b, steps=STEPS),
                              MODERN_TRAJECTORIES["clipped_one_cycle_adam"])
    assert int(ls.step_counters(lr)[0].get_value()) == STEPS


def test_clipping_is_active_in_the_reference():
    # the first gradient's norm is far above 1, so the clipped run differs
    w, b, loss = least_squares()
    grads, norm = lu.clip_grad_norm(loss, [w, b], 1.0, return_norm=True)
    g, n = compile_fn([], [grads[0], norm])()
    assert n > 5 and np.isclose(np.sqrt((g ** 2).sum()) ** 2
                                + compile_fn([], grads[1])()[0] ** 2, 1.0)


SCHEDULE_CALLS = {
    "linear_warmup": lambda: ls.linear_warmup(0.5, warmup_steps=5, start_factor=0.2),
    "cosine_decay": lambda: ls.cosine_decay(0.5, decay_steps=12, final_learning_rate=0.01),
    "step_decay": lambda: ls.step_decay(0.5, step_size=3, gamma=0.5),
    "exponential_decay": lambda: ls.exponential_decay(0.5, gamma=0.8),
    "one_cycle": lambda: ls.one_cycle(0.5, total_steps=12),
    "one_cycle_linear": lambda: ls.one_cycle(
        0.5, total_steps=12, pct_start=0.4, div_factor=5, final_div_factor=20,
        anneal="linear"),
}


@pytest.mark.parametrize("name", list(SCHEDULE_CALLS))
def test_schedule_matches_torch_when_driven_by_a_rule(name):
    lr = SCHEDULE_CALLS[name]()
    w = pytensor.shared(np.array([1.0]), name="w")
    train = compile_fn([], lr, updates=lu.sgd(pt.sum(w ** 2), [w], lr))
    got = [float(train()) for _ in TORCH_SCHEDULES[name]]
    np.testing.assert_allclose(got, TORCH_SCHEDULES[name], rtol=1e-12, atol=1e-15)


def test_composed_schedules_share_one_counter():
    lr = ls.linear_warmup(ls.cosine_decay(1.0, decay_steps=10), warmup_steps=4)
    assert len(ls.step_counters(lr)) == 1
    counter = ls.step_counters(lr)[0]
    f = compile_fn([], lr)
    values = []
    for k in range(12):
        counter.set_value(k)
        values.append(float(f()))
    expected = [min(k / 4, 1) * (1 + np.cos(np.pi * min(k / 10, 1))) / 2 for k in range(12)]
    np.testing.assert_allclose(values, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("rule", ["momentum", "nesterov_momentum", "adagrad",
                                  "rmsprop", "adadelta", "adam", "adamax",
                                  "amsgrad", "adamw", "lion", "nadam", "radam"])
def test_every_rule_advances_a_schedule_once_per_call(rule):
    lr = ls.step_decay(0.01, step_size=2)
    w, b, loss = least_squares()
    updates = getattr(lu, rule)(loss, [w, b], learning_rate=lr)
    counter = ls.step_counters(lr)[0]
    assert updates[counter] is not None
    train = compile_fn([], [], updates=updates)
    for _ in range(3):
        train()
    assert int(counter.get_value()) == 3


def test_scheduled_momentum_advances_its_counter():
    w, b, loss = least_squares()
    mu = ls.exponential_decay(0.9, gamma=0.5)
    updates = lu.apply_momentum(lu.sgd(loss, [w, b], 0.01), momentum=mu)
    compile_fn([], [], updates=updates)()
    assert int(ls.step_counters(mu)[0].get_value()) == 1


def test_adamw_without_decay_is_adam():
    w, b, loss = least_squares()
    kwargs = dict(learning_rate=0.1, beta1=0.8, beta2=0.9, epsilon=0.3)
    adam = run_updates(lu.adam(loss, [w, b], **kwargs), w, b, steps=3)
    w2, b2, loss2 = least_squares()
    adamw = run_updates(lu.adamw(loss2, [w2, b2], weight_decay=0.0, **kwargs),
                        w2, b2, steps=3)
    assert_trajectories_close(adamw, adam, rtol=1e-14)


@pytest.mark.parametrize("name", list(MODERN_EQUIVALENT))
def test_float32_stays_float32(name):
    column = pytensor.shared(np.ones((3, 1), dtype="float32"), shape=(None, 1))
    x = pt.matrix("x", dtype="float32")
    loss = pt.sum(pt.dot(x, column) ** 2)
    lr = ls.cosine_decay(pytensor.shared(np.float64(0.01)), decay_steps=10)
    updates = getattr(lu, name)(loss, [column], learning_rate=lr)
    for var, expression in updates.items():
        assert expression.type == var.type, var
    compile_fn([x], loss, updates=updates)(np.ones((2, 3), dtype="float32"))
    assert column.get_value().dtype == np.float32
    assert not np.allclose(column.get_value(), 1.0)


@pytest.mark.parametrize("call, match", [
    (lambda: ls.linear_warmup(0.1, warmup_steps=0), "warmup_steps must be positive"),
    (lambda: ls.one_cycle(0.1, 10, anneal="cosine"), "anneal='cosine'"),
    (lambda: ls.one_cycle(0.1, 10, pct_start=1.5), "pct_start"),
    (lambda: ls.cosine_decay(0.1, 10, step=pytensor.shared(0)), "not a schedule step counter"),
    (lambda: ls.step_decay(ls.exponential_decay(0.1, 0.5)
                           + ls.exponential_decay(0.1, 0.5), 3), "2 step counters"),
])
def test_schedule_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("backend", backend_params())
def test_backend_parity(backend):
    w, b, loss = least_squares()
    lr = ls.linear_warmup(0.1, warmup_steps=2, start_factor=0.5)
    updates = lu.nadam(loss, [w, b], **MODERN_EQUIVALENT["nadam"])
    w2, b2, loss2 = least_squares()
    updates.update(lu.radam(loss2, [w2, b2], **MODERN_EQUIVALENT["radam"]))
    train = pytensor.function([], lr, updates=updates, mode=BACKENDS[backend])
    for step in range(3):
        train()
        np.testing.assert_allclose(w.get_value(), MODERN_TRAJECTORIES["nadam"][step][0], rtol=1e-10)
        np.testing.assert_allclose(w2.get_value(), MODERN_TRAJECTORIES["radam"][step][0], rtol=1e-10)
