"""Normalization layers: batch, instance and layer normalization, and
local response normalization across channels."""
import numpy as np
import pytensor.tensor as pt

from .. import init, nonlinearities, utils
from ..ops.batchnorm import batch_norm_inference, batch_norm_train
from .base import Layer
from .special import BiasLayer, NonlinearityLayer, ScaleLayer

__all__ = ["LocalResponseNormalization2DLayer", "BatchNormLayer",
           "batch_norm", "StandardizationLayer", "instance_norm",
           "layer_norm"]


class LocalResponseNormalization2DLayer(Layer):
    """Cross-channel local response normalization (AlexNet):
    ``x / (k + alpha * sum of x**2 over n neighbouring channels) ** beta``.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        A 4-d input (batch, channels, rows, columns).
    alpha, k, beta : float
        The constants of the formula (alpha is not divided by n).
    n : int
        The odd number of adjacent channels summed over.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> LocalResponseNormalization2DLayer(InputLayer((None, 8, 5, 5))).n
    5
    """

    def __init__(self, incoming, alpha=1e-4, k=2, beta=0.75, n=5, **kwargs):
        super().__init__(incoming, **kwargs)
        if len(self.input_shape) != 4:
            raise ValueError(
                f"{self._where()}needs a 4-d input (batch, channels, rows, "
                f"columns), got shape {self.input_shape}.")
        if not isinstance(n, utils.int_types) or n < 1 or n % 2 == 0:
            raise (utils._Unsupported if isinstance(n, utils.int_types)
                   and n > 0 else ValueError)(
                f"{self._where()}`n` must be a positive odd integer (the "
                f"window is centred on each channel), got {n!r}.")
        self.alpha = alpha
        self.k = k
        self.beta = beta
        self.n = int(n)

    def get_output_for(self, input, **kwargs):
        half = self.n // 2
        batch, channels, rows, cols = utils.static_shape(input)
        squares = pt.sqr(input)
        padded = pt.zeros((batch, channels + 2 * half, rows, cols),
                          dtype=input.dtype)
        padded = pt.set_subtensor(padded[:, half:half + channels], squares)
        window_sum = padded[:, 0:channels]
        for offset in range(1, self.n):
            window_sum = window_sum + padded[:, offset:offset + channels]
        scale = (self.k + self.alpha * window_sum) ** self.beta
        return input / scale


def _resolve_norm_axes(layer, axes):
    ndim = len(layer.input_shape)
    if axes == "auto":
        # all but the channel axis: per-channel statistics
        return (0,) + tuple(range(2, ndim))
    if isinstance(axes, utils.int_types):
        axes = (axes,)
    try:
        resolved = tuple(int(a) for a in axes)
    except (TypeError, ValueError):
        raise ValueError(
            f"{layer._where()}`axes` must be 'auto', an axis or a tuple of "
            f"axes, got {axes!r}.") from None
    _check_axes_in_range(layer, axes, resolved)
    return tuple(a % ndim for a in resolved)


def _check_axes_in_range(layer, given, axes):
    ndim = len(layer.input_shape)
    if any(not -ndim <= a < ndim for a in axes):
        raise ValueError(
            f"{layer._where()}`axes` {given!r} names an axis outside the "
            f"{ndim}-dimensional input of shape {layer.input_shape}; allowed "
            f"axes: {-ndim} to {ndim - 1}.")


class BatchNormLayer(Layer):
    """BatchNormLayer(incoming, axes='auto', epsilon=1e-4, alpha=0.1,
    beta=lasagne.init.Constant(0), gamma=lasagne.init.Constant(1),
    mean=lasagne.init.Constant(0), inv_std=lasagne.init.Constant(1),
    **kwargs)

    Batch normalization: ``(x - mean) * inv_std * gamma + beta``, with the
    statistics of the current batch during training and running averages of
    them at test time.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    axes : 'auto', int or tuple of int
        Axes to normalize over; 'auto' means all but the second (per-channel
        statistics over batch and spatial positions).
    epsilon : float
        Added to the variance before the square root.
    alpha : float
        Weight of the new batch statistics in the running averages.
    beta, gamma : array, shared variable, expression, callable or None
        Shift and scale (``None`` to omit).
    mean, inv_std : array, shared variable, expression or callable
        The running averages (not trainable).

    Notes
    -----
    ``get_output(..., deterministic=True)`` uses the running averages and
    leaves them unchanged; by default (training), the batch statistics are
    used and every compiled function that computes the output also updates
    the running averages. ``batch_norm_use_averages`` and
    ``batch_norm_update_averages`` override either choice.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> l = BatchNormLayer(InputLayer((None, 3, 8, 8)))
    >>> [p.name for p in l.get_params(trainable=True)]
    ['beta', 'gamma']
    """

    def __init__(self, incoming, axes="auto", epsilon=1e-4, alpha=0.1,
                 beta=init.Constant(0), gamma=init.Constant(1),
                 mean=init.Constant(0), inv_std=init.Constant(1), **kwargs):
        super().__init__(incoming, **kwargs)
        self.axes = _resolve_norm_axes(self, axes)
        self.epsilon = epsilon
        self.alpha = alpha
        shape = [size for axis, size in enumerate(self.input_shape)
                 if axis not in self.axes]
        if any(size is None for size in shape):
            raise ValueError(
                f"{self._where()}needs specified input sizes (known input "
                f"sizes on every axis not normalized over); input shape "
                f"{self.input_shape}, axes {self.axes}.")
        self.beta = (None if beta is None else
                     self.add_param(beta, shape, "beta", trainable=True,
                                    regularizable=False))
        self.gamma = (None if gamma is None else
                      self.add_param(gamma, shape, "gamma", trainable=True,
                                     regularizable=True))
        # tagged batch_norm_stat, as in Lasagne
        self.mean = self.add_param(mean, shape, "mean", trainable=False,
                                   regularizable=False, batch_norm_stat=True)
        self.inv_std = self.add_param(inv_std, shape, "inv_std",
                                      trainable=False, regularizable=False,
                                      batch_norm_stat=True)

    def get_output_for(self, input, deterministic=False,
                       batch_norm_use_averages=None,
                       batch_norm_update_averages=None, **kwargs):
        use_averages = (deterministic if batch_norm_use_averages is None
                        else batch_norm_use_averages)
        update_averages = (not deterministic
                           if batch_norm_update_averages is None
                           else batch_norm_update_averages)
        fused = self._fused_inputs(input)
        if fused is not None and not (use_averages and update_averages):
            return self._fused_output(input, fused, use_averages,
                                      update_averages)
        input_mean = input.mean(self.axes)
        input_inv_std = pt.reciprocal(
            pt.sqrt(input.var(self.axes) + self.epsilon))
        if use_averages:
            mean, inv_std = self.mean, self.inv_std
        else:
            mean, inv_std = input_mean, input_inv_std
        if update_averages:
            running_mean, running_inv_std = clones = self._running_averages()
            self._update_averages(clones, input_mean, input_inv_std,
                                  input.dtype)
            if use_averages:
                # read the averages through the updated clones: PyTensor
                # then computes the output before the (possibly in-place)
                # update; reading the original variables, which share the
                # clones' storage, could see the updated values
                mean, inv_std = running_mean, running_inv_std
            else:
                # tie the clones into the graph so the updates are collected
                mean = mean + 0 * running_mean
                inv_std = inv_std + 0 * running_inv_std
        pattern = _param_pattern(input.ndim, self.axes)
        beta = 0 if self.beta is None else self.beta.dimshuffle(pattern)
        gamma = 1 if self.gamma is None else self.gamma.dimshuffle(pattern)
        mean = mean.dimshuffle(pattern)
        inv_std = inv_std.dimshuffle(pattern)
        return (input - mean) * (gamma * inv_std) + beta

    def _running_averages(self):
        """Clones of the running averages, sharing their storage, for
        :meth:`_update_averages`."""
        return self.mean.clone(), self.inv_std.clone()

    def _update_averages(self, clones, batch_mean, batch_inv_std, dtype):
        """Give the clones default updates moving them towards the batch
        statistics: any compiled function using a graph the clones are tied
        into updates the averages, without the user passing updates."""
        alpha = pt.cast(self.alpha, dtype)
        for clone, batch in zip(clones, (batch_mean, batch_inv_std)):
            utils.set_default_update(clone, (1 - alpha) * clone + alpha * batch)

    def _fused_inputs(self, input):
        """(gamma, beta, mean, inv_std) as vectors of the input's dtype for
        the fused Ops of :mod:`lasagne.ops.batchnorm`, or None where they do
        not apply (statistics other than per channel over all other axes,
        parameters of another dtype)."""
        if self.axes != (0,) + tuple(range(2, input.ndim)):
            return None
        dtype = input.dtype
        channels = self.input_shape[1]
        values = []
        for param, fill in ((self.gamma, 1), (self.beta, 0),
                            (self.mean, None), (self.inv_std, None)):
            if param is None:
                param = pt.constant(np.full(channels, fill, dtype))
            if param.ndim != 1 or param.dtype != dtype:
                return None
            values.append(param)
        return values

    def _fused_output(self, input, fused, use_averages, update_averages):
        gamma, beta, mean, inv_std = fused
        if use_averages:
            return batch_norm_inference(input, gamma, beta, mean, inv_std)
        if not update_averages:
            return batch_norm_train(input, gamma, beta, self.epsilon)[0]
        # The clones are tied into the Op's (per-channel) shift, so every
        # function computing the output collects their updates, which read
        # the batch statistics the same Op returns.
        running_mean, running_inv_std = clones = self._running_averages()
        beta = beta + 0 * (running_mean + running_inv_std)
        output, batch_mean, batch_inv_std = batch_norm_train(
            input, gamma, beta, self.epsilon)
        self._update_averages(clones, batch_mean, batch_inv_std, input.dtype)
        return output


def _param_pattern(ndim, normalized_axes):
    """Dimshuffle pattern placing a per-feature parameter against the input."""
    param_axes = iter(range(ndim - len(normalized_axes)))
    return ["x" if axis in normalized_axes else next(param_axes)
            for axis in range(ndim)]


def _take_over(layer, suffix, kwargs):
    """Strip `layer`'s nonlinearity and bias for a normalization stacked on
    top; return (nonlinearity, name for the new layer)."""
    nonlinearity = getattr(layer, "nonlinearity", None)
    if nonlinearity is nonlinearities.identity:
        nonlinearity = None  # nothing to move on top
    if nonlinearity is not None:
        layer.nonlinearity = nonlinearities.identity
    if getattr(layer, "b", None) is not None:
        del layer.params[layer.b]
        layer.b = None
    name = kwargs.pop("name", None) or (
        getattr(layer, "name", None) and layer.name + suffix)
    return nonlinearity, name


def _nonlinearity_on_top(layer, nonlinearity, name):
    """A NonlinearityLayer applying the nonlinearity taken from the layer
    below, whatever object it is (as Lasagne's macros do: the layer it came
    from accepted it)."""
    top = NonlinearityLayer(layer, name=name)
    top.nonlinearity = nonlinearity
    return top


def batch_norm(layer, **kwargs):
    """Apply batch normalization to a layer's output, before its
    nonlinearity: the layer's bias is removed (the normalization's beta
    replaces it) and its nonlinearity moved to a layer on top.

    Parameters
    ----------
    layer : a :class:`Layer` instance
    **kwargs
        Passed to :class:`BatchNormLayer`.

    Returns
    -------
    the top layer: a :class:`BatchNormLayer`, or a
    :class:`NonlinearityLayer` on top of one.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer
    >>> l = batch_norm(DenseLayer(InputLayer((None, 10)), 5, name="fc"))
    >>> l.name, l.input_layer.name, l.input_layer.input_layer.b
    ('fc_bn_nonlin', 'fc_bn', None)
    """
    return _batch_norm(layer, BatchNormLayer, **kwargs)


def _batch_norm(layer, bn_class, **kwargs):
    """batch_norm with the normalization layer class as a parameter (the
    dnn module's variant uses its own class)."""
    nonlinearity, bn_name = _take_over(layer, "_bn", kwargs)
    layer = bn_class(layer, name=bn_name, **kwargs)
    if nonlinearity is not None:
        layer = _nonlinearity_on_top(layer, nonlinearity,
                                     bn_name and bn_name + "_nonlin")
    return layer


class StandardizationLayer(Layer):
    """Standardizes each example: subtract the mean and divide by the
    standard deviation computed over `axes` of that example alone (no
    running averages, same behaviour in training and test).

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
    axes : 'auto', 'spatial', 'features', int or tuple of int
        As in Lasagne: 'spatial': all axes from the third on (instance
        normalization); 'features': all axes but the first (layer
        normalization); 'auto': 'spatial' for inputs of 3 or more
        dimensions, the second axis for 2-d inputs.
    epsilon : float
        Added to the variance before the square root.

    Examples
    --------
    >>> import numpy as np
    >>> from lasagne.layers import InputLayer, get_output
    >>> l = StandardizationLayer(InputLayer((None, 4)), epsilon=0)
    >>> get_output(l, np.array([[1., 2., 3., 4.]])).eval().round(3)
    array([[-1.342, -0.447,  0.447,  1.342]])
    """

    def __init__(self, incoming, axes="auto", epsilon=1e-4, **kwargs):
        super().__init__(incoming, **kwargs)
        ndim = len(self.input_shape)
        if axes == "auto":  # as in Lasagne: the features of a 2-d input,
            axes = (1,) if ndim == 2 else tuple(range(2, ndim))  # else spatial
        elif axes == "spatial":
            axes = tuple(range(2, ndim))
        elif axes == "features":
            axes = tuple(range(1, ndim))
        elif isinstance(axes, str):
            raise ValueError(
                f"{self._where()}unknown `axes` {axes!r}; use 'auto', "
                f"'spatial', 'features', an axis or a tuple of axes.")
        elif isinstance(axes, utils.int_types):
            axes = (axes,)
        _check_axes_in_range(self, axes, tuple(int(a) for a in axes))
        self.axes = tuple(int(a) % ndim for a in axes)
        if not self.axes:
            raise ValueError(
                f"{self._where()}no axes to standardize over for an input of "
                f"shape {self.input_shape} with axes={axes!r}.")
        self.epsilon = epsilon

    def get_output_for(self, input, **kwargs):
        mean = input.mean(self.axes, keepdims=True)
        inv_std = pt.reciprocal(pt.sqrt(
            input.var(self.axes, keepdims=True) + self.epsilon))
        return (input - mean) * inv_std


def instance_norm(layer, learn_scale=True, learn_bias=True, **kwargs):
    """Apply instance normalization (per example and channel, over spatial
    axes) to a layer's output, before its nonlinearity, with optional
    learned per-channel scale and bias.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, NINLayer
    >>> l = instance_norm(NINLayer(InputLayer((None, 3, 8, 8)), 4))
    >>> type(l).__name__
    'NonlinearityLayer'
    """
    nonlinearity, in_name = _take_over(layer, "_in", kwargs)
    layer = StandardizationLayer(layer, axes="spatial", name=in_name, **kwargs)
    if learn_scale:
        layer = ScaleLayer(layer, shared_axes="auto",
                           name=in_name and in_name + "_scale")
    if learn_bias:
        layer = BiasLayer(layer, shared_axes="auto",
                          name=in_name and in_name + "_bias")
    if nonlinearity is not None:
        layer = _nonlinearity_on_top(layer, nonlinearity,
                                     in_name and in_name + "_nonlin")
    return layer


def layer_norm(layer, **kwargs):
    """Apply layer normalization (per example, over all its features) to a
    layer's output, before its nonlinearity, followed by a learned scale and
    bias per feature (per channel for inputs with spatial axes, as in
    Lasagne).

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer
    >>> l = layer_norm(DenseLayer(InputLayer((None, 10)), 5))
    >>> type(l.input_layer.input_layer).__name__
    'ScaleLayer'
    """
    nonlinearity, ln_name = _take_over(layer, "_ln", kwargs)
    layer = StandardizationLayer(layer, axes="features", name=ln_name,
                                 **kwargs)
    layer = ScaleLayer(layer, shared_axes="auto",
                       name=ln_name and ln_name + "_scale")
    layer = BiasLayer(layer, shared_axes="auto",
                      name=ln_name and ln_name + "_bias")
    if nonlinearity is not None:
        layer = _nonlinearity_on_top(layer, nonlinearity,
                                     ln_name and ln_name + "_nonlin")
    return layer
