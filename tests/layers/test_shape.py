import numpy as np
import pytensor.tensor as pt
import pytest

from lasagne.layers import (DimshuffleLayer, FlattenLayer, InputLayer, PadLayer,
                            ReshapeLayer, SliceLayer, get_output)
from tests.helpers import check_layer, random_array


class TestFlattenLayer:
    @pytest.mark.parametrize("outdim", [1, 2, 3])
    def test_against_numpy(self, outdim):
        x = random_array((2, 3, 4, 5))
        layer = FlattenLayer(InputLayer((None, 3, 4, 5)), outdim=outdim)
        check_layer(layer, x, reference=x.reshape(x.shape[:outdim - 1] + (-1,)))

    def test_unknown_sizes_and_errors(self):
        assert FlattenLayer(InputLayer((2, None, 3))).output_shape == (2, None)
        with pytest.raises(ValueError, match="`outdim`.*1 to the input's 2"):
            FlattenLayer(InputLayer((2, 3)), outdim=3)


class TestReshapeLayer:
    @pytest.mark.parametrize("in_shape,shape,expected", [
        ((None, 6, 4), ([0], 3, -1), (None, 3, 8)),
        ((None, 6, 4), ([0], [2], [1]), (None, 4, 6)),
        ((2, 6, 4), (-1,), (48,)),
        ((2, None, 4), ([0], -1, 2), (2, None, 2)),
        ((None, 12), ([0], 3, 2, 2), (None, 3, 2, 2)),
    ])
    def test_shapes_and_values(self, in_shape, shape, expected):
        layer = ReshapeLayer(InputLayer(in_shape), shape)
        assert layer.output_shape == expected
        concrete = tuple(5 if s is None else s for s in in_shape)
        x = random_array(concrete)
        target = [concrete[s[0]] if isinstance(s, list) else s for s in shape]
        check_layer(layer, x, reference=x.reshape(target))

    def test_symbolic_entry(self):
        n = pt.iscalar("n")
        layer = ReshapeLayer(InputLayer((None, 6)), ([0], n, -1))
        assert layer.output_shape == (None, None, None)
        out = get_output(layer).eval({layer.input_layer.input_var: random_array((2, 6)), n: 3})
        assert out.shape == (2, 3, 2)

    @pytest.mark.parametrize("shape,match", [
        (([0], 5), "cannot reshape.*\\(None, 6\\)"), ((-1, -1), "-1 at most once"),
        ((0, 6), "must be positive"), (([7], 6), "one-element list"), (("a",), "int, \\[int\\]"),
        ((7, -1), "not divisible"),
    ])
    def test_errors(self, shape, match):
        in_shape = (None, 6) if shape != (7, -1) else (2, 6)
        with pytest.raises(ValueError, match=match):
            ReshapeLayer(InputLayer(in_shape), shape)


class TestDimshuffleLayer:
    def test_against_numpy(self):
        x = random_array((2, 3, 1))
        layer = DimshuffleLayer(InputLayer((None, 3, 1)), (1, "x", 0))
        assert layer.output_shape == (3, 1, None)
        check_layer(layer, x, reference=x[..., 0].T[:, None, :], backends=True)

    def test_errors(self):
        with pytest.raises(ValueError, match="drops input dimension 1 of size 3"):
            DimshuffleLayer(InputLayer((None, 3)), (0,))
        with pytest.raises(ValueError, match="more than once"):
            DimshuffleLayer(InputLayer((None, 3)), (0, 0))
        with pytest.raises(ValueError, match="integers or 'x'"):
            DimshuffleLayer(InputLayer((None, 3)), (0, "y"))
        with pytest.raises(ValueError, match="refers to dimension 5"):
            DimshuffleLayer(InputLayer((None, 3)), (0, 5))


class TestPadLayer:
    @pytest.mark.parametrize("width,batch_ndim", [(1, 2), ((1, (2, 0)), 2), ([(0, 3)], 1), (2, 0)])
    def test_against_numpy(self, width, batch_ndim):
        x = random_array((2, 3, 4, 5))
        layer = PadLayer(InputLayer((None, 3, 4, 5)), width, val=-2, batch_ndim=batch_ndim)
        n_axes = 4 - batch_ndim
        if isinstance(width, int):
            pads = [(width, width)] * n_axes
        else:
            pads = [(w, w) if isinstance(w, int) else w for w in width]
            pads += [(0, 0)] * (n_axes - len(pads))
        ref = np.pad(x, [(0, 0)] * batch_ndim + pads, constant_values=-2)
        check_layer(layer, x, reference=ref)

    def test_errors(self):
        with pytest.raises(ValueError, match="`batch_ndim`"):
            PadLayer(InputLayer((None, 3)), 1, batch_ndim=2)
        with pytest.raises(ValueError, match="non-negative"):
            PadLayer(InputLayer((None, 3, 3)), -1)


class TestSliceLayer:
    @pytest.mark.parametrize("indices,axis", [(slice(2, None, 2), 1), (-1, 1), (0, -1), (slice(None, -1), 2)])
    def test_against_numpy(self, indices, axis):
        x = random_array((2, 10, 4))
        layer = SliceLayer(InputLayer((None, 10, 4)), indices, axis=axis)
        index = [slice(None)] * (axis % 3) + [indices]
        check_layer(layer, x, reference=x[tuple(index)])

    def test_errors(self):
        with pytest.raises(ValueError, match="`indices` 10 is out of range for axis 1 of size 10"):
            SliceLayer(InputLayer((None, 10)), 10, axis=1)
        with pytest.raises(ValueError, match="`axis` 3"):
            SliceLayer(InputLayer((None, 10)), 0, axis=3)
        with pytest.raises(TypeError, match="int or a slice"):
            SliceLayer(InputLayer((None, 10)), [1, 2])
