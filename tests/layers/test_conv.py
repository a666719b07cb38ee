"""Convolutional layers against explicit numpy references."""
import itertools

import numpy as np
import pytensor
import pytest

from lasagne import nonlinearities
from lasagne.layers import (Conv1DLayer, Conv2DLayer, Conv3DLayer,
                            Deconv2DLayer, DilatedConv2DLayer, InputLayer,
                            TransposedConv2DLayer, TransposedConv3DLayer,
                            get_all_params, get_output)
from lasagne.layers.conv import (BaseConvLayer, conv_input_length,
                                 conv_output_length)
from lasagne.layers.corrmm import Conv2DMMLayer, gpu_enabled
from lasagne.theano_extensions import conv as tconv
from tests.helpers import (assert_backends_agree, backend_params, check_layer,
                           random_array)
from tests.ops.test_conv import reference_conv


def pads_for(pad, filter_size):
    """Per-side padding the layers use for a Lasagne `pad`."""
    if pad == "valid":
        return (0,) * len(filter_size), (0,) * len(filter_size)
    if pad == "full":
        return tuple(f - 1 for f in filter_size), tuple(
            f - 1 for f in filter_size)
    if pad == "same":
        before = tuple((f - 1) // 2 for f in filter_size)
        return before, tuple(f - 1 - b for f, b in zip(filter_size, before))
    pad = (pad,) * len(filter_size) if isinstance(pad, int) else pad
    return pad, pad


def layer_reference(layer, x):
    W = layer.W.get_value()
    pb, pa = pads_for(layer.pad, layer.filter_size)
    y = reference_conv(x, W, layer.stride, (1,) * layer.n, pb, pa,
                       layer.num_groups, layer.flip_filters)
    b = layer.b.get_value()
    y = y + (b[None] if layer.untie_biases else
             b.reshape((1, -1) + (1,) * layer.n))
    return y


def test_conv_output_and_input_length():
    assert conv_output_length(None, 3, 1) is None
    assert conv_output_length(10, 3, 1, "valid") == 8
    assert conv_output_length(10, 3, 1, "full") == 12
    assert conv_output_length(10, 3, 2, "same") == 5
    assert conv_output_length(10, 3, 3, 2) == 4
    assert conv_input_length(None, 3, 1) is None
    assert conv_input_length(8, 3, 1, "valid") == 10
    assert conv_input_length(4, 3, 2, 1) == 7
    for fn in (conv_output_length, conv_input_length):
        with pytest.raises(ValueError, match="Invalid pad: 'wide'"):
            fn(10, 3, 1, "wide")


CONV2D_CASES = list(itertools.product(
    [0, 1, (2, 0), "valid", "full", "same"], [1, 2, (1, 3)], [(3, 3), (2, 3)]))


@pytest.mark.parametrize("pad, stride, filter_size", CONV2D_CASES)
def test_conv2d_shapes_and_values(pad, stride, filter_size):
    x = random_array((2, 3, 9, 8))
    layer = Conv2DLayer(InputLayer((None, 3, 9, 8)), 4, filter_size,
                        stride=stride, pad=pad, nonlinearity=None,
                        b=np.arange(4.0))
    check_layer(layer, x, reference=layer_reference(layer, x))


@pytest.mark.parametrize("flip", [True, False])
def test_conv2d_options(flip):
    x = random_array((2, 4, 6, 6))
    layer = Conv2DLayer(InputLayer((2, 4, 6, 6)), 6, 3, pad=1,
                        untie_biases=True, flip_filters=flip, num_groups=2,
                        b=random_array((6, 6, 6), seed=3),
                        nonlinearity=nonlinearities.rectify)
    assert layer.W.get_value().shape == (6, 2, 3, 3)
    assert layer.b.get_value().shape == (6, 6, 6)
    expected = np.maximum(layer_reference(layer, x), 0)
    check_layer(layer, x, reference=expected)
    assert layer.get_params(regularizable=True) == [layer.W]


def test_conv2d_custom_theano_style_convolution():
    calls = []

    def my_conv2d(input, filters, input_shape, filter_shape, subsample,
                  border_mode, filter_flip):
        calls.append((input_shape, filter_shape, subsample, border_mode,
                      filter_flip))
        from lasagne.ops.conv import conv2d
        return conv2d(input, filters, input_shape, filter_shape,
                      subsample=subsample, border_mode=border_mode,
                      filter_flip=filter_flip)

    layer = Conv2DLayer(InputLayer((None, 1, 5, 5)), 2, 3, pad="same",
                        convolution=my_conv2d, nonlinearity=None)
    x = random_array((1, 1, 5, 5))
    check_layer(layer, x, reference=layer_reference(layer, x))
    assert calls[0] == ((None, 1, 5, 5), (2, 1, 3, 3), (1, 1), "half", True)


@pytest.mark.parametrize("convolution", [
    tconv.conv1d_mc0, tconv.conv1d_mc1, tconv.conv1d_sc, tconv.conv1d_sd,
    tconv.conv1d_md, tconv.conv1d_unstrided])
@pytest.mark.parametrize("flip", [True, False])
def test_conv1d_layer_every_implementation(convolution, flip):
    x = random_array((2, 3, 11))
    # filter length 4: conv1d_sd, _md and _unstrided need a multiple of the
    # stride, as in Lasagne
    layer = Conv1DLayer(InputLayer((None, 3, 11)), 4, 4, stride=2,
                        nonlinearity=None, flip_filters=flip,
                        convolution=convolution, b=np.ones(4))
    check_layer(layer, x, reference=layer_reference(layer, x))


@pytest.mark.parametrize("pad", [0, 2, "full", "same"])
def test_conv1d_padding(pad):
    x = random_array((2, 2, 7))
    layer = Conv1DLayer(InputLayer((None, 2, 7)), 3, 4, pad=pad,
                        nonlinearity=None)
    check_layer(layer, x, reference=layer_reference(layer, x))


@pytest.mark.parametrize("pad, stride", [(0, 1), ("same", 2), (1, (1, 2, 1)),
                                         ("full", 1)])
def test_conv3d_layer(pad, stride):
    x = random_array((2, 2, 5, 4, 6))
    layer = Conv3DLayer(InputLayer((None, 2, 5, 4, 6)), 3, (3, 2, 3),
                        stride=stride, pad=pad, nonlinearity=None)
    check_layer(layer, x, reference=layer_reference(layer, x))


def test_base_conv_layer_infers_n():
    layer = BaseConvLayer(InputLayer((None, 2, 7)), 3, 3)
    assert layer.n == 1 and layer.output_shape == (None, 3, 5)
    with pytest.raises(NotImplementedError):
        get_output(layer)


def reference_transposed(x, W, stride, crop, out_size, flip):
    """out[b, f, i*s + k - crop] += x[b, c, i] * W'[c, f, k] (2-d), where
    W' is W flipped when ``flip_filters=False``: as in Lasagne, the layer is
    the input-gradient of a convolution with ``filter_flip=not flip``."""
    if not flip:
        W = W[:, :, ::-1, ::-1]
    B, C, H, Wd = x.shape
    F = W.shape[1]
    kh, kw = W.shape[2:]
    full = np.zeros((B, F, (H - 1) * stride[0] + kh + out_size[0],
                     (Wd - 1) * stride[1] + kw + out_size[1]))
    for i, j, a, b in itertools.product(range(H), range(Wd), range(kh),
                                        range(kw)):
        full[:, :, i * stride[0] + a, j * stride[1] + b] += np.einsum(
            "bc,cf->bf", x[:, :, i, j], W[:, :, a, b])
    return full[:, :, crop[0]:crop[0] + out_size[0],
                crop[1]:crop[1] + out_size[1]]


@pytest.mark.parametrize("stride, crop, output_size, flip", [
    ((1, 1), 0, None, False), ((2, 2), 0, None, True),
    ((2, 3), (1, 0), None, False), ((2, 2), 1, (8, 8), False),
    ((1, 1), "same", None, False), ((1, 1), "full", None, True),
])
def test_transposed_conv2d(stride, crop, output_size, flip):
    x = random_array((2, 3, 4, 4))
    layer = TransposedConv2DLayer(InputLayer((None, 3, 4, 4)), 2, 3,
                                  stride=stride, crop=crop,
                                  output_size=output_size, flip_filters=flip,
                                  nonlinearity=None)
    assert layer.W.get_value().shape == (3, 2, 3, 3)
    c = {"same": 1, "full": 2}.get(crop, crop)
    c = (c, c) if isinstance(c, int) else c
    out_size = layer.output_shape[2:]
    expected = reference_transposed(x, layer.W.get_value(), stride, c,
                                    out_size, flip)
    check_layer(layer, x, reference=expected)
    assert Deconv2DLayer is TransposedConv2DLayer


def test_transposed_conv_inverts_conv_shape():
    l_in = InputLayer((None, 3, 15, 15))
    conv = Conv2DLayer(l_in, 5, 3, stride=2, pad=1)
    deconv = TransposedConv2DLayer(conv, 3, 3, stride=2, crop=1,
                                   output_size=(15, 15))
    assert deconv.output_shape == l_in.output_shape
    x = random_array((1, 3, 15, 15))
    check_layer(deconv, x)


def test_transposed_conv3d():
    x = random_array((1, 2, 2, 3, 2))
    layer = TransposedConv3DLayer(InputLayer((None, 2, 2, 3, 2)), 1, 2,
                                  stride=2, nonlinearity=None)
    out = check_layer(layer, x)
    assert out.shape == (1, 1, 4, 6, 4)
    W = layer.W.get_value()
    # no overlap with stride == kernel: each input pixel paints a block,
    # the flipped filter (flip_filters=False, as in Lasagne)
    np.testing.assert_allclose(
        out[0, 0, 2:4, 4:6, 0:2],
        np.einsum("c,cxyz->xyz", x[0, :, 1, 2, 0], W[:, 0, ::-1, ::-1, ::-1]),
        rtol=1e-6)


@pytest.mark.parametrize("dilation, pad, flip", [
    ((1, 1), 0, False), ((2, 3), 0, False), ((2, 2), "same", True),
    ((3, 1), 1, False)])
def test_dilated_conv2d(dilation, pad, flip):
    x = random_array((2, 3, 12, 11))
    layer = DilatedConv2DLayer(InputLayer((None, 3, 12, 11)), 4, 3,
                               dilation=dilation, pad=pad, flip_filters=flip,
                               nonlinearity=None, b=None)
    W = layer.W.get_value()
    assert W.shape == (3, 4, 3, 3)
    size = [(3 - 1) * d + 1 for d in dilation]
    if pad == "same":
        pb = tuple((s - 1) // 2 for s in size)
        pa = tuple(s - 1 - b for s, b in zip(size, pb))
    else:
        pb = pa = (pad, pad)
    expected = reference_conv(x, W.transpose(1, 0, 2, 3), (1, 1), dilation,
                              pb, pa, 1, flip)
    check_layer(layer, x, reference=expected)


def test_conv2dmm_layer():
    x = random_array((2, 4, 7, 7))
    layer = Conv2DMMLayer(InputLayer((None, 4, 7, 7)), 4, 3, pad="same",
                          num_groups=2, nonlinearity=None)
    assert layer.flip_filters is False
    check_layer(layer, x, reference=layer_reference(layer, x))
    assert isinstance(gpu_enabled, bool)


@pytest.mark.parametrize("backend", backend_params())
def test_layers_agree_on_backends(backend):
    l_in = InputLayer((None, 2, 9, 9))
    net = Conv2DLayer(l_in, 4, 3, stride=2, pad="same", num_groups=2)
    net = TransposedConv2DLayer(net, 3, 3, stride=2, crop=1,
                                output_size=(9, 9))
    net = DilatedConv2DLayer(net, 2, 2, dilation=2)
    loss = (get_output(net) ** 2).sum()
    grads = pytensor.grad(loss, get_all_params(net))
    x = random_array((3, 2, 9, 9))
    assert_backends_agree([l_in.input_var], [loss] + grads, [x],
                          rtol=1e-4, atol=1e-4, backends=[backend])


@pytest.mark.parametrize("make, match", [
    (lambda: Conv2DLayer((None, 3, 8, 8), 4, 3, pad="wide", name="c1"),
     r"Conv2DLayer 'c1'.*`pad`.*'wide'"),
    (lambda: Conv2DLayer((None, 3, 8), 4, 3, name="c2"),
     r"Conv2DLayer 'c2'.*4-d input.*\(None, 3, 8\)"),
    (lambda: Conv1DLayer((None, 3, 8, 8), 4, 3),
     r"Conv1DLayer.*3-d input"),
    (lambda: Conv2DLayer((None, 3, 8, 8), 0, 3, name="c3"),
     r"Conv2DLayer 'c3'.*`num_filters`.*0"),
    (lambda: Conv2DLayer((None, 3, 8, 8), 4, (3, -1), name="c4"),
     r"Conv2DLayer 'c4'.*`filter_size`.*\(3, -1\)"),
    (lambda: Conv3DLayer((None, 3, 8, 8, 8), 4, 3, stride=0, name="c5"),
     r"Conv3DLayer 'c5'.*`stride`.*0"),
    (lambda: Conv2DLayer((None, 3, 8, 8), 4, 3, num_groups=2),
     r"3 input channels.*num_groups=2"),
    (lambda: Conv2DLayer((None, 4, 8, 8), 3, 3, num_groups=2),
     r"num_filters=3.*num_groups=2"),
    (lambda: Conv2DLayer((None, 4, 8, 8), 3, 3, pad=-1, name="c6"),
     r"Conv2DLayer 'c6'.*`pad`.*non-negative"),
    (lambda: TransposedConv2DLayer((None, 4, 8, 8), 3, 3,
                                   output_size=(0, 3)),
     r"output_size"),
    (lambda: Conv2DLayer((None, 3, 8, 8), 4, (3, 3, 3), name="c7"),
     r"Conv2DLayer 'c7'.*filter_size"),
])
def test_constructor_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_symbolic_batch_and_spatial_sizes():
    l_in = InputLayer((None, 2, None, None))
    layer = Conv2DLayer(l_in, 3, 3, pad="same", stride=2)
    assert layer.output_shape == (None, 3, None, None)
    deconv = TransposedConv2DLayer(layer, 2, 3, stride=2, crop=1)
    assert deconv.output_shape == (None, 2, None, None)
    f = pytensor.function([l_in.input_var], get_output(deconv),
                          mode="FAST_COMPILE")
    assert f(random_array((2, 2, 7, 5))).shape == (2, 2, 7, 5)
