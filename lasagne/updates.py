"""Update rules for gradient-based training.

Each rule takes a loss (or a list of gradients) and a list of shared
variables, and returns an ``OrderedDict`` mapping every shared variable,
including the optimizer's own state, to its update expression. Pass it as
``updates`` to :func:`pytensor.function`:

>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> w = pytensor.shared(np.array([1.0, -2.0]), name="w")
>>> loss = pt.sum(w ** 2)
>>> train = pytensor.function([], loss, updates=adam(loss, [w], 0.1))

State variables (velocities, moment estimates) are shared variables of the
parameter's type and shape. Hyperparameters may be Python numbers or
symbolic/shared scalars (e.g. a learning rate schedule); they are cast to
each parameter's dtype, so float32 parameters get float32 updates.

:func:`apply_momentum` and :func:`apply_nesterov_momentum` add momentum to
any update dictionary; :func:`norm_constraint` and
:func:`total_norm_constraint` rescale weights or gradients.
"""
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Variable

from .ops.contiguous import as_contiguous

__all__ = [
    "sgd", "apply_momentum", "momentum", "apply_nesterov_momentum",
    "nesterov_momentum", "adagrad", "rmsprop", "adadelta", "adam", "adamax",
    "amsgrad", "adamw", "lion", "nadam", "radam", "clip_grad_norm",
    "norm_constraint", "total_norm_constraint",
]


def _cast(value, dtype):
    """A hyperparameter as a scalar of `dtype` (symbolic values are cast,
    numbers become constants)."""
    if isinstance(value, Variable):
        return value if value.dtype == dtype else pt.cast(value, dtype)
    return pt.constant(np.asarray(value, dtype=dtype))


def _state_like(param, suffix, fill=0.0):
    """A shared variable of `param`'s dtype, shape and static shape, filled
    with `fill`, to hold optimizer state."""
    value = param.get_value(borrow=True)
    name = f"{param.name}_{suffix}" if param.name else None
    return pytensor.shared(np.full(value.shape, fill, dtype=value.dtype),
                           shape=param.type.shape, name=name)


def _step_counter():
    """A floatX scalar shared variable counting update steps (from 0)."""
    return pytensor.shared(np.asarray(0.0, dtype=pytensor.config.floatX),
                           name="t")


def get_or_compute_grads(loss_or_grads, params):
    """Return `loss_or_grads` if it is a list of gradients, otherwise the
    gradients of the scalar loss with respect to `params`.

    Parameters
    ----------
    loss_or_grads : scalar expression or list of expressions
    params : list of shared variables

    Raises
    ------
    ValueError
        If a parameter is not a shared variable (an update needs somewhere
        to store the new value), or if the number of gradients differs from
        the number of parameters.

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.array([3.0]))
    >>> get_or_compute_grads((w ** 2).sum(), [w])[0].eval()
    array([6.])
    """
    params = list(params)
    for i, param in enumerate(params):
        if not isinstance(param, SharedVariable):
            raise ValueError(
                f"get_or_compute_grads: params[{i}] ({param!r}, a "
                f"{type(param).__name__}) is not a shared variable; updates "
                f"can only be applied to shared variables. If it is an "
                f"expression of shared variables (e.g. a transposed weight), "
                f"pass those shared variables instead, e.g. with "
                f"lasagne.utils.collect_shared_vars(expression).")
    if isinstance(loss_or_grads, (list, tuple)):
        grads = list(loss_or_grads)
        if len(grads) != len(params):
            raise ValueError(
                f"get_or_compute_grads: got {len(grads)} gradients for "
                f"{len(params)} parameters; pass one gradient per parameter, "
                f"in the same order, or pass the loss instead.")
        # a list comes back as it is, as in Lasagne
        return loss_or_grads if isinstance(loss_or_grads, list) else grads
    return pytensor.grad(loss_or_grads, params)


def _gradients(loss_or_grads, params):
    """:func:`get_or_compute_grads`, each gradient made C-contiguous: the
    gradient of a parameter used through a concatenation is a strided view,
    and an in-place update would make it the parameter's new value, whose
    new memory layout makes the Numba backend compile the training
    function again on the next call (see :mod:`lasagne.ops.contiguous`)."""
    return [as_contiguous(g)
            for g in get_or_compute_grads(loss_or_grads, params)]


class _Hyper:
    """A rule's hyperparameters for one parameter, each cast to that
    parameter's dtype, read as attributes (``h.learning_rate``)."""

    def __init__(self, values, dtype):
        for key, value in values.items():
            setattr(self, key, _cast(value, dtype))


def _advance_schedules(updates, hyperparameters):
    """Add ``counter + 1`` for every schedule step counter
    (:mod:`lasagne.schedules`) that a hyperparameter depends on and that
    `updates` does not advance yet: a compiled training function moves its
    schedules on by one step per call."""
    from .schedules import step_counters
    for counter in step_counters(list(hyperparameters)):
        if counter not in updates:
            updates[counter] = counter + 1
    return updates


def _rule(loss_or_grads, params, hyperparameters, step, counted=False):
    """The loop every update rule shares.

    For each parameter, `step(param, grad, h, state)` returns the new
    parameter value and a dict ``{state variable: new value}``; ``h`` holds
    the `hyperparameters` cast to the parameter's dtype (and ``h.t``, the
    1-based step number, if `counted`), ``state(suffix, fill=0.0)`` makes a
    zero-filled shared variable of the parameter's type for the rule's
    state. The rule's step counter and the counters of any learning-rate
    schedule are advanced too.
    """
    grads = _gradients(loss_or_grads, params)
    updates = OrderedDict()
    t_prev = _step_counter() if counted else None
    for param, grad in zip(params, grads):
        h = _Hyper(hyperparameters, param.dtype)
        if counted:
            h.t = _cast(t_prev + 1, param.dtype)

        def state(suffix, fill=0.0, _param=param):
            return _state_like(_param, suffix, fill)

        new_param, new_state = step(param, grad, h, state)
        updates.update(new_state)
        updates[param] = new_param
    if counted:
        updates[t_prev] = t_prev + 1
    return _advance_schedules(updates, hyperparameters.values())


def sgd(loss_or_grads, params, learning_rate):
    """Stochastic gradient descent: ``param -= learning_rate * grad``.

    Parameters
    ----------
    loss_or_grads : scalar expression or list of expressions
        The loss, or its gradients with respect to `params`.
    params : list of shared variables
    learning_rate : float or scalar expression

    Returns
    -------
    OrderedDict
        Parameter to update expression.

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.array([1.0]))
    >>> sgd((w ** 2).sum(), [w], 0.25)[w].eval()
    array([0.5])
    """
    def step(param, grad, h, state):
        return param - h.learning_rate * grad, {}
    return _rule(loss_or_grads, params, dict(learning_rate=learning_rate), step)


def _check_params_in(updates, params, caller):
    """`params` (default: all keys of `updates`) as a list, each with an
    update to build on."""
    if params is None:
        return list(updates.keys())
    params = list(params)
    for i, param in enumerate(params):
        if param not in updates:
            raise ValueError(
                f"{caller}: params[{i}] ({param!r}) has no entry in `updates`; "
                f"momentum is added to existing updates. Pass only parameters "
                f"that `updates` contains, or params=None for all of them.")
    return params


def _with_velocity(updates, params, momentum, caller, add):
    """The loop both momentum flavours share: for each parameter, `add`
    takes the parameter and its update ``updates[param]`` and returns the
    new velocity and the new parameter value."""
    params = _check_params_in(updates, params, caller)
    updates = OrderedDict(updates)
    for param in params:
        velocity = _state_like(param, "velocity")
        new_velocity, updates[param] = add(
            param, updates[param], _cast(momentum, param.dtype), velocity)
        updates[velocity] = new_velocity
    return _advance_schedules(updates, [momentum])


def apply_momentum(updates, params=None, momentum=0.9):
    """Add classical momentum to an update dictionary: with the step
    ``u = updates[param] - param``, a velocity ``v = momentum * v + u``
    is kept and ``param += v``.

    On :func:`sgd` updates this is ``v = momentum * v - lr * grad;
    param += v``.

    Parameters
    ----------
    updates : OrderedDict
        Parameter to update expression, e.g. from :func:`sgd`.
    params : list of shared variables, optional
        Which parameters get momentum; all keys of `updates` by default.
    momentum : float or scalar expression

    Returns
    -------
    OrderedDict
        A copy of `updates` with momentum applied and the velocities' own
        updates added.

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.array([1.0]))
    >>> updates = apply_momentum(sgd((w ** 2).sum(), [w], 0.1), [w], 0.9)
    >>> len(updates)
    2
    """
    def add(param, target, mu, velocity):
        new_param = mu * velocity + target
        return new_param - param, new_param
    return _with_velocity(updates, params, momentum, "apply_momentum", add)


def momentum(loss_or_grads, params, learning_rate, momentum=0.9):
    """SGD with classical momentum: ``v = momentum * v - learning_rate *
    grad; param += v``.

    Same as ``apply_momentum(sgd(loss_or_grads, params, learning_rate),
    momentum=momentum)``; see :func:`apply_momentum`.

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.array([1.0]))
    >>> f = pytensor.function([], updates=momentum((w ** 2).sum(), [w], 0.1))
    >>> _ = f(); _ = f(); w.get_value()
    array([0.46])
    """
    return apply_momentum(sgd(loss_or_grads, params, learning_rate), params,
                          momentum=momentum)


def apply_nesterov_momentum(updates, params=None, momentum=0.9):
    """Add Nesterov momentum to an update dictionary: with the step
    ``u = updates[param] - param``, ``v = momentum * v + u`` and
    ``param += momentum * v + u``.

    This is the reformulation of Nesterov's accelerated gradient (Sutskever
    et al., 2013) in which the gradient is taken at the current parameter
    values.

    Parameters
    ----------
    updates : OrderedDict
        Parameter to update expression, e.g. from :func:`sgd`.
    params : list of shared variables, optional
        Which parameters get momentum; all keys of `updates` by default.
    momentum : float or scalar expression

    Returns
    -------
    OrderedDict

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.array([1.0]))
    >>> updates = apply_nesterov_momentum(sgd((w ** 2).sum(), [w], 0.1))
    >>> len(updates)
    2
    """
    def add(param, target, mu, velocity):
        new_velocity = mu * velocity + target - param
        return new_velocity, mu * new_velocity + target
    return _with_velocity(updates, params, momentum,
                          "apply_nesterov_momentum", add)


def nesterov_momentum(loss_or_grads, params, learning_rate, momentum=0.9):
    """SGD with Nesterov momentum: ``v = momentum * v - learning_rate *
    grad; param += momentum * v - learning_rate * grad``.

    Same as ``apply_nesterov_momentum(sgd(...), momentum=momentum)``; see
    :func:`apply_nesterov_momentum`.

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.array([1.0]))
    >>> f = pytensor.function([], updates=nesterov_momentum(
    ...     (w ** 2).sum(), [w], 0.1))
    >>> _ = f(); w.get_value()
    array([0.62])
    """
    return apply_nesterov_momentum(sgd(loss_or_grads, params, learning_rate),
                                   params, momentum=momentum)


def adagrad(loss_or_grads, params, learning_rate=1.0, epsilon=1e-6):
    """Adagrad (Duchi et al., 2011): ``acc += grad**2; param -=
    learning_rate * grad / sqrt(acc + epsilon)``.

    Parameters
    ----------
    loss_or_grads : scalar expression or list of expressions
    params : list of shared variables
    learning_rate : float or scalar expression
    epsilon : float or scalar expression
        Added inside the square root, for numerical stability.

    Returns
    -------
    OrderedDict

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.array([1.0]))
    >>> f = pytensor.function([], updates=adagrad((w ** 2).sum(), [w], 0.5))
    >>> _ = f(); w.get_value().round(6)
    array([0.5])
    """
    def step(param, grad, h, state):
        accu = state("accu")
        new_accu = accu + grad ** 2
        return (param - h.learning_rate * grad / pt.sqrt(new_accu + h.epsilon),
                {accu: new_accu})
    return _rule(loss_or_grads, params,
                 dict(learning_rate=learning_rate, epsilon=epsilon), step)


def rmsprop(loss_or_grads, params, learning_rate=1.0, rho=0.9, epsilon=1e-6):
    """RMSProp (Tieleman & Hinton, 2012): ``acc = rho * acc + (1 - rho) *
    grad**2; param -= learning_rate * grad / sqrt(acc + epsilon)``.

    Parameters
    ----------
    loss_or_grads : scalar expression or list of expressions
    params : list of shared variables
    learning_rate : float or scalar expression
    rho : float or scalar expression
        Decay of the moving average of squared gradients.
    epsilon : float or scalar expression
        Added inside the square root.

    Returns
    -------
    OrderedDict

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.array([1.0]))
    >>> f = pytensor.function([], updates=rmsprop((w ** 2).sum(), [w], 0.01))
    >>> _ = f(); w.get_value().round(4)
    array([0.9684])
    """
    def step(param, grad, h, state):
        accu = state("accu")
        new_accu = h.rho * accu + (1 - h.rho) * grad ** 2
        return (param - h.learning_rate * grad / pt.sqrt(new_accu + h.epsilon),
                {accu: new_accu})
    return _rule(loss_or_grads, params, dict(
        learning_rate=learning_rate, rho=rho, epsilon=epsilon), step)


def adadelta(loss_or_grads, params, learning_rate=1.0, rho=0.95,
             epsilon=1e-6):
    """Adadelta (Zeiler, 2012).

    The update of each parameter::

        acc = rho * acc + (1 - rho) * grad**2
        step = grad * sqrt(delta_acc + epsilon) / sqrt(acc + epsilon)
        param -= learning_rate * step
        delta_acc = rho * delta_acc + (1 - rho) * step**2

    Parameters
    ----------
    loss_or_grads : scalar expression or list of expressions
    params : list of shared variables
    learning_rate : float or scalar expression
        1.0 in the paper.
    rho : float or scalar expression
        Decay of both moving averages.
    epsilon : float or scalar expression
        Added inside both square roots; it also sets the size of the first
        steps.

    Returns
    -------
    OrderedDict

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.array([1.0]))
    >>> len(adadelta((w ** 2).sum(), [w]))
    3
    """
    def step(param, grad, h, state):
        r, eps = h.rho, h.epsilon
        accu, delta_accu = state("accu"), state("delta_accu")
        new_accu = r * accu + (1 - r) * grad ** 2
        update = grad * pt.sqrt(delta_accu + eps) / pt.sqrt(new_accu + eps)
        return param - h.learning_rate * update, {
            accu: new_accu, delta_accu: r * delta_accu + (1 - r) * update ** 2}
    return _rule(loss_or_grads, params, dict(
        learning_rate=learning_rate, rho=rho, epsilon=epsilon), step)


def _bias_corrected_lr(h):
    """Adam's step size at step ``h.t``,
    ``learning_rate * sqrt(1 - beta2**t) / (1 - beta1**t)``."""
    return (h.learning_rate / (1 - h.beta1 ** h.t)
            * pt.sqrt(1 - h.beta2 ** h.t))


def _moments(m_prev, v_prev, grad, h):
    """Adam's moving averages of the gradient and of its square."""
    return (h.beta1 * m_prev + (1 - h.beta1) * grad,
            h.beta2 * v_prev + (1 - h.beta2) * grad ** 2)


def adam(loss_or_grads, params, learning_rate=0.001, beta1=0.9, beta2=0.999,
         epsilon=1e-8):
    """Adam (Kingma & Ba, 2014).

    The update of each parameter, with the bias correction folded into the
    step size::

        t += 1
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        param -= learning_rate * sqrt(1 - beta2**t) / (1 - beta1**t)
                 * m / (sqrt(v) + epsilon)

    Parameters
    ----------
    loss_or_grads : scalar expression or list of expressions
    params : list of shared variables
    learning_rate : float or scalar expression
    beta1, beta2 : float or scalar expression
        Decay of the first and second moment estimates.
    epsilon : float or scalar expression
        Added to the root of the (uncorrected) second moment.

    Returns
    -------
    OrderedDict
        Also updates a shared step counter.

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.array([1.0]))
    >>> f = pytensor.function([], updates=adam((w ** 2).sum(), [w], 0.1))
    >>> _ = f(); w.get_value().round(6)
    array([0.9])
    """
    def step(param, grad, h, state):
        m_prev, v_prev = state("m"), state("v")
        m, v = _moments(m_prev, v_prev, grad, h)
        return (param - _bias_corrected_lr(h) * m / (pt.sqrt(v) + h.epsilon),
                {m_prev: m, v_prev: v})
    return _rule(loss_or_grads, params, dict(
        learning_rate=learning_rate, beta1=beta1, beta2=beta2,
        epsilon=epsilon), step, counted=True)


def adamax(loss_or_grads, params, learning_rate=0.002, beta1=0.9,
           beta2=0.999, epsilon=1e-8):
    """Adamax (Kingma & Ba, 2014), Adam with the infinity norm.

    The update of each parameter::

        t += 1
        m = beta1 * m + (1 - beta1) * grad
        u = max(beta2 * u, abs(grad))
        param -= learning_rate / (1 - beta1**t) * m / (u + epsilon)

    Parameters
    ----------
    loss_or_grads : scalar expression or list of expressions
    params : list of shared variables
    learning_rate : float or scalar expression
    beta1, beta2 : float or scalar expression
        Decay of the first moment and of the infinity norm.
    epsilon : float or scalar expression
        Added to the infinity norm.

    Returns
    -------
    OrderedDict

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.array([1.0]))
    >>> f = pytensor.function([], updates=adamax((w ** 2).sum(), [w], 0.1))
    >>> _ = f(); w.get_value().round(6)
    array([0.9])
    """
    def step(param, grad, h, state):
        m_prev, u_prev = state("m"), state("u")
        m = h.beta1 * m_prev + (1 - h.beta1) * grad
        u = pt.maximum(h.beta2 * u_prev, pt.abs(grad))
        rate = h.learning_rate / (1 - h.beta1 ** h.t)
        return param - rate * m / (u + h.epsilon), {m_prev: m, u_prev: u}
    return _rule(loss_or_grads, params, dict(
        learning_rate=learning_rate, beta1=beta1, beta2=beta2,
        epsilon=epsilon), step, counted=True)


def amsgrad(loss_or_grads, params, learning_rate=0.001, beta1=0.9,
            beta2=0.999, epsilon=1e-8):
    """AMSGrad (Reddi et al., 2018).

    Adam dividing by the running maximum of the second moment estimate::

        t += 1
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        v_hat = max(v_hat, v)
        param -= learning_rate * sqrt(1 - beta2**t) / (1 - beta1**t)
                 * m / (sqrt(v_hat) + epsilon)

    Parameters
    ----------
    loss_or_grads : scalar expression or list of expressions
    params : list of shared variables
    learning_rate : float or scalar expression
    beta1, beta2 : float or scalar expression
    epsilon : float or scalar expression

    Returns
    -------
    OrderedDict

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.array([1.0]))
    >>> f = pytensor.function([], updates=amsgrad((w ** 2).sum(), [w], 0.1))
    >>> _ = f(); w.get_value().round(6)
    array([0.9])
    """
    def step(param, grad, h, state):
        m_prev, v_prev, v_hat_prev = state("m"), state("v"), state("v_hat")
        m, v = _moments(m_prev, v_prev, grad, h)
        v_hat = pt.maximum(v_hat_prev, v)
        new_param = param - _bias_corrected_lr(h) * m / (pt.sqrt(v_hat) + h.epsilon)
        return new_param, {m_prev: m, v_prev: v, v_hat_prev: v_hat}
    return _rule(loss_or_grads, params, dict(
        learning_rate=learning_rate, beta1=beta1, beta2=beta2,
        epsilon=epsilon), step, counted=True)


def norm_constraint(tensor_var, max_norm, norm_axes=None, epsilon=1e-7):
    """Rescale the slices of `tensor_var` whose L2 norm exceeds `max_norm`
    down to that norm (Srebro & Shraibman, 2005); the others are kept.

    Typically applied to an update: ``updates[W] =
    norm_constraint(updates[W], 3.0)``.

    Parameters
    ----------
    tensor_var : expression
    max_norm : float or scalar expression
    norm_axes : sequence of int, optional
        Axes the norms are taken over. By default ``(0,)`` for a matrix
        (one norm per column, i.e. per unit of a dense layer) and all axes
        but the first for 3 to 5 dimensions (one norm per convolution
        filter). Required for other numbers of dimensions.
    epsilon : float
        Added to the norm before dividing.

    Returns
    -------
    expression of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> norm_constraint(np.array([[3.0, 0.3], [4.0, 0.4]]), 1.0).eval().round(6)
    array([[0.6, 0.3],
           [0.8, 0.4]])
    """
    tensor_var = pt.as_tensor_variable(tensor_var)
    ndim = tensor_var.ndim
    if norm_axes is not None:
        axes = tuple(norm_axes)
    elif ndim == 2:
        axes = (0,)
    elif ndim in (3, 4, 5):
        axes = tuple(range(1, ndim))
    else:
        raise ValueError(
            f"norm_constraint: Unsupported tensor dimensionality {ndim}: no "
            f"default norm_axes for a tensor of {ndim} dimensions (defaults "
            f"exist for 2 to 5). Pass norm_axes, the axes to take each norm "
            f"over.")
    dtype = tensor_var.dtype
    norms = pt.sqrt(pt.sum(pt.square(tensor_var), axis=axes, keepdims=True))
    target = pt.minimum(norms, _cast(max_norm, dtype))
    return tensor_var * (target / (_cast(epsilon, dtype) + norms))


def total_norm_constraint(tensor_vars, max_norm, epsilon=1e-7,
                          return_norm=False):
    """Rescale a list of tensors (typically gradients) together so that
    their joint L2 norm is at most `max_norm` ("gradient clipping by global
    norm", Pascanu et al., 2013).

    Parameters
    ----------
    tensor_vars : list of expressions
    max_norm : float or scalar expression
    epsilon : float
        Added to the norm before dividing.
    return_norm : bool
        Also return the joint norm before rescaling.

    Returns
    -------
    list of expressions, or (list, norm) if `return_norm`.

    Examples
    --------
    >>> import numpy as np
    >>> g, norm = total_norm_constraint([np.array([3.0]), np.array([4.0])],
    ...                                 1.0, return_norm=True)
    >>> norm.eval(), g[1].eval().round(6)
    (array(5.), array([0.8]))
    """
    tensor_vars = [pt.as_tensor_variable(t) for t in tensor_vars]
    if not tensor_vars:
        raise ValueError(
            "total_norm_constraint: got an empty list of tensors; pass the "
            "tensors (e.g. gradients) to rescale together.")
    dtype = pytensor.scalar.upcast(*(t.dtype for t in tensor_vars))
    norm = pt.sqrt(sum(pt.sum(pt.square(t)).astype(dtype) for t in tensor_vars))
    scale = pt.minimum(norm, _cast(max_norm, dtype)) / (_cast(epsilon, dtype) + norm)
    constrained = [t * scale.astype(t.dtype) for t in tensor_vars]
    if return_norm:
        return constrained, norm
    return constrained


def clip_grad_norm(loss_or_grads, params, max_norm, epsilon=1e-7,
                   return_norm=False):
    """The gradients of `loss_or_grads` with respect to `params`, rescaled
    together so that their global L2 norm is at most `max_norm`; pass them
    to any update rule in place of the loss.

    This is :func:`total_norm_constraint` applied to
    :func:`get_or_compute_grads`, in one call:
    ``adam(clip_grad_norm(loss, params, 1.0), params)``.

    Parameters
    ----------
    loss_or_grads : scalar expression or list of expressions
    params : list of shared variables
    max_norm : float or scalar expression
    epsilon : float
        Added to the norm before dividing.
    return_norm : bool
        Also return the global norm before clipping (to monitor it).

    Returns
    -------
    list of expressions, or (list, norm) if `return_norm`.

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.array([3.0, 4.0]))
    >>> grads, norm = clip_grad_norm((w ** 2).sum() / 2, [w], 1.0,
    ...                              return_norm=True)
    >>> float(norm.eval()), grads[0].eval().round(6)
    (5.0, array([0.6, 0.8]))
    >>> updates = sgd(grads, [w], learning_rate=0.5)
    """
    params = list(params)
    return total_norm_constraint(get_or_compute_grads(loss_or_grads, params),
                                 max_norm, epsilon=epsilon,
                                 return_norm=return_norm)


from ._updates_modern import adamw, lion, nadam, radam  # noqa: E402
