"""N-d pooling over the trailing axes of a tensor, with its gradients.

The Ops here replace Theano's ``signal.pool`` (removed from PyTensor):

* :class:`Pool` -- max or average pooling of any number of trailing
  (spatial) axes -- 1, 2 or 3 in practice -- after any number of leading
  axes (batch, channels, ...);
* :class:`PoolGrad` -- its gradient with respect to the input;
* :class:`MaxPoolGradGrad` -- the gradient of the max-pool gradient with
  respect to the output gradient, so second derivatives exist as well.

Each Op has a numpy reference (``pool_forward_numpy`` and its siblings
below), a Numba kernel generated for its window
(:mod:`lasagne.ops._pool_numba`) and a JAX lowering on
``jax.lax.reduce_window`` (:mod:`lasagne.ops._pool_jax`). ``perform`` (what
the C VM and the default node linker run) calls kernels compiled once per
machine with the window given at run time (:mod:`lasagne.ops._pool_machine`)
for one to three pooled axes of float arrays, and the numpy reference
otherwise.

Semantics (those of Theano's ``pool_2d``):

* windows of size ``ws`` start every ``stride`` elements of the input padded
  by ``pad`` on both sides of each spatial axis;
* ``'max'`` takes the maximum over the part of the window inside the input
  (padding never wins); ``'average_exc_pad'`` averages over that same part;
  ``'average_inc_pad'`` sums over it and divides by the number of window
  positions inside the padded input (padding counts as zeros);
* ``ignore_border=False`` keeps a last, partial window wherever the input
  does not divide evenly (only without padding, as in Theano);
* the max gradient goes, whole, to the *first* maximum of each window in
  row-major order (the lowest flat index in the window): ties never split
  or duplicate the gradient, on every backend.
"""
import itertools

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

__all__ = ["Pool", "PoolGrad", "MaxPoolGradGrad", "pool", "pool_output_shape",
           "POOL_MODES"]

#: The pooling modes understood by :func:`pool`.
POOL_MODES = ("max", "average_inc_pad", "average_exc_pad")


def _out_length(n, k, s, p, ignore_border, maximum=max):
    """Output length along one axis. `n` may be an int or, with
    ``maximum=pt.maximum``, a symbolic scalar (for ``infer_shape``)."""
    if ignore_border:
        return maximum((n + 2 * p - k) // s + 1, 0)
    if s >= k:
        return (n - 1) // s + 1
    return maximum((n - k + s - 1) // s, 0) + 1


def pool_output_shape(spatial_shape, ws, stride, pad, ignore_border):
    """Spatial output shape of a pooling, for known integer input sizes.

    Examples
    --------
    >>> pool_output_shape((5, 4), (2, 2), (2, 2), (0, 0), ignore_border=False)
    (3, 2)
    """
    return tuple(_out_length(int(n), k, s, p, ignore_border)
                 for n, k, s, p in zip(spatial_shape, ws, stride, pad))


def _as_int_tuple(value, nd, what):
    if isinstance(value, (int, np.integer)):
        value = (value,) * nd
    try:
        value = tuple(value)
    except TypeError:
        raise TypeError(f"pool: `{what}` must be an int or a tuple of {nd} "
                        f"ints, got {value!r}.") from None
    if len(value) != nd or not all(isinstance(v, (int, np.integer))
                                   for v in value):
        raise ValueError(f"pool: `{what}` must be an int or a tuple of {nd} "
                         f"ints (one per pooled axis, as `ws`), got {value!r}.")
    return tuple(int(v) for v in value)


def _check_params(ws, stride, pad, ignore_border, mode):
    """Normalise and validate pooling parameters; returns tuples."""
    if isinstance(ws, (int, np.integer)):
        ws = (ws,)
    try:
        nd = len(ws)
    except TypeError:
        raise TypeError(f"pool: `ws` must be an int or a tuple of ints, got "
                        f"{ws!r}.") from None
    if nd < 1:
        raise ValueError("pool: `ws` is empty; give one window size per "
                         "pooled axis.")
    ws = _as_int_tuple(ws, nd, "ws")
    stride = ws if stride is None else _as_int_tuple(stride, nd, "stride")
    pad = _as_int_tuple(pad, nd, "pad")
    if min(ws) < 1 or min(stride) < 1:
        raise ValueError(f"pool: `ws` and `stride` must be positive, got "
                         f"ws={ws}, stride={stride}.")
    if min(pad) < 0 or any(p >= k for p, k in zip(pad, ws)):
        raise ValueError(f"pool: every `pad` must be >= 0 and smaller than "
                         f"the window size, got pad={pad} for ws={ws}. Use a "
                         f"smaller padding or a larger window.")
    if any(pad) and not ignore_border:
        raise ValueError(f"pool: padding (pad={pad}) requires "
                         f"ignore_border=True, as in Theano. Pass "
                         f"ignore_border=True or pad=0.")
    if mode not in POOL_MODES:
        raise ValueError(f"pool: `mode` must be one of {POOL_MODES}, got "
                         f"{mode!r}.")
    return ws, stride, pad, bool(ignore_border), mode


class _PoolOpBase(Op):
    """Shared parameters, validation and shape logic of the pooling Ops."""

    __props__ = ("ws", "stride", "pad", "ignore_border", "mode")

    def __init__(self, ws, stride=None, pad=0, ignore_border=True, mode="max"):
        (self.ws, self.stride, self.pad, self.ignore_border,
         self.mode) = _check_params(ws, stride, pad, ignore_border, mode)

    @property
    def nd(self):
        return len(self.ws)

    def _check_input(self, x):
        x = pt.as_tensor_variable(x)
        if x.ndim < self.nd:
            raise ValueError(f"{type(self).__name__}: pooling {self.nd} axes "
                             f"needs an input of at least {self.nd} "
                             f"dimensions, got {x.ndim}.")
        if self.mode != "max" and not x.dtype.startswith("float"):
            raise TypeError(f"{type(self).__name__}: mode {self.mode!r} needs "
                            f"a float input, got dtype {x.dtype}. Cast it "
                            f"first.")
        return x

    def _out_static_shape(self, shape):
        lead, spatial = shape[:-self.nd], shape[-self.nd:]
        out = tuple(None if n is None else
                    _out_length(n, k, s, p, self.ignore_border)
                    for n, k, s, p in zip(spatial, self.ws, self.stride,
                                          self.pad))
        return tuple(lead) + out

    def _out_symbolic_shape(self, shape):
        lead, spatial = shape[:-self.nd], shape[-self.nd:]
        return list(lead) + [
            _out_length(n, k, s, p, self.ignore_border, maximum=pt.maximum)
            for n, k, s, p in zip(spatial, self.ws, self.stride, self.pad)]

    def _params(self):
        return self.ws, self.stride, self.pad, self.ignore_border, self.mode


def _machine(op, node):
    """The module of the kernels compiled once per machine
    (:mod:`lasagne.ops._pool_machine`) where they run `node`, else None
    (the numpy reference then)."""
    from . import _pool_machine  # here: it imports numba
    return _pool_machine if _pool_machine.supports(op, node) else None


def _empty_axis(op, x):
    """Whether a pooled axis of `x` has length 0 (windows then lie in the
    padding alone: the numpy reference handles them)."""
    return 0 in x.shape[x.ndim - op.nd:]


class Pool(_PoolOpBase):
    """Pooling of the trailing ``len(ws)`` axes. Use :func:`pool`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16.).reshape(1, 1, 4, 4)
    >>> Pool(ws=(2, 2), mode="average_inc_pad")(x).eval()
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    """

    def make_node(self, x):
        x = self._check_input(x)
        out = pt.tensor(dtype=x.dtype,
                        shape=self._out_static_shape(x.type.shape))
        return Apply(self, [x], [out])

    def perform(self, node, inputs, outputs):
        [x] = inputs
        machine = _machine(self, node)
        if machine is not None and not _empty_axis(self, x):
            spatial = x.shape[x.ndim - self.nd:]
            outputs[0][0] = machine.pool_forward(
                self, x, pool_output_shape(spatial, *self._params()[:4]))
            return
        outputs[0][0] = pool_forward_numpy(x, *self._params())

    def infer_shape(self, fgraph, node, shapes):
        return [self._out_symbolic_shape(shapes[0])]

    def pullback(self, inputs, outputs, cotangents):
        [x], [gz] = inputs, cotangents
        return [PoolGrad(*self._params())(x, gz)]


class PoolGrad(_PoolOpBase):
    """Gradient of :class:`Pool` with respect to its input: ``(x, gz)``
    gives the input-shaped gradient.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1., 3., 2., 0.]])
    >>> PoolGrad(ws=(2,))(x, np.array([[10., 20.]])).eval()
    array([[ 0., 10., 20.,  0.]])
    """

    def make_node(self, x, gz):
        x = self._check_input(x)
        gz = pt.as_tensor_variable(gz)
        if gz.ndim != x.ndim:
            raise ValueError(f"PoolGrad: gz has {gz.ndim} dimensions, x has "
                             f"{x.ndim}.")
        return Apply(self, [x, gz], [pt.tensor(dtype=gz.dtype,
                                                shape=x.type.shape)])

    def perform(self, node, inputs, outputs):
        x, gz = inputs
        machine = _machine(self, node)
        if machine is not None and not _empty_axis(self, x):
            outputs[0][0] = machine.pool_grad(self, x, gz)
            return
        outputs[0][0] = pool_grad_numpy(x, gz, *self._params())

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def connection_pattern(self, node):
        # An average's gradient depends on x only through its shape.
        return [[self.mode == "max"], [True]]

    def pullback(self, inputs, outputs, cotangents):
        x, gz = inputs
        [ggx] = cotangents
        if self.mode == "max":
            # The routing is locally constant in x: zero gradient there.
            return [pt.zeros_like(x),
                    MaxPoolGradGrad(*self._params())(x, ggx)]
        # Average pooling is linear: its gradient's adjoint is itself.
        return [disconnected_type(), Pool(*self._params())(ggx)]


class MaxPoolGradGrad(_PoolOpBase):
    """``(x, g) -> g`` read at the first maximum of every window of ``x``:
    the gradient of the max-pool gradient with respect to the output
    gradient (and the directional derivative of max pooling).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1., 3., 2., 0.]])
    >>> MaxPoolGradGrad(ws=(2,))(x, np.array([[5., 6., 7., 8.]])).eval()
    array([[6., 7.]])
    """

    def __init__(self, ws, stride=None, pad=0, ignore_border=True, mode="max"):
        super().__init__(ws, stride, pad, ignore_border, mode)
        if self.mode != "max":
            raise ValueError("MaxPoolGradGrad only exists for mode='max'.")

    def make_node(self, x, g):
        x = self._check_input(x)
        g = pt.as_tensor_variable(g)
        if g.ndim != x.ndim:
            raise ValueError(f"MaxPoolGradGrad: g has {g.ndim} dimensions, x "
                             f"has {x.ndim}.")
        out = pt.tensor(dtype=g.dtype,
                        shape=self._out_static_shape(x.type.shape))
        return Apply(self, [x, g], [out])

    def perform(self, node, inputs, outputs):
        x, g = inputs
        outputs[0][0] = max_pool_gather_numpy(x, g, *self._params())

    def infer_shape(self, fgraph, node, shapes):
        return [self._out_symbolic_shape(shapes[0])]

    def pullback(self, inputs, outputs, cotangents):
        x, g = inputs
        [gout] = cotangents
        return [pt.zeros_like(x), PoolGrad(*self._params())(x, gout)]


def pool(input, ws, stride=None, pad=0, ignore_border=True, mode="max"):
    """Pool the trailing ``len(ws)`` axes of `input`.

    Parameters
    ----------
    input : tensor
        ``(..., *spatial)``: any number of leading axes (typically batch and
        channels) followed by the pooled axes.
    ws : int or tuple of int
        Window size per pooled axis; an int pools one axis.
    stride : int or tuple of int, optional
        Step between windows; defaults to `ws` (non-overlapping windows).
    pad : int or tuple of int
        Implicit padding on both sides of each pooled axis, smaller than
        the window. Padding is never the maximum and counts only for
        ``'average_inc_pad'``.
    ignore_border : bool
        If False, a last partial window is kept where the input does not
        divide evenly (requires ``pad=0``).
    mode : {'max', 'average_inc_pad', 'average_exc_pad'}

    Returns
    -------
    tensor of the same dtype and leading shape.

    Notes
    -----
    The gradient of max pooling goes, whole, to the first maximum of each
    window in row-major order, on every backend.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16.).reshape(1, 1, 4, 4)
    >>> pool(x, (2, 2)).eval()
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    >>> pool(x, (3, 3), stride=2, ignore_border=False,
    ...      mode="average_exc_pad").eval()
    array([[[[ 5. ,  6.5],
             [11. , 12.5]]]])
    """
    return Pool(ws, stride, pad, ignore_border, mode)(input)


# --------------------------------------------------------------------------
# numpy reference implementation (``perform``), for any number of axes.
# --------------------------------------------------------------------------

def _geometry(spatial, ws, stride, pad, ignore_border):
    """Output shape and the padded extent that holds every window."""
    out = pool_output_shape(spatial, ws, stride, pad, ignore_border)
    extent = tuple(max(n + 2 * p, (o - 1) * s + k if o else 0)
                   for n, k, s, p, o in zip(spatial, ws, stride, pad, out))
    return out, extent


def _window_views(arr, ws, stride, out):
    """For each offset inside the window: the strided view of `arr` that
    holds that element of every window."""
    for offset in itertools.product(*(range(k) for k in ws)):
        index = tuple(slice(o, o + (n - 1) * s + 1, s) if n else slice(0, 0)
                      for o, s, n in zip(offset, stride, out))
        yield (Ellipsis,) + index


def _divisor(spatial, ws, stride, pad, out, mode):
    """Per-window element count of the average modes, broadcastable to the
    output's spatial shape."""
    total = np.ones((), dtype=np.float64)
    for n, k, s, p, o in zip(spatial, ws, stride, pad, out):
        start = np.arange(o) * s
        if mode == "average_inc_pad":
            count = np.minimum(start + k, n + 2 * p) - start
        else:
            count = (np.minimum(start + k, n + p) - np.maximum(start, p))
        total = np.multiply.outer(total, count)
    return total


def _padded(x, spatial, pad, extent, fill):
    nd = len(spatial)
    buf = np.full(x.shape[:-nd] + extent, fill, dtype=x.dtype)
    inner = tuple(slice(p, p + n) for p, n in zip(pad, spatial))
    buf[(Ellipsis,) + inner] = x
    return buf, (Ellipsis,) + inner


def _argmax_offsets(x, ws, stride, pad, ignore_border):
    """Value and window-offset index of the first maximum of every window."""
    nd = len(ws)
    spatial = x.shape[-nd:]
    out, extent = _geometry(spatial, ws, stride, pad, ignore_border)
    low = (-np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min)
    buf, _ = _padded(x, spatial, pad, extent, low)
    best = np.full(x.shape[:-nd] + out, low, dtype=x.dtype)
    which = np.zeros(best.shape, dtype=np.int64)
    for i, view in enumerate(_window_views(buf, ws, stride, out)):
        better = buf[view] > best
        if i == 0:
            better = np.ones_like(better)
        best = np.where(better, buf[view], best)
        which = np.where(better, i, which)
    return best, which, out, extent


def pool_forward_numpy(x, ws, stride, pad, ignore_border, mode):
    """Reference pooling in numpy (see :func:`pool`)."""
    x = np.asarray(x)
    if mode == "max":
        return _argmax_offsets(x, ws, stride, pad, ignore_border)[0]
    nd = len(ws)
    spatial = x.shape[-nd:]
    out, extent = _geometry(spatial, ws, stride, pad, ignore_border)
    buf, _ = _padded(x, spatial, pad, extent, 0)
    total = np.zeros(x.shape[:-nd] + out, dtype=np.float64)
    for view in _window_views(buf, ws, stride, out):
        total += buf[view]
    total /= _divisor(spatial, ws, stride, pad, out, mode)
    return total.astype(x.dtype)


def pool_grad_numpy(x, gz, ws, stride, pad, ignore_border, mode):
    """Reference gradient of :func:`pool_forward_numpy` with respect to x."""
    x, gz = np.asarray(x), np.asarray(gz)
    nd = len(ws)
    spatial = x.shape[-nd:]
    out, extent = _geometry(spatial, ws, stride, pad, ignore_border)
    grad = np.zeros(x.shape[:-nd] + extent, dtype=np.float64)
    if mode == "max":
        which = _argmax_offsets(x, ws, stride, pad, ignore_border)[1]
        for i, view in enumerate(_window_views(grad, ws, stride, out)):
            grad[view] += np.where(which == i, gz, 0)
    else:
        share = gz / _divisor(spatial, ws, stride, pad, out, mode)
        for view in _window_views(grad, ws, stride, out):
            grad[view] += share
    inner = tuple(slice(p, p + n) for p, n in zip(pad, spatial))
    return grad[(Ellipsis,) + inner].astype(gz.dtype)


def max_pool_gather_numpy(x, g, ws, stride, pad, ignore_border, mode="max"):
    """Reference :class:`MaxPoolGradGrad`: `g` read at every window's first
    maximum of `x`."""
    x, g = np.asarray(x), np.asarray(g)
    nd = len(ws)
    spatial = x.shape[-nd:]
    _, which, out, extent = _argmax_offsets(x, ws, stride, pad, ignore_border)
    buf, _ = _padded(g, spatial, pad, extent, 0)
    result = np.zeros(which.shape, dtype=g.dtype)
    for i, view in enumerate(_window_views(buf, ws, stride, out)):
        result = np.where(which == i, buf[view], result)
    return result


from lasagne.ops import _pool_numba  # noqa: E402,F401  (registers kernels)
