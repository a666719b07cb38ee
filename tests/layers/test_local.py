"""LocallyConnected2DLayer against an explicit per-position reference."""
import itertools

import numpy as np
import pytest

from lasagne.layers import InputLayer, LocallyConnected2DLayer
from tests.helpers import backend_params, check_layer, random_array


def reference_local(x, W, b, flip, channelwise):
    """out[b, f, i, j] = sum_{c, a, d} W[f, c, a, d, i, j] * xpad[b, c, i+a, j+d]."""
    if channelwise:   # output channel f sees only input channel f
        W = np.einsum("fc,fxyij->fcxyij", np.eye(W.shape[0]), W)
    if flip:
        W = W[:, :, ::-1, ::-1]
    F, C, kh, kw, H, Wd = W.shape
    xp = np.pad(x, [(0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)])
    out = np.zeros((x.shape[0], F, H, Wd))
    for i, j in itertools.product(range(H), range(Wd)):
        patch = xp[:, :, i:i + kh, j:j + kw]
        out[:, :, i, j] = np.einsum("bcxy,fcxy->bf", patch, W[..., i, j])
    return out + b.reshape(1, F, 1, 1)


@pytest.mark.parametrize("channelwise", [False, True])
@pytest.mark.parametrize("flip", [True, False])
def test_locally_connected(channelwise, flip):
    x = random_array((2, 3, 5, 4))
    layer = LocallyConnected2DLayer(InputLayer((None, 3, 5, 4)), 3, (3, 1),
                                    channelwise=channelwise,
                                    flip_filters=flip, nonlinearity=None,
                                    b=np.arange(3.0))
    expected_W = (3,) + ((3, 1) if channelwise else (3, 3, 1)) + (5, 4)
    assert layer.W.get_value().shape == expected_W
    expected = reference_local(x, layer.W.get_value(), layer.b.get_value(),
                               flip, channelwise)
    check_layer(layer, x, reference=expected)


@pytest.mark.parametrize("backend", backend_params())
def test_locally_connected_backends(backend):
    x = random_array((2, 2, 4, 4))
    layer = LocallyConnected2DLayer(InputLayer((None, 2, 4, 4)), 3, 3)
    from tests.helpers import assert_backends_agree
    from lasagne.layers import get_output
    assert_backends_agree([layer.input_layer.input_var], get_output(layer),
                          [x], backends=[backend])


@pytest.mark.parametrize("kwargs, match", [
    (dict(stride=2), r"LocallyConnected2DLayer 'lc'.*stride"),
    (dict(pad=1), r"LocallyConnected2DLayer 'lc'.*pad='same'"),
    (dict(filter_size=2), r"odd filter sizes"),
    (dict(channelwise=True, num_filters=4), r"channelwise=True.*3 input"),
])
def test_locally_connected_errors(kwargs, match):
    args = dict(num_filters=3, filter_size=3, name="lc")
    args.update(kwargs)
    with pytest.raises((ValueError, NotImplementedError), match=match):
        LocallyConnected2DLayer(InputLayer((None, 3, 5, 5)), **args)
    with pytest.raises(ValueError, match="size must be known"):
        LocallyConnected2DLayer(InputLayer((None, 3, None, 5)), 3, 3)
