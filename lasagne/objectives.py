"""Loss and evaluation functions.

Each loss returns an elementwise (or per-example) expression; reduce it to
a scalar with :func:`aggregate`, which also applies weights, e.g. to mask
missing labels or to weight several losses against each other:

>>> import pytensor.tensor as pt
>>> predictions, targets = pt.matrix("predictions"), pt.ivector("targets")
>>> loss = aggregate(categorical_crossentropy(predictions, targets))

Everything here works on plain PyTensor expressions; no layer is needed.
"""
import numbers

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.scalar.math import Sigmoid as ScalarSigmoid
from pytensor.tensor.elemwise import DimShuffle, Elemwise
from pytensor.tensor.shape import Reshape, SpecifyShape
from pytensor.tensor.subtensor import Subtensor
from pytensor.tensor.special import Softmax, log_softmax

from .utils import as_theano_expression

__all__ = [
    "binary_crossentropy", "categorical_crossentropy", "squared_error",
    "aggregate", "binary_hinge_loss", "multiclass_hinge_loss", "huber_loss",
    "binary_accuracy", "categorical_accuracy",
]


def align_targets(predictions, targets):
    """Turn a target vector into a column when the predictions are a
    column (a network with a single output unit), so that the two do not
    broadcast to a square matrix.

    The predictions count as a column when they are a matrix whose second
    dimension is statically known to be 1.

    Returns
    -------
    predictions, targets : expressions

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> p = pt.tensor("p", shape=(None, 1)); t = pt.vector("t")
    >>> align_targets(p, t)[1].type.shape
    (None, 1)
    """
    predictions = as_theano_expression(predictions)
    targets = as_theano_expression(targets)
    if (predictions.ndim == 2 and predictions.type.shape[1] == 1
            and targets.ndim == 1):
        targets = targets.dimshuffle(0, "x")
    return predictions, targets


def _like(value, x):
    """A number as a constant of `x`'s float dtype, so that e.g. a margin
    of 0.3 keeps a float32 loss float32; symbolic values pass unchanged."""
    if isinstance(value, numbers.Number) and x.dtype.startswith("float"):
        return pt.constant(np.asarray(value, dtype=x.dtype))
    return value


#: Ops that only select or rearrange elements: sigmoid commutes with them.
_REARRANGING_OPS = (Subtensor, DimShuffle, Reshape, SpecifyShape)


def _sigmoid_input(p):
    """The logits whose sigmoid `p` is, if `p` is an elementwise sigmoid,
    possibly sliced, dimshuffled or reshaped afterwards (``sigmoid(x)[:, 0]``
    gives ``x[:, 0]``); else None."""
    owner = p.owner
    if owner is None:
        return None
    if (isinstance(owner.op, Elemwise)
            and isinstance(owner.op.scalar_op, ScalarSigmoid)):
        return owner.inputs[0]
    if isinstance(owner.op, _REARRANGING_OPS):
        inner = _sigmoid_input(owner.inputs[0])
        if inner is not None:
            return owner.clone_with_new_inputs(
                [inner] + list(owner.inputs[1:])).outputs[p.index]
    return None


def _softmax_input(p):
    """The input of `p` if `p` is a softmax over its last axis, else None."""
    owner = p.owner
    if owner is not None and isinstance(owner.op, Softmax):
        axis = owner.op.axis
        if axis is not None and tuple(axis) in ((p.ndim - 1,), (-1,)):
            return owner.inputs[0]
    return None


def binary_crossentropy(predictions, targets):
    """Elementwise binary cross-entropy,
    ``-(t * log(p) + (1 - t) * log(1 - p))``.

    Parameters
    ----------
    predictions : expression
        Predicted probabilities in (0, 1), e.g. sigmoid outputs.
    targets : expression
        Targets in [0, 1], of the same shape (a vector is aligned with a
        column of predictions, see :func:`align_targets`).

    Notes
    -----
    When `predictions` is a sigmoid, the loss is computed from its input
    ``x`` as ``t * softplus(-x) + (1 - t) * softplus(x)``, so saturated
    units give finite losses and gradients on every backend and mode.

    Examples
    --------
    >>> import numpy as np
    >>> binary_crossentropy(np.array([0.5]), np.array([1.0])).eval()
    array([0.69314718])
    """
    predictions, targets = align_targets(predictions, targets)
    logits = _sigmoid_input(predictions)
    if logits is not None:
        return targets * pt.softplus(-logits) + (1 - targets) * pt.softplus(logits)
    return -(targets * pt.log(predictions)
             + (1 - targets) * pt.log1p(-predictions))


def categorical_crossentropy(predictions, targets):
    """Categorical cross-entropy between predicted class probabilities (the
    classes on the last axis) and targets, ``-sum(t * log(p))`` per example.

    Parameters
    ----------
    predictions : expression
        Predicted probabilities, e.g. softmax outputs, of shape
        ``(batch, classes)`` (or with more leading axes).
    targets : expression
        Either integer class indices with one dimension less than
        `predictions`, or a one-hot / probability matrix of the same shape.

    Returns
    -------
    expression with one dimension less than `predictions`.

    Notes
    -----
    When `predictions` is a softmax the loss is computed from the log-
    softmax of its input, so confident wrong predictions give large finite
    losses instead of ``inf``. Classes whose target is 0 never contribute,
    even if their predicted probability is exactly 0.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.25, 0.75], [0.5, 0.5]])
    >>> categorical_crossentropy(p, np.array([1, 0])).eval()
    array([0.28768207, 0.69314718])
    >>> categorical_crossentropy(p, np.array([[0., 1.], [1., 0.]])).eval()
    array([0.28768207, 0.69314718])
    """
    predictions = as_theano_expression(predictions)
    targets = as_theano_expression(targets)
    logits = _softmax_input(predictions)
    if targets.ndim == predictions.ndim:
        if logits is not None:
            log_p = log_softmax(logits, axis=-1)
        else:
            # log(1) = 0 where the target is 0: no 0 * log(0) = nan
            log_p = pt.log(pt.switch(pt.gt(targets, 0), predictions, 1))
        return -pt.sum(targets * log_p, axis=-1)
    if targets.ndim == predictions.ndim - 1:
        if not targets.dtype.startswith(("int", "uint")):
            raise TypeError(
                f"categorical_crossentropy: targets with one dimension less "
                f"than the predictions must be integer class indices, got "
                f"dtype {targets.dtype}. Cast them (e.g. targets.astype("
                f"'int32')) or pass one-hot targets of the predictions' shape.")
        # a mask rather than advanced indexing: it needs no arange over a
        # computed length, which JAX cannot compile
        is_target = pt.eq(pt.arange(predictions.shape[-1]),
                          pt.shape_padright(targets))
        if logits is not None:
            log_p = log_softmax(logits, axis=-1)
            return -pt.sum(pt.switch(is_target, log_p, 0), axis=-1)
        return -pt.log(pt.sum(pt.switch(is_target, predictions, 0), axis=-1))
    raise TypeError(
        f"categorical_crossentropy: targets must have the predictions' "
        f"number of dimensions ({predictions.ndim}, one-hot or probabilities) "
        f"or one less ({predictions.ndim - 1}, class indices), got "
        f"{targets.ndim}.")


def squared_error(a, b):
    """Elementwise squared difference, ``(a - b)**2``.

    Examples
    --------
    >>> import numpy as np
    >>> squared_error(np.array([1.0, 2.0]), np.array([3.0, 2.0])).eval()
    array([4., 0.])
    """
    a, b = align_targets(a, b)
    return pt.square(a - b)


def aggregate(loss, weights=None, mode="mean"):
    """Reduce an elementwise loss to a scalar, optionally weighted.

    Parameters
    ----------
    loss : expression
        The elementwise (or per-example) loss.
    weights : expression or array, optional
        Multiplied with `loss` first (broadcasting applies). A weight of 0
        removes an element, e.g. a missing label. Integer or boolean masks
        are cast to the loss's float dtype.
    mode : {'mean', 'sum', 'normalized_sum'}
        ``'mean'``: mean of the weighted losses; ``'sum'``: their sum;
        ``'normalized_sum'``: their sum divided by the sum of the weights
        (the mean over the non-masked elements for 0/1 weights; `weights`
        is then required). If all weights are zero, the result is 0, not
        NaN, so a batch missing every label of one task leaves training
        unharmed.

    Examples
    --------
    >>> import numpy as np
    >>> loss = np.array([1.0, 2.0, 3.0]); mask = np.array([1.0, 0.0, 1.0])
    >>> aggregate(loss, mask, mode="normalized_sum").eval()
    array(2.)
    """
    loss = as_theano_expression(loss)
    if weights is not None:
        weights = as_theano_expression(weights)
        if not weights.dtype.startswith("float"):
            # an integer or boolean mask must not upcast a float32 loss
            weights = pt.cast(weights, loss.dtype if loss.dtype.startswith(
                "float") else pytensor.config.floatX)
        loss = loss * weights
    if mode == "mean":
        return loss.mean()
    if mode == "sum":
        return loss.sum()
    if mode == "normalized_sum":
        if weights is None:
            raise ValueError(
                "aggregate: mode='normalized_sum' divides by the sum of the "
                "weights, but no weights were given (normalized sums require "
                "weights). Pass weights, or use mode='mean' or 'sum'.")
        total = weights.sum()
        # A batch in which no example carries this loss's label (all weights
        # zero) contributes 0 instead of 0/0 = NaN; dividing by 1 then keeps
        # the gradient finite too.
        safe_total = pt.switch(pt.eq(total, 0), pt.ones_like(total), total)
        return loss.sum() / safe_total
    raise ValueError(
        f"aggregate: mode must be 'mean', 'sum' or 'normalized_sum' "
        f"(argument `mode`), got {mode!r}.")


def binary_hinge_loss(predictions, targets, delta=1, log_odds=None,
                      binary=True):
    """Elementwise binary hinge loss, ``max(0, delta - t * s)`` with scores
    ``s`` and targets ``t`` in {-1, 1}.

    Parameters
    ----------
    predictions : expression
        Real-valued scores (log-odds, e.g. sigmoid inputs) if `log_odds` is
        true, probabilities in (0, 1) (sigmoid outputs, turned into log-odds
        ``log(p / (1 - p))``) if it is false.
    targets : expression
        Targets in {0, 1} if `binary`, in {-1, 1} otherwise.
    delta : float
        The margin.
    log_odds : bool or None
        Whether the predictions are scores. ``None`` means ``True``, the
        behaviour of Lasagne before the argument existed; pass it
        explicitly to make the intent clear.
    binary : bool
        Whether the targets are in {0, 1} (mapped to {-1, 1}).

    Examples
    --------
    >>> import numpy as np
    >>> binary_hinge_loss(np.array([0.5, -2.0]), np.array([1.0, 0.0]),
    ...                   log_odds=True).eval()
    array([0.5, 0. ])
    """
    predictions = as_theano_expression(predictions)
    targets = as_theano_expression(targets)
    if log_odds is None:
        log_odds = True
    if not log_odds:
        predictions = pt.log(predictions) - pt.log1p(-predictions)
    if binary:
        targets = 2 * targets - 1
    predictions, targets = align_targets(predictions, targets)
    return pt.maximum(_like(delta, predictions) - predictions * targets, 0)


def multiclass_hinge_loss(predictions, targets, delta=1):
    """Multi-class hinge loss per example,
    ``max(0, delta + max_{j != t} s_j - s_t)`` (Crammer & Singer).

    Parameters
    ----------
    predictions : expression
        Scores of shape ``(batch, classes)``.
    targets : expression
        Integer class indices of shape ``(batch,)`` or a one-hot matrix of
        the predictions' shape.
    delta : float
        The margin.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([[2.0, 1.5, 0.0], [0.0, 3.0, 0.0]])
    >>> multiclass_hinge_loss(s, np.array([0, 0])).eval()
    array([0.5, 4. ])
    """
    predictions = as_theano_expression(predictions)
    targets = as_theano_expression(targets)
    if targets.ndim == predictions.ndim - 1:
        is_target = pt.eq(pt.arange(predictions.shape[-1]),
                          pt.shape_padright(targets))
    elif targets.ndim == predictions.ndim:
        is_target = pt.neq(targets, 0)
    else:
        raise TypeError(
            f"multiclass_hinge_loss: rank mismatch: targets must be class "
            f"indices with "
            f"{predictions.ndim - 1} dimensions or one-hot with "
            f"{predictions.ndim}, got {targets.ndim} dimensions.")
    correct = pt.sum(pt.switch(is_target, predictions, 0), axis=-1)
    others = pt.max(pt.switch(is_target, -float("inf"), predictions), axis=-1)
    return pt.maximum(others - correct + _like(delta, predictions), 0)


def huber_loss(predictions, targets, delta=1):
    """Elementwise Huber loss: ``0.5 * d**2`` for ``|d| <= delta`` and
    ``delta * (|d| - delta / 2)`` beyond, with ``d = predictions - targets``.

    Examples
    --------
    >>> import numpy as np
    >>> huber_loss(np.array([0.5, 3.0]), np.array([0.0, 0.0])).eval()
    array([0.125, 2.5  ])
    """
    predictions, targets = align_targets(predictions, targets)
    delta = _like(delta, predictions)
    abs_diff = pt.abs(targets - predictions)
    quadratic = 0.5 * pt.square(targets - predictions)
    linear = delta * (abs_diff - 0.5 * delta)
    return pt.switch(pt.le(abs_diff, delta), quadratic, linear)


def binary_accuracy(predictions, targets, threshold=0.5):
    """Elementwise binary accuracy: 1 where ``predictions >= threshold``
    equals the {0, 1} target, else 0 (as floatX).

    Examples
    --------
    >>> import numpy as np
    >>> binary_accuracy(np.array([0.2, 0.7, 0.9]), np.array([0, 1, 0])).eval()
    array([1., 1., 0.])
    """
    predictions, targets = align_targets(predictions, targets)
    hits = pt.eq(pt.ge(predictions, threshold), targets)
    return pt.cast(hits, pytensor.config.floatX)


def categorical_accuracy(predictions, targets, top_k=1):
    """Per-example categorical accuracy: 1 where the target class is among
    the `top_k` highest predictions, else 0 (as floatX).

    Parameters
    ----------
    predictions : expression
        Scores or probabilities, classes on the last axis.
    targets : expression
        Integer class indices with one dimension less, or one-hot /
        probability targets of the predictions' shape (their argmax is the
        class).
    top_k : int
        How many of the highest predictions count as a hit.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    >>> categorical_accuracy(p, np.array([2, 0])).eval()
    array([0., 1.])
    >>> categorical_accuracy(p, np.array([2, 0]), top_k=2).eval()
    array([1., 1.])
    """
    predictions = as_theano_expression(predictions)
    targets = as_theano_expression(targets)
    if targets.ndim == predictions.ndim:
        targets = pt.argmax(targets, axis=-1)
    elif targets.ndim != predictions.ndim - 1:
        raise TypeError(
            f"categorical_accuracy: rank mismatch: targets must be class "
            f"indices with "
            f"{predictions.ndim - 1} dimensions or one-hot with "
            f"{predictions.ndim}, got {targets.ndim} dimensions.")
    if (not isinstance(top_k, numbers.Integral) or isinstance(top_k, bool)
            or top_k < 1):
        raise ValueError(
            f"categorical_accuracy: argument `top_k` must be a positive "
            f"integer, got {top_k!r}.")
    top_k = int(top_k)
    if top_k == 1:
        hits = pt.eq(pt.argmax(predictions, axis=-1), targets)
    else:
        best = pt.argsort(predictions, axis=-1)[..., -top_k:]
        hits = pt.any(pt.eq(best, pt.shape_padright(targets)), axis=-1)
    return pt.cast(hits, pytensor.config.floatX)
