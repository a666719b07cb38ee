"""Recurrent layers: a vanilla RNN with any layer graphs as its input and
hidden transforms, LSTM, GRU; a general recurrent container with
user-defined step graphs and a bidirectional helper
(:mod:`lasagne.layers.recurrent_container`).

Inputs are (batch, time, features...). ``mask_input`` is a layer giving
(batch, time) with 1 where a sequence has data and 0 after its end; masked
steps keep the previous state. The LSTM, GRU and dense RNN run as one fused
Op per sequence (:mod:`lasagne.ops.recurrent`) when their options allow it,
and as a :func:`pytensor.scan` otherwise, with the same numbers.
"""
import numpy as np
import pytensor.tensor as pt
from pytensor.scalar import upcast

from .. import init, nonlinearities
from ..ops import recurrent as fused_ops
from . import helper
from .base import Layer
from .dense import DenseLayer
from .input import InputLayer
from .recurrent_base import _BaseRecurrentLayer, _check_num_units, _fusable_name
from .recurrent_container import (BidirectionalLayer, ContainerOutputLayer,
                                  RecurrentContainerLayer, StateLayer,
                                  bidirectional)

__all__ = ["CustomRecurrentLayer", "RecurrentLayer", "Gate", "LSTMLayer",
           "GRULayer", "RecurrentContainerLayer", "StateLayer",
           "ContainerOutputLayer", "BidirectionalLayer", "bidirectional"]

#: Up to this many input features, the fused LSTM applies its input
#: weights inside the Op, step by step: the (time, batch, 4 * units)
#: projections and their gradient, several passes over memory for a few
#: multiply-adds each, are then never stored.
PROJECT_IN_OP_MAX_INPUTS = 8


class CustomRecurrentLayer(_BaseRecurrentLayer):
    """CustomRecurrentLayer(incoming, input_to_hidden, hidden_to_hidden,
    nonlinearity=lasagne.nonlinearities.rectify,
    hid_init=lasagne.init.Constant(0.), backwards=False, learn_init=False,
    gradient_steps=-1, grad_clipping=0, unroll_scan=False,
    precompute_input=True, mask_input=None, only_return_final=False,
    **kwargs)

    A recurrent layer whose transforms are layer graphs:
    ``h_t = f(input_to_hidden(x_t) + hidden_to_hidden(h_{t-1}))``.

    Parameters
    ----------
    incoming : Layer or tuple
        The input, (batch, time, features...).
    input_to_hidden : Layer
        Output layer of a graph that maps one step's input (batch,
        features...) to the hidden pre-activation; its input layer must
        accept (batch, features...).
    hidden_to_hidden : Layer
        Output layer of a graph mapping the previous hidden state to a
        pre-activation of the same shape.
    nonlinearity : callable or None
        ``f`` above; None is the identity.
    hid_init : callable, array, shared variable or Layer
        Initial hidden state: a parameter of shape ``(1, *hidden)`` or a
        layer giving ``(batch, *hidden)``.
    backwards : bool
        Process the sequence from its end to its start. The output stays in
        input order.
    learn_init : bool
        Make ``hid_init`` trainable (when it is not a Layer).
    gradient_steps : int
        Back-propagate through at most this many steps; -1 for all.
    grad_clipping : float
        If > 0, clip the gradient flowing into the pre-activation at each
        step to [-grad_clipping, grad_clipping].
    unroll_scan : bool
        Build the loop as an unrolled graph (needs a fixed length).
    precompute_input : bool
        Apply ``input_to_hidden`` to all steps at once before the loop.
    mask_input : Layer or None
        (batch, time) mask layer.
    only_return_final : bool
        Return only the last step processed, ``(batch, *hidden)``.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer, get_output_shape
    >>> l_in = InputLayer((None, 5, 3))
    >>> i2h = DenseLayer(InputLayer((None, 3)), 4, nonlinearity=None)
    >>> h2h = DenseLayer(InputLayer((None, 4)), 4, b=None, nonlinearity=None)
    >>> CustomRecurrentLayer(l_in, i2h, h2h).output_shape
    (None, 5, 4)
    """

    def __init__(self, incoming, input_to_hidden, hidden_to_hidden,
                 nonlinearity=nonlinearities.rectify,
                 hid_init=init.Constant(0.), backwards=False,
                 learn_init=False, gradient_steps=-1, grad_clipping=0,
                 unroll_scan=False, precompute_input=True, mask_input=None,
                 only_return_final=False, **kwargs):
        super().__init__(incoming, {"hid_init": hid_init}, backwards,
                         learn_init, gradient_steps, grad_clipping,
                         unroll_scan, precompute_input, mask_input,
                         only_return_final, **kwargs)
        for arg, value in (("input_to_hidden", input_to_hidden),
                           ("hidden_to_hidden", hidden_to_hidden)):
            if not isinstance(value, Layer):
                raise TypeError(f"{self._where()}`{arg}` must be a Layer, "
                                f"got {value!r}.")
        self.input_to_hidden = input_to_hidden
        self.hidden_to_hidden = hidden_to_hidden
        self.nonlinearity = (nonlinearities.identity if nonlinearity is None
                             else nonlinearity)
        for arg, graph in (("input_to_hidden", input_to_hidden),
                           ("hidden_to_hidden", hidden_to_hidden)):
            inputs = [l for l in helper.get_all_layers(graph)
                      if isinstance(l, InputLayer)]
            if len(inputs) != 1:
                raise ValueError(
                    f"{self._where()}`{arg}` must have exactly one "
                    f"InputLayer (the step's input), but it has "
                    f"{len(inputs)}: {inputs}.")
        in_shape = self.input_shapes[0]
        i2h_in = helper.get_all_layers(input_to_hidden)[0].output_shape
        if tuple(i2h_in[1:]) != tuple(in_shape[2:]):
            raise ValueError(
                f"{self._where()}the input_to_hidden graph takes inputs of "
                f"shape {i2h_in}, but one step of the input {in_shape} is "
                f"(batch,) + {tuple(in_shape[2:])}. Build input_to_hidden on "
                f"an InputLayer((None,) + {tuple(in_shape[2:])}).")
        h2h_in = helper.get_all_layers(hidden_to_hidden)[0].output_shape
        h2h_out = hidden_to_hidden.output_shape
        i2h_out = input_to_hidden.output_shape
        if tuple(h2h_in[1:]) != tuple(h2h_out[1:]):
            raise ValueError(
                f"{self._where()}hidden_to_hidden must keep the hidden shape:"
                f" it takes {h2h_in} and gives {h2h_out}.")
        steps = (None if None in in_shape[:2] else in_shape[0] * in_shape[1])
        if precompute_input and None not in (i2h_out[0], steps) \
                and i2h_out[0] != steps:
            raise ValueError(
                f"{self._where()}with precompute_input=True, input_to_hidden "
                f"is applied to all {steps} steps of the batch at once "
                f"(batch_size*sequence_length), but its output shape is "
                f"{i2h_out}. Build it on an InputLayer with batch size None.")
        if not precompute_input and None not in (i2h_out[0], h2h_out[0]) \
                and i2h_out[0] != h2h_out[0]:
            raise ValueError(
                f"{self._where()}with precompute_input=False, the batch sizes "
                f"of input_to_hidden ({i2h_out}) and hidden_to_hidden "
                f"({h2h_out}) must be equal (or None).")
        if tuple(i2h_out[1:]) != tuple(h2h_out[1:]):
            raise ValueError(
                f"{self._where()}input_to_hidden gives {i2h_out} but "
                f"hidden_to_hidden gives {h2h_out}; their shapes (after the "
                f"batch axis) must be equal.")
        self.hid_init = self._add_state_init("hid_init", hid_init,
                                             tuple(h2h_out[1:]))

    def get_params(self, unwrap_shared=True, **tags):
        params = super().get_params(unwrap_shared=unwrap_shared, **tags)
        for graph in (self.input_to_hidden, self.hidden_to_hidden):
            for p in helper.get_all_params(graph, unwrap_shared=unwrap_shared,
                                           **tags):
                if p not in params:
                    params.append(p)
        return params

    def _num_units_shape(self):
        return tuple(self.hidden_to_hidden.output_shape[1:])

    def _state_params(self):
        return [("hid_init", self.hid_init)]

    def _dense_hidden(self):
        """W of a plain dense hidden_to_hidden (no bias, identity), or None."""
        h2h = self.hidden_to_hidden
        if (type(h2h) is DenseLayer and h2h.b is None
                and h2h.nonlinearity is nonlinearities.identity
                and h2h.num_leading_axes == 1
                and isinstance(h2h.input_layer, InputLayer)):
            return h2h.W
        return None

    def _fusable(self):
        return (self._dense_hidden() is not None
                and _fusable_name(self.nonlinearity) is not None)

    def _input_projection(self, seq, **kwargs):
        """input_to_hidden applied to all steps at once: (T, B, *hidden)."""
        n_steps, n_batch = seq.shape[0], seq.shape[1]
        flat = seq.reshape((n_steps * n_batch,) + tuple(
            seq.shape[i] for i in range(2, seq.ndim)), ndim=seq.ndim - 1)
        out = helper.get_output(self.input_to_hidden, flat, **kwargs)
        return out.reshape((n_steps, n_batch) + tuple(
            out.shape[i] for i in range(1, out.ndim)), ndim=out.ndim + 1)

    def get_output_for(self, inputs, **kwargs):
        seq, mask, (hid_init,) = self._unpack_inputs(inputs)
        if self._use_fused():
            proj = self._input_projection(seq, **kwargs)
            hid = fused_ops.rnn_sequence(
                proj, self._dense_hidden(), hid_init,
                self._mask_for_op(mask, proj.dtype),
                _fusable_name(self.nonlinearity), self.backwards,
                self.grad_clipping)
            return self._input_order_output(hid)
        if self.precompute_input:
            seq = self._input_projection(seq, **kwargs)

        def step(x_n, hid_previous):
            pre = helper.get_output(self.hidden_to_hidden, hid_previous,
                                    **kwargs)
            if self.precompute_input:
                pre = pre + x_n
            else:
                pre = pre + helper.get_output(self.input_to_hidden, x_n,
                                              **kwargs)
            return [self.nonlinearity(self._clip(pre))]

        hid = self._loop(step, [seq], [hid_init], mask, 0)
        return self._scan_order_output(hid)


class RecurrentLayer(CustomRecurrentLayer):
    """RecurrentLayer(incoming, num_units,
    W_in_to_hid=lasagne.init.Uniform(), W_hid_to_hid=lasagne.init.Uniform(),
    b=lasagne.init.Constant(0.), nonlinearity=lasagne.nonlinearities.rectify,
    hid_init=lasagne.init.Constant(0.), backwards=False, learn_init=False,
    gradient_steps=-1, grad_clipping=0, unroll_scan=False,
    precompute_input=True, mask_input=None, only_return_final=False,
    **kwargs)

    A dense vanilla RNN: ``h_t = f(x_t W_in_to_hid + b + h_{t-1}
    W_hid_to_hid)``. Other arguments as in :class:`CustomRecurrentLayer`.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> l_rnn = RecurrentLayer(InputLayer((None, 7, 3)), 5,
    ...                        only_return_final=True)
    >>> l_rnn.output_shape
    (None, 5)
    >>> len(l_rnn.get_params(trainable=True))
    3
    """

    def __init__(self, incoming, num_units, W_in_to_hid=init.Uniform(),
                 W_hid_to_hid=init.Uniform(), b=init.Constant(0.),
                 nonlinearity=nonlinearities.rectify,
                 hid_init=init.Constant(0.), backwards=False,
                 learn_init=False, gradient_steps=-1, grad_clipping=0,
                 unroll_scan=False, precompute_input=True, mask_input=None,
                 only_return_final=False, **kwargs):
        shape = incoming if isinstance(incoming, tuple) else \
            incoming.output_shape
        name = kwargs.get("name")
        prefix = f"{name}." if name else ""
        if (not isinstance(num_units, (int, np.integer))
                or isinstance(num_units, bool) or num_units <= 0):
            raise ValueError(
                f"RecurrentLayer{f' {name!r}' if name else ''}: `num_units` "
                f"must be a positive integer, got {num_units!r}.")
        if len(shape) < 3:
            raise ValueError(
                f"RecurrentLayer{f' {name!r}' if name else ''}: the input "
                f"must be (batch, time, features...), got shape {shape}.")
        in_to_hid = DenseLayer(InputLayer((None,) + tuple(shape[2:])),
                               num_units, W=W_in_to_hid, b=b,
                               nonlinearity=None,
                               name=prefix + "input_to_hidden")
        hid_to_hid = DenseLayer(InputLayer((None, num_units)), num_units,
                                W=W_hid_to_hid, b=None, nonlinearity=None,
                                name=prefix + "hidden_to_hidden")
        self.W_in_to_hid = in_to_hid.W
        self.W_hid_to_hid = hid_to_hid.W
        self.b = in_to_hid.b
        super().__init__(incoming, in_to_hid, hid_to_hid,
                         nonlinearity=nonlinearity, hid_init=hid_init,
                         backwards=backwards, learn_init=learn_init,
                         gradient_steps=gradient_steps,
                         grad_clipping=grad_clipping,
                         unroll_scan=unroll_scan,
                         precompute_input=precompute_input,
                         mask_input=mask_input,
                         only_return_final=only_return_final, **kwargs)


class Gate:
    """Gate(W_in=lasagne.init.Normal(0.1), W_hid=lasagne.init.Normal(0.1),
    W_cell=lasagne.init.Normal(0.1), b=lasagne.init.Constant(0.),
    nonlinearity=lasagne.nonlinearities.sigmoid)

    The weights and nonlinearity of one gate of an :class:`LSTMLayer` or
    :class:`GRULayer`: ``nonlinearity(x W_in + h W_hid [+ c * W_cell] + b)``.
    ``W_cell=None`` means no peephole.

    Examples
    --------
    >>> gate = Gate(W_cell=None, nonlinearity=None)
    >>> gate.W_cell is None
    True
    """

    def __init__(self, W_in=init.Normal(0.1), W_hid=init.Normal(0.1),
                 W_cell=init.Normal(0.1), b=init.Constant(0.),
                 nonlinearity=nonlinearities.sigmoid):
        self.W_in = W_in
        self.W_hid = W_hid
        if W_cell is not None:
            self.W_cell = W_cell
        else:
            self.W_cell = None
        self.b = b
        self.nonlinearity = (nonlinearities.identity if nonlinearity is None
                             else nonlinearity)

    def __repr__(self):
        return (f"Gate(W_in={self.W_in!r}, W_hid={self.W_hid!r}, "
                f"W_cell={self.W_cell!r}, b={self.b!r}, "
                f"nonlinearity={self.nonlinearity!r})")


def _gate_params(layer, gate, name, num_inputs, num_units):
    """Register a gate's (W_in, W_hid, b) on `layer`, Lasagne's names."""
    if not isinstance(gate, Gate):
        raise TypeError(f"{layer._where()}`{name}` must be a Gate, got "
                        f"{gate!r}.")
    return (layer.add_param(gate.W_in, (num_inputs, num_units),
                            name=f"W_in_to_{name}"),
            layer.add_param(gate.W_hid, (num_units, num_units),
                            name=f"W_hid_to_{name}"),
            layer.add_param(gate.b, (num_units,), name=f"b_{name}",
                            regularizable=False),
            gate.nonlinearity)


class _GatedLayer(_BaseRecurrentLayer):
    """Shared by LSTM and GRU: dense input, stacked gate weights."""

    _gate_names = ()

    def _setup_gates(self, num_units, gates):
        self.num_units = _check_num_units(self, num_units)
        if any(d is None for d in self.input_shapes[0][2:]):
            raise ValueError(
                f"{self._where()}the feature dimensions of the input "
                f"{self.input_shapes[0]} must be known to size the weights.")
        num_inputs = self._num_inputs = int(np.prod(self.input_shapes[0][2:]))
        for name, gate in zip(self._gate_names, gates):
            (w_in, w_hid, b, nl) = _gate_params(self, gate, name, num_inputs,
                                                self.num_units)
            setattr(self, f"W_in_to_{name}", w_in)
            setattr(self, f"W_hid_to_{name}", w_hid)
            setattr(self, f"b_{name}", b)
            setattr(self, f"nonlinearity_{name}", nl)

    def _stacked(self, prefix):
        """Gate parameters side by side. Their declared shapes are made
        static, so the gradient's split has constant positions (JAX)."""
        parts = []
        for name in self._gate_names:
            param = getattr(self, f"{prefix}{name}")
            shape = {"W_in_to_": (self._num_inputs, self.num_units),
                     "W_hid_to_": (self.num_units, self.num_units),
                     "b_": (self.num_units,)}[prefix]
            parts.append(pt.specify_shape(param, shape))
        return pt.concatenate(parts, axis=-1)

    def _num_units_shape(self):
        return (self.num_units,)

    def _flat_sequence(self, seq):
        return seq.flatten(3) if seq.ndim > 3 else seq


class LSTMLayer(_GatedLayer):
    """LSTMLayer(incoming, num_units, ingate=Gate(), forgetgate=Gate(),
    cell=Gate(W_cell=None, nonlinearity=lasagne.nonlinearities.tanh),
    outgate=Gate(), nonlinearity=lasagne.nonlinearities.tanh,
    cell_init=lasagne.init.Constant(0.), hid_init=lasagne.init.Constant(0.),
    backwards=False, learn_init=False, peepholes=True, gradient_steps=-1,
    grad_clipping=0, unroll_scan=False, precompute_input=True,
    mask_input=None, only_return_final=False, **kwargs)

    Long short-term memory, with peepholes by default::

        i_t = s_i(x_t W_xi + h_{t-1} W_hi + w_ci * c_{t-1} + b_i)
        f_t = s_f(x_t W_xf + h_{t-1} W_hf + w_cf * c_{t-1} + b_f)
        c_t = f_t * c_{t-1} + i_t * s_c(x_t W_xc + h_{t-1} W_hc + b_c)
        o_t = s_o(x_t W_xo + h_{t-1} W_ho + w_co * c_t + b_o)
        h_t = o_t * nonlinearity(c_t)

    ``grad_clipping`` clips the gradient flowing into the gates' sum
    ``x_t W_x + h_{t-1} W_h + b`` (peephole terms excluded). ``cell_init``
    is like ``hid_init``; other arguments as in
    :class:`CustomRecurrentLayer`.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> l_lstm = LSTMLayer(InputLayer((None, 9, 2)), 10)
    >>> l_lstm.output_shape
    (None, 9, 10)
    >>> len(l_lstm.get_params(trainable=True))
    15
    """

    _gate_names = ("ingate", "forgetgate", "cell", "outgate")

    def __init__(self, incoming, num_units, ingate=Gate(),
                 forgetgate=Gate(),
                 cell=Gate(W_cell=None, nonlinearity=nonlinearities.tanh),
                 outgate=Gate(), nonlinearity=nonlinearities.tanh,
                 cell_init=init.Constant(0.), hid_init=init.Constant(0.),
                 backwards=False, learn_init=False, peepholes=True,
                 gradient_steps=-1, grad_clipping=0, unroll_scan=False,
                 precompute_input=True, mask_input=None,
                 only_return_final=False, **kwargs):
        # hid_init's layer before cell_init's, as in Lasagne's input_layers
        super().__init__(incoming, {"hid_init": hid_init,
                                    "cell_init": cell_init},
                         backwards, learn_init, gradient_steps, grad_clipping,
                         unroll_scan, precompute_input, mask_input,
                         only_return_final, **kwargs)
        self.nonlinearity = (nonlinearities.identity if nonlinearity is None
                             else nonlinearity)
        self.peepholes = bool(peepholes)
        self._setup_gates(num_units, (ingate, forgetgate, cell, outgate))
        if self.peepholes:
            for name, gate in (("ingate", ingate), ("forgetgate", forgetgate),
                               ("outgate", outgate)):
                if gate.W_cell is None:
                    raise ValueError(
                        f"{self._where()}peepholes=True but the {name} Gate "
                        f"has W_cell=None. Give it a W_cell, or pass "
                        f"peepholes=False.")
                setattr(self, f"W_cell_to_{name}", self.add_param(
                    gate.W_cell, (self.num_units,), name=f"W_cell_to_{name}"))
        self.cell_init = self._add_state_init("cell_init", cell_init,
                                              (self.num_units,))
        self.hid_init = self._add_state_init("hid_init", hid_init,
                                             (self.num_units,))

    def _state_params(self):
        return [("cell_init", self.cell_init), ("hid_init", self.hid_init)]

    def _activations(self):
        return [_fusable_name(f) for f in (
            self.nonlinearity_ingate, self.nonlinearity_forgetgate,
            self.nonlinearity_cell, self.nonlinearity_outgate,
            self.nonlinearity)]

    def _fusable(self):
        return None not in self._activations()

    def get_output_for(self, inputs, **kwargs):
        seq, mask, (cell_init, hid_init) = self._unpack_inputs(inputs)
        seq = self._flat_sequence(seq)
        W_in, W_hid, b = (self._stacked("W_in_to_"), self._stacked("W_hid_to_"),
                          self._stacked("b_"))
        n = self.num_units
        if self._use_fused():
            if self._num_inputs <= PROJECT_IN_OP_MAX_INPUTS:
                x = seq.astype(upcast(seq.dtype, W_in.dtype, b.dtype))
                input_weights = dict(w_in=W_in, bias=b)
            else:
                x, input_weights = self._project(seq, W_in, b), {}
            peep = None
            if self.peepholes:
                peep = pt.stack([self.W_cell_to_ingate,
                                 self.W_cell_to_forgetgate,
                                 self.W_cell_to_outgate])
            hid, _ = fused_ops.lstm_sequence(
                x, W_hid, cell_init, hid_init, peep,
                self._mask_for_op(mask, x.dtype), self._activations(),
                self.backwards, self.grad_clipping, **input_weights)
            return self._input_order_output(hid)
        if self.precompute_input:
            seq = self._project(seq, W_in, b)

        def step(x_n, cell_previous, hid_previous):
            if not self.precompute_input:
                x_n = pt.dot(x_n, W_in) + b
            gates = self._clip(x_n + pt.dot(hid_previous, W_hid))
            ingate, forgetgate, cell_input, outgate = (
                gates[:, k * n:(k + 1) * n] for k in range(4))
            if self.peepholes:
                ingate = ingate + cell_previous * self.W_cell_to_ingate
                forgetgate = (forgetgate
                              + cell_previous * self.W_cell_to_forgetgate)
            ingate = self.nonlinearity_ingate(ingate)
            forgetgate = self.nonlinearity_forgetgate(forgetgate)
            cell_input = self.nonlinearity_cell(cell_input)
            cell = forgetgate * cell_previous + ingate * cell_input
            if self.peepholes:
                outgate = outgate + cell * self.W_cell_to_outgate
            outgate = self.nonlinearity_outgate(outgate)
            return [cell, outgate * self.nonlinearity(cell)]

        hid = self._loop(step, [seq], [cell_init, hid_init], mask, 1)
        return self._scan_order_output(hid)


class GRULayer(_GatedLayer):
    """GRULayer(incoming, num_units, resetgate=Gate(W_cell=None),
    updategate=Gate(W_cell=None),
    hidden_update=Gate(W_cell=None, nonlinearity=lasagne.nonlinearities.tanh),
    hid_init=lasagne.init.Constant(0.), backwards=False, learn_init=False,
    gradient_steps=-1, grad_clipping=0, unroll_scan=False,
    precompute_input=True, mask_input=None, only_return_final=False,
    **kwargs)

    Gated recurrent unit, Lasagne's formulation::

        r_t = s_r(x_t W_xr + h_{t-1} W_hr + b_r)
        u_t = s_u(x_t W_xu + h_{t-1} W_hu + b_u)
        c_t = s_c(x_t W_xc + b_c + r_t * (h_{t-1} W_hc))
        h_t = (1 - u_t) * h_{t-1} + u_t * c_t

    ``grad_clipping`` clips the gradients flowing into the input and hidden
    projections and into the candidate's pre-activation. Other arguments as
    in :class:`CustomRecurrentLayer`.

    Examples
    --------
    >>> from lasagne.layers import InputLayer
    >>> GRULayer(InputLayer((None, 9, 2)), 10).output_shape
    (None, 9, 10)
    """

    _gate_names = ("resetgate", "updategate", "hidden_update")

    def __init__(self, incoming, num_units, resetgate=Gate(W_cell=None),
                 updategate=Gate(W_cell=None),
                 hidden_update=Gate(W_cell=None,
                                    nonlinearity=nonlinearities.tanh),
                 hid_init=init.Constant(0.), backwards=False,
                 learn_init=False, gradient_steps=-1, grad_clipping=0,
                 unroll_scan=False, precompute_input=True, mask_input=None,
                 only_return_final=False, **kwargs):
        super().__init__(incoming, {"hid_init": hid_init}, backwards,
                         learn_init, gradient_steps, grad_clipping,
                         unroll_scan, precompute_input, mask_input,
                         only_return_final, **kwargs)
        self._setup_gates(num_units, (resetgate, updategate, hidden_update))
        # Lasagne's name for the candidate's nonlinearity.
        self.nonlinearity_hid = self.nonlinearity_hidden_update
        self.hid_init = self._add_state_init("hid_init", hid_init,
                                             (self.num_units,))

    def _state_params(self):
        return [("hid_init", self.hid_init)]

    def _activations(self):
        return [_fusable_name(f) for f in (
            self.nonlinearity_resetgate, self.nonlinearity_updategate,
            self.nonlinearity_hid)]

    def _fusable(self):
        # Without precomputation Lasagne clips the raw input's gradient,
        # which the fused Op (working on projections) does not model.
        return (None not in self._activations()
                and (self.precompute_input or not self.grad_clipping))

    def get_output_for(self, inputs, **kwargs):
        seq, mask, (hid_init,) = self._unpack_inputs(inputs)
        seq = self._flat_sequence(seq)
        W_in, W_hid, b = (self._stacked("W_in_to_"), self._stacked("W_hid_to_"),
                          self._stacked("b_"))
        n = self.num_units
        if self._use_fused():
            proj = self._project(seq, W_in, b)
            hid = fused_ops.gru_sequence(
                proj, W_hid, hid_init, self._mask_for_op(mask, proj.dtype),
                self._activations(), self.backwards, self.grad_clipping)
            return self._input_order_output(hid)
        if self.precompute_input:
            seq = self._project(seq, W_in, b)

        def step(x_n, hid_previous):
            hid_input = self._clip(pt.dot(hid_previous, W_hid))
            x_n = self._clip(x_n)
            if not self.precompute_input:
                x_n = pt.dot(x_n, W_in) + b
            resetgate = self.nonlinearity_resetgate(
                hid_input[:, :n] + x_n[:, :n])
            updategate = self.nonlinearity_updategate(
                hid_input[:, n:2 * n] + x_n[:, n:2 * n])
            hidden_update = self._clip(
                x_n[:, 2 * n:] + resetgate * hid_input[:, 2 * n:])
            hidden_update = self.nonlinearity_hid(hidden_update)
            return [(1 - updategate) * hid_previous
                    + updategate * hidden_update]

        hid = self._loop(step, [seq], [hid_init], mask, 0)
        return self._scan_order_output(hid)
