import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne import utils
from tests.helpers import compile_fn


def test_floatX_and_shared_empty():
    assert utils.floatX([1, 2]).dtype == pytensor.config.floatX
    assert utils.shared_empty(3).get_value().shape == (0, 0, 0)
    assert utils.shared_empty(1, "int32").dtype == "int32"


def test_as_theano_expression():
    x = pt.matrix()
    assert utils.as_theano_expression(x) is x
    np.testing.assert_array_equal(utils.as_theano_expression(np.eye(2)).eval(), np.eye(2))
    with pytest.raises(TypeError, match="not a PyTensor expression"):
        utils.as_theano_expression(object())


def test_collect_shared_vars_order_and_uniqueness():
    a, b, c = (pytensor.shared(np.float64(i), name=n) for i, n in enumerate("abc"))
    x = pt.scalar()
    assert utils.collect_shared_vars([b * x + a, c, a]) == [b, a, c]
    assert utils.collect_shared_vars(x * 2) == []


def test_one_hot_against_numpy():
    x = np.array([2, 0, 1, 2])
    np.testing.assert_array_equal(utils.one_hot(x).eval(), np.eye(3)[x])
    np.testing.assert_array_equal(utils.one_hot(x, 5).eval(), np.eye(5)[x])


def test_unique_keeps_first_order():
    assert utils.unique([3, 1, 3, 2, 1]) == [3, 1, 2]


def test_as_tuple():
    assert utils.as_tuple(2, 3) == (2, 2, 2)
    assert utils.as_tuple((1, 2), 2, int) == (1, 2)
    with pytest.raises(TypeError, match="argument `stride`.*length 2.*got \\(1, 2, 3\\)"):
        utils.as_tuple((1, 2, 3), 2, name="stride", owner="Conv2DLayer 'c1'")
    with pytest.raises(TypeError, match="Conv2DLayer 'c1'.*int"):
        utils.as_tuple((1.5, 2), 2, int, owner="Conv2DLayer 'c1'")


def test_inspect_kwargs():
    def f(a, b=1, *args, c=2, **kw):
        pass
    assert utils.inspect_kwargs(f) == ["b", "c"]


@pytest.mark.parametrize("shape,axes", [((3, 4), None), ((2, 3, 4, 5), None),
                                        ((2, 3, 4), (0, 2)), ((5,), None)])
def test_compute_norms_against_numpy(shape, axes):
    a = np.random.default_rng(0).normal(size=shape)
    expected_axes = axes if axes is not None else ((0,) if len(shape) == 2 else tuple(range(1, len(shape))))
    # a 1-d array (a bias) has nothing to sum over: its norms are |a|
    expected = np.sqrt((a ** 2).sum(axis=expected_axes)) if expected_axes else abs(a)
    np.testing.assert_allclose(utils.compute_norms(a, axes), expected)
    # as in Lasagne, a variable gives an expression, not numbers
    expr = utils.compute_norms(pytensor.shared(a), axes)
    assert isinstance(expr, pytensor.graph.basic.Variable)
    np.testing.assert_allclose(expr.eval(), expected)
    x = pt.tensor(shape=(None,) * len(shape))
    np.testing.assert_allclose(utils.compute_norms(x, axes).eval({x: a}), expected)


def test_compute_norms_refuses_lists():
    with pytest.raises(RuntimeError, match="Unsupported type list"):
        utils.compute_norms([[1.0, 2.0], [3.0, 4.0]])


def test_compute_norms_needs_axes_for_6d():
    with pytest.raises(ValueError, match="norm_axes"):
        utils.compute_norms(np.zeros((1,) * 6))


class TestCreateParam:
    def test_from_array_copies(self):
        a = np.ones((2, 3))
        p = utils.create_param(a, (2, 3), name="W")
        a[0, 0] = 5
        assert p.name == "W" and p.get_value()[0, 0] == 1

    def test_from_shared_and_expression(self):
        s = pytensor.shared(np.zeros((3, 2)))
        assert utils.create_param(s, (3, 2)) is s
        e = s.T
        assert utils.create_param(e, (2, 3)) is e
        with pytest.raises(ValueError, match="shape \\(3, 2\\), should be \\(2, 3\\)"):
            utils.create_param(s, (2, 3))
        with pytest.raises(ValueError, match="1 dimensions, should have 2"):
            utils.create_param(pt.vector(), (2, 3))

    def test_from_callable(self):
        p = utils.create_param(lambda shape: np.full(shape, 7.0), (2,), name="b")
        np.testing.assert_array_equal(p.get_value(), [7, 7])
        with pytest.raises(ValueError, match="returned an array of shape"):
            utils.create_param(lambda shape: np.zeros(3), (2,))
        with pytest.raises(RuntimeError, match="must return a numpy array"):
            utils.create_param(lambda shape: "nope", (2,))

    def test_errors(self):
        with pytest.raises(ValueError, match="wrong|should be"):
            utils.create_param(np.zeros(3), (4,))
        with pytest.raises(ValueError, match="non-positive"):
            utils.create_param(np.zeros(0), (0,))
        with pytest.raises(RuntimeError, match="Pass a numpy array"):
            utils.create_param("W", (2,))


@pytest.mark.parametrize("go_backwards", [False, True])
def test_unroll_scan_matches_scan(go_backwards):
    x = pt.matrix("x")
    w = pt.matrix("w")
    h0 = pt.vector("h0")

    def step(x_t, h_prev, w_):
        return pt.tanh(pt.dot(h_prev, w_) + x_t)

    scanned = pytensor.scan(step, sequences=[x], outputs_info=[h0], non_sequences=[w],
                            go_backwards=go_backwards, return_updates=False)
    [unrolled] = utils.unroll_scan(step, [x], [h0], [w], n_steps=4, go_backwards=go_backwards)
    rng = np.random.default_rng(1)
    vals = [rng.normal(size=(4, 3)), rng.normal(size=(3, 3)), rng.normal(size=3)]
    f = compile_fn([x, w, h0], [scanned, unrolled])
    a, b = f(*vals)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    ga = pytensor.grad(scanned.sum(), w)
    gb = pytensor.grad(unrolled.sum(), w)
    a, b = compile_fn([x, w, h0], [ga, gb])(*vals)
    np.testing.assert_allclose(a, b, rtol=1e-10)


def test_unroll_scan_needs_int_steps():
    with pytest.raises(ValueError, match="n_steps"):
        utils.unroll_scan(lambda a: a, [], [pt.scalar()], [], n_steps=pt.iscalar())
