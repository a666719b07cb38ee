"""Small helpers shared by every module: dtype casting, argument
normalisation, parameter creation, graph walking and an unrolled scan."""
import numbers
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant, Variable

__all__ = [
    "int_types", "floatX", "shared_empty", "as_theano_expression",
    "collect_shared_vars", "one_hot", "unique", "as_tuple", "inspect_kwargs",
    "compute_norms", "create_param", "unroll_scan",
]

int_types = (numbers.Integral, np.integer)


class _ArgumentError(TypeError, ValueError):
    """A malformed argument where Lasagne 0.2 raised one type and this
    library the other: code catching either keeps working."""


class _BadSpec(TypeError, RuntimeError):
    """A parameter spec of no accepted kind: Lasagne 0.2 raised TypeError
    (and RuntimeError before it)."""


class _ShapeError(ValueError, RuntimeError):
    """A shape an initializer cannot fill: Lasagne 0.2 raised RuntimeError."""


class _Unsupported(NotImplementedError, ValueError):
    """A setting Lasagne 0.2 refused with NotImplementedError, where this
    library raises ValueError for bad arguments: catching either works."""


def floatX(arr):
    """Convert `arr` to a numpy array of dtype ``pytensor.config.floatX``.

    Examples
    --------
    >>> import pytensor
    >>> floatX([1, 2]).dtype == pytensor.config.floatX
    True
    """
    return np.asarray(arr, dtype=pytensor.config.floatX)


def shared_empty(dim=2, dtype=None):
    """Create an empty shared variable with `dim` dimensions (all sizes zero).

    Examples
    --------
    >>> shared_empty(3).get_value().shape
    (0, 0, 0)
    """
    if dtype is None:
        dtype = pytensor.config.floatX
    return pytensor.shared(np.zeros((0,) * dim, dtype=dtype))


def as_theano_expression(input):
    """Wrap `input` (a numpy array, a number or an expression) as a
    PyTensor expression.

    Raises
    ------
    TypeError
        If `input` cannot be turned into a tensor expression.

    Examples
    --------
    >>> as_theano_expression(np.ones(3)).ndim
    1
    """
    if isinstance(input, Variable):
        return input
    try:
        return pt.as_tensor_variable(input)
    except (TypeError, ValueError, NotImplementedError) as exc:
        raise TypeError(
            f"Input of type {type(input).__name__} is not a PyTensor expression "
            f"and cannot be converted to one ({exc}). Pass a PyTensor variable, "
            f"a numpy array or a number.") from exc


def collect_shared_vars(expressions):
    """Return the shared variables `expressions` depend on, each once, in
    the order they are first met.

    Parameters
    ----------
    expressions : expression or list of expressions

    Examples
    --------
    >>> a = pytensor.shared(1.0, name="a"); b = pytensor.shared(2.0, name="b")
    >>> [v.name for v in collect_shared_vars([a * b, a + 1])]
    ['a', 'b']
    """
    if isinstance(expressions, Variable):
        expressions = [expressions]
    found, seen = [], set()
    for expression in expressions:
        # iterative pre-order walk, inputs in order: the first shared
        # variable met comes first, as users expect from get_all_params
        stack = [expression]
        while stack:
            var = stack.pop()
            if var in seen:
                continue
            seen.add(var)
            if isinstance(var, SharedVariable):
                found.append(var)
            elif var.owner is not None:
                stack.extend(reversed(var.owner.inputs))
    return found


def one_hot(x, m=None):
    """One-hot representation of an integer vector.

    Parameters
    ----------
    x : integer vector expression
    m : int or scalar expression, optional
        Number of classes; ``max(x) + 1`` when omitted.

    Returns
    -------
    matrix of shape ``(len(x), m)`` and dtype floatX.

    Examples
    --------
    >>> one_hot(np.array([0, 2]), 3).eval()
    array([[1., 0., 0.],
           [0., 0., 1.]])
    """
    x = as_theano_expression(x)
    if m is None:
        m = pt.cast(pt.max(x) + 1, "int64")
    return pt.eye(m, dtype=pytensor.config.floatX)[pt.cast(x, "int64")]


def unique(l):
    """Return the elements of `l` without duplicates, keeping first order.

    Examples
    --------
    >>> unique([3, 1, 3, 2, 1])
    [3, 1, 2]
    """
    seen = set()
    result = []
    for item in l:
        if item not in seen:
            seen.add(item)
            result.append(item)
    return result


def as_tuple(x, N, t=None, name=None, owner=None):
    """Coerce `x` to a tuple of length `N`, repeating a scalar `N` times.

    Parameters
    ----------
    x : value or iterable
    N : int
        The required length.
    t : type or tuple of types, optional
        If given, every element must be an instance of it.
    name, owner : str, optional
        The argument's name and the layer it belongs to; they make the error
        message say where the bad value came from.

    Raises
    ------
    TypeError
        If the element types do not fit.
    ValueError
        If the length does not fit (an error that is a TypeError too).

    Examples
    --------
    >>> as_tuple(3, 2)
    (3, 3)
    >>> as_tuple([1, 2], 2, int)
    (1, 2)
    """
    try:
        X = tuple(x)
    except TypeError:
        X = (x,) * N
    where = _describe(name, owner)
    if t is not None and not all(isinstance(v, t) for v in X):
        if t == int_types:
            allowed = "int"
        else:
            allowed = t.__name__ if isinstance(t, type) else " or ".join(
                c.__name__ for c in t)
        raise TypeError(
            f"{where}expected a single value or an iterable of {allowed}, "
            f"got {x!r} (one value, or {N} of them).")
    if len(X) != N:
        raise _ArgumentError(
            f"{where}expected a single value or an iterable with length {N}, "
            f"got {x!r}. Pass one value for every dimension, or a single one "
            f"to use for all {N}.")
    return X


def _describe(name, owner):
    """The 'Layer 'conv1': argument `stride`: ' prefix of error messages."""
    parts = []
    if owner is not None:
        parts.append(str(owner))
    if name is not None:
        parts.append(f"argument `{name}`")
    return ": ".join(parts) + ": " if parts else ""


def inspect_kwargs(func):
    """Return the names of the keyword arguments (those with a default) that
    `func` accepts.

    Examples
    --------
    >>> inspect_kwargs(lambda a, b=1, *c, d=2, **e: None)
    ['b', 'd']
    """
    import inspect
    params = inspect.signature(func).parameters.values()
    return [p.name for p in params
            if p.default is not inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def compute_norms(array, norm_axes=None):
    """Compute the L2 norms of the slices of a numpy array or a tensor.

    Parameters
    ----------
    array : numpy array or PyTensor variable (e.g. a shared variable)
        A weight tensor: 2 dimensions for dense layers, 3, 4 or 5 for
        convolutions, 1 for biases.
    norm_axes : sequence of int, optional
        Axes to sum over. By default ``(0,)`` for 2-d arrays (one norm per
        output unit), every axis but the first for 3-d to 5-d arrays (one
        norm per filter) and none for 1-d arrays (the absolute values).

    Returns
    -------
    numpy array for a numpy array, a symbolic expression for a variable
    (as in Lasagne)

    Raises
    ------
    RuntimeError
        For any other type of `array` (a list, say).

    Examples
    --------
    >>> compute_norms(np.array([[3.0, 0.0], [4.0, 1.0]]))
    array([5., 1.])
    >>> compute_norms(pytensor.shared(np.array([[3.0], [4.0]]))).eval()
    array([5.])
    """
    if not isinstance(array, (Variable, np.ndarray)):
        raise RuntimeError(
            f"compute_norms: Unsupported type {type(array).__name__}: pass a "
            f"numpy array or a PyTensor variable, got {array!r}.")
    ndim = array.ndim
    if norm_axes is not None:
        norm_axes = tuple(norm_axes)
    elif ndim == 1:
        norm_axes = ()
    elif ndim == 2:
        norm_axes = (0,)
    elif ndim in (3, 4, 5):
        norm_axes = tuple(range(1, ndim))
    else:
        raise ValueError(
            f"compute_norms: Unsupported tensor dimensionality {ndim}: "
            f"cannot infer norm_axes for it. Pass norm_axes explicitly.")
    if isinstance(array, Variable):
        return abs(array) if not norm_axes else pt.sqrt(
            pt.sum(array ** 2, axis=norm_axes))
    return abs(array) if not norm_axes else np.sqrt(
        np.sum(array ** 2, axis=norm_axes))


def create_param(spec, shape, name=None):
    """Create a parameter from a numpy array, a shared variable, an
    expression or a callable.

    Parameters
    ----------
    spec : numpy array, shared variable, expression or callable
        * a numpy array is copied into a new shared variable;
        * a shared variable or any tensor expression (for example the
          transpose of another layer's weights) is used as it is;
        * a callable (such as an initializer from :mod:`lasagne.init`) is
          called with `shape` and must return a numpy array or a shared
          variable.
    shape : tuple of int
        The expected shape. Arrays are checked against it; expressions must
        at least have the right number of dimensions.
    name : str, optional
        Name given to a newly created shared variable, or to a named
        expression that has none.

    Returns
    -------
    shared variable or expression

    Raises
    ------
    ValueError
        If the shape or number of dimensions does not match.
    TypeError
        If `spec` is none of the accepted kinds (the error is a RuntimeError
        too).

    Notes
    -----
    A Python number or numpy scalar is accepted as a 0-d array. As in
    Lasagne, new shared variables are broadcastable along their size-1
    dimensions (their static shape is 1 there).

    Examples
    --------
    >>> W = create_param(np.zeros((2, 3)), (2, 3), name="W")
    >>> W.get_value().shape, W.name
    ((2, 3), 'W')
    """
    import lasagne.init  # the init module imports this one
    shape = tuple(shape)
    if any(d <= 0 for d in shape):
        raise ValueError(
            f"Cannot create param{_named(name)} with a non-positive shape "
            f"{shape}: every dimension must be at least 1.")
    err_prefix = f"cannot initialize parameter{_named(name)}: "
    if isinstance(spec, Variable):
        if spec.ndim != len(shape):
            raise ValueError(
                f"{err_prefix}the given expression has {spec.ndim} dimensions, "
                f"should have {len(shape)} (shape {shape}).")
        if isinstance(spec, SharedVariable):
            actual = spec.get_value(borrow=True).shape
            if actual != shape:
                raise ValueError(
                    f"{err_prefix}the given shared variable has shape "
                    f"{actual}, should be {shape}.")
        elif isinstance(spec, Constant):
            actual = spec.data.shape
            if actual != shape:
                raise ValueError(
                    f"{err_prefix}the given constant has shape {actual}, "
                    f"should be {shape}.")
        if name is not None and not spec.name:
            spec.name = name
        return spec
    if isinstance(spec, numbers.Number) or (
            isinstance(spec, np.generic) and spec.dtype.kind in "biufc"):
        spec = np.asarray(spec)
    if isinstance(spec, np.ndarray):
        if spec.shape != shape:
            raise ValueError(
                f"{err_prefix}the given array has shape {spec.shape}, should "
                f"be {shape}.")
        return _broadcastable_shared(spec.copy(), name)
    if callable(spec):
        value = spec(shape)
        if isinstance(value, Variable):
            return create_param(value, shape, name)
        try:
            value = floatX(value) if not isinstance(value, np.ndarray) else value
        except (TypeError, ValueError):
            value = None
        if not isinstance(value, np.ndarray):
            raise _BadSpec(
                f"{err_prefix}the callable {spec!r} returned a "
                f"{type(value).__name__}; it must return a numpy array or a "
                f"shared variable.")
        if value.shape != shape:
            raise ValueError(
                f"{err_prefix}the callable {spec!r} returned an array of "
                f"shape {value.shape}, should be {shape}.")
        return _broadcastable_shared(value, name)
    raise _BadSpec(
        f"{err_prefix}got {spec!r} of type {type(spec).__name__}. Pass a "
        f"numpy array, a shared variable, a PyTensor expression or a callable "
        f"(for example an initializer from lasagne.init).")


def _broadcastable_shared(value, name):
    """A shared variable whose size-1 dimensions are broadcastable."""
    static = tuple(1 if s == 1 else None for s in value.shape)
    return pytensor.shared(value, name=name, shape=static)


def _named(name):
    return f" '{name}'" if name else ""


def static_shape(x):
    """The shape of `x` as a tuple mixing Python ints (sizes known from its
    static type) and symbolic scalars (the rest). Building graphs from it
    keeps sizes static where they can be, which backends such as JAX need.
    """
    return tuple(s if s is not None else x.shape[i]
                 for i, s in enumerate(x.type.shape))


def _eval_shape(expression):
    """Evaluate the shape of a constant expression, compiled cheaply: used
    to infer output shapes at graph construction time."""
    fn = pytensor.function([], expression.shape, mode="FAST_COMPILE")
    return tuple(int(d) for d in fn())


def set_default_update(shared_var, update):
    """Make every compiled function that uses `shared_var` store `update`
    into it (unless the function's own ``updates`` say otherwise).

    This is how noise layers advance their generators and batch
    normalization updates its running averages without the user passing
    updates. PyTensor 3 still applies such default updates but warns when
    its public ``default_update`` setter is used, so the value is set
    directly; no warning reaches the user.
    """
    update = shared_var.type.filter_variable(update, allow_convert=True)
    if update.type != shared_var.type:
        # PyTensor wants exactly the shared variable's type for default
        # updates; an update with a more specific static shape (computed
        # from inputs of declared sizes) is loosened by a free view: a
        # slice whose bounds are the shared variable's symbolic sizes.
        update = update[tuple(slice(0, shared_var.shape[i])
                              for i in range(shared_var.ndim))]
        update = shared_var.type.filter_variable(update, allow_convert=False)
    shared_var._default_update = update
    return shared_var


def unroll_scan(fn, sequences, outputs_info, non_sequences, n_steps,
                go_backwards=False):
    """A Python-unrolled replacement for :func:`pytensor.scan`.

    Builds the loop body `n_steps` times into one graph. It compiles slower
    than a scan but runs without the per-step overhead of the scan loop,
    which pays off for short sequences of fixed length.

    Parameters
    ----------
    fn : callable
        Called as ``fn(*seq_slices, *previous_outputs, *non_sequences)``; it
        returns the new outputs (one expression or a list).
    sequences : list of expressions
        Iterated over their first axis.
    outputs_info : list of expressions
        Initial values of the outputs (``None`` for outputs that are not fed
        back).
    non_sequences : list of expressions
        Passed unchanged to every step.
    n_steps : int
        Number of steps; must be a Python integer.
    go_backwards : bool
        Iterate the sequences from the last element to the first. The
        results are then returned in that (reversed) order, like scan.

    Returns
    -------
    list of expressions
        For each output, its values at all steps stacked on a new first
        axis.

    Examples
    --------
    >>> x = pt.vector()
    >>> [cumsum] = unroll_scan(lambda xi, acc: acc + xi, [x], [pt.constant(0.)],
    ...                        [], 3)
    >>> cumsum.eval({x: np.array([1., 2., 3.])})
    array([1., 3., 6.])
    """
    if not isinstance(n_steps, int_types) or n_steps < 1:
        raise ValueError(
            f"unroll_scan: n_steps must be a positive Python integer (the "
            f"sequence length has to be known when the graph is built), got "
            f"{n_steps!r}.")
    n_steps = int(n_steps)
    # a single sequence or non-sequence may be given bare, as in Lasagne
    if not isinstance(sequences, (list, tuple)):
        sequences = [sequences]
    if not isinstance(non_sequences, (list, tuple)):
        non_sequences = [non_sequences]
    step_order = range(n_steps - 1, -1, -1) if go_backwards else range(n_steps)
    previous = list(outputs_info)
    history = []
    for t in step_order:
        step_inputs = [s[t] for s in sequences]
        step_inputs += [p for p in previous if p is not None]
        step_inputs += list(non_sequences)
        outputs = fn(*step_inputs)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        previous = [out if info is not None else None
                    for out, info in zip(outputs, outputs_info)]
        history.append(outputs)
    return [pt.stack([step[i] for step in history])
            for i in range(len(outputs_info))]
