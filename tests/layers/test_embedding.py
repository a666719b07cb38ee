import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne.layers import EmbeddingLayer, InputLayer, get_output
from tests.helpers import assert_backends_agree, compile_fn


def test_lookup_shape_and_gradient():
    l_in = InputLayer((None, 3), input_var=pt.imatrix("idx"))
    layer = EmbeddingLayer(l_in, input_size=10, output_size=4, name="emb")
    assert layer.output_shape == (None, 3, 4) and layer.W.name == "emb.W"
    idx = np.array([[1, 2, 1], [9, 0, 3]], dtype="int32")
    out = get_output(layer)
    W = layer.W.get_value()
    np.testing.assert_array_equal(compile_fn([l_in.input_var], out)(idx), W[idx])
    grad = compile_fn([l_in.input_var], pytensor.grad(out.sum(), layer.W))(idx)
    np.testing.assert_array_equal(grad[:, 0], np.bincount(idx.ravel(), minlength=10))
    assert_backends_agree([l_in.input_var], out, [idx], reference=W[idx])


def test_errors():
    with pytest.raises(ValueError, match="EmbeddingLayer.*`input_size` must be a positive integer, got 0"):
        EmbeddingLayer(InputLayer((None, 3)), 0, 4)
    layer = EmbeddingLayer(InputLayer((None, 3)), 5, 4)
    with pytest.raises(TypeError, match="integer dtype"):
        get_output(layer)
