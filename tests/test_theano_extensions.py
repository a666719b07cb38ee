"""lasagne.theano_extensions: the 1-d convolutions and pad()."""
import numpy as np
import pytensor.tensor as pt
import pytest

from lasagne.theano_extensions import conv as tconv
from lasagne.theano_extensions.padding import pad
from tests.helpers import compile_fn
from tests.ops.test_conv import reference_conv

ALL = [tconv.conv1d_sc, tconv.conv1d_mc0, tconv.conv1d_mc1,
       tconv.conv1d_sd, tconv.conv1d_md, tconv.conv1d_unstrided]
PHASED = [tconv.conv1d_sd, tconv.conv1d_md, tconv.conv1d_unstrided]


def run(fn, x, w, **kwargs):
    xs, ws = pt.tensor3("x"), pt.tensor3("w")
    out = fn(xs, ws, x.shape, w.shape, **kwargs)
    return compile_fn([xs, ws], out)(x, w)


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
@pytest.mark.parametrize("stride, flip", [(1, True), (2, False), (3, True)])
def test_valid_convolutions_match_reference(fn, stride, flip):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 12))
    w = rng.standard_normal((4, 3, 3))
    if fn in PHASED and 3 % stride:
        # as in Lasagne: these split the filter into `stride` phases
        with pytest.raises(NotImplementedError, match="not a multiple of the stride"):
            run(fn, x, w, subsample=(stride,), filter_flip=flip)
        return
    got = run(fn, x, w, subsample=(stride,), filter_flip=flip)
    expected = reference_conv(x, w, (stride,), (1,), (0,), (0,), 1, flip)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn", [tconv.conv1d_mc0, tconv.conv1d_mc1],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("border_mode, pads", [
    ("full", (2, 2)), ("half", (1, 1)), (2, (2, 2)), ((1,), (1, 1))])
def test_padded_and_grouped_convolutions(fn, border_mode, pads):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 9))
    w = rng.standard_normal((6, 2, 3))
    got = run(fn, x, w, border_mode=border_mode, num_groups=2)
    expected = reference_conv(x, w, (1,), (1,), (pads[0],), (pads[1],), 2,
                              True)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn", [tconv.conv1d_sc, tconv.conv1d_sd,
                                tconv.conv1d_md, tconv.conv1d_unstrided],
                         ids=lambda f: f.__name__)
def test_valid_only_implementations_refuse_padding(fn):
    x, w = np.zeros((1, 1, 5)), np.zeros((1, 1, 2))
    with pytest.raises(RuntimeError, match="only border_mode='valid'"):
        run(fn, x, w, border_mode="full")


def test_bad_border_mode_and_subsample():
    x, w = np.zeros((1, 1, 5)), np.zeros((1, 1, 2))
    with pytest.raises(ValueError, match="border_mode.*'wide'"):
        run(tconv.conv1d_mc0, x, w, border_mode="wide")
    with pytest.raises(ValueError, match="subsample must have one entry"):
        run(tconv.conv1d_mc0, x, w, subsample=(1, 1))


def test_pad():
    x = np.arange(6.0).reshape(1, 2, 3)
    xs = pt.tensor3("x")
    got = compile_fn([xs], pad(xs, [(1, 0), 2], val=-1))(x)
    expected = np.pad(x, [(0, 0), (1, 0), (2, 2)], constant_values=-1)
    np.testing.assert_array_equal(got, expected)
