"""Looking at a layer graph: a summary table and lookup of layers."""
import difflib

import numpy as np

from .helper import count_params, get_all_layers, get_output_shape

__all__ = ["summary", "get_layer_by_name", "get_layers_by_class"]


class _LayerNotFound(KeyError):
    """A KeyError whose message prints as written (KeyError quotes it)."""

    def __str__(self):
        return str(self.args[0])


def _param_label(param, layer):
    name = param.name or "(unnamed)"
    prefix = f"{layer.name}." if layer.name else None
    if prefix and name.startswith(prefix):
        name = name[len(prefix):]
    return name


def _size(param):
    return int(np.prod(param.get_value(borrow=True).shape, dtype=np.int64))


def summary(layer_or_layers, input_shapes=None):
    """A text table of the layers of a graph, in topological order.

    One row per layer: its index, name, class, output shape, parameters
    (name and shape, one per line) and number of scalar parameters; then the
    totals. A parameter shared with an earlier layer (tied weights) is
    marked ``shared`` and counted once in the totals.

    Parameters
    ----------
    layer_or_layers : Layer or list of Layer
        The output layer(s) of the graph.
    input_shapes : None, tuple or dict, optional
        Input shapes to compute the output shapes for, as for
        :func:`get_output_shape`; by default the declared shapes.

    Returns
    -------
    str
        The table; ``print(summary(net))`` shows it.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer, DropoutLayer
    >>> l_in = InputLayer((None, 784), name="in")
    >>> l_hid = DenseLayer(DropoutLayer(l_in), num_units=100, name="hidden")
    >>> l_out = DenseLayer(l_hid, num_units=10, name="out")
    >>> print(summary(l_out, input_shapes=(64, 784)))
    #  Name    Class         Output shape  Parameters     Count
    -  ------  ------------  ------------  ------------  ------
    0  in      InputLayer    (64, 784)                        0
    1          DropoutLayer  (64, 784)                        0
    2  hidden  DenseLayer    (64, 100)     W (784, 100)  78,500
                                           b (100,)
    3  out     DenseLayer    (64, 10)      W (100, 10)    1,010
                                           b (10,)
    Total parameters: 79,510 (trainable: 79,510, non-trainable: 0)
    """
    layers = get_all_layers(layer_or_layers)
    shapes = get_output_shape(layers, input_shapes)
    owner = {}
    rows = []
    for index, (layer, shape) in enumerate(zip(layers, shapes)):
        params = layer.get_params()
        labels = []
        for param in params:
            param_shape = param.get_value(borrow=True).shape
            label = f"{_param_label(param, layer)} {param_shape}"
            if param in owner:
                first = owner[param]
                label += " shared with " + (first.name or
                                            f"#{layers.index(first)}")
            else:
                owner[param] = layer
            labels.append(label)
        count = sum(_size(p) for p in params)
        rows.append([str(index), layer.name or "", type(layer).__name__,
                     str(tuple(shape)), labels, f"{count:,}"])
    header = ["#", "Name", "Class", "Output shape", "Parameters", "Count"]
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            cells = cell if isinstance(cell, list) else [cell]
            widths[i] = max([widths[i]] + [len(c) for c in cells])
    right = {0, 5}  # numbers are right-aligned

    def line(cells):
        text = "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
        return text.rstrip()

    lines = [line(header), line(["-" * w for w in widths])]
    for index, name, cls, shape, labels, count in rows:
        labels = labels or [""]
        lines.append(line([index, name, cls, shape, labels[0], count]))
        for label in labels[1:]:
            lines.append(line(["", "", "", "", label, ""]))
    total = count_params(layer_or_layers)
    trainable = count_params(layer_or_layers, trainable=True)
    lines.append(f"Total parameters: {total:,} (trainable: {trainable:,}, "
                 f"non-trainable: {total - trainable:,})")
    return "\n".join(lines)


def get_layer_by_name(layer_or_layers, name):
    """Find the layer called `name` in a graph.

    Parameters
    ----------
    layer_or_layers : Layer or list of Layer
        The output layer(s) of the graph to search.
    name : str
        The layer's name.

    Returns
    -------
    Layer

    Raises
    ------
    KeyError
        If no layer has that name (the message lists close matches).
    ValueError
        If several layers have that name.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer
    >>> l_out = DenseLayer(DenseLayer(InputLayer((None, 3)), 4, name="fc1"),
    ...                    2, name="fc2")
    >>> get_layer_by_name(l_out, "fc1").num_units
    4
    >>> try:
    ...     get_layer_by_name(l_out, "fc3")
    ... except KeyError as error:
    ...     print(error)
    get_layer_by_name: no layer named 'fc3' in the graph; did you mean 'fc2' or 'fc1'? Named layers: 'fc1', 'fc2'.
    """
    layers = get_all_layers(layer_or_layers)
    found = [layer for layer in layers if layer.name == name]
    if len(found) == 1:
        return found[0]
    if found:
        places = ", ".join(f"#{layers.index(l)} {l!r}" for l in found)
        raise ValueError(
            f"get_layer_by_name: {len(found)} layers are named {name!r} "
            f"({places}), so the name is ambiguous. Give the layers distinct "
            f"names, or use get_all_layers and pick by position.")
    names = [layer.name for layer in layers if layer.name]
    close = difflib.get_close_matches(str(name), names, n=3)
    hint = (f"did you mean {' or '.join(map(repr, close))}? " if close
            else "")
    known = ", ".join(map(repr, names)) if names else "none"
    raise _LayerNotFound(
        f"get_layer_by_name: no layer named {name!r} in the graph; {hint}"
        f"Named layers: {known}.")


def get_layers_by_class(layer_or_layers, cls):
    """All layers of a graph that are instances of `cls`, in topological
    order.

    Parameters
    ----------
    layer_or_layers : Layer or list of Layer
    cls : type or tuple of types

    Returns
    -------
    list of Layer

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer, DropoutLayer
    >>> l_out = DenseLayer(DropoutLayer(DenseLayer(InputLayer((None, 3)), 4,
    ...                                            name="a")), 2, name="b")
    >>> [l.name for l in get_layers_by_class(l_out, DenseLayer)]
    ['a', 'b']
    """
    return [layer for layer in get_all_layers(layer_or_layers)
            if isinstance(layer, cls)]
