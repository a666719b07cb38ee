"""The two base classes every layer derives from."""
from collections import OrderedDict

from .. import utils

__all__ = ["Layer", "MergeLayer"]


class Layer:
    """The base class of layers with a single input.

    A layer knows its incoming layer (or the shape of its input) and
    implements two methods: :meth:`get_output_shape_for` and
    :meth:`get_output_for`. Parameters are registered with
    :meth:`add_param`.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The layer feeding into this layer, or the expected input shape
        (``None`` for dimensions not known in advance).
    name : str, optional
        A name, used to prefix the names of the layer's parameters and in
        error messages.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer
    >>> l_in = InputLayer((None, 10))
    >>> l_out = DenseLayer(l_in, num_units=5, name="dense")
    >>> l_out.output_shape
    (None, 5)
    >>> [p.name for p in l_out.get_params()]
    ['dense.W', 'dense.b']
    """

    def __init__(self, incoming, name=None):
        if isinstance(incoming, tuple):
            self.input_shape = incoming
            self.input_layer = None
        else:
            self.input_shape = incoming.output_shape
            self.input_layer = incoming
        self.name = name
        self.params = OrderedDict()
        self.get_output_kwargs = []
        if any(d is not None and d <= 0 for d in self.input_shape):
            raise ValueError(
                f"{self._where()}cannot create a layer with a non-positive "
                f"input_shape dimension: input_shape={self.input_shape}. "
                f"Every known dimension must be at least 1 (use None for "
                f"unknown sizes).")

    def _where(self):
        """'DenseLayer 'fc1': ' prefix naming this layer in error messages."""
        cls = type(self).__name__
        return f"{cls} '{self.name}': " if self.name else f"{cls}: "

    def __repr__(self):
        name = f" '{self.name}'" if self.name else ""
        return f"<{type(self).__name__}{name}>"

    @property
    def output_shape(self):
        """The shape of this layer's output, computed from its input's
        shape; ``None`` marks dimensions that are not known in advance."""
        shape = self.get_output_shape_for(self.input_shape)
        if any(not isinstance(s, utils.int_types) and s is not None
               for s in shape):
            raise ValueError(
                f"{self._where()}get_output_shape_for returned a symbolic "
                f"output shape (or a non-integer entry): {shape}. Output "
                f"shapes must contain integers or None.")
        return shape

    def get_params(self, unwrap_shared=True, **tags):
        """Return this layer's parameters, filtered by tags.

        Parameters
        ----------
        unwrap_shared : bool
            If True (default), a parameter that is an expression of shared
            variables (say, the transpose of another layer's weights) is
            replaced by the shared variables it depends on.
        **tags
            ``tag=True`` keeps only parameters with that tag; ``tag=False``
            keeps only parameters without it (e.g. ``trainable=True``,
            ``regularizable=False``).

        Returns
        -------
        list of PyTensor variables
        """
        result = list(self.params.keys())
        only = {tag for tag, value in tags.items() if value}
        if only:
            result = [p for p in result if not (only - self.params[p])]
        exclude = {tag for tag, value in tags.items() if not value}
        if exclude:
            result = [p for p in result if not (self.params[p] & exclude)]
        if unwrap_shared:
            return utils.collect_shared_vars(result) if result else []
        return result

    def get_output_shape_for(self, input_shape):
        """The output shape for a given input shape (identity by default).

        Parameters
        ----------
        input_shape : tuple
            A tuple of ints and ``None`` (unknown sizes).
        """
        return input_shape

    def get_output_for(self, input, **kwargs):
        """The output expression for a given input expression.

        Parameters
        ----------
        input : PyTensor expression
        **kwargs
            Options forwarded by :func:`lasagne.layers.get_output`, such as
            ``deterministic``; layers ignore those they do not use.
        """
        raise NotImplementedError

    def add_param(self, spec, shape, name=None, **tags):
        """Register and return a parameter of this layer.

        Parameters
        ----------
        spec : numpy array, shared variable, expression or callable
            See :func:`lasagne.utils.create_param`.
        shape : tuple of int
            The parameter's shape.
        name : str, optional
            The parameter's name, prefixed with the layer's name.
        **tags
            Tags for :meth:`get_params`; ``trainable`` and ``regularizable``
            are True unless given otherwise.

        Returns
        -------
        the parameter (a shared variable or expression)
        """
        if name is not None and self.name is not None:
            name = f"{self.name}.{name}"
        try:
            param = utils.create_param(spec, shape, name)
        except (ValueError, RuntimeError, TypeError) as exc:
            raise type(exc)(f"{self._where()}{exc}") from exc
        tags.setdefault("trainable", True)
        tags.setdefault("regularizable", True)
        self.params[param] = {tag for tag, value in tags.items() if value}
        return param


class MergeLayer(Layer):
    """The base class of layers with several inputs.

    Parameters
    ----------
    incomings : a list of :class:`Layer` instances or tuples
        The layers feeding into this layer, or the expected input shapes.
    name : str, optional
        A name for the layer.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, ElemwiseSumLayer
    >>> a, b = InputLayer((None, 3)), InputLayer((None, 3))
    >>> ElemwiseSumLayer([a, b]).output_shape
    (None, 3)
    """

    def __init__(self, incomings, name=None):
        if isinstance(incomings, Layer) or not hasattr(incomings, "__iter__"):
            where = f"{type(self).__name__} '{name}'" if name else type(
                self).__name__
            raise TypeError(
                f"{where}: `incomings` must be a list of layers or shape "
                f"tuples, got {incomings!r}. Wrap a single layer in a list.")
        incomings = list(incomings)
        self.input_shapes = [inc if isinstance(inc, tuple) else inc.output_shape
                             for inc in incomings]
        self.input_layers = [None if isinstance(inc, tuple) else inc
                             for inc in incomings]
        self.name = name
        self.params = OrderedDict()
        self.get_output_kwargs = []

    @Layer.output_shape.getter
    def output_shape(self):
        shape = self.get_output_shape_for(self.input_shapes)
        if any(not isinstance(s, utils.int_types) and s is not None
               for s in shape):
            raise ValueError(
                f"{self._where()}get_output_shape_for returned a symbolic "
                f"output shape (or a non-integer entry): {shape}.")
        return shape

    def get_output_shape_for(self, input_shapes):
        """The output shape for a list of input shapes."""
        raise NotImplementedError

    def get_output_for(self, inputs, **kwargs):
        """The output expression for a list of input expressions."""
        raise NotImplementedError

