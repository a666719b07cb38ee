"""Tests of the modern nonlinearities (gelu, silu, mish, hard_sigmoid,
hard_swish, softsign, log_softmax) against values and derivatives of
PyTorch, frozen below by tests/tools/freeze_torch_activations.py."""
import pickle

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import lasagne.nonlinearities as ln
from tests.helpers import assert_backends_agree, backend_params, compile_fn

# Frozen by tests/tools/freeze_torch_activations.py with torch 2.14.1+cu130
TORCH_INPUT = [-40.0, -6.0, -3.2, -2.5, -1.0, -0.3, 0.2, 0.7, 1.0, 2.9, 3.1, 8.0, 40.0]
LOG_SOFTMAX_INPUT = [[0.5, -1.0, 2.0, 0.0], [1000.0, -1000.0, 3.0, 999.0]]
TORCH_LOG_SOFTMAX = [[-1.842349582389822, -3.342349582389822, -0.342349582389822, -2.342349582389822], [-0.31326168751822286, -2000.3132616875182, -997.3132616875182, -1.3132616875182228]]
TORCH_LOG_SOFTMAX_GRAD = [[-0.9506682570898785, 0.7878772395475068, -2.260599537317046, 2.4233905548594166], [-4.38635147178003, 1.0, 2.0, 1.3863514717800294]]
TORCH_VALUES = {
    'gelu': [-0.0, -5.919525869479969e-09, -0.0021988414013307533, -0.015524163314440398, -0.15865525393145702, -0.1146265733433142, 0.11585194188782061, 0.5306254434438489, 0.841344746068543, 2.8945891414288862, 3.097000430039023, 7.999999999999995, 40.0],
    'gelu_tanh': [-0.0, -8.43964897967453e-11, -0.0018695651620843634, -0.015084266089998577, -0.1588080093917233, -0.11462907645724074, 0.11585142978210627, 0.5305701347051167, 0.8411919906082768, 2.895033333764528, 3.0973733897694506, 8.0, 40.0],
    'silu': [-1.6993417021166355e-16, -0.014835738939808647, -0.12533031294964594, -0.18964545005310887, -0.2689414213699951, -0.1276672449565023, 0.1099667994624956, 0.46773144051771626, 0.7310585786300049, 2.7487546670725886, 2.966367509682633, 7.997317198956269, 40.0],
    'mish': [-1.6993417021166355e-16, -0.014854080479424991, -0.12778268151702063, -0.19681620390653332, -0.30340146137410895, -0.15113317713833455, 0.13259900186215923, 0.561148377643852, 0.8650983882673103, 2.8842668281130717, 3.0885003094753047, 7.999998200644843, 40.0],
    'hard_sigmoid': [0.0, 0.0, 0.0, 0.08333333333333333, 0.3333333333333333, 0.45, 0.5333333333333333, 0.6166666666666667, 0.6666666666666666, 0.9833333333333334, 1.0, 1.0, 1.0],
    'hard_swish': [-0.0, -0.0, -0.0, -0.20833333333333334, -0.3333333333333333, -0.135, 0.10666666666666669, 0.43166666666666664, 0.6666666666666666, 2.8516666666666666, 3.1, 8.0, 40.0],
    'softsign': [-0.975609756097561, -0.8571428571428571, -0.7619047619047619, -0.7142857142857143, -0.5, -0.23076923076923075, 0.16666666666666669, 0.4117647058823529, 0.5, 0.7435897435897436, 0.7560975609756099, 0.8888888888888888, 0.975609756097561],
}
TORCH_GRADS = {
    'gelu': [0.0, -3.546870945402639e-08, -0.006941944306771629, -0.03761108590814519, -0.08331547058768635, 0.26767223317289013, 0.6574682482341941, 0.9766141011336599, 1.0833154705876864, 1.015396530716966, 1.0091595358610013, 1.0000000000000397, 1.0],
    'gelu_tanh': [0.0, -7.709976012836329e-10, -0.00649314208737776, -0.03795157621266618, -0.08296408384578258, 0.26770454836119817, 0.6574581491956996, 0.976357218656104, 1.0829640838457826, 1.0151255217340986, 1.008739396051266, 1.0, 1.0],
    'silu': [-1.6568581595637197e-16, -0.012326432591525513, -0.08125593785786404, -0.09940111134152683, 0.07232948812851325, 0.3522199896811173, 0.59933731185485, 0.8233867834733425, 0.9276705118714869, 1.0912037868378475, 1.084764705547758, 1.0023465512355845, 1.0],
    'mish': [-1.6568581595637197e-16, -0.01235996793178131, -0.08519837681166578, -0.10974357275018568, 0.059216755877395014, 0.40851087693570215, 0.7246245404198407, 0.9687948682001859, 1.0490362200997922, 1.0243191256661055, 1.0182575431962904, 1.0000033725836874, 1.0],
    'hard_sigmoid': [0.0, 0.0, 0.0, 0.1666666716337204, 0.1666666716337204, 0.1666666716337204, 0.1666666716337204, 0.1666666716337204, 0.1666666716337204, 0.1666666716337204, 0.0, 0.0, 0.0],
    'hard_swish': [0.0, 0.0, 0.0, -0.33333333333333337, 0.16666666666666669, 0.4, 0.5666666666666667, 0.7333333333333333, 0.8333333333333333, 1.4666666666666668, 1.0, 1.0, 1.0],
    'softsign': [0.0005948839976204663, 0.020408163265306117, 0.056689342403628135, 0.08163265306122447, 0.25, 0.5917159763313609, 0.6944444444444444, 0.34602076124567477, 0.25, 0.06574621959237345, 0.05948839976204637, 0.012345679012345678, 0.0005948839976204663],
}

FUNCTIONS = {name: getattr(ln, name) for name in TORCH_VALUES}


@pytest.mark.parametrize("name", list(TORCH_VALUES))
def test_values_match_torch(name):
    x = pt.vector("x")
    out = compile_fn([x], FUNCTIONS[name](x))(np.array(TORCH_INPUT))
    np.testing.assert_allclose(out, TORCH_VALUES[name], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", list(TORCH_VALUES))
def test_gradients_match_torch(name):
    x = pt.vector("x")
    grad = pytensor.grad(pt.sum(FUNCTIONS[name](x)), x)
    out = compile_fn([x], grad)(np.array(TORCH_INPUT))
    # PyTorch computes hardsigmoid's slope 1/6 in float32
    rtol = 1e-7 if name == "hard_sigmoid" else 1e-10
    np.testing.assert_allclose(out, TORCH_GRADS[name], rtol=rtol, atol=1e-15)


def test_log_softmax_matches_torch():
    x = pt.matrix("x")
    y = ln.log_softmax(x)
    grad = pytensor.grad(pt.sum(y * np.arange(4.0)), x)
    out, g = compile_fn([x], [y, grad])(np.array(LOG_SOFTMAX_INPUT))
    np.testing.assert_allclose(out, TORCH_LOG_SOFTMAX, rtol=1e-12)
    np.testing.assert_allclose(g, TORCH_LOG_SOFTMAX_GRAD, rtol=1e-10, atol=1e-12)
    assert np.all(np.isfinite(out))


def test_aliases_and_approximation_flag():
    assert ln.swish is ln.silu
    x = pt.vector("x")
    a, b = compile_fn([x], [ln.gelu(x, approximate=True), ln.gelu_tanh(x)])(
        np.array(TORCH_INPUT))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", list(TORCH_VALUES) + ["log_softmax"])
def test_float32_stays_float32(name):
    fn = getattr(ln, name)
    x = pt.matrix("x", dtype="float32")
    assert fn(x).dtype == "float32"


@pytest.mark.parametrize("name", list(TORCH_VALUES) + ["log_softmax"])
def test_picklable(name):
    fn = getattr(ln, name)
    assert pickle.loads(pickle.dumps(fn)) is fn


@pytest.mark.parametrize("backend", backend_params())
def test_backend_parity(backend):
    x = pt.vector("x", dtype="float32")
    outputs = [FUNCTIONS[name](x) for name in TORCH_VALUES]
    outputs.append(ln.log_softmax(x))
    value = np.array(TORCH_INPUT, dtype="float32")
    references = [np.array(TORCH_VALUES[name]) for name in TORCH_VALUES]
    shifted = TORCH_INPUT - np.max(TORCH_INPUT)
    references.append(shifted - np.log(np.exp(shifted).sum()))
    # 1 + tanh(...) cancels in float32 for negative x: absolute tolerance
    assert_backends_agree([x], outputs, [value], rtol=2e-6, atol=1e-6,
                          reference=references, backends=[backend])
