"""Fused recurrences: a whole sequence of LSTM, GRU or vanilla RNN steps as
one Op, and its gradient as another.

A :func:`pytensor.scan` runs its step graph once per time step through the
virtual machine; at the sizes of typical sequence models that overhead,
not the arithmetic, dominates. These Ops run the loop inside one kernel
(Numba: :mod:`lasagne.ops.recurrent_kernels`; JAX: :func:`jax.lax.scan`),
take the input projections of all steps precomputed by one matrix product
outside the Op, and store the gate activations of the forward pass as extra
outputs so that the backward Op does not recompute them.

The equations and the gate order are those of Lasagne's
:class:`~lasagne.layers.LSTMLayer` (ingate, forgetgate, cell, outgate),
:class:`~lasagne.layers.GRULayer` (resetgate, updategate, hidden_update) and
:class:`~lasagne.layers.RecurrentLayer`, including ``grad_clipping``.
"""
import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type, DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from . import recurrent_kernels as kernels
from .contiguous import kernel_array
from .recurrent_kernels import ACTIVATION_CODES

__all__ = ["RecurrenceForward", "RecurrenceBackward", "lstm_sequence",
           "gru_sequence", "rnn_sequence", "ACTIVATIONS"]

#: Names of the nonlinearities the fused Ops implement.
ACTIVATIONS = tuple(ACTIVATION_CODES)

# Per cell: number of gate blocks in the input projection, names of the
# initial states (in input order), number of activations, number of
# columns of the stored gate values (as a multiple of the units).
_CELLS = {
    "lstm": dict(blocks=4, states=("cell", "hid"), n_acts=5, stored=5),
    "gru": dict(blocks=3, states=("hid",), n_acts=3, stored=4),
    "rnn": dict(blocks=1, states=("hid",), n_acts=1, stored=0),
}


class _RecurrenceBase(Op):
    __props__ = ("cell", "activations", "backwards", "grad_clipping",
                 "peepholes", "has_mask", "project_input")

    def __init__(self, cell, activations, backwards=False, grad_clipping=0.0,
                 peepholes=False, has_mask=False, project_input=False):
        if cell not in _CELLS:
            raise ValueError(f"{type(self).__name__}: cell must be one of "
                             f"{sorted(_CELLS)}, got {cell!r}.")
        activations = tuple(activations)
        if len(activations) != _CELLS[cell]["n_acts"] or any(
                a not in ACTIVATION_CODES for a in activations):
            raise ValueError(
                f"{type(self).__name__}: a {cell} cell takes "
                f"{_CELLS[cell]['n_acts']} activations among {ACTIVATIONS}, "
                f"got {activations!r}.")
        if peepholes and cell != "lstm":
            raise ValueError(f"{type(self).__name__}: peepholes exist only "
                             f"for the lstm cell, not {cell!r}.")
        if project_input and cell != "lstm":
            raise ValueError(f"{type(self).__name__}: project_input is "
                             f"implemented for the lstm cell only, not "
                             f"{cell!r}.")
        self.cell = cell
        self.activations = activations
        self.backwards = bool(backwards)
        self.grad_clipping = float(grad_clipping)
        self.peepholes = bool(peepholes)
        self.has_mask = bool(has_mask)
        self.project_input = bool(project_input)

    @property
    def n_states(self):
        return len(_CELLS[self.cell]["states"])

    @property
    def codes(self):
        """Activation codes for the kernels."""
        return np.array([ACTIVATION_CODES[a] for a in self.activations],
                        dtype=np.int64)

    def options(self, dtype):
        """(backwards, clip, peepholes, has_mask, fast, lanes,
        project_input) for the kernels; lanes = Numba's thread count, read
        here because reading it inside a kernel would keep Numba from
        caching the kernel."""
        return np.array([self.backwards, self.grad_clipping, self.peepholes,
                         self.has_mask, np.dtype(dtype) == np.float32,
                         numba.get_num_threads(), self.project_input],
                        dtype=np.float64)

    def _split(self, inputs):
        """(x, w_hid, states, peep, (w_in, b) or None, mask) from a forward
        input list, ordered x, w_hid, states, [peep], [w_in, b], [mask]."""
        x, w_hid = inputs[0], inputs[1]
        states = list(inputs[2:2 + self.n_states])
        rest = list(inputs[2 + self.n_states:])
        peep = rest.pop(0) if self.peepholes else None
        proj = (rest.pop(0), rest.pop(0)) if self.project_input else None
        mask = rest.pop(0) if self.has_mask else None
        return x, w_hid, states, peep, proj, mask

    def _n_forward_inputs(self):
        return (2 + self.n_states + self.peepholes + 2 * self.project_input
                + self.has_mask)

    def _kernel_extras(self, x_like, peep, proj, mask):
        """Contiguous peepholes, input weights, bias and mask, or dummy
        arrays where absent (fixed kernel types)."""
        dtype = x_like.dtype
        c = kernel_array
        if peep is None:
            peep = np.zeros((3, 1), dtype)
        if proj is None:
            proj = (np.zeros((1, 1), dtype), np.zeros(1, dtype))
        if mask is None:
            mask = np.ones((1, 1), dtype)
        return (c(peep, dtype), c(proj[0], dtype), c(proj[1], dtype),
                c(mask, dtype))


class RecurrenceForward(_RecurrenceBase):
    """Runs a whole sequence of recurrent steps.

    Inputs: ``x`` (T, B, blocks*H), the precomputed input projections
    (bias included); ``w_hid`` (H, blocks*H); the initial states (B, H)
    (LSTM: cell then hid); the peepholes (3, H) (LSTM with peepholes:
    rows ingate, forgetgate, outgate); with ``project_input`` (LSTM),
    ``x`` is instead the raw input (T, B, F), followed here by the input
    weights (F, 4H) and bias (4H), applied inside the kernel: for a few
    input features this saves storing the (T, B, 4H) projections and
    their gradient; the mask (T, B) if ``has_mask``.
    Outputs: the hidden sequence (T, B, H) in input time order (also when
    ``backwards``), for the LSTM the cell sequence, and for LSTM and GRU
    the stored gate values used by :class:`RecurrenceBackward`.

    Examples
    --------
    A linear RNN ``h_t = x_t + h_{t-1}`` sums its inputs:

    >>> import numpy as np
    >>> op = RecurrenceForward("rnn", ["linear"])
    >>> hid = op(np.ones((3, 1, 2)), np.eye(2), np.zeros((1, 2)))
    >>> hid.eval()[:, 0, 0]
    array([1., 2., 3.])
    """

    def make_node(self, x, w_hid, *rest):
        x = pt.as_tensor_variable(x)
        dtype = x.dtype
        inputs = [x, pt.as_tensor_variable(w_hid)]
        inputs += [pt.as_tensor_variable(r) for r in rest]
        if len(inputs) != self._n_forward_inputs():
            raise TypeError(f"{self}: expected {self._n_forward_inputs()} "
                            f"inputs, got {len(inputs)}.")
        x_, w_, states, peep, proj, mask = self._split(inputs)
        states = [s.astype(dtype) for s in states]
        inputs = [x, w_.astype(dtype)] + states
        n_dims = [3, 2] + [2] * len(states)
        if peep is not None:
            inputs.append(peep.astype(dtype))
            n_dims.append(2)
        if proj is not None:
            inputs += [proj[0].astype(dtype), proj[1].astype(dtype)]
            n_dims += [2, 1]
        if mask is not None:
            inputs.append(mask.astype(dtype))
            n_dims.append(2)
        for var, nd in zip(inputs, n_dims):
            if var.ndim != nd:
                raise TypeError(f"{self}: expected a {nd}-d input, got "
                                f"{var.type}.")
        seq = pt.tensor(dtype=dtype, shape=(None, None, None))
        outputs = [seq]
        if self.cell == "lstm":
            outputs += [seq.type(), seq.type()]
        elif self.cell == "gru":
            outputs += [seq.type()]
        return Apply(self, inputs, outputs)

    def connection_pattern(self, node):
        n_out = len(node.outputs)
        n_state_outs = self.n_states
        pattern = []
        for i in range(len(node.inputs)):
            is_mask = self.has_mask and i == len(node.inputs) - 1
            pattern.append([not is_mask and k < n_state_outs
                            for k in range(n_out)])
        return pattern

    def run(self, inputs):
        """Numpy in, numpy out (the Numba kernels, called from Python)."""
        x, w_hid, states, peep, proj, mask = self._split(inputs)
        peep_a, w_in, bias, mask_a = self._kernel_extras(x, peep, proj, mask)
        c = kernel_array
        x, w_hid = c(x), c(w_hid)
        states = [c(s) for s in states]
        acts, opts = self.codes, self.options(inputs[0].dtype)
        if self.cell == "lstm":
            kernels.ready("lstm_forward", x.dtype)
            return list(kernels.lstm_forward(x, w_in, bias, w_hid, states[0],
                                             states[1], peep_a, mask_a, acts,
                                             opts))
        if self.cell == "gru":
            return list(kernels.gru_forward(x, w_hid, states[0], mask_a,
                                            acts, opts))
        return [kernels.rnn_forward(x, w_hid, states[0], mask_a, acts, opts)]

    def perform(self, node, inputs, output_storage):
        for storage, value in zip(output_storage, self.run(inputs)):
            storage[0] = value

    def infer_shape(self, fgraph, node, shapes):
        x_shape = shapes[0]
        n_units = shapes[1][0]  # w_hid is (H, blocks*H)
        seq = (x_shape[0], x_shape[1], n_units)
        if self.cell == "lstm":
            return [seq, seq, (x_shape[0], x_shape[1], 5 * n_units)]
        if self.cell == "gru":
            return [seq, (x_shape[0], x_shape[1], 4 * n_units)]
        return [seq]

    def pullback(self, inputs, outputs, cotangents):
        state_outs = outputs[:self.n_states]
        d_states = []
        for k, (out, d) in enumerate(zip(state_outs,
                                         cotangents[:self.n_states])):
            if isinstance(d.type, DisconnectedType):
                if self.cell == "lstm" and k == 1:
                    # An empty cell cotangent stands for zeros: the kernel
                    # skips it rather than read a (T, B, H) array of them.
                    d = pt.zeros((0, 0, 0), dtype=out.dtype)
                else:
                    d = pt.zeros_like(out)
            d_states.append(d)
        # LSTM outputs are (hid, cell); the backward takes (d_hid, d_cell).
        grads = RecurrenceBackward(**self._props_dict())(
            *inputs, *outputs, *d_states)
        if not isinstance(grads, (list, tuple)):
            grads = [grads]
        grads = list(grads)
        if self.has_mask:
            grads.append(disconnected_type())
        return grads


class RecurrenceBackward(_RecurrenceBase):
    """Gradient of :class:`RecurrenceForward`.

    Inputs: the forward's inputs, its outputs, then the cotangents of the
    hidden sequence (and, for the LSTM, of the cell sequence). Outputs: the
    gradients of the forward's inputs but the mask, in their order.

    Examples
    --------
    In ``h_t = x_t + h_{t-1}``, the input of step t reaches every later
    hidden state, so the gradient of their sum counts the steps left:

    >>> import numpy as np
    >>> x, w, h0 = np.ones((3, 1, 2)), np.eye(2), np.zeros((1, 2))
    >>> hid = RecurrenceForward("rnn", ["linear"])(x, w, h0)
    >>> gx, gw, gh0 = RecurrenceBackward("rnn", ["linear"])(
    ...     x, w, h0, hid, np.ones((3, 1, 2)))
    >>> gx.eval()[:, 0, 0]
    array([3., 2., 1.])
    """

    def make_node(self, *inputs):
        inputs = [pt.as_tensor_variable(i) for i in inputs]
        n_fwd = self._n_forward_inputs()
        forward_inputs = inputs[:n_fwd]
        outputs = [forward_inputs[0].type(), forward_inputs[1].type()]
        outputs += [v.type() for v in
                    forward_inputs[2:n_fwd - self.has_mask]]
        return Apply(self, inputs, outputs)

    def _split_backward(self, inputs):
        n_fwd = self._n_forward_inputs()
        n_outs = {"lstm": 3, "gru": 2, "rnn": 1}[self.cell]
        forward = self._split(inputs[:n_fwd])
        fwd_outputs = list(inputs[n_fwd:n_fwd + n_outs])
        cotangents = list(inputs[n_fwd + n_outs:])
        return forward, fwd_outputs, cotangents

    def run(self, inputs):
        (x, w_hid, states, peep, proj, mask), outs, cots = (
            self._split_backward(inputs))
        peep_a, w_in, _, mask_a = self._kernel_extras(x, peep, proj, mask)
        c = kernel_array
        w_hid = c(w_hid)
        states = [c(s) for s in states]
        outs = [c(o) for o in outs]
        cots = [c(d) for d in cots]
        acts, opts = self.codes, self.options(inputs[0].dtype)
        if self.cell == "lstm":
            kernels.ready("lstm_backward", w_hid.dtype)
            dx, d_w_in, d_b, d_w, d_c0, d_h0, d_peep = kernels.lstm_backward(
                c(x), w_in, w_hid, states[0], states[1], peep_a, mask_a,
                outs[0], outs[1], outs[2], cots[0], cots[1], acts, opts)
            grads = [dx, d_w, d_c0, d_h0]
            if self.peepholes:
                grads.append(d_peep)
            if self.project_input:
                grads += [d_w_in, d_b]
            return grads
        if self.cell == "gru":
            return list(kernels.gru_backward(w_hid, states[0], mask_a,
                                             outs[0], outs[1], cots[0], acts,
                                             opts))
        return list(kernels.rnn_backward(w_hid, states[0], mask_a, outs[0],
                                         cots[0], acts, opts))

    def perform(self, node, inputs, output_storage):
        for storage, value in zip(output_storage, self.run(inputs)):
            storage[0] = value

    def infer_shape(self, fgraph, node, shapes):
        n_fwd = self._n_forward_inputs()
        return [shapes[i] for i in range(n_fwd - self.has_mask)]


def _check_activations(activations, cell):
    activations = tuple("linear" if a in (None, "identity") else a
                        for a in activations)
    return activations


def lstm_sequence(x, w_hid, cell_init, hid_init, peepholes=None, mask=None,
                  activations=("sigmoid", "sigmoid", "tanh", "sigmoid",
                               "tanh"),
                  backwards=False, grad_clipping=0.0, w_in=None, bias=None):
    """Hidden and cell sequences of an LSTM, as one fused Op.

    Parameters
    ----------
    x : tensor (T, B, 4H), or (T, B, F) with `w_in`
        Input projections of every step, bias included, gate blocks in the
        order ingate, forgetgate, cell, outgate; or, when `w_in` is given,
        the raw input of every step.
    w_hid : tensor (H, 4H)
        Hidden-to-hidden weights, same block order.
    cell_init, hid_init : tensor (B, H)
        Initial states.
    peepholes : tensor (3, H) or None
        Peephole weights of the ingate, forgetgate and outgate.
    mask : tensor (T, B) or None
        0 where a sequence has ended (its state is carried unchanged).
    activations : 5 names
        Nonlinearities of the ingate, forgetgate, cell, outgate and of the
        cell output, among :data:`ACTIVATIONS`.
    backwards : bool
        Run from the last step to the first (results stay in input order).
    grad_clipping : float
        If > 0, clip the gradient flowing into the gates to this bound.
    w_in, bias : tensors (F, 4H) and (4H,), or None
        Input weights and bias, applied inside the Op (worth it for few
        input features: the (T, B, 4H) projections and their gradient are
        never stored).

    Returns
    -------
    hid, cell : tensors (T, B, H)

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as pt
    >>> x = pt.tensor3(dtype="float64")
    >>> w = np.zeros((2, 8)); s0 = np.zeros((1, 2))
    >>> hid, cell = lstm_sequence(x, w, s0, s0)
    >>> hid.eval({x: np.ones((3, 1, 8))}).shape
    (3, 1, 2)
    """
    if (w_in is None) != (bias is None):
        raise ValueError("lstm_sequence: give both w_in and bias, or "
                         "neither.")
    inputs = [x, w_hid, cell_init, hid_init]
    if peepholes is not None:
        inputs.append(peepholes)
    if w_in is not None:
        inputs += [w_in, bias]
    if mask is not None:
        inputs.append(mask)
    op = RecurrenceForward("lstm", _check_activations(activations, "lstm"),
                           backwards, grad_clipping, peepholes is not None,
                           mask is not None, w_in is not None)
    hid, cell, _ = op(*inputs)
    return hid, cell


def gru_sequence(x, w_hid, hid_init, mask=None,
                 activations=("sigmoid", "sigmoid", "tanh"), backwards=False,
                 grad_clipping=0.0):
    """Hidden sequence (T, B, H) of a GRU (Lasagne's equations), fused.

    ``x`` (T, B, 3H) and ``w_hid`` (H, 3H) have their gate blocks in the
    order resetgate, updategate, hidden_update; ``activations`` are those
    three gates' nonlinearities. Other arguments as in
    :func:`lstm_sequence`.

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as pt
    >>> x = pt.tensor3(dtype="float64")
    >>> hid = gru_sequence(x, np.zeros((2, 6)), np.zeros((1, 2)))
    >>> hid.eval({x: np.ones((3, 1, 6))}).shape
    (3, 1, 2)
    """
    inputs = [x, w_hid, hid_init] + ([mask] if mask is not None else [])
    op = RecurrenceForward("gru", _check_activations(activations, "gru"),
                           backwards, grad_clipping, False, mask is not None)
    return op(*inputs)[0]


def rnn_sequence(x, w_hid, hid_init, mask=None, activation="rectify",
                 backwards=False, grad_clipping=0.0):
    """Hidden sequence (T, B, H) of ``h_t = f(x_t + h_{t-1} w_hid)``, fused.

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as pt
    >>> x = pt.tensor3(dtype="float64")
    >>> hid = rnn_sequence(x, np.eye(2), np.zeros((1, 2)))
    >>> hid.eval({x: np.ones((3, 1, 2))})[:, 0, 0]
    array([1., 2., 3.])
    """
    inputs = [x, w_hid, hid_init] + ([mask] if mask is not None else [])
    op = RecurrenceForward("rnn", _check_activations([activation], "rnn"),
                           backwards, grad_clipping, False, mask is not None)
    return op(*inputs)


from . import recurrent_backends  # noqa: E402,F401  (registers kernels)
