"""The machinery shared by the recurrent layers of
:mod:`lasagne.layers.recurrent`.

Every layer takes its input as (batch, time, features...) and an optional
mask layer (batch, time) with 1 where a sequence has data and 0 after its
end: masked steps keep the previous state.

When the options allow it (standard nonlinearities, no truncated
``gradient_steps``, no ``unroll_scan``, a dense hidden-to-hidden transform)
the LSTM, GRU and vanilla RNN run as one fused Op per sequence
(:mod:`lasagne.ops.recurrent`), much faster than a :func:`pytensor.scan`;
otherwise they use scan. Both give the same numbers. Set a layer's
``allow_fused`` attribute to False to force the scan.
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.gradient import grad_clip

from .. import nonlinearities
from ..utils import int_types, unroll_scan
from .base import Layer, MergeLayer

__all__ = []

# Nonlinearities the fused Ops implement, by identity.
_FUSABLE = {nonlinearities.sigmoid: "sigmoid", nonlinearities.tanh: "tanh",
            nonlinearities.rectify: "rectify",
            nonlinearities.linear: "linear", None: "linear"}


def _fusable_name(fn):
    try:
        return _FUSABLE.get(fn)
    except TypeError:  # unhashable callable
        return None



def batch_initial_state(param, n_batch, shape):
    """A learned initial state `param` (``(1, *shape)``) repeated for each
    of `n_batch` sequences: ``(n_batch, *shape)``.

    Written as a product with a column of ones, so that its gradient is a
    plain sum over the batch; with the static `shape` every size but the
    batch is a constant, which JAX needs to trace the graph (a ``repeat``
    whose shape is computed in the graph does not trace).
    """
    size = int(np.prod(shape))
    ones = pt.ones((n_batch, 1), dtype=param.dtype)
    value = pt.dot(ones, param.reshape((1, size)))
    return value.reshape((n_batch,) + tuple(shape))

class _BaseRecurrentLayer(MergeLayer):
    """What every recurrent layer shares: the optional mask and
    initial-state layers as extra incomings, argument checks, the
    (batch, time) <-> (time, batch) shuffles, the scan / unrolled loop with
    masking, and the selection of the returned steps."""

    #: Use the fused recurrence Op when the options allow it.
    allow_fused = True

    def __init__(self, incoming, state_inits, backwards, learn_init,
                 gradient_steps, grad_clipping, unroll_scan, precompute_input,
                 mask_input, only_return_final, **kwargs):
        incomings = [incoming]
        self.mask_incoming_index = -1
        if mask_input is not None:
            incomings.append(mask_input)
            self.mask_incoming_index = len(incomings) - 1
        self._init_index = {}
        for name, spec in state_inits.items():
            if isinstance(spec, Layer):
                incomings.append(spec)
                self._init_index[name] = len(incomings) - 1
        # Lasagne's attribute names for these indices.
        self.hid_init_incoming_index = self._init_index.get("hid_init", -1)
        self.cell_init_incoming_index = self._init_index.get("cell_init", -1)
        super().__init__(incomings, **kwargs)
        self.backwards = bool(backwards)
        self.learn_init = bool(learn_init)
        self.gradient_steps = gradient_steps
        self.grad_clipping = grad_clipping
        self.unroll_scan = bool(unroll_scan)
        self.precompute_input = bool(precompute_input)
        self.only_return_final = bool(only_return_final)
        self._check_arguments(mask_input)

    def _check_arguments(self, mask_input):
        where = self._where()
        shape = self.input_shapes[0]
        if len(shape) < 3:
            raise ValueError(
                f"{where}the input must be (batch, time, features...), got "
                f"an input of shape {shape}. Reshape it, e.g. with "
                f"ReshapeLayer, to add a time axis.")
        if (not isinstance(self.gradient_steps, int_types)
                or isinstance(self.gradient_steps, bool)):
            raise TypeError(
                f"{where}`gradient_steps` must be an int (-1 for the whole "
                f"sequence), got {self.gradient_steps!r}.")
        if (not isinstance(self.grad_clipping, (int, float, np.number))
                or isinstance(self.grad_clipping, bool)
                or self.grad_clipping < 0):
            raise ValueError(
                f"{where}`grad_clipping` must be a number >= 0 (0 disables "
                f"clipping), got {self.grad_clipping!r}.")
        if self.unroll_scan and self.gradient_steps != -1:
            raise ValueError(
                f"{where}`gradient_steps` must be -1 when unroll_scan=True, "
                f"got {self.gradient_steps}: an unrolled loop always "
                f"back-propagates through every step.")
        if self.unroll_scan and shape[1] is None:
            raise ValueError(
                f"{where}unroll_scan=True needs the sequence length, but the "
                f"input shape {shape} has None as its time axis. Give the "
                f"InputLayer a fixed length, or set unroll_scan=False.")
        if mask_input is not None:
            mask_shape = self.input_shapes[self.mask_incoming_index]
            if len(mask_shape) != 2:
                raise ValueError(
                    f"{where}`mask_input` must output (batch, time), got "
                    f"shape {mask_shape}.")

    def _add_state_init(self, name, spec, shape):
        """A learnable initial state (1, *shape), or None if given as a
        Layer (then checked against `shape`)."""
        if isinstance(spec, Layer):
            got = spec.output_shape
            if tuple(got[1:]) != tuple(shape) and None not in got[1:]:
                raise ValueError(
                    f"{self._where()}the `{name}` layer outputs {got}; it "
                    f"must output (batch,) + {tuple(shape)}.")
            return None
        return self.add_param(spec, (1,) + tuple(shape), name=name,
                              trainable=self.learn_init, regularizable=False)

    # -------------------------------------------------------------- output
    def _num_units_shape(self):
        raise NotImplementedError

    def get_output_shape_for(self, input_shapes):
        shape = input_shapes[0]
        if self.only_return_final:
            return (shape[0],) + self._num_units_shape()
        return (shape[0], shape[1]) + self._num_units_shape()

    def _unpack_inputs(self, inputs):
        """(sequence (T, B, ...), mask (T, B) or None, initial states)."""
        seq = inputs[0]
        seq = seq.dimshuffle(1, 0, *range(2, seq.ndim))
        mask = None
        if self.mask_incoming_index > 0:
            mask = inputs[self.mask_incoming_index].dimshuffle(1, 0)
        n_batch = seq.shape[1]
        inits = []
        for name, param in self._state_params():
            if name in self._init_index:
                inits.append(inputs[self._init_index[name]])
            else:
                inits.append(batch_initial_state(
                    param, n_batch, tuple(self._num_units_shape())))
        return seq, mask, inits

    def _state_params(self):
        """[(init name, param or None)] in the order of the loop states."""
        raise NotImplementedError

    def _use_fused(self):
        return (self.allow_fused and not self.unroll_scan
                and self.gradient_steps < 1 and self._fusable())

    def _fusable(self):
        return False

    def _loop(self, step, sequences, inits, mask, hid_index):
        """Run `step(*slices, *states) -> states` over time (scan or
        unrolled), keep states where the mask is 0, and return the hidden
        output (a state's history, in scan order)."""
        n_seq = len(sequences)
        if mask is not None:
            sequences = sequences + [mask]

        def masked_step(*args):
            slices = list(args[:n_seq])
            previous = list(args[len(sequences):])
            new = step(*slices, *previous)
            if mask is not None:
                m = args[n_seq]
                new = [pt.switch(m.reshape((m.shape[0],) + (1,) * (n.ndim - 1)),
                                 n, p) for n, p in zip(new, previous)]
            return new

        if self.unroll_scan:
            outs = unroll_scan(masked_step, sequences, inits, [],
                               self.input_shapes[0][1], self.backwards)
        else:
            steps = self.gradient_steps if self.gradient_steps > 0 else -1
            outs = pytensor.scan(masked_step, sequences=sequences,
                                 outputs_info=inits,
                                 go_backwards=self.backwards,
                                 truncate_gradient=steps,
                                 return_updates=False)
        if not isinstance(outs, (list, tuple)):
            outs = [outs]
        return outs[hid_index]

    def _scan_order_output(self, hid_out):
        """Lasagne's output from a history in scan order."""
        if self.only_return_final:
            return hid_out[-1]
        hid_out = hid_out.dimshuffle(1, 0, *range(2, hid_out.ndim))
        if self.backwards:
            hid_out = hid_out[:, ::-1]
        return hid_out

    def _input_order_output(self, hid_seq):
        """The same from a fused Op's history, kept in input order."""
        if self.only_return_final:
            return hid_seq[0] if self.backwards else hid_seq[-1]
        return hid_seq.dimshuffle(1, 0, 2)

    def _clip(self, x):
        if self.grad_clipping:
            return grad_clip(x, -self.grad_clipping, self.grad_clipping)
        return x

    @staticmethod
    def _project(seq, W, b):
        """seq (T, B, F) @ W + b as one matrix product. The lengths are
        given, not inferred (-1): numpy cannot infer a length beside a
        zero one (an empty sequence or batch)."""
        flat = seq.reshape((seq.shape[0] * seq.shape[1], seq.shape[2]))
        out = pt.dot(flat, W) + b
        return out.reshape((seq.shape[0], seq.shape[1], W.shape[1]))

    @staticmethod
    def _mask_for_op(mask, dtype):
        return None if mask is None else mask.astype(dtype)


def _check_num_units(layer, num_units):
    if (not isinstance(num_units, int_types) or isinstance(num_units, bool)
            or num_units <= 0):
        raise ValueError(f"{layer._where()}`num_units` must be a positive "
                         f"integer, got {num_units!r}.")
    return int(num_units)

