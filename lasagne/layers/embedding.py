"""Word embeddings: a lookup table as a layer."""
import pytensor.tensor as pt

from .. import init, utils
from .base import Layer

__all__ = ["EmbeddingLayer"]


class EmbeddingLayer(Layer):
    """EmbeddingLayer(incoming, input_size, output_size,
    W=lasagne.init.Normal(), **kwargs)

    Maps integer indices to learned vectors: ``output = W[input]``.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        Integer indices (any shape); build the InputLayer with an integer
        ``input_var``, e.g. ``pytensor.tensor.imatrix()``.
    input_size : int
        The number of distinct indices (vocabulary size).
    output_size : int
        The size of each embedding vector.
    W : array, shared variable, expression or callable
        The table, of shape ``(input_size, output_size)``.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from lasagne.layers import InputLayer, EmbeddingLayer
    >>> l_in = InputLayer((None, 7), input_var=pt.imatrix())
    >>> EmbeddingLayer(l_in, input_size=100, output_size=16).output_shape
    (None, 7, 16)
    """

    def __init__(self, incoming, input_size, output_size, W=init.Normal(),
                 **kwargs):
        super().__init__(incoming, **kwargs)
        for arg, value in (("input_size", input_size),
                           ("output_size", output_size)):
            if not isinstance(value, utils.int_types) or value <= 0:
                raise ValueError(
                    f"{self._where()}`{arg}` must be a positive integer, got "
                    f"{value!r}.")
        self.input_size = int(input_size)
        self.output_size = int(output_size)
        self.W = self.add_param(W, (self.input_size, self.output_size),
                                name="W")

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape) + (self.output_size,)

    def get_output_for(self, input, **kwargs):
        if not input.dtype.startswith(("int", "uint")):
            raise TypeError(
                f"{self._where()}the input must be of an integer dtype (it "
                f"holds indices into the table), got {input.dtype}. Build the "
                f"InputLayer with an integer input_var, e.g. "
                f"pytensor.tensor.imatrix().")
        return self.W[input]
