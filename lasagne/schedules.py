"""Learning-rate schedules as expressions of a step counter.

A schedule is a plain scalar expression of a shared step counter (the
number of updates done so far). Pass it as ``learning_rate=`` (or any
other hyperparameter) of any rule in :mod:`lasagne.updates`: the rule finds
the counter in the expression and adds ``counter + 1`` to its updates, so
the compiled training function moves the schedule on by one step per call.
Schedules compose: a schedule given another schedule as its
`learning_rate` shares that schedule's counter.

>>> import numpy as np, pytensor
>>> from lasagne.updates import sgd
>>> w = pytensor.shared(np.array([1.0]))
>>> lr = linear_warmup(cosine_decay(0.1, decay_steps=10), warmup_steps=2)
>>> train = pytensor.function([], lr, updates=sgd((w ** 2).sum(), [w], lr))
>>> [round(float(train()), 4) for _ in range(4)]
[0.0, 0.0488, 0.0905, 0.0794]

The value at step ``k`` (0 for the first update) is the one PyTorch's
schedulers give after ``k`` calls of ``scheduler.step()``. Read the
current step with ``step_counters(lr)[0].get_value()``; set it (to resume
training) with ``set_value``. If one schedule drives two separately
compiled functions, each call of either advances it.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Variable
from pytensor.graph.traversal import ancestors

__all__ = [
    "step_counter", "step_counters", "schedule_values", "linear_warmup", "cosine_decay",
    "step_decay", "exponential_decay", "one_cycle",
]


def step_counter(name="schedule_step"):
    """A new shared int64 scalar, 0, marked as a schedule step counter:
    the update rules advance it by one per update.

    Examples
    --------
    >>> counter = step_counter()
    >>> int(counter.get_value()), counter.tag.schedule_step
    (0, True)
    """
    counter = pytensor.shared(np.int64(0), name=name)
    counter.tag.schedule_step = True
    return counter


def step_counters(expressions):
    """The schedule step counters that `expressions` (an expression or a
    list of them; numbers are skipped) depend on, in graph order.

    Examples
    --------
    >>> lr = exponential_decay(0.1, gamma=0.5)
    >>> len(step_counters(lr)), len(step_counters([0.1, lr, lr * 2]))
    (1, 1)
    """
    if not isinstance(expressions, (list, tuple)):
        expressions = [expressions]
    roots = [e for e in expressions if isinstance(e, Variable)]
    found = []
    for var in ancestors(roots):
        if (isinstance(var, SharedVariable)
                and getattr(var.tag, "schedule_step", False)
                and var not in found):
            found.append(var)
    return found


def schedule_values(schedule, num_steps):
    """The values of `schedule` at steps ``0 .. num_steps - 1`` (to plot or
    check it), without touching its counter.

    Examples
    --------
    >>> schedule_values(step_decay(1.0, step_size=1, gamma=0.5), 3)
    array([1.  , 0.5 , 0.25])
    """
    counters = step_counters(schedule)
    if len(counters) != 1:
        raise ValueError(
            f"schedule_values: the schedule depends on {len(counters)} step "
            f"counters; it needs exactly one.")
    k = pt.lscalar("k")
    f = pytensor.function([k], pt.as_tensor_variable(schedule),
                          givens={counters[0]: k}, mode="FAST_COMPILE")
    return np.array([f(i) for i in range(num_steps)])


def _counter_of(learning_rate, step, caller):
    """The counter to use: `step` if given, else the one `learning_rate`
    already depends on, else a new one."""
    if step is not None:
        if not (isinstance(step, SharedVariable)
                and getattr(step.tag, "schedule_step", False)):
            raise ValueError(
                f"{caller}: step={step!r} is not a schedule step counter; "
                f"pass one made by lasagne.schedules.step_counter(), or "
                f"step=None to share the counter of `learning_rate` (or "
                f"make a new one).")
        return step
    counters = step_counters(learning_rate)
    if len(counters) > 1:
        raise ValueError(
            f"{caller}: learning_rate depends on {len(counters)} step "
            f"counters; pass the one to use as step=.")
    return counters[0] if counters else step_counter()


def _as_float(value, like=None):
    """A number or expression as a floatX (or `like`'s dtype) scalar."""
    dtype = like.dtype if isinstance(like, Variable) else pytensor.config.floatX
    if isinstance(value, Variable):
        return pt.cast(value, dtype)
    return pt.constant(np.asarray(value, dtype=dtype))


def _check_positive(caller, name, value):
    if not value > 0:
        raise ValueError(f"{caller}: {name} must be positive, got {value!r}.")


def linear_warmup(learning_rate, warmup_steps, start_factor=0.0, step=None):
    """Ramp linearly from ``start_factor * learning_rate`` to
    `learning_rate` over `warmup_steps` updates, then follow
    `learning_rate` (PyTorch's ``LinearLR`` with ``end_factor=1``).

    Parameters
    ----------
    learning_rate : float or scalar expression
        The rate after the warm-up; may be another schedule, whose counter
        is then shared.
    warmup_steps : int
        Number of updates of the ramp.
    start_factor : float
        Fraction of `learning_rate` at the first update.
    step : shared step counter, optional

    Examples
    --------
    >>> lr = linear_warmup(1.0, warmup_steps=4)
    >>> schedule_values(lr, 6)
    array([0.  , 0.25, 0.5 , 0.75, 1.  , 1.  ])
    """
    _check_positive("linear_warmup", "warmup_steps", warmup_steps)
    k = _as_float(_counter_of(learning_rate, step, "linear_warmup"))
    fraction = pt.minimum(k / _as_float(warmup_steps), _as_float(1.0))
    start = _as_float(start_factor)
    return _as_float(learning_rate) * (start + (1 - start) * fraction)


def cosine_decay(learning_rate, decay_steps, final_learning_rate=0.0,
                 step=None):
    """Half a cosine from `learning_rate` down to `final_learning_rate`
    over `decay_steps` updates, constant after that (Loshchilov & Hutter,
    2017; PyTorch's ``CosineAnnealingLR`` for its first ``T_max`` steps).

    Examples
    --------
    >>> lr = cosine_decay(1.0, decay_steps=4)
    >>> schedule_values(lr, 6).round(4)
    array([1.    , 0.8536, 0.5   , 0.1464, 0.    , 0.    ])
    """
    _check_positive("cosine_decay", "decay_steps", decay_steps)
    k = _as_float(_counter_of(learning_rate, step, "cosine_decay"))
    fraction = pt.minimum(k / _as_float(decay_steps), _as_float(1.0))
    final = _as_float(final_learning_rate)
    cosine = (1 + pt.cos(_as_float(np.pi) * fraction)) / 2
    return final + (_as_float(learning_rate) - final) * cosine


def step_decay(learning_rate, step_size, gamma=0.1, step=None):
    """Multiply by `gamma` every `step_size` updates:
    ``learning_rate * gamma ** floor(k / step_size)`` (PyTorch's
    ``StepLR``).

    Examples
    --------
    >>> lr = step_decay(1.0, step_size=2, gamma=0.5)
    >>> schedule_values(lr, 5)
    array([1.  , 1.  , 0.5 , 0.5 , 0.25])
    """
    _check_positive("step_decay", "step_size", step_size)
    counter = _counter_of(learning_rate, step, "step_decay")
    periods = _as_float(counter // int(step_size))
    return _as_float(learning_rate) * _as_float(gamma) ** periods


def exponential_decay(learning_rate, gamma, decay_steps=1, step=None):
    """``learning_rate * gamma ** (k / decay_steps)``: multiply by `gamma`
    every `decay_steps` updates, smoothly (PyTorch's ``ExponentialLR`` for
    ``decay_steps=1``).

    Examples
    --------
    >>> lr = exponential_decay(1.0, gamma=0.5, decay_steps=2)
    >>> schedule_values(lr, 3).round(4)
    array([1.    , 0.7071, 0.5   ])
    """
    _check_positive("exponential_decay", "decay_steps", decay_steps)
    k = _as_float(_counter_of(learning_rate, step, "exponential_decay"))
    return (_as_float(learning_rate)
            * _as_float(gamma) ** (k / _as_float(decay_steps)))


def one_cycle(max_learning_rate, total_steps, pct_start=0.3, div_factor=25.0,
              final_div_factor=1e4, anneal="cos", step=None):
    """The one-cycle policy (Smith & Topin, 2017) as PyTorch's
    ``OneCycleLR`` computes it (two phases, no momentum cycling): from
    ``max_learning_rate / div_factor`` up to `max_learning_rate` by step
    ``pct_start * total_steps - 1``, then down to
    ``max_learning_rate / div_factor / final_div_factor`` at step
    ``total_steps - 1``, and constant after.

    Parameters
    ----------
    max_learning_rate : float or scalar expression
    total_steps : int
    pct_start : float
        Fraction of the steps spent increasing.
    div_factor, final_div_factor : float
    anneal : {'cos', 'linear'}
        Shape of both phases.
    step : shared step counter, optional

    Examples
    --------
    >>> lr = one_cycle(1.0, total_steps=5, pct_start=0.4, div_factor=10,
    ...                final_div_factor=10, anneal="linear")
    >>> schedule_values(lr, 5).round(4)
    array([0.1 , 1.  , 0.67, 0.34, 0.01])
    """
    if anneal not in ("cos", "linear"):
        raise ValueError(f"one_cycle: anneal={anneal!r}; use 'cos' or 'linear'.")
    _check_positive("one_cycle", "total_steps", total_steps)
    if not 0 < pct_start < 1:
        raise ValueError(
            f"one_cycle: pct_start must be in (0, 1), got {pct_start!r}.")
    k = _as_float(_counter_of(max_learning_rate, step, "one_cycle"))
    peak = _as_float(max_learning_rate)
    initial = peak / _as_float(div_factor)
    final = initial / _as_float(final_div_factor)
    up_end = float(pct_start * total_steps) - 1
    down_end = float(total_steps - 1)

    def anneal_between(start, end, pct):
        pct = pt.clip(pct, _as_float(0.0), _as_float(1.0))
        if anneal == "cos":
            return end + (start - end) / 2 * (1 + pt.cos(_as_float(np.pi) * pct))
        return start + (end - start) * pct

    up = anneal_between(initial, peak, k / _as_float(max(up_end, 1e-12)))
    down = anneal_between(peak, final, (k - _as_float(up_end))
                          / _as_float(down_end - up_end))
    return pt.switch(k <= _as_float(up_end), up, down)
