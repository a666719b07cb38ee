"""Transposed convolutions follow Lasagne 0.2's flip convention.

Lasagne's ``TransposedConv{2,3}DLayer`` is the input-gradient of a
convolution whose ``filter_flip`` is ``not flip_filters``. Two independent
checks pin that down:

* the adjoint identity ``<conv(x), y> == <x, deconv(y)>`` for a deconvolution
  tied to a convolution as Lasagne documents it
  (``W=conv.W, flip_filters=not conv.flip_filters``), and
* a numpy reference written from Lasagne's own description of the layer:
  dilate the input by ``stride - 1`` zeros, pad it by
  ``filter_size - 1 - crop``, and slide the filters over it, flipping them
  only when ``flip_filters=True``.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from lasagne.layers import (Conv2DLayer, Conv3DLayer, InputLayer,
                            TransposedConv2DLayer, TransposedConv3DLayer,
                            get_output)
from lasagne.ops.conv import conv, conv_transpose
from tests.helpers import FAST, random_array

CONV = {2: Conv2DLayer, 3: Conv3DLayer}
DECONV = {2: TransposedConv2DLayer, 3: TransposedConv3DLayer}


def described_transposed(x, W, stride, crop, out_size, flip):
    """Lasagne's description, step by step (any number of spatial dims).

    x: (batch, in_channels, *spatial); W: (in_channels, num_filters, *k).
    """
    nd = x.ndim - 2
    k = W.shape[2:]
    # 1. dilate: stride - 1 zeros between neighbouring input elements
    dil = np.zeros(x.shape[:2] + tuple((n - 1) * s + 1 for n, s in
                                       zip(x.shape[2:], stride)))
    dil[(slice(None),) * 2 + tuple(slice(None, None, s) for s in stride)] = x
    # 2. pad by filter_size - 1 - crop (negative = cut), plus the extra
    #    trailing rows an explicit output_size asks for
    for d in range(nd):
        before = k[d] - 1 - crop[d]
        natural = (x.shape[2 + d] - 1) * stride[d] + k[d] - 2 * crop[d]
        after = before + out_size[d] - natural
        widths = [(0, 0)] * dil.ndim
        widths[2 + d] = (max(before, 0), max(after, 0))
        dil = np.pad(dil, widths)
        stop = dil.shape[2 + d] - max(-after, 0)
        dil = dil[(slice(None),) * (2 + d) + (slice(max(-before, 0), stop),)]
    # 3. slide the filters (a correlation), flipped if flip_filters
    if flip:
        W = W[(slice(None),) * 2 + (slice(None, None, -1),) * nd]
    windows = np.lib.stride_tricks.sliding_window_view(
        dil, k, axis=tuple(range(2, 2 + nd)))
    letters = "xyz"[:nd]
    return np.einsum(f"bc{letters.upper()}{letters},cf{letters}->bf"
                     f"{letters.upper()}", windows, W)


# (nd, input spatial size, filter, stride, pad/crop)
GEOMETRIES = [
    (2, (7, 6), (3, 3), (1, 1), (0, 0)),
    (2, (9, 8), (3, 2), (2, 3), (1, 0)),
    (2, (8, 8), (4, 4), (2, 2), (2, 1)),
    (3, (5, 6, 4), (3, 2, 2), (2, 1, 2), (1, 0, 1)),
    (3, (4, 4, 4), (2, 2, 2), (1, 1, 1), (0, 0, 0)),
]


def _tied_pair(nd, size, filt, stride, pad, conv_flip):
    """A convolution and the deconvolution tied to it as Lasagne shows."""
    l_x = InputLayer((2, 3) + size)
    fwd = CONV[nd](l_x, 4, filt, stride=stride, pad=pad, b=None,
                   nonlinearity=None, flip_filters=conv_flip)
    l_y = InputLayer(fwd.output_shape)
    back = DECONV[nd](l_y, 3, filt, stride=stride, crop=pad, W=fwd.W,
                      b=None, nonlinearity=None,
                      flip_filters=not conv_flip, output_size=size)
    assert back.output_shape == l_x.output_shape
    return l_x, fwd, l_y, back


@pytest.mark.parametrize("conv_flip", [True, False], ids=["flip", "noflip"])
@pytest.mark.parametrize("nd, size, filt, stride, pad", GEOMETRIES)
def test_tied_deconv_is_the_adjoint_of_conv(nd, size, filt, stride, pad,
                                            conv_flip):
    l_x, fwd, l_y, back = _tied_pair(nd, size, filt, stride, pad, conv_flip)
    f = pytensor.function([l_x.input_var, l_y.input_var],
                          [get_output(fwd), get_output(back)], mode=FAST)
    x = random_array(l_x.shape)
    y = random_array((2,) + fwd.output_shape[1:])
    cx, dy = f(x, y)
    assert cx.shape == y.shape and dy.shape == x.shape
    np.testing.assert_allclose(np.sum(cx * y), np.sum(x * dy), rtol=1e-9)


@pytest.mark.parametrize("flip", [True, False], ids=["flip", "noflip"])
@pytest.mark.parametrize("stride, crop, output_size", [
    (1, 0, None), (2, 0, None), ((2, 3), (1, 2), None), (2, 1, (10, 9)),
    (3, (0, 1), (17, 12)), (1, "same", None), (1, "full", None),
    (1, "valid", None),
])
def test_transposed_conv2d_matches_lasagne_description(stride, crop,
                                                       output_size, flip):
    layer = TransposedConv2DLayer(InputLayer((None, 3, 5, 4)), 2, 3,
                                  stride=stride, crop=crop,
                                  output_size=output_size, flip_filters=flip,
                                  b=None, nonlinearity=None)
    x = random_array((2, 3, 5, 4))
    got = pytensor.function([layer.input_layer.input_var], get_output(layer),
                            mode=FAST)(x)
    s = (stride,) * 2 if isinstance(stride, int) else stride
    c = {"same": 1, "full": 2, "valid": 0}.get(crop, crop)
    c = (c, c) if isinstance(c, int) else c
    want = described_transposed(x, layer.W.get_value(), s, c,
                                 layer.output_shape[2:], flip)
    assert got.shape == want.shape == (2, 2) + layer.output_shape[2:]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("flip", [True, False], ids=["flip", "noflip"])
def test_transposed_conv3d_matches_lasagne_description(flip):
    layer = TransposedConv3DLayer(InputLayer((None, 2, 3, 4, 2)), 3,
                                  (2, 3, 2), stride=(2, 1, 3), crop=(1, 1, 0),
                                  output_size=(5, 4, 6), flip_filters=flip,
                                  b=None, nonlinearity=None)
    x = random_array((1, 2, 3, 4, 2))
    got = pytensor.function([layer.input_layer.input_var], get_output(layer),
                            mode=FAST)(x)
    want = described_transposed(x, layer.W.get_value(), (2, 1, 3),
                                (1, 1, 0), (5, 4, 6), flip)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_unflipped_default_is_the_scatter_of_flipped_filters():
    # flip_filters=False (the default): each input pixel paints the
    # *flipped* filter; a single one-hot input shows it directly.
    layer = TransposedConv2DLayer(InputLayer((1, 1, 1, 1)), 1, (2, 3),
                                  b=None, nonlinearity=None)
    W = np.arange(6.0).reshape(1, 1, 2, 3)
    layer.W.set_value(W)
    out = get_output(layer, np.ones((1, 1, 1, 1))).eval()
    np.testing.assert_array_equal(out[0, 0], W[0, 0, ::-1, ::-1])


@pytest.mark.parametrize("flip", [True, False], ids=["flip", "noflip"])
@pytest.mark.parametrize("stride, pad, out", [(1, 0, 9), (2, 1, 10),
                                              (3, 2, 12)])
def test_1d_transpose_is_the_adjoint_at_the_op_level(stride, pad, out, flip):
    # No TransposedConv1DLayer exists (nor in Lasagne); the op the 2-d and
    # 3-d layers use is checked in 1-d against the same two references.
    x, y, w = pt.tensor3("x"), pt.tensor3("y"), pt.tensor3("w")
    fwd = conv(x, w, stride=stride, padding=pad, filter_flip=flip)
    back = conv_transpose(y, w, (out,), stride=stride, padding=pad,
                          filter_flip=flip)
    f = pytensor.function([x, y, w], [fwd, back], mode=FAST)
    xv, wv = random_array((2, 3, out)), random_array((4, 3, 3))
    n_out = (out + 2 * pad - 3) // stride + 1
    yv = random_array((2, 4, n_out))
    cx, dy = f(xv, yv, wv)
    np.testing.assert_allclose(np.sum(cx * yv), np.sum(xv * dy), rtol=1e-9)
    # the layer's rule: the transpose of conv(filter_flip=flip) is the
    # description with flip_filters = not flip, filters (in, out)-swapped
    want = described_transposed(yv, wv, (stride,), (pad,), (out,), not flip)
    np.testing.assert_allclose(dy, want, rtol=1e-10, atol=1e-12)
