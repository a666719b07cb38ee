"""The input layer: where a graph starts."""
import pytensor.tensor as pt
import pytensor

from .. import utils
from .base import Layer

__all__ = ["InputLayer"]


class InputLayer(Layer):
    """A layer holding a symbolic input variable.

    Parameters
    ----------
    shape : tuple of int or None
        The shape of the input; ``None`` marks sizes not known in advance
        (typically the batch size).
    input_var : PyTensor tensor variable, optional
        The variable to use; by default a new one of the right number of
        dimensions and dtype floatX is created.
    name : str, optional
        A name for the layer.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from lasagne.layers import InputLayer
    >>> x = pt.tensor4("x")
    >>> l_in = InputLayer((None, 3, 32, 32), input_var=x)
    >>> l_in.output_shape
    (None, 3, 32, 32)

    Without `input_var`, the created variable's static shape is `shape`:
    inputs of other sizes are refused when the compiled function is called,
    so declare ``None`` for every size that may vary.
    """

    def __init__(self, shape, input_var=None, name=None, **kwargs):
        where = f"InputLayer '{name}': " if name else "InputLayer: "
        try:
            self.shape = tuple(shape)
        except TypeError:
            raise TypeError(
                f"{where}`shape` must be a tuple of ints or None, got "
                f"{shape!r}. Example: shape=(None, 784).") from None
        if any(d is not None and (not isinstance(d, utils.int_types) or d <= 0)
               for d in self.shape):
            raise ValueError(
                f"{where}`shape` must contain positive integers or None, got "
                f"{self.shape}.")
        ndim = len(self.shape)
        if input_var is None:
            var_name = f"{name}.input" if name else "input"
            # the declared sizes become the variable's static shape, so
            # rewrites and backends (JAX needs static shapes) can use them
            input_var = pt.tensor(name=var_name, dtype=pytensor.config.floatX,
                                  shape=self.shape)
        else:
            input_var = utils.as_theano_expression(input_var)
            if input_var.ndim != ndim:
                raise ValueError(
                    f"{where}`shape` {self.shape} has {ndim} dimensions but "
                    f"`input_var` has {input_var.ndim}. Give a variable with "
                    f"as many dimensions as the shape.")
        self.input_var = input_var
        self.name = name
        self.params = {}
        self.get_output_kwargs = []
        self.input_shape = self.shape
        self.input_layer = None
        super().__init__(self.shape, name=name, **kwargs)

    @Layer.output_shape.getter
    def output_shape(self):
        return self.shape
