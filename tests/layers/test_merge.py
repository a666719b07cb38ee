import numpy as np
import pytensor.tensor as pt
import pytest

from lasagne.layers import (ConcatLayer, ElemwiseMergeLayer, ElemwiseSumLayer, ExpressionMergeLayer,
                            InputLayer, autocrop, autocrop_array_shapes)
from tests.helpers import check_layer, random_array


def test_autocrop_modes_against_numpy():
    a, b = random_array((2, 7, 6)), random_array((2, 4, 9), seed=1)
    lower, upper = autocrop([a, b], [None, "lower", "upper"])
    np.testing.assert_array_equal(lower.eval(), a[:, :4, :6])
    np.testing.assert_array_equal(upper.eval(), b[:, :4, 3:])
    ca, cb = autocrop([a, b], [None, "center", "center"])
    np.testing.assert_array_equal(ca.eval(), a[:, 1:5, :])
    np.testing.assert_array_equal(cb.eval(), b[:, :, 1:7])
    assert autocrop([a, b], None) == [a, b]


def test_autocrop_array_shapes():
    shapes = [(1, 2, 3, 4), (5, 6, 7, 8), (5, 4, 3, 2)]
    assert autocrop_array_shapes(shapes, [None, "lower", "center"]) == \
        [(1, 2, 3, 4), (5, 2, 3, 8), (5, 2, 3, 2)]
    assert autocrop_array_shapes([(None, 3), (2, 5)], ["lower", "lower"]) == [(None, 3), (None, 3)]
    with pytest.raises(ValueError, match="unknown cropping mode 'middle'"):
        autocrop_array_shapes(shapes, ["middle"])


class TestConcatLayer:
    @pytest.mark.parametrize("axis", [1, -1, 0])
    def test_against_numpy(self, axis):
        shapes = {1: ((3, 2), (3, 5)), -1: ((3, 2), (3, 5)), 0: ((2, 4), (3, 4))}[axis]
        a, b = InputLayer(shapes[0]), InputLayer(shapes[1])
        va, vb = random_array(shapes[0]), random_array(shapes[1], seed=1)
        layer = ConcatLayer([a, b], axis=axis)
        check_layer(layer, {a: va, b: vb}, reference=np.concatenate([va, vb], axis=axis))

    def test_cropping(self):
        a, b = InputLayer((None, 2, 7)), InputLayer((None, 3, 5))
        layer = ConcatLayer([a, b], axis=1, cropping=[None, None, "center"])
        assert layer.output_shape == (None, 5, 5)
        va, vb = random_array((2, 2, 7)), random_array((2, 3, 5), seed=1)
        check_layer(layer, {a: va, b: vb}, reference=np.concatenate([va[..., 1:6], vb], axis=1),
                    backends=True)

    def test_errors(self):
        a, b = InputLayer((None, 2, 7)), InputLayer((None, 3, 5))
        with pytest.raises(ValueError, match="ConcatLayer 'c'.*mismatch.*dimension 2 differs.*cropping"):
            ConcatLayer([a, b], name="c")
        with pytest.raises(ValueError, match="same number of dimensions"):
            ConcatLayer([a, InputLayer((None, 3))])


class TestElemwise:
    def test_merge_function(self):
        a, b = InputLayer((None, 3)), InputLayer((None, 3))
        va, vb = random_array((4, 3)), random_array((4, 3), seed=1)
        check_layer(ElemwiseMergeLayer([a, b], pt.maximum), {a: va, b: vb},
                    reference=np.maximum(va, vb))

    def test_sum_with_coeffs(self):
        a, b, c = (InputLayer((None, 3)) for _ in range(3))
        vals = [random_array((4, 3), seed=i) for i in range(3)]
        layer = ElemwiseSumLayer([a, b, c], coeffs=[1, -2, 0.5])
        check_layer(layer, dict(zip([a, b, c], vals)),
                    reference=vals[0] - 2 * vals[1] + 0.5 * vals[2], backends=True)
        assert ElemwiseSumLayer([a, b], coeffs=3).coeffs == [3, 3]

    def test_cropping_and_errors(self):
        a, b = InputLayer((None, 4)), InputLayer((None, 6))
        layer = ElemwiseSumLayer([a, b], cropping=[None, "lower"])
        assert layer.output_shape == (None, 4)
        with pytest.raises(ValueError, match="ElemwiseSumLayer.*mismatch.*dimension 1"):
            ElemwiseSumLayer([a, b])
        with pytest.raises(ValueError, match="`coeffs` has 3 entries for 2 inputs"):
            ElemwiseSumLayer([a, a], coeffs=[1, 2, 3])
        with pytest.raises(TypeError, match="callable"):
            ElemwiseMergeLayer([a, a], "add")


class TestExpressionMergeLayer:
    def cosine(self, u, v):
        return (u * v).sum(axis=1) / pt.sqrt((u ** 2).sum(axis=1) * (v ** 2).sum(axis=1))

    def test_cosine_similarity_against_numpy(self):
        a, b = InputLayer((None, 5)), InputLayer((None, 5))
        layer = ExpressionMergeLayer([a, b], self.cosine, output_shape="auto")
        assert layer.output_shape == (None,)
        va, vb = random_array((4, 5)), random_array((4, 5), seed=1)
        ref = (va * vb).sum(1) / np.linalg.norm(va, axis=1) / np.linalg.norm(vb, axis=1)
        check_layer(layer, {a: va, b: vb}, reference=ref, backends=True)

    def test_batched_dot_and_shape_forms(self):
        a, b = InputLayer((None, 3, 4)), InputLayer((None, 4, 2))
        layer = ExpressionMergeLayer([a, b], pt.matmul, output_shape="auto")
        assert layer.output_shape == (None, 3, 2)
        va, vb = random_array((2, 3, 4)), random_array((2, 4, 2), seed=1)
        check_layer(layer, {a: va, b: vb}, reference=np.einsum("bij,bjk->bik", va, vb))
        fixed = ExpressionMergeLayer([a, b], pt.matmul, output_shape=(None, 3, 2))
        assert fixed.output_shape == (None, 3, 2)
        fn = ExpressionMergeLayer([a, b], pt.matmul, output_shape=lambda s: (s[0][0], s[0][1], s[1][2]))
        assert fn.output_shape == (None, 3, 2)
        assert ExpressionMergeLayer([a, b], lambda u, v: u).output_shape == (None, 3, 4)

    def test_errors(self):
        a, b = InputLayer((None, 3)), InputLayer((None, 4))
        with pytest.raises(ValueError, match="ExpressionMergeLayer 'm'.*could not infer.*Pass output_shape"):
            ExpressionMergeLayer([a, b], lambda u, v: u + v, output_shape="auto", name="m")
        with pytest.raises(TypeError, match="`function` must be callable"):
            ExpressionMergeLayer([a, b], None)
