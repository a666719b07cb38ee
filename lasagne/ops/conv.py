"""N-d convolution (1, 2 or 3 spatial dimensions) and its two gradients.

Three Ops share one set of parameters (:class:`ConvParams`):

* :class:`Conv` computes ``y = conv(x, w)``;
* :class:`ConvGradInput` computes the gradient of ``<conv(x, w), gy>`` with
  respect to ``x``; it is also the *transposed convolution*;
* :class:`ConvGradFilters` computes that gradient with respect to ``w``;
  :class:`ConvGradFiltersBias` also sums ``gy`` per channel (a layer's bias
  gradient), and the rewrite :func:`fuse_conv_bias_gradient` puts it in
  Numba graphs where both are computed.

Layouts: inputs are ``(batch, channels, *spatial)``, filters are
``(out_channels, in_channels // groups, *kernel)``. ``filter_flip=True``
computes a true convolution (the kernel is mirrored, as in Theano's
``conv2d``); ``filter_flip=False`` a cross-correlation (as in cuDNN and
PyTorch).

The three Ops are bilinear and adjoint to each other, so the gradient of
each one is made of the other two: gradients of any order are available.
Each Op has a numpy reference (:func:`conv_forward_numpy`, ...), a Numba
kernel (:mod:`lasagne.ops._conv_numba`: a register-tiled direct convolution,
:mod:`lasagne.ops._microkernel`) and a JAX lowering (:mod:`lasagne.ops._conv_jax`:
``jax.lax.conv_general_dilated``, hence cuDNN on an NVIDIA GPU). Their
``perform`` (the C VM's path) calls the Numba kernels too
(:mod:`lasagne.ops._conv_perform`), and numpy for other dtypes.

Use the lowercase functions: :func:`conv`, :func:`conv_transpose`
(alias :func:`conv_grad_input`), :func:`conv_grad_filters`, and the
Theano-style :func:`conv2d` / :func:`conv3d` / :func:`conv2d_grad_wrt_inputs`.
"""
import itertools
import numbers

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, disconnected_type
from pytensor.compile import optdb
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.graph.rewriting.basic import in2out, node_rewriter
from pytensor.scalar import upcast
from pytensor.tensor.math import Sum
from pytensor.tensor.type import TensorType

__all__ = ["Conv", "ConvGradInput", "ConvGradFilters", "ConvGradFiltersBias",
           "fuse_conv_bias_gradient", "conv",
           "conv_transpose", "conv_grad_input", "conv_grad_filters",
           "conv_output_shape", "normalize_padding",
           "conv2d", "conv3d", "conv2d_grad_wrt_inputs",
           "conv3d_grad_wrt_inputs"]


# --------------------------------------------------------------------------
# Argument handling
# --------------------------------------------------------------------------

def _int_tuple(value, nd, name, minimum):
    """`value` as a tuple of `nd` ints >= `minimum`, or a clear error."""
    if isinstance(value, (numbers.Integral, np.integer)):
        value = (value,) * nd
    try:
        value = tuple(value)
    except TypeError:
        raise TypeError(f"conv: argument `{name}` must be an int or a tuple "
                        f"of {nd} ints, got {value!r}.") from None
    if len(value) != nd or not all(
            isinstance(v, (numbers.Integral, np.integer)) for v in value):
        raise ValueError(f"conv: argument `{name}` must be an int or a tuple "
                         f"of {nd} ints (one per spatial dimension), got "
                         f"{value!r}.")
    if any(v < minimum for v in value):
        raise ValueError(f"conv: argument `{name}` must be >= {minimum} in "
                         f"every dimension, got {value!r}.")
    return tuple(int(v) for v in value)


def normalize_padding(padding, kernel_shape, dilation=1):
    """Per-side padding ``(pad_before, pad_after)`` from a padding spec.

    Parameters
    ----------
    padding : int, tuple, or {'valid', 'full', 'same', 'half'}
        An int pads every side alike; a tuple gives one entry per spatial
        dimension, each an int (both sides) or a pair ``(before, after)``.
        ``'valid'`` is no padding; ``'full'`` pads ``dilation * (k - 1)``
        on both sides; ``'same'`` keeps the size at stride 1 (with an even
        kernel the extra row goes after); ``'half'`` pads
        ``dilation * (k // 2)`` on both sides (Theano's mode).
    kernel_shape : tuple of int
    dilation : int or tuple of int

    Returns
    -------
    (tuple, tuple)

    Examples
    --------
    >>> normalize_padding('same', (3, 4))
    ((1, 1), (1, 2))
    >>> normalize_padding(((1, 2), 0), (3, 3))
    ((1, 0), (2, 0))
    """
    nd = len(kernel_shape)
    dilation = _int_tuple(dilation, nd, "dilation", 1)
    span = [d * (k - 1) for d, k in zip(dilation, kernel_shape)]
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * nd, (0,) * nd
        if padding == "full":
            return tuple(span), tuple(span)
        if padding == "same":
            before = tuple(s // 2 for s in span)
            return before, tuple(s - b for s, b in zip(span, before))
        if padding == "half":
            half = tuple(d * (k // 2) for d, k in zip(dilation, kernel_shape))
            return half, half
        raise ValueError(f"conv: argument `padding` must be an int, a tuple, "
                         f"or one of 'valid', 'full', 'same', 'half'; got "
                         f"{padding!r}.")
    if isinstance(padding, (numbers.Integral, np.integer)):
        padding = (padding,) * nd
    padding = tuple(padding)
    if len(padding) != nd:
        raise ValueError(f"conv: argument `padding` needs {nd} entries (one "
                         f"per spatial dimension), got {padding!r}.")
    before, after = [], []
    for p in padding:
        b, a = (p, p) if isinstance(p, (numbers.Integral, np.integer)) else p
        before.append(b)
        after.append(a)
    return (_int_tuple(tuple(before), nd, "padding", 0),
            _int_tuple(tuple(after), nd, "padding", 0))


def conv_output_shape(input_shape, kernel_shape, stride, dilation,
                      pad_before, pad_after):
    """Spatial output shape of a convolution (None where unknown).

    Examples
    --------
    >>> conv_output_shape((28, 28), (5, 5), (1, 1), (1, 1), (0, 0), (0, 0))
    (24, 24)
    """
    out = []
    for i, k, s, d, b, a in zip(input_shape, kernel_shape, stride, dilation,
                                pad_before, pad_after):
        if i is None or k is None:
            out.append(None)
        else:
            out.append((i + b + a - d * (k - 1) - 1) // s + 1)
    return tuple(out)


class ConvParams:
    """The parameters and shape arithmetic shared by the three Ops."""

    __props__ = ("stride", "dilation", "pad_before", "pad_after", "groups",
                 "filter_flip")

    def __init__(self, stride, dilation, pad_before, pad_after, groups=1,
                 filter_flip=True):
        self.nd = nd = len(stride)
        if nd not in (1, 2, 3):
            raise ValueError(f"conv: 1, 2 or 3 spatial dimensions are "
                             f"supported, got {nd}.")
        self.stride = _int_tuple(stride, nd, "stride", 1)
        self.dilation = _int_tuple(dilation, nd, "dilation", 1)
        self.pad_before = _int_tuple(pad_before, nd, "pad_before", 0)
        self.pad_after = _int_tuple(pad_after, nd, "pad_after", 0)
        if not isinstance(groups, (numbers.Integral, np.integer)) or groups < 1:
            raise ValueError(f"conv: argument `groups` must be a positive "
                             f"int, got {groups!r}.")
        self.groups = int(groups)
        self.filter_flip = bool(filter_flip)

    def params_dict(self):
        return {name: getattr(self, name) for name in ConvParams.__props__}

    def output_spatial(self, input_spatial, kernel_spatial):
        return conv_output_shape(input_spatial, kernel_spatial, self.stride,
                                 self.dilation, self.pad_before,
                                 self.pad_after)

    def _check_tensor(self, var, what):
        var = pt.as_tensor_variable(var)
        if var.ndim != self.nd + 2:
            raise ValueError(
                f"{type(self).__name__}: {what} must have {self.nd + 2} "
                f"dimensions (batch, channels, {self.nd} spatial) for a "
                f"{self.nd}-d convolution, got {var.ndim} ({var.type}).")
        return var

    def _check_shape_vector(self, shape, what):
        shape = pt.as_tensor_variable(shape)
        if shape.ndim != 1 or not shape.dtype.startswith(("int", "uint")):
            raise TypeError(f"{type(self).__name__}: {what} must be a vector "
                            f"of {self.nd} ints, got {shape.type}.")
        return pt.cast(shape, "int64")


def _spatial_const(var, nd):
    """The spatial entries of a shape vector that are known constants."""
    out = []
    for i in range(nd):
        try:
            out.append(int(pt.get_scalar_constant_value(var[i])))
        except Exception:
            out.append(None)
    return tuple(out)


def _shape_vector(x, nd):
    """``x.shape[2:]``, as constants where ``x``'s type knows them."""
    static = x.type.shape[2:]
    if all(s is not None for s in static):
        return pt.as_tensor_variable(np.asarray(static, dtype="int64"))
    return x.shape[2:]


# --------------------------------------------------------------------------
# numpy reference implementations (``perform`` for dtypes without kernels)
# --------------------------------------------------------------------------

def _kernel_view(xpad, offset, out_spatial, stride, dilation):
    """The input elements met by kernel position `offset` for every output
    position: ``xpad[..., o * s + k * d]``."""
    index = tuple(slice(k * d, k * d + s * (o - 1) + 1, s)
                  for k, d, s, o in zip(offset, dilation, stride, out_spatial))
    return (Ellipsis,) + index


def _grouped(a, groups):
    """(B, C, *sp) -> (B, G, C // G, *sp)."""
    return a.reshape((a.shape[0], groups, a.shape[1] // groups) + a.shape[2:])


def _maybe_flip(w, flip):
    nd = w.ndim - 2
    return w[(slice(None),) * 2 + (slice(None, None, -1),) * nd] if flip else w


def conv_forward_numpy(x, w, p):
    g, sp = p.groups, "xyz"[:p.nd]
    ksp = w.shape[2:]
    out_sp = p.output_spatial(x.shape[2:], ksp)
    w = _maybe_flip(w, p.filter_flip)
    xpad = np.pad(x, [(0, 0), (0, 0)] + list(zip(p.pad_before, p.pad_after)))
    y = np.zeros((x.shape[0], g, w.shape[0] // g) + out_sp,
                 dtype=np.result_type(x, w))
    wg = w.reshape((g, w.shape[0] // g) + w.shape[1:])
    xg = _grouped(xpad, g)
    for k in itertools.product(*map(range, ksp)):
        patch = xg[_kernel_view(xg, k, out_sp, p.stride, p.dilation)]
        wk = wg[(Ellipsis,) + k]                      # (G, Fg, Cg)
        y += np.einsum(f"bgc{sp},gfc->bgf{sp}", patch, wk)
    return y.reshape((x.shape[0], w.shape[0]) + out_sp)


def conv_grad_input_numpy(w, gy, in_sp, p):
    g, sp = p.groups, "xyz"[:p.nd]
    ksp = w.shape[2:]
    out_sp = gy.shape[2:]
    w = _maybe_flip(w, p.filter_flip)
    padded = tuple(i + b + a for i, b, a in zip(in_sp, p.pad_before,
                                               p.pad_after))
    c = w.shape[1] * g
    dx = np.zeros((gy.shape[0], g, w.shape[1]) + padded,
                  dtype=np.result_type(w, gy))
    wg = w.reshape((g, w.shape[0] // g) + w.shape[1:])
    gyg = _grouped(gy, g)
    for k in itertools.product(*map(range, ksp)):
        view = _kernel_view(dx, k, out_sp, p.stride, p.dilation)
        dx[view] += np.einsum(f"bgf{sp},gfc->bgc{sp}", gyg,
                              wg[(Ellipsis,) + k])
    crop = tuple(slice(b, b + i) for b, i in zip(p.pad_before, in_sp))
    dx = dx.reshape((gy.shape[0], c) + padded)
    return np.ascontiguousarray(dx[(slice(None),) * 2 + crop])


def conv_grad_filters_numpy(x, gy, ksp, p):
    g, sp = p.groups, "xyz"[:p.nd]
    out_sp = gy.shape[2:]
    xpad = np.pad(x, [(0, 0), (0, 0)] + list(zip(p.pad_before, p.pad_after)))
    f, cg = gy.shape[1], x.shape[1] // g
    dw = np.zeros((g, f // g, cg) + tuple(ksp), dtype=np.result_type(x, gy))
    xg = _grouped(xpad, g)
    gyg = _grouped(gy, g)
    for k in itertools.product(*map(range, ksp)):
        patch = xg[_kernel_view(xg, k, out_sp, p.stride, p.dilation)]
        dw[(Ellipsis,) + k] = np.einsum(f"bgf{sp},bgc{sp}->gfc", gyg, patch)
    dw = dw.reshape((f, cg) + tuple(ksp))
    return np.ascontiguousarray(_maybe_flip(dw, p.filter_flip))


# --------------------------------------------------------------------------
# The Ops
# --------------------------------------------------------------------------

class _ConvOpBase(ConvParams, Op):
    __props__ = ConvParams.__props__

    def __str__(self):
        return (f"{type(self).__name__}{{{self.nd}d, stride={self.stride}, "
                f"dilation={self.dilation}, pad=({self.pad_before}, "
                f"{self.pad_after}), groups={self.groups}, "
                f"flip={self.filter_flip}}}")

    def _output_type(self, dtype, shape):
        return TensorType(dtype, shape=shape)()

    @staticmethod
    def _kernels(node):
        """The module whose functions run the compiled Numba kernels from
        ``perform`` (:mod:`lasagne.ops._conv_perform`), or None where the
        kernels are not compiled for the node's dtype (numpy then)."""
        from . import _conv_perform  # here: it imports this module
        if node.outputs[0].dtype in _conv_perform.KERNEL_DTYPES:
            return _conv_perform
        return None


class Conv(_ConvOpBase):
    """``y = conv(x, w)``: the forward N-d convolution.

    Inputs ``x`` ``(batch, in_channels, *spatial)`` and ``w``
    ``(out_channels, in_channels // groups, *kernel)``. See
    :func:`conv` for the parameters.
    """

    def make_node(self, x, w):
        x = self._check_tensor(x, "the input")
        w = self._check_tensor(w, "the filters")
        dtype = upcast(x.dtype, w.dtype)
        x, w = pt.cast(x, dtype), pt.cast(w, dtype)
        sp = self.output_spatial(x.type.shape[2:], w.type.shape[2:])
        shape = (x.type.shape[0], w.type.shape[0]) + sp
        return Apply(self, [x, w], [self._output_type(dtype, shape)])

    def perform(self, node, inputs, outputs):
        x, w = inputs
        self._check_values(x, w)
        kernels = self._kernels(node)
        if kernels is not None:
            outputs[0][0] = kernels.forward(self, x, w)
            return
        outputs[0][0] = conv_forward_numpy(x, w, self).astype(
            node.outputs[0].dtype, copy=False)

    def _check_values(self, x, w):
        if x.shape[1] != w.shape[1] * self.groups or w.shape[0] % self.groups:
            raise ValueError(
                f"Conv: input has {x.shape[1]} channels and filters "
                f"{w.shape}; with groups={self.groups} the filters need "
                f"shape (F, {x.shape[1] // max(self.groups, 1)}, ...) "
                f"with F divisible by {self.groups}.")

    def infer_shape(self, fgraph, node, shapes):
        xs, ws = shapes
        static_k = node.inputs[1].type.shape[2:]
        sp = [_out_length(xs[2 + i], ws[2 + i] if k is None else k, *p)
              for i, (k, p) in enumerate(zip(static_k, zip(
                  self.stride, self.dilation, self.pad_before,
                  self.pad_after)))]
        return [(xs[0], ws[0], *sp)]

    def pullback(self, inputs, outputs, cotangents):
        x, w = inputs
        (gy,) = cotangents
        p = self.params_dict()
        gx = ConvGradInput(**p)(w, gy, _shape_vector(x, self.nd))
        gw = ConvGradFilters(**p)(x, gy, _shape_vector(w, self.nd))
        return [gx, gw]


def _out_length(n, k, stride, dilation, before, after):
    """``(n + before + after - dilation * (k - 1) - 1) // stride + 1``, for
    ``infer_shape``, without the terms that vanish for a kernel size `k`
    known statically: a stride-1 'same' convolution gives `n` itself, so
    that the shapes of a deep network's layers stay the same variable
    (shape graphs that grow with depth, and PyTensor's broadcast checks
    between them, were most of a ResNet's rewriting time)."""
    if not isinstance(k, (int, np.integer)):
        return (n + (before + after - 1) - dilation * (k - 1)) // stride + 1
    offset = before + after - dilation * (int(k) - 1) - 1
    if stride == 1:
        return n if offset == -1 else n + (offset + 1)
    return (n if offset == 0 else n + offset) // stride + 1


class ConvGradInput(_ConvOpBase):
    """Gradient of a convolution with respect to its input; also the
    transposed convolution.

    Inputs: ``w`` (the forward filters), ``gy`` (the cotangent of the
    forward output, ``(batch, out_channels, *out_spatial)``) and
    ``input_shape``, an int vector of the forward input's spatial shape
    (needed because a strided convolution maps several input sizes onto
    the same output size).
    """

    def make_node(self, w, gy, input_shape):
        w = self._check_tensor(w, "the filters")
        gy = self._check_tensor(gy, "the output gradient")
        input_shape = self._check_shape_vector(input_shape,
                                               "the input shape")
        dtype = upcast(w.dtype, gy.dtype)
        w, gy = pt.cast(w, dtype), pt.cast(gy, dtype)
        c = None if w.type.shape[1] is None else w.type.shape[1] * self.groups
        shape = (gy.type.shape[0], c) + _spatial_const(input_shape, self.nd)
        return Apply(self, [w, gy, input_shape],
                     [self._output_type(dtype, shape)])

    def perform(self, node, inputs, outputs):
        w, gy, in_sp = inputs
        kernels = self._kernels(node)
        if kernels is not None:
            outputs[0][0] = kernels.grad_input(self, w, gy, in_sp)
            return
        outputs[0][0] = conv_grad_input_numpy(
            w, gy, tuple(int(i) for i in in_sp), self).astype(
            node.outputs[0].dtype, copy=False)

    def infer_shape(self, fgraph, node, shapes):
        w, gy, in_sp = node.inputs
        ws, gys, _ = shapes
        return [(gys[0], ws[1] * self.groups,
                 *[in_sp[i] for i in range(self.nd)])]

    def connection_pattern(self, node):
        return [[True], [True], [False]]

    def pullback(self, inputs, outputs, cotangents):
        w, gy, in_sp = inputs
        (g,) = cotangents
        p = self.params_dict()
        g_gy = Conv(**p)(g, w)
        g_w = ConvGradFilters(**p)(g, gy, _shape_vector(w, self.nd))
        return [g_w, g_gy, disconnected_type()]


class ConvGradFilters(_ConvOpBase):
    """Gradient of a convolution with respect to its filters.

    Inputs: ``x`` (the forward input), ``gy`` (the cotangent of the
    forward output) and ``filter_shape``, an int vector of the kernel's
    spatial shape.
    """

    def make_node(self, x, gy, filter_shape):
        x = self._check_tensor(x, "the input")
        gy = self._check_tensor(gy, "the output gradient")
        filter_shape = self._check_shape_vector(filter_shape,
                                                "the filter shape")
        dtype = upcast(x.dtype, gy.dtype)
        x, gy = pt.cast(x, dtype), pt.cast(gy, dtype)
        c = None if x.type.shape[1] is None else x.type.shape[1] // self.groups
        shape = (gy.type.shape[1], c) + _spatial_const(filter_shape, self.nd)
        return Apply(self, [x, gy, filter_shape],
                     [self._output_type(dtype, shape)])

    def perform(self, node, inputs, outputs):
        x, gy, ksp = inputs
        kernels = self._kernels(node)
        if kernels is not None:
            outputs[0][0] = kernels.grad_filters(self, x, gy, ksp)
            return
        outputs[0][0] = conv_grad_filters_numpy(
            x, gy, tuple(int(k) for k in ksp), self).astype(
            node.outputs[0].dtype, copy=False)

    def infer_shape(self, fgraph, node, shapes):
        x, gy, ksp = node.inputs
        xs, gys, _ = shapes
        return [(gys[1], xs[1] // self.groups,
                 *[ksp[i] for i in range(self.nd)])]

    def connection_pattern(self, node):
        return [[True], [True], [False]]

    def pullback(self, inputs, outputs, cotangents):
        x, gy, ksp = inputs
        (g,) = cotangents
        p = self.params_dict()
        g_x = ConvGradInput(**p)(g, gy, _shape_vector(x, self.nd))
        g_gy = Conv(**p)(x, g)
        return [g_x, g_gy, disconnected_type()]


class ConvGradFiltersBias(_ConvOpBase):
    """:class:`ConvGradFilters` and the gradient of a per-channel bias,
    ``gy.sum(axis=(0, 2, ...))``, in one pass over ``gy``.

    Not built by hand: the rewrite :func:`fuse_conv_bias_gradient`
    introduces it where a graph sums the same output gradient over the
    batch and spatial axes (a convolution layer's bias gradient). The numpy
    and JAX sums accumulate in float64 like PyTensor's ``Sum``; the Numba
    kernel sums each thread's part in the input's precision and the parts
    in float64.
    """

    def make_node(self, x, gy, filter_shape):
        plain = ConvGradFilters(**self.params_dict()).make_node(
            x, gy, filter_shape)
        [dw], gy = plain.outputs, plain.inputs[1]
        db = self._output_type(dw.dtype, (gy.type.shape[1],))
        return Apply(self, plain.inputs, [dw.type(), db])

    def perform(self, node, inputs, outputs):
        kernels = self._kernels(node)
        if kernels is not None:
            x, gy, ksp = inputs
            outputs[0][0], outputs[1][0] = kernels.grad_filters(
                self, x, gy, ksp, bias=True)
            return
        ConvGradFilters.perform(self, node, inputs, outputs[:1])
        gy = inputs[1]
        axes = (0,) + tuple(range(2, gy.ndim))
        outputs[1][0] = gy.sum(axis=axes, dtype="float64").astype(
            node.outputs[1].dtype)

    def infer_shape(self, fgraph, node, shapes):
        [dw_shape] = ConvGradFilters.infer_shape(self, fgraph, node, shapes)
        return [dw_shape, (shapes[1][1],)]

    def connection_pattern(self, node):
        return [[True, False], [True, True], [False, False]]

    def pullback(self, inputs, outputs, cotangents):
        gy = inputs[1]
        g_dw, g_db = cotangents
        g_x, g_gy = disconnected_type(), None
        if not isinstance(g_dw.type, DisconnectedType):
            g_x, g_gy, _ = ConvGradFilters.pullback(self, inputs, outputs[:1],
                                                    [g_dw])
        if not isinstance(g_db.type, DisconnectedType):
            spread = g_db.dimshuffle(("x", 0) + ("x",) * self.nd)
            g_gy = spread + pt.zeros_like(gy) if g_gy is None else \
                g_gy + spread
        return [g_x, g_gy, disconnected_type()]


# --------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------

def _static_kernel(filters, nd, filter_shape=None):
    ksp = tuple(filters.type.shape[2:])
    if filter_shape is not None:
        ksp = tuple(filter_shape)[-nd:]
    if any(k is None for k in ksp):
        return None
    return ksp


def _op_params(filters, nd, stride, padding, dilation, groups, filter_flip,
               filter_shape=None):
    stride = _int_tuple(stride, nd, "stride", 1)
    dilation = _int_tuple(dilation, nd, "dilation", 1)
    if isinstance(padding, str) and padding != "valid":
        ksp = _static_kernel(filters, nd, filter_shape)
        if ksp is None:
            raise ValueError(
                f"conv: padding={padding!r} needs the kernel size, but the "
                f"filters' static shape is {filters.type.shape}. Give the "
                f"padding as ints, or filters with a known shape.")
    else:
        ksp = (1,) * nd
    before, after = normalize_padding(padding, ksp, dilation)
    return dict(stride=stride, dilation=dilation, pad_before=before,
                pad_after=after, groups=groups, filter_flip=filter_flip)


def conv(input, filters, stride=1, padding=0, dilation=1, groups=1,
         filter_flip=True):
    """N-d convolution of a batch of multi-channel inputs.

    Parameters
    ----------
    input : tensor
        ``(batch, in_channels, *spatial)`` with 1, 2 or 3 spatial axes.
    filters : tensor
        ``(out_channels, in_channels // groups, *kernel)``.
    stride, dilation : int or tuple of int
    padding : int, tuple, or {'valid', 'full', 'same', 'half'}
        See :func:`normalize_padding`; per-side pairs are allowed.
    groups : int
        Split input and output channels into this many independent groups.
    filter_flip : bool
        True for a true convolution (mirrored kernel), False for a
        cross-correlation.

    Returns
    -------
    tensor ``(batch, out_channels, *out_spatial)``

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as pt
    >>> x, w = pt.tensor4("x"), pt.tensor4("w", shape=(2, 1, 3, 3))
    >>> f = pytensor.function([x, w], conv(x, w, padding="same"))
    >>> f(np.ones((1, 1, 3, 3)), np.ones((2, 1, 3, 3)))[0, 0]
    array([[4., 6., 4.],
           [6., 9., 6.],
           [4., 6., 4.]])
    """
    input = pt.as_tensor_variable(input)
    filters = pt.as_tensor_variable(filters)
    nd = input.ndim - 2
    params = _op_params(filters, nd, stride, padding, dilation, groups,
                        filter_flip)
    return Conv(**params)(input, filters)


def conv_transpose(input, filters, output_shape=None, stride=1, padding=0,
                   dilation=1, groups=1, filter_flip=True):
    """Transposed convolution: the gradient of :func:`conv` w.r.t. its input.

    ``conv_transpose(y, w, s, ...)`` maps a tensor shaped like the output
    of ``conv(x, w, ...)`` back to the shape of ``x``; it is the adjoint of
    that linear map (not its inverse).

    Parameters
    ----------
    input : tensor ``(batch, out_channels, *spatial)``
    filters : tensor ``(out_channels, in_channels // groups, *kernel)``
        As for the forward :func:`conv`.
    output_shape : tuple or int vector, optional
        The spatial shape of the result (the forward input). With
        ``stride > 1`` several sizes are possible; None picks the smallest.
        A full shape ``(batch, channels, *spatial)`` is accepted too.
    stride, padding, dilation, groups, filter_flip
        Those of the forward convolution.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as pt
    >>> y, w = pt.tensor4("y"), pt.tensor4("w")
    >>> out = conv_transpose(y, w, stride=2)
    >>> f = pytensor.function([y, w], out)
    >>> f(np.ones((1, 1, 2, 2)), np.ones((1, 3, 3, 3))).shape
    (1, 3, 5, 5)
    """
    input = pt.as_tensor_variable(input)
    filters = pt.as_tensor_variable(filters)
    nd = input.ndim - 2
    params = _op_params(filters, nd, stride, padding, dilation, groups,
                        filter_flip)
    if output_shape is None:
        ksp = [filters.shape[2 + i] for i in range(nd)]
        static_k = filters.type.shape[2:]
        static_in = input.type.shape[2:]
        sizes = []
        for i in range(nd):
            k = static_k[i] if static_k[i] is not None else ksp[i]
            n = static_in[i] if static_in[i] is not None else input.shape[2 + i]
            sizes.append((n - 1) * params["stride"][i]
                         + params["dilation"][i] * (k - 1) + 1
                         - params["pad_before"][i] - params["pad_after"][i])
        if all(isinstance(s, (int, np.integer)) for s in sizes):
            output_shape = np.asarray(sizes, dtype="int64")
        else:
            output_shape = pt.stack([pt.as_tensor_variable(s) for s in sizes])
    elif not hasattr(output_shape, "type"):
        output_shape = tuple(output_shape)[-nd:]
        if all(isinstance(s, (numbers.Integral, np.integer))
               for s in output_shape):
            output_shape = np.asarray(output_shape, dtype="int64")
        else:
            output_shape = pt.stack([pt.as_tensor_variable(s)
                                     for s in output_shape])
    else:
        output_shape = output_shape[-nd:]
    return ConvGradInput(**params)(filters, input, output_shape)


conv_grad_input = conv_transpose


def conv_grad_filters(input, output_grad, filter_shape, stride=1, padding=0,
                      dilation=1, groups=1, filter_flip=True):
    """Gradient of ``sum(conv(input, w) * output_grad)`` w.r.t. ``w``.

    Parameters
    ----------
    input : tensor ``(batch, in_channels, *spatial)``
    output_grad : tensor ``(batch, out_channels, *out_spatial)``
    filter_shape : tuple of int or int vector
        The kernel's spatial shape (a full filter shape is accepted too).
    stride, padding, dilation, groups, filter_flip
        Those of the forward convolution.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as pt
    >>> x, gy = pt.tensor3("x"), pt.tensor3("gy")
    >>> f = pytensor.function([x, gy], conv_grad_filters(x, gy, (3,)))
    >>> f(np.ones((1, 2, 5)), np.ones((1, 4, 3))).shape
    (4, 2, 3)
    """
    input = pt.as_tensor_variable(input)
    output_grad = pt.as_tensor_variable(output_grad)
    nd = input.ndim - 2
    if hasattr(filter_shape, "type"):
        fshape = filter_shape[-nd:]
        static = None
    else:
        static = tuple(filter_shape)[-nd:]
        fshape = np.asarray(static, dtype="int64")
    fake = pt.tensor(dtype=input.dtype, shape=(None, None) + (
        static if static is not None else (None,) * nd))
    params = _op_params(fake, nd, stride, padding, dilation, groups,
                        filter_flip)
    return ConvGradFilters(**params)(input, output_grad, fshape)


# --------------------------------------------------------------------------
# Theano-style signatures (``T.nnet.conv2d`` and friends)
# --------------------------------------------------------------------------

def _theano_border(border_mode, nd):
    if isinstance(border_mode, str):
        if border_mode not in ("valid", "full", "half", "same"):
            raise ValueError(f"conv{nd}d: border_mode must be 'valid', "
                             f"'full', 'half', an int or a tuple, got "
                             f"{border_mode!r}.")
        return border_mode
    return border_mode


def conv2d(input, filters, input_shape=None, filter_shape=None,
           border_mode="valid", subsample=(1, 1), filter_flip=True,
           image_shape=None, filter_dilation=(1, 1), num_groups=1,
           unshared=False, **kwargs):
    """2-D convolution with Theano's ``T.nnet.conv2d`` signature.

    ``input_shape`` / ``filter_shape`` / ``image_shape`` are hints and may
    be None (or hold None entries). As in Theano, ``filter_shape`` gives
    the output's channels and sizes statically (the filters' static
    shape; filters of another shape are refused when the function runs);
    ``border_mode`` is 'valid', 'full', 'half', an int or a tuple;
    ``subsample`` is the stride. ``unshared=True`` is not supported.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as pt
    >>> x, w = pt.tensor4("x"), pt.tensor4("w")
    >>> y = conv2d(x, w, filter_shape=(1, 1, 2, 2), border_mode="full")
    >>> f = pytensor.function([x, w], y)
    >>> f(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2))).shape
    (1, 1, 3, 3)
    """
    return _theano_conv(2, input, filters, filter_shape, border_mode,
                        subsample, filter_flip, filter_dilation, num_groups,
                        unshared)


def conv3d(input, filters, input_shape=None, filter_shape=None,
           border_mode="valid", subsample=(1, 1, 1), filter_flip=True,
           filter_dilation=(1, 1, 1), num_groups=1, **kwargs):
    """3-D convolution with Theano's ``T.nnet.conv3d`` signature.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as pt
    >>> x, w = pt.tensor5("x"), pt.tensor5("w")
    >>> f = pytensor.function([x, w], conv3d(x, w))
    >>> f(np.ones((1, 1, 3, 3, 3)), np.ones((1, 1, 2, 2, 2))).shape
    (1, 1, 2, 2, 2)
    """
    return _theano_conv(3, input, filters, filter_shape, border_mode,
                        subsample, filter_flip, filter_dilation, num_groups,
                        False)


def _theano_conv(nd, input, filters, filter_shape, border_mode, subsample,
                 filter_flip, filter_dilation, num_groups, unshared):
    if unshared:
        raise NotImplementedError(
            f"conv{nd}d: unshared=True is not supported; use "
            f"lasagne.layers.LocallyConnected2DLayer instead.")
    input = pt.as_tensor_variable(input)
    filters = pt.as_tensor_variable(filters)
    border_mode = _theano_border(border_mode, nd)
    params = _op_params(filters, nd, subsample, border_mode, filter_dilation,
                        num_groups, filter_flip, filter_shape)
    return Conv(**params)(input, _with_shape_hint(filters, filter_shape))


def _with_shape_hint(filters, filter_shape):
    """The filters with Theano's ``filter_shape`` hint as their static
    shape (Theano's convolutions used the hint for their shapes too), so
    that the output's channels and spatial sizes are known without
    reading the filters' shape at run time; the hint is checked when the
    function runs."""
    if filter_shape is None:
        return filters
    hint = tuple(None if k is None else int(k) for k in filter_shape)
    if len(hint) != filters.ndim:
        raise ValueError(
            f"conv: filter_shape {tuple(filter_shape)} does not match "
            f"filters with {filters.ndim} dimensions.")
    static = tuple(filters.type.shape)
    if any(None not in (h, k) and h != k for h, k in zip(hint, static)):
        raise ValueError(
            f"conv: filter_shape {hint} contradicts the filters' static "
            f"shape {static}; pass the filters' shape or None.")
    if all(h is None or h == k for h, k in zip(hint, static)):
        return filters  # the type knows it all already
    return pt.specify_shape(filters, tuple(
        k if h is None else h for h, k in zip(hint, static)))


def conv2d_grad_wrt_inputs(output_grad, filters, input_shape,
                           filter_shape=None, border_mode="valid",
                           subsample=(1, 1), filter_flip=True,
                           filter_dilation=(1, 1), num_groups=1):
    """Theano's ``conv2d_grad_wrt_inputs``: a transposed 2-D convolution.

    ``input_shape`` is the full shape of the forward input (its spatial
    entries are used; they may be symbolic).

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as pt
    >>> y, w = pt.tensor4("y"), pt.tensor4("w")
    >>> out = conv2d_grad_wrt_inputs(y, w, (None, 3, 4, 4), subsample=(2, 2))
    >>> pytensor.function([y, w], out)(
    ...     np.ones((1, 1, 2, 2)), np.ones((1, 3, 1, 1))).shape
    (1, 3, 4, 4)
    """
    return _theano_transpose(2, output_grad, filters, input_shape,
                             filter_shape, border_mode, subsample,
                             filter_flip, filter_dilation, num_groups)


def conv3d_grad_wrt_inputs(output_grad, filters, input_shape,
                           filter_shape=None, border_mode="valid",
                           subsample=(1, 1, 1), filter_flip=True,
                           filter_dilation=(1, 1, 1), num_groups=1):
    """Theano's ``conv3d_grad_wrt_inputs``: a transposed 3-D convolution.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as pt
    >>> y, w = pt.tensor5("y"), pt.tensor5("w")
    >>> out = conv3d_grad_wrt_inputs(y, w, (None, 1, 3, 3, 3))
    >>> pytensor.function([y, w], out)(
    ...     np.ones((1, 1, 2, 2, 2)), np.ones((1, 1, 2, 2, 2))).shape
    (1, 1, 3, 3, 3)
    """
    return _theano_transpose(3, output_grad, filters, input_shape,
                             filter_shape, border_mode, subsample,
                             filter_flip, filter_dilation, num_groups)


def _theano_transpose(nd, output_grad, filters, input_shape, filter_shape,
                      border_mode, subsample, filter_flip, filter_dilation,
                      num_groups):
    filters = pt.as_tensor_variable(filters)
    border_mode = _theano_border(border_mode, nd)
    params = _op_params(filters, nd, subsample, border_mode, filter_dilation,
                        num_groups, filter_flip, filter_shape)
    sizes = list(input_shape)[-nd:] if not hasattr(input_shape, "type") \
        else input_shape[-nd:]
    return conv_transpose(output_grad, filters, sizes,
                          stride=params["stride"],
                          padding=tuple(zip(params["pad_before"],
                                            params["pad_after"])),
                          dilation=params["dilation"], groups=num_groups,
                          filter_flip=filter_flip)


# --------------------------------------------------------------------------
# Rewrites
# --------------------------------------------------------------------------

@node_rewriter([Sum])
def fuse_conv_bias_gradient(fgraph, node):
    """``gy.sum(axis=(0, 2, ...))`` beside ``ConvGradFilters(x, gy)`` ->
    one :class:`ConvGradFiltersBias`, which sums ``gy`` while the filter
    gradient reads it (a convolution layer's bias and filter gradients).

    Registered for the Numba backend, where it saves a pass over the
    output gradient, the largest tensor of a CNN's backward pass.
    """
    [gy] = node.inputs
    nd = gy.ndim - 2
    out = node.outputs[0]
    axes = node.op.axis
    if (nd not in (1, 2, 3) or axes is None or out.dtype != gy.dtype
            or tuple(sorted(axes)) != (0,) + tuple(range(2, gy.ndim))):
        return None
    for client, position in fgraph.clients[gy]:
        if (type(client.op) is ConvGradFilters and position == 1
                and client.op.nd == nd):
            x, _, filter_shape = client.inputs
            dw, db = ConvGradFiltersBias(**client.op.params_dict())(
                x, gy, filter_shape)
            return {out: db, client.outputs[0]: dw}
    return None


optdb.register("lasagne_fuse_conv_bias_gradient",
               in2out(fuse_conv_bias_gradient), "numba", position=49.3)


from . import _conv_numba  # noqa: E402,F401  (registers the Numba kernels)
from . import _conv_jax_rewrite  # noqa: E402,F401  (JAX loads at first use)
