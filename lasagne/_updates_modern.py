"""Update rules after Lasagne 0.2: AdamW, Lion, NAdam, RAdam.

Re-exported by :mod:`lasagne.updates`, whose shared loop (``_rule``) they
use; import them from there.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt

from .updates import _bias_corrected_lr, _cast, _moments, _rule

__all__ = ["adamw", "lion", "nadam", "radam"]


def adamw(loss_or_grads, params, learning_rate=0.001, beta1=0.9, beta2=0.999,
          epsilon=1e-8, weight_decay=0.01):
    """AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay.

    The update of each parameter, with :func:`adam`'s step::

        param = param * (1 - learning_rate * weight_decay) - adam_step

    The decay scales with the (possibly scheduled) learning rate, as in
    PyTorch's ``AdamW``; unlike an L2 penalty in the loss it does not pass
    through the moment estimates. ``weight_decay=0`` gives :func:`adam`.
    `epsilon` is added where :func:`adam` adds it (to the uncorrected root
    of the second moment; PyTorch adds it to the corrected one).

    Parameters
    ----------
    loss_or_grads : scalar expression or list of expressions
    params : list of shared variables
        Every parameter is decayed: pass only the ones to decay (e.g.
        ``get_all_params(net, regularizable=True)``) to a separate call for
        the others.
    learning_rate, beta1, beta2, epsilon : float or scalar expression
        As for :func:`adam`.
    weight_decay : float or scalar expression

    Returns
    -------
    OrderedDict

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.array([1.0]))
    >>> f = pytensor.function([], updates=adamw(
    ...     (w ** 2).sum(), [w], 0.1, weight_decay=0.5))
    >>> _ = f(); w.get_value().round(6)
    array([0.85])
    """
    def step(param, grad, h, state):
        m_prev, v_prev = state("m"), state("v")
        m, v = _moments(m_prev, v_prev, grad, h)
        decayed = param * (1 - h.learning_rate * h.weight_decay)
        new_param = decayed - _bias_corrected_lr(h) * m / (pt.sqrt(v) + h.epsilon)
        return new_param, {m_prev: m, v_prev: v}
    return _rule(loss_or_grads, params, dict(
        learning_rate=learning_rate, beta1=beta1, beta2=beta2,
        epsilon=epsilon, weight_decay=weight_decay), step, counted=True)


def lion(loss_or_grads, params, learning_rate=1e-4, beta1=0.9, beta2=0.99,
         weight_decay=0.0):
    """Lion (Chen et al., 2023, "Symbolic Discovery of Optimization
    Algorithms"): steps of equal size in every coordinate, the sign of an
    interpolation of momentum and gradient.

    The update of each parameter::

        param -= learning_rate * (sign(beta1 * m + (1 - beta1) * grad)
                                  + weight_decay * param)
        m = beta2 * m + (1 - beta2) * grad

    Its steps are larger than Adam's for the same learning rate: the paper
    uses a learning rate 3 to 10 times smaller and a weight decay as many
    times larger.

    Parameters
    ----------
    loss_or_grads : scalar expression or list of expressions
    params : list of shared variables
    learning_rate, beta1, beta2, weight_decay : float or scalar expression

    Returns
    -------
    OrderedDict

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.array([1.0, -2.0]))
    >>> f = pytensor.function([], updates=lion((w ** 2).sum(), [w], 0.1))
    >>> _ = f(); w.get_value()
    array([ 0.9, -1.9])
    """
    def step(param, grad, h, state):
        m_prev = state("m")
        direction = pt.sign(h.beta1 * m_prev + (1 - h.beta1) * grad)
        new_param = param - h.learning_rate * (direction + h.weight_decay * param)
        return new_param, {m_prev: h.beta2 * m_prev + (1 - h.beta2) * grad}
    return _rule(loss_or_grads, params, dict(
        learning_rate=learning_rate, beta1=beta1, beta2=beta2,
        weight_decay=weight_decay), step)


def nadam(loss_or_grads, params, learning_rate=0.002, beta1=0.9, beta2=0.999,
          epsilon=1e-8, momentum_decay=0.004):
    """NAdam (Dozat, 2016): Adam with Nesterov momentum, with the momentum
    schedule of the paper, as PyTorch's ``NAdam`` computes it.

    The update of each parameter::

        t += 1
        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        prod *= mu_t                     # product of mu_1 ... mu_t
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        denom = sqrt(v / (1 - beta2**t)) + epsilon
        param -= learning_rate * ((1 - mu_t) / (1 - prod) * grad
                 + mu_{t+1} / (1 - prod * mu_{t+1}) * m) / denom

    Parameters
    ----------
    loss_or_grads : scalar expression or list of expressions
    params : list of shared variables
    learning_rate, beta1, beta2, epsilon : float or scalar expression
        `epsilon` is added to the bias-corrected root, as in PyTorch.
    momentum_decay : float or scalar expression
        ``psi`` of the paper's momentum schedule.

    Returns
    -------
    OrderedDict
        Also updates the step counter and the running product of the
        momentum schedule.

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.array([1.0]))
    >>> f = pytensor.function([], updates=nadam((w ** 2).sum(), [w], 0.1))
    >>> _ = f(); w.get_value().round(6)
    array([0.894355])
    """
    def step(param, grad, h, state):
        half, base = _cast(0.5, param.dtype), _cast(0.96, param.dtype)
        mu = h.beta1 * (1 - half * base ** (h.t * h.momentum_decay))
        mu_next = h.beta1 * (1 - half * base ** ((h.t + 1) * h.momentum_decay))
        # a scalar: the product is the same for every element
        prod_prev = pytensor.shared(np.asarray(1.0, dtype=param.dtype),
                                    name=f"{param.name}_mu_product")
        prod = prod_prev * mu
        m_prev, v_prev = state("m"), state("v")
        m, v = _moments(m_prev, v_prev, grad, h)
        denom = pt.sqrt(v / (1 - h.beta2 ** h.t)) + h.epsilon
        lr = h.learning_rate
        new_param = param - (lr * (1 - mu) / (1 - prod) * grad
                             + lr * mu_next / (1 - prod * mu_next) * m) / denom
        return new_param, {m_prev: m, v_prev: v, prod_prev: prod}
    return _rule(loss_or_grads, params, dict(
        learning_rate=learning_rate, beta1=beta1, beta2=beta2,
        epsilon=epsilon, momentum_decay=momentum_decay), step, counted=True)


def radam(loss_or_grads, params, learning_rate=0.001, beta1=0.9, beta2=0.999,
          epsilon=1e-8):
    """RAdam (Liu et al., 2020): Adam whose adaptive step is switched on,
    and rectified, once the variance of the second moment estimate is
    tractable; before that it takes bias-corrected momentum steps.

    The update of each parameter, as PyTorch's ``RAdam`` computes it::

        t += 1
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        step = m / (1 - beta1**t)
        if rho_t > 5:
            r = sqrt((rho_t - 4) (rho_t - 2) rho_inf
                     / ((rho_inf - 4) (rho_inf - 2) rho_t))
            step *= r * sqrt(1 - beta2**t) / (sqrt(v) + epsilon)
        param -= learning_rate * step

    Parameters
    ----------
    loss_or_grads : scalar expression or list of expressions
    params : list of shared variables
    learning_rate, beta1, beta2, epsilon : float or scalar expression

    Returns
    -------
    OrderedDict

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.array([1.0]))
    >>> f = pytensor.function([], updates=radam((w ** 2).sum(), [w], 0.1))
    >>> _ = f(); w.get_value().round(6)
    array([0.8])
    """
    def step(param, grad, h, state):
        m_prev, v_prev = state("m"), state("v")
        m, v = _moments(m_prev, v_prev, grad, h)
        correction2 = 1 - h.beta2 ** h.t
        rho_inf = 2 / (1 - h.beta2) - 1
        rho_t = rho_inf - 2 * h.t * h.beta2 ** h.t / correction2
        # the ratio is negative while rho_t <= 4: clip it before the root
        # so the unused branch holds no nan
        ratio = ((rho_t - 4) * (rho_t - 2) * rho_inf
                 / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        rectified = (pt.sqrt(pt.maximum(ratio, 0)) * pt.sqrt(correction2)
                     / (pt.sqrt(v) + h.epsilon))
        scale = pt.switch(rho_t > 5, rectified, pt.ones_like(v))
        momentum_step = m / (1 - h.beta1 ** h.t)
        return (param - h.learning_rate * momentum_step * scale,
                {m_prev: m, v_prev: v})
    return _rule(loss_or_grads, params, dict(
        learning_rate=learning_rate, beta1=beta1, beta2=beta2,
        epsilon=epsilon), step, counted=True)
