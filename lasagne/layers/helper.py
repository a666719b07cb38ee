"""Functions that walk a layer graph: outputs, shapes, parameters."""
import difflib
import warnings
from collections import deque

import numpy as np

from .. import utils
from .base import Layer, MergeLayer
from .input import InputLayer

__all__ = [
    "get_all_layers", "get_output", "get_output_shape", "get_all_params",
    "count_params", "get_all_param_values", "set_all_param_values",
]


def _is_merge(layer):
    """True for layers with several inputs: MergeLayers and any object that
    follows their protocol (an ``input_layers`` attribute), as in Lasagne."""
    return isinstance(layer, MergeLayer) or (
        not isinstance(layer, InputLayer) and hasattr(layer, "input_layers"))


def _incoming(layer):
    """The layers feeding `layer` (those given as shapes are skipped).

    Any object following the layer protocol is walked, not only Layer
    subclasses: its inputs are its ``input_layers`` or its ``input_layer``.
    """
    if isinstance(layer, InputLayer):
        return []
    if _is_merge(layer):
        return [l for l in layer.input_layers if l is not None]
    incoming = getattr(layer, "input_layer", None)
    return [] if incoming is None else [incoming]


def get_all_layers(layer, treat_as_input=None):
    """Collect all layers of the graph below `layer`, in topological order.

    Parameters
    ----------
    layer : Layer or list of Layer
        The output layer(s) of the graph.
    treat_as_input : iterable of Layer, optional
        Layers whose inputs are not followed: the walk stops there.

    Returns
    -------
    list of Layer
        Every layer appears once, after all layers it depends on.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer, get_all_layers
    >>> l_in = InputLayer((None, 10))
    >>> l1 = DenseLayer(l_in, num_units=20)
    >>> l2 = DenseLayer(l1, num_units=5)
    >>> get_all_layers(l2) == [l_in, l1, l2]
    True
    >>> get_all_layers(l2, treat_as_input=[l1]) == [l1, l2]
    True
    """
    try:
        queue = deque(layer)
    except TypeError:
        queue = deque([layer])
    seen = set()
    done = set()
    result = []
    if treat_as_input is not None:
        seen.update(treat_as_input)
    # Depth-first walk: a layer is emitted once all its inputs have been.
    while queue:
        current = queue[0]
        if current is None:
            queue.popleft()
        elif current not in seen:
            seen.add(current)
            children = _incoming(current)
            queue.extendleft(reversed(children))
        else:
            queue.popleft()
            if current not in done:
                result.append(current)
                done.add(current)
    return result


def _check_input_mapping(inputs, all_layers):
    if not isinstance(inputs, dict):
        return
    known = set(all_layers)
    for key in inputs:
        if key is None:
            continue  # Lasagne: the input of layers built from a shape
        if isinstance(key, Layer) and key not in known:
            raise ValueError(
                f"get_output: the `inputs` dict maps {key!r}, which is not part "
                f"of the graph below the requested layer(s). Map only layers "
                f"of that graph (typically its InputLayers).")
        if not isinstance(key, Layer):
            raise TypeError(
                f"get_output: the keys of the `inputs` dict must be Layer "
                f"instances, got {key!r} of type {type(key).__name__}.")


def get_output(layer_or_layers, inputs=None, **kwargs):
    """Compute the output expression(s) of a layer graph.

    Parameters
    ----------
    layer_or_layers : Layer or list of Layer
        The layer(s) whose output to compute. Several layers share one pass
        through the graph, so a layer used by both is computed once (and
        draws the same noise, e.g. dropout masks).
    inputs : None, expression, numpy array or dict, optional
        ``None`` uses the input variables of the graph's InputLayers. A
        single expression or array replaces the input of the graph's only
        InputLayer. A dict maps layers to expressions that replace their
        outputs (an InputLayer's input, or any inner layer's output).
    **kwargs
        Passed to every layer's ``get_output_for``, e.g.
        ``deterministic=True`` to disable dropout. A keyword no layer uses
        triggers a warning (with close matches, if any).

    Returns
    -------
    expression or list of expressions

    Examples
    --------
    >>> import numpy as np
    >>> from lasagne.layers import InputLayer, DenseLayer, get_output
    >>> l_in = InputLayer((None, 2))
    >>> l_out = DenseLayer(l_in, num_units=3)
    >>> y = get_output(l_out)                      # uses l_in.input_var
    >>> y2 = get_output(l_out, np.ones((4, 2)))    # on a constant input
    >>> y2.eval().shape
    (4, 3)
    """
    # `deterministic` is the one option passed to whole graphs by habit;
    # a graph without noise layers must not warn about it.
    accepted = {"deterministic"}
    treat_as_input = inputs.keys() if isinstance(inputs, dict) else []
    all_layers = get_all_layers(layer_or_layers, treat_as_input)
    _check_input_mapping(inputs, all_layers)
    outputs = {layer: layer.input_var for layer in all_layers
               if isinstance(layer, InputLayer) and layer not in treat_as_input}
    if isinstance(inputs, dict):
        outputs.update((layer, utils.as_theano_expression(expr))
                       for layer, expr in inputs.items())
    elif inputs is not None:
        input_layers = [l for l in all_layers if isinstance(l, InputLayer)]
        if len(input_layers) > 1:
            raise ValueError(
                f"get_output: the graph has {len(input_layers)} input layers "
                f"({', '.join(map(repr, input_layers))}), so `inputs` must be "
                f"a dict mapping each InputLayer to its expression.")
        for input_layer in input_layers:
            outputs[input_layer] = utils.as_theano_expression(inputs)
    for layer in all_layers:
        if layer in outputs:
            continue
        if _is_merge(layer):
            layer_inputs = []
            for input_layer in layer.input_layers:
                if input_layer not in outputs:
                    raise ValueError(
                        f"get_output: {layer!r} was built from input shapes "
                        f"instead of layers, so its inputs are unknown. Build "
                        f"it from layers, or map it in the `inputs` dict.")
                layer_inputs.append(outputs[input_layer])
        else:
            if layer.input_layer not in outputs:
                raise ValueError(
                    f"get_output: {layer!r} was built from an input shape "
                    f"instead of a layer, so its input is unknown. Build it "
                    f"from a layer, or map it in the `inputs` dict.")
            layer_inputs = outputs[layer.input_layer]
        outputs[layer] = layer.get_output_for(layer_inputs, **kwargs)
        accepted.update(_accepted_kwargs(layer))
    _warn_unused_kwargs(kwargs, accepted)
    try:
        return [outputs[layer] for layer in layer_or_layers]
    except TypeError:
        return outputs[layer_or_layers]


def _accepted_kwargs(layer):
    try:
        names = list(utils.inspect_kwargs(layer.get_output_for))
    except TypeError:  # not introspectable (a builtin, a mock, ...)
        names = []
    names.extend(getattr(layer, "get_output_kwargs", []))
    return names


def _warn_unused_kwargs(kwargs, accepted):
    unused = sorted(set(kwargs) - set(accepted))
    for name in unused:
        close = difflib.get_close_matches(name, sorted(accepted))
        hint = (f" Did you mean {' or '.join(map(repr, close))}? "
                f"(perhaps you meant {close[0]})" if close
                else " No layer of this graph accepts it.")
        warnings.warn(
            f"get_output() was called with unused keyword argument "
            f"{name!r}.{hint}", UserWarning, stacklevel=3)


def get_output_shape(layer_or_layers, input_shapes=None):
    """Compute the output shape(s) of a layer graph.

    Parameters
    ----------
    layer_or_layers : Layer or list of Layer
    input_shapes : None, tuple or dict, optional
        ``None`` returns the layers' declared ``output_shape``. A tuple
        replaces the shape of the graph's only InputLayer; a dict maps
        layers to shapes that replace their output shapes.

    Returns
    -------
    tuple or list of tuples

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer, get_output_shape
    >>> l_in = InputLayer((None, 2))
    >>> l_out = DenseLayer(l_in, num_units=3)
    >>> get_output_shape(l_out, (10, 2))
    (10, 3)
    """
    if input_shapes is None or input_shapes == {}:
        try:
            return [layer.output_shape for layer in layer_or_layers]
        except TypeError:
            return layer_or_layers.output_shape
    treat_as_input = input_shapes.keys() if isinstance(input_shapes, dict) else []
    all_layers = get_all_layers(layer_or_layers, treat_as_input)
    if isinstance(input_shapes, dict):
        shapes = dict(input_shapes)
    else:
        input_layers = [l for l in all_layers if isinstance(l, InputLayer)]
        if len(input_layers) > 1:
            raise ValueError(
                f"get_output_shape: the graph has {len(input_layers)} input "
                f"layers ({', '.join(map(repr, input_layers))}), so "
                f"`input_shapes` must be a dict mapping each InputLayer to its "
                f"shape.")
        shapes = {layer: tuple(input_shapes) for layer in input_layers}
    for layer in all_layers:
        if layer in shapes:
            continue
        if isinstance(layer, InputLayer):
            shapes[layer] = layer.shape
        elif _is_merge(layer):
            # a None key of `input_shapes` stands for the shape-only inputs
            in_shapes = [shapes[l] if l in shapes else layer.input_shapes[i]
                         for i, l in enumerate(layer.input_layers)]
            shapes[layer] = layer.get_output_shape_for(in_shapes)
        else:
            in_shape = (shapes[layer.input_layer]
                        if layer.input_layer in shapes else layer.input_shape)
            shapes[layer] = layer.get_output_shape_for(in_shape)
    try:
        return [shapes[layer] for layer in layer_or_layers]
    except TypeError:
        return shapes[layer_or_layers]


def get_all_params(layer, unwrap_shared=True, **tags):
    """Collect the parameters of every layer of a graph, each once.

    Parameters
    ----------
    layer : Layer or list of Layer
    unwrap_shared : bool
        Return the shared variables behind expression parameters (tied
        weights) rather than the expressions.
    **tags
        Filters, as for :meth:`Layer.get_params`, e.g. ``trainable=True``.

    Returns
    -------
    list of shared variables (or expressions)

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer, get_all_params
    >>> l1 = DenseLayer(InputLayer((None, 2)), num_units=3, name="l1")
    >>> [p.name for p in get_all_params(l1, regularizable=True)]
    ['l1.W']
    """
    layers = get_all_layers(layer)
    params = []
    for l in layers:
        params.extend(l.get_params(unwrap_shared=unwrap_shared, **tags))
    return utils.unique(params)


def count_params(layer, **tags):
    """Count the scalar parameters of a graph.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer, count_params
    >>> count_params(DenseLayer(InputLayer((None, 2)), num_units=3))
    9
    """
    params = get_all_params(layer, **tags)
    return int(sum(np.prod(p.get_value(borrow=True).shape, dtype=np.int64)
                   for p in params))


def get_all_param_values(layer, **tags):
    """The values of all parameters of a graph, as a list of numpy arrays
    in the order of :func:`get_all_params`.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer, get_all_param_values
    >>> [v.shape for v in get_all_param_values(
    ...     DenseLayer(InputLayer((None, 2)), num_units=3))]
    [(2, 3), (3,)]
    """
    return [p.get_value() for p in get_all_params(layer, **tags)]


def set_all_param_values(layer, values, **tags):
    """Set the parameters of a graph from a list of numpy arrays, as
    returned by :func:`get_all_param_values`.

    Every value is checked before any is set, so a mismatch leaves the
    network unchanged.

    Raises
    ------
    ValueError
        If the number of values or a shape does not match.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer
    >>> l = DenseLayer(InputLayer((None, 2)), num_units=3)
    >>> set_all_param_values(l, [np.ones((2, 3)), np.zeros(3)])
    """
    params = get_all_params(layer, **tags)
    if len(params) != len(values):
        raise ValueError(
            f"set_all_param_values: got {len(values)} values for "
            f"{len(params)} parameters. Pass one array per parameter, in "
            f"the order of get_all_params (nothing was changed).")
    for param, value in zip(params, values):
        shape = param.get_value(borrow=True).shape
        if np.shape(value) != shape:
            raise ValueError(
                f"set_all_param_values: value of shape {np.shape(value)} "
                f"does not fit parameter {param.name or param!s} of shape "
                f"{shape} (nothing was changed).")
    for param, value in zip(params, values):
        param.set_value(np.asarray(value, dtype=param.dtype))
