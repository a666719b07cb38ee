"""Behaviours of Lasagne 0.2 that its own test suite relies on, in our words:
exception types, argument forms and small semantic details (issue 13)."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import lasagne
from lasagne import layers as L
from lasagne import utils
from lasagne.layers.pool import pool_2d
from lasagne.updates import get_or_compute_grads
from tests.helpers import FAST, random_array


def ev(expr, givens=None):
    return pytensor.function(list(givens or {}), expr, mode=FAST)(
        *(givens or {}).values())


# ----- refusing layers whose output would be empty

@pytest.mark.parametrize("make, argument", [
    (lambda: L.Conv2DLayer(L.InputLayer((None, 3, 8, 8)), 16, 11),
     "filter_size"),
    (lambda: L.Conv1DLayer((None, 2, 4), 3, 5, stride=2), "filter_size"),
    (lambda: L.MaxPool2DLayer((None, 1, 4, 4), 5), "pool_size"),
    (lambda: L.Pool1DLayer((None, 1, 3), 4, mode="average_inc_pad"),
     "pool_size"),
    (lambda: L.TransposedConv2DLayer((None, 1, 2, 2), 1, 3, crop=3),
     "crop"),
    (lambda: L.DilatedConv2DLayer((None, 1, 5, 5), 1, 3, dilation=3),
     "filter_size"),
])
def test_empty_outputs_are_refused(make, argument):
    with pytest.raises(ValueError, match=f"`{argument}` is too large|"
                                         f"`{argument}`.*larger than"):
        make()


def test_output_of_size_one_is_still_built():
    assert L.Conv2DLayer((None, 3, 8, 8), 4, 8).output_shape == (None, 4, 1, 1)
    assert L.MaxPool2DLayer((None, 1, 4, 4), 4).output_shape == (None, 1, 1, 1)


# ----- exception types: Lasagne's, or a subclass of both

def test_malformed_pad_is_a_type_and_value_error():
    with pytest.raises(TypeError, match="iterable of int") as info:
        L.Conv2DLayer((None, 1, 5, 5), 2, 3, pad="wide")
    assert isinstance(info.value, ValueError)


def test_as_tuple_types_and_phrases():
    with pytest.raises(ValueError, match="length 4"):
        utils.as_tuple([1, 2, 3], 4)
    with pytest.raises(TypeError, match="of int,"):
        utils.as_tuple("abcd", 4, utils.int_types)
    with pytest.raises(TypeError, match="of int or float,"):
        utils.as_tuple("abcd", 4, (int, float))


@pytest.mark.parametrize("make", [
    lambda: lasagne.init.GlorotUniform().sample((10,)),
    lambda: lasagne.init.HeNormal().sample((10,)),
    lambda: lasagne.init.Orthogonal().sample((10,)),
    lambda: lasagne.init.Sparse().sample((10, 2, 2)),
    lambda: lasagne.init.HeUniform(c01b=True).sample((10, 2)),
])
def test_initializers_refuse_shapes_with_runtime_errors(make):
    with pytest.raises(RuntimeError) as info:
        make()
    assert isinstance(info.value, ValueError)


def test_even_lrn_window_is_not_implemented():
    with pytest.raises(NotImplementedError):
        L.LocalResponseNormalization2DLayer((None, 4, 3, 3), n=4)


def test_create_param_bad_specs_are_type_errors():
    for spec in ({}, lambda shape: "text"):
        with pytest.raises(TypeError):
            utils.create_param(spec, (2, 3))


# ----- create_param, compute_norms, updates

def test_create_param_numbers_and_broadcast_pattern():
    for number in (3, 2.5, np.int64(4), np.float32(1.5)):
        param = utils.create_param(number, ())
        assert param.get_value() == number
    for shape in [(10, 1, 20), (1, 2), (3, 1)]:
        for spec in (np.zeros, np.zeros(shape)):
            param = utils.create_param(spec, shape)
            assert param.broadcastable == tuple(s == 1 for s in shape)


def test_get_or_compute_grads_returns_the_given_list():
    w = pytensor.shared(np.ones(2))
    grads = [pt.zeros(2)]
    assert get_or_compute_grads(grads, [w]) is grads


# ----- layers applied to inputs other than the declared ones

def test_dropout_without_rescale_keeps_integer_inputs():
    layer = L.DropoutLayer((None, 50), p=0.5, rescale=False)
    x = pytensor.shared(np.ones((4, 50), dtype="int32"))
    out = layer.get_output_for(x)
    assert out.dtype == "int32"
    values = ev(out)
    assert set(np.unique(values)) <= {0, 1} and 0 < values.mean() < 1


def test_rrelu_accepts_numpy_arrays():
    layer = L.RandomizedRectifierLayer((None, 3), lower=0.2, upper=0.4)
    out = ev(layer.get_output_for(-np.ones((500, 3))))
    assert ((-0.4 <= out) & (out <= -0.2)).all() and out.var() > 0


def test_flatten_pad_and_global_pool_follow_their_actual_input():
    class Stub:  # a layer-protocol object declaring a 1-d shape
        output_shape = (None,)
    x = random_array((2, 3, 4, 5))
    flat = L.FlattenLayer(Stub(), outdim=3)
    assert flat.get_output_shape_for(x.shape) == (2, 3, 20)
    np.testing.assert_array_equal(ev(flat.get_output_for(pt.as_tensor(x))),
                                  x.reshape(2, 3, 20))
    pad = L.PadLayer(Stub(), width=1)
    assert pad.get_output_shape_for((2, 3, 4, 5)) == (2, 3, 6, 7)
    pooled = L.GlobalPoolLayer(Stub()).get_output_for(pt.as_tensor(x))
    np.testing.assert_allclose(ev(pooled), x.mean(axis=(2, 3)))
    # a real 2-d input is pooled over a single element
    two_d = L.GlobalPoolLayer(L.InputLayer((None, 3)))
    assert two_d.output_shape == (None, 3)
    np.testing.assert_allclose(ev(two_d.get_output_for(pt.as_tensor(x[:, :, 0, 0]))),
                               x[:, :, 0, 0])
    with pytest.raises(ValueError, match="outdim"):
        L.FlattenLayer(L.InputLayer((None, 3)), outdim=3)


def test_reshape_with_symbolic_entries():
    x = pt.tensor3()
    batch, steps, _ = x.shape
    layer = L.ReshapeLayer(L.InputLayer((None, None, None)), (batch * steps, [2]))
    assert layer.get_output_shape_for((batch, steps, x.shape[2])) == (None, None)
    out = L.get_output(layer, x)
    assert ev(out, {x: np.ones((3, 5, 6))}).shape == (15, 6)


# ----- pooling with symbolic windows (Lasagne's spatial pyramid pooling)

def test_pool_2d_accepts_symbolic_windows():
    x = random_array((2, 3, 7, 6))
    ws, st = pt.ivector(), pt.ivector()
    out = pool_2d(pt.as_tensor(x), ws=ws, stride=st, ignore_border=True,
                  pad=None)
    got = pytensor.function([ws, st], out, mode=FAST)([3, 2], [2, 2])
    expected = np.stack([np.stack([x[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 2].max(axis=(2, 3))
                                   for j in range(3)], -1) for i in range(3)], -2)
    np.testing.assert_allclose(got, expected)


def test_spatial_pyramid_fast_on_maps_of_unknown_size():
    x = random_array((2, 3, 17, 13))
    unknown = L.SpatialPyramidPoolingLayer(L.InputLayer((None, 3, None, None)),
                                           pool_dims=[1, 2, 3])
    known = L.SpatialPyramidPoolingLayer(L.InputLayer((None, 3, 17, 13)),
                                         pool_dims=[1, 2, 3])
    np.testing.assert_allclose(ev(L.get_output(unknown, x)),
                               ev(L.get_output(known, x)))


# ----- utilities and objectives

def test_unroll_scan_with_a_bare_sequence_and_scalar_state():
    a = pt.scalar()
    powers = utils.unroll_scan(lambda step, prev, a: prev * a,
                               sequences=pt.arange(3), outputs_info=[1.0],
                               non_sequences=[a], n_steps=3)[0]
    np.testing.assert_allclose(ev(powers, {a: 2.0}), [2.0, 4.0, 8.0])


def test_multiclass_hinge_loss_on_symbolic_inputs():
    p, t = pt.matrix(), pt.ivector()
    loss = lasagne.objectives.multiclass_hinge_loss(p, t)
    pv = np.array([[0.1, 0.9, 0.3], [0.5, 0.2, 0.4]])
    got = ev(loss, {p: pv, t: np.array([1, 2], dtype="int32")})
    np.testing.assert_allclose(got, [max(0, 1 + 0.3 - 0.9), 1 + 0.5 - 0.4])


def test_custom_recurrent_refuses_graphs_with_two_inputs():
    l_in = L.InputLayer((2, 3, 4))
    two = L.ElemwiseSumLayer([L.InputLayer((None, 4)), L.InputLayer((None, 4))])
    h2h = L.DenseLayer(L.InputLayer((None, 4)), 4)
    with pytest.raises(ValueError, match="exactly one InputLayer"):
        L.CustomRecurrentLayer(l_in, two, h2h)
    fixed = L.DenseLayer(L.InputLayer((2, 4)), 4)  # batch 2, not 2 * 3
    with pytest.raises(ValueError, match="precompute_input=True"):
        L.CustomRecurrentLayer(l_in, fixed, h2h)


def test_normalization_macros_move_any_nonlinearity_object():
    marker = object()
    base = L.DenseLayer((None, 3), 4)
    base.nonlinearity = marker
    top = L.batch_norm(base)
    assert top.nonlinearity is marker
    assert base.nonlinearity is lasagne.nonlinearities.identity


def test_lstm_lists_hid_init_before_cell_init():
    h0 = L.InputLayer((2, 5))
    c0 = L.InputLayer((2, 5))
    lstm = L.LSTMLayer(L.InputLayer((2, 3, 4)), 5, hid_init=h0, cell_init=c0)
    assert lstm.input_layers[1:] == [h0, c0]
