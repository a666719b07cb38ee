"""Locally connected layers: convolutions whose filters are not shared
across positions."""

from .. import init, nonlinearities
from ..theano_extensions.padding import pad
from .conv import Conv2DLayer

__all__ = ["LocallyConnected2DLayer"]


class LocallyConnected2DLayer(Conv2DLayer):
    """LocallyConnected2DLayer(incoming, num_filters, filter_size,
    stride=(1, 1), pad='same', untie_biases=False,
    W=lasagne.init.GlorotUniform(), b=lasagne.init.Constant(0.),
    nonlinearity=lasagne.nonlinearities.rectify, flip_filters=True,
    channelwise=False, **kwargs)

    Like :class:`Conv2DLayer`, but every output position has its own
    filters. ``W`` has shape ``(num_filters, input_channels, *filter_size,
    *output_size)``, or ``(num_filters, *filter_size, *output_size)`` with
    ``channelwise=True``, where each output channel sees only the input
    channel of the same index (then ``num_filters`` must equal the number
    of input channels). Only ``stride=1`` and ``pad='same'`` are supported.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> l = LocallyConnected2DLayer(InputLayer((None, 3, 6, 5)), 4, 3)
    >>> l.output_shape, l.W.get_value().shape
    ((None, 4, 6, 5), (4, 3, 3, 3, 6, 5))
    """

    def __init__(self, incoming, num_filters, filter_size, stride=(1, 1),
                 pad="same", untie_biases=False, W=init.GlorotUniform(),
                 b=init.Constant(0.), nonlinearity=nonlinearities.rectify,
                 flip_filters=True, channelwise=False, **kwargs):
        self.channelwise = channelwise
        super().__init__(incoming, num_filters, filter_size, stride, pad,
                         untie_biases, W, b, nonlinearity, flip_filters,
                         **kwargs)

    def get_W_shape(self):
        # validation lives here: the base constructor calls it first thing
        if self.stride != (1, 1):
            raise NotImplementedError(
                f"{self._where()}requires stride=1 / (1, 1) (the only "
                f"supported stride), got {self.stride}.")
        if self.pad != "same":
            raise NotImplementedError(
                f"{self._where()}requires pad='same' (the only supported "
                f"padding), got {self.pad!r}.")
        if any(f % 2 == 0 for f in self.filter_size):
            raise NotImplementedError(
                f"{self._where()}pad='same' needs odd filter sizes, got "
                f"{self.filter_size}.")
        channels = self.input_shape[1]
        spatial = self.input_shape[2:]
        if channels is None or None in spatial:
            raise ValueError(
                f"{self._where()}the input channels and size must be known "
                f"(one filter per position): A LocallyConnected2DLayer "
                f"requires a fixed input shape (except for the batch size), "
                f"got input shape {self.input_shape}.")
        if self.channelwise:
            if self.num_filters != channels:
                raise ValueError(
                    f"{self._where()}channelwise=True needs num_filters "
                    f"equal to the {channels} input channels, got "
                    f"{self.num_filters} (num_filters and the number of input "
                    f"channels should match).")
            return (self.num_filters,) + self.filter_size + tuple(spatial)
        return (self.num_filters, channels) + self.filter_size + \
            tuple(spatial)

    def convolve(self, input, **kwargs):
        fh, fw = self.filter_size
        h, w = self.input_shape[2:]
        # (not pt.pad: an OpFromGraph, which Numba compiles whole, 16 s)
        padded = pad(input, [(fh // 2, fh // 2), (fw // 2, fw // 2)],
                     batch_ndim=2)
        out = 0
        for i in range(fh):
            for j in range(fw):
                ki, kj = (fh - 1 - i, fw - 1 - j) if self.flip_filters \
                    else (i, j)
                window = padded[:, :, i:i + h, j:j + w]
                if self.channelwise:
                    out = out + window * self.W[:, ki, kj].dimshuffle(
                        "x", 0, 1, 2)
                else:
                    # (batch, 1, C, h, w) * (1, F, C, h, w), summed over C
                    out = out + (window.dimshuffle(0, "x", 1, 2, 3)
                                 * self.W[:, :, ki, kj].dimshuffle(
                                     "x", 0, 1, 2, 3)).sum(axis=2)
        return out


