"""The drop-in convolutions (dnn, corrmm) compute what the standard layers
compute."""
import numpy as np
import pytest

from lasagne.layers import (Conv2DLayer, Conv3DLayer, InputLayer, get_output,
                            set_all_param_values, get_all_param_values)
from lasagne.layers.dnn import Conv2DDNNLayer, Conv3DDNNLayer
from tests.helpers import check_layer, compile_fn, random_array


@pytest.mark.parametrize("dnn_cls, cls, shape, pad", [
    (Conv2DDNNLayer, Conv2DLayer, (2, 2, 5, 4), "same"),
    (Conv2DDNNLayer, Conv2DLayer, (2, 2, 5, 4), (1, 0)),
    (Conv3DDNNLayer, Conv3DLayer, (2, 1, 3, 4, 3), "full"),
])
def test_dnn_conv_matches_standard_layer(dnn_cls, cls, shape, pad):
    # Regression: the DNN convolutions had no convolve(), so get_output
    # raised NotImplementedError.
    l_in = InputLayer(shape)
    ours = dnn_cls(l_in, 3, 2, pad=pad, nonlinearity=None)
    ref = cls(l_in, 3, 2, pad=pad, flip_filters=False, nonlinearity=None)
    set_all_param_values(ref, get_all_param_values(ours))
    x = random_array(shape)
    expected = compile_fn([l_in.input_var], get_output(ref))(x)
    check_layer(ours, x, reference=expected)


def test_corrmm_full_pad_matches_conv2d():
    # Regression: Conv2DMMLayer passed pad='full' to the conv Op, which
    # cannot resolve it without W's static shape (ValueError at get_output).
    from lasagne.layers.corrmm import Conv2DMMLayer
    l_in = InputLayer((2, 2, 4, 4))
    ours = Conv2DMMLayer(l_in, 3, (3, 2), pad="full", nonlinearity=None)
    ref = Conv2DLayer(l_in, 3, (3, 2), pad="full", flip_filters=False,
                      nonlinearity=None)
    set_all_param_values(ref, get_all_param_values(ours))
    x = random_array((2, 2, 4, 4))
    expected = compile_fn([l_in.input_var], get_output(ref))(x)
    assert check_layer(ours, x, reference=expected).shape == (2, 3, 6, 5)
