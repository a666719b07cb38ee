"""A recurrent layer whose step is any layer graph, and a bidirectional
helper.

:class:`RecurrentContainerLayer` runs a user-built step graph over time.
The step graph reads one step of each input sequence through an
:class:`~lasagne.layers.InputLayer`, and the previous step's value of each
state through a :class:`StateLayer` placeholder; any layer of the step may
read any state, so gated-feedback and multi-layer cells are a few lines.
"""
from collections import OrderedDict

import pytensor
import pytensor.tensor as pt

from .. import init
from ..utils import int_types, unroll_scan
from . import helper
from .base import Layer, MergeLayer
from .input import InputLayer
from .recurrent_base import batch_initial_state
from .merge import ConcatLayer, ElemwiseSumLayer

__all__ = ["StateLayer", "RecurrentContainerLayer", "ContainerOutputLayer",
           "BidirectionalLayer", "bidirectional"]


class StateLayer(InputLayer):
    """The value of a recurrent state at the previous step, inside the step
    graph of a :class:`RecurrentContainerLayer`.

    Parameters
    ----------
    shape : tuple
        ``(batch, *state)`` with ``None`` for the batch size.
    name : str, optional

    Examples
    --------
    >>> h_prev = StateLayer((None, 8), name="h")
    >>> h_prev.output_shape
    (None, 8)
    """


class RecurrentContainerLayer(MergeLayer):
    """RecurrentContainerLayer(sequences, states, outputs=None,
    non_sequences=None, state_inits=None, mask_input=None, backwards=False,
    learn_init=False, gradient_steps=-1, unroll_scan=False,
    only_return_final=False, **kwargs)

    Run a step graph of ordinary layers over the time axis.

    Parameters
    ----------
    sequences : dict {InputLayer: Layer}
        Step inputs of the graph ``(batch, *features)``, each fed with one
        time step of a sequence layer ``(batch, time, *features)``.
    states : dict {StateLayer: Layer}
        For each state, its previous-step placeholder and the layer of the
        step graph computing its new value. Several states are allowed; any
        layer may read any placeholder.
    outputs : list of Layer, optional
        Step-graph layers whose values at every step are returned (default:
        the new-value layers of all states, in order). The container's own
        output is the first; :meth:`output` gives a layer for the others.
    non_sequences : dict {InputLayer: Layer}, optional
        Step inputs fed with the same value (batch, ...) at every step.
    state_inits : dict {StateLayer: spec}, optional
        Initial value of a state: a Layer giving ``(batch, *state)``, or a
        callable, array or shared variable of shape ``(1, *state)`` made a
        parameter. Default ``lasagne.init.Constant(0.)``.
    mask_input : Layer, optional
        (batch, time) mask: at masked steps the states keep their previous
        value, and other outputs are 0.
    backwards : bool
        Process the sequences from their end; outputs stay in input order.
    learn_init : bool
        Make the initial-state parameters trainable.
    gradient_steps : int
        Truncate back-propagation to this many steps (-1: all).
    unroll_scan : bool
        Unroll the loop into one graph (needs a fixed sequence length).
    only_return_final : bool
        Return only the last processed step.

    Examples
    --------
    A vanilla RNN:

    >>> from lasagne.layers import (InputLayer, DenseLayer, ConcatLayer,
    ...                             get_all_params)
    >>> l_seq = InputLayer((None, 6, 3))
    >>> x_t, h_prev = InputLayer((None, 3)), StateLayer((None, 5))
    >>> h_t = DenseLayer(ConcatLayer([x_t, h_prev]), 5)
    >>> rnn = RecurrentContainerLayer({x_t: l_seq}, {h_prev: h_t})
    >>> rnn.output_shape
    (None, 6, 5)
    >>> len(get_all_params(rnn, trainable=True))
    2
    """

    def __init__(self, sequences, states, outputs=None, non_sequences=None,
                 state_inits=None, mask_input=None, backwards=False,
                 learn_init=False, gradient_steps=-1, unroll_scan=False,
                 only_return_final=False, **kwargs):
        name = kwargs.get("name")
        where = f"RecurrentContainerLayer{f' {name!r}' if name else ''}: "
        sequences = OrderedDict(self._checked_map(sequences, "sequences",
                                                  where, InputLayer))
        states = OrderedDict(self._checked_map(states, "states", where,
                                               StateLayer))
        non_sequences = OrderedDict(self._checked_map(
            non_sequences or {}, "non_sequences", where, InputLayer))
        if not sequences:
            raise ValueError(f"{where}`sequences` is empty: give at least "
                             f"one {{step InputLayer: sequence layer}}.")
        if not states:
            raise ValueError(f"{where}`states` is empty: give at least one "
                             f"{{StateLayer: new-value layer}}.")
        state_inits = dict(state_inits or {})
        unknown = [s for s in state_inits if s not in states]
        if unknown:
            raise ValueError(f"{where}`state_inits` names {unknown}, which "
                             f"are not keys of `states`.")
        outputs = list(outputs) if outputs is not None else list(
            states.values())
        if not outputs or not all(isinstance(o, Layer) for o in outputs):
            raise TypeError(f"{where}`outputs` must be a non-empty list of "
                            f"layers of the step graph, got {outputs!r}.")
        incomings = list(sequences.values()) + list(non_sequences.values())
        self.mask_incoming_index = -1
        if mask_input is not None:
            incomings.append(mask_input)
            self.mask_incoming_index = len(incomings) - 1
        self._init_layer_index = {}
        for placeholder in states:
            spec = state_inits.get(placeholder, init.Constant(0.))
            if isinstance(spec, Layer):
                incomings.append(spec)
                self._init_layer_index[placeholder] = len(incomings) - 1
        super().__init__(incomings, **kwargs)
        self.sequences, self.states = sequences, states
        self.non_sequences, self.step_outputs = non_sequences, outputs
        self.backwards, self.learn_init = bool(backwards), bool(learn_init)
        self.gradient_steps, self.unroll_scan = gradient_steps, unroll_scan
        self.only_return_final = bool(only_return_final)
        self._check_shapes()
        self.state_init_params = OrderedDict()
        for i, (placeholder, new) in enumerate(states.items()):
            if placeholder in self._init_layer_index:
                continue
            label = placeholder.name or f"state{i}"
            self.state_init_params[placeholder] = self.add_param(
                state_inits.get(placeholder, init.Constant(0.)),
                (1,) + tuple(placeholder.shape[1:]), name=f"{label}_init",
                trainable=self.learn_init, regularizable=False)
        self._all_outputs = {}

    @staticmethod
    def _checked_map(mapping, arg, where, key_type):
        if not isinstance(mapping, dict):
            raise TypeError(f"{where}`{arg}` must be a dict, got "
                            f"{type(mapping).__name__}.")
        for key, value in mapping.items():
            if not isinstance(key, key_type) or not isinstance(value, Layer):
                raise TypeError(
                    f"{where}`{arg}` must map {key_type.__name__} instances "
                    f"to layers, got {key!r}: {value!r}.")
        return mapping.items()

    def _check_shapes(self):
        where = self._where()
        for step_in, seq in self.sequences.items():
            seq_shape = seq.output_shape
            if tuple(step_in.shape[1:]) != tuple(seq_shape[2:]):
                raise ValueError(
                    f"{where}the step input {step_in!r} has shape "
                    f"{step_in.shape} but one step of its sequence {seq!r} "
                    f"is (batch,) + {tuple(seq_shape[2:])}.")
        for placeholder, new in self.states.items():
            if tuple(placeholder.shape[1:]) != tuple(new.output_shape[1:]):
                raise ValueError(
                    f"{where}state {placeholder!r} has shape "
                    f"{placeholder.shape} but its new value {new!r} has "
                    f"shape {new.output_shape}.")
        if (not isinstance(self.gradient_steps, int_types)
                or isinstance(self.gradient_steps, bool)):
            raise TypeError(f"{where}`gradient_steps` must be an int, got "
                            f"{self.gradient_steps!r}.")
        length = self.input_shapes[0][1]
        if self.unroll_scan and length is None:
            raise ValueError(
                f"{where}unroll_scan=True needs a fixed sequence length, but "
                f"the first sequence has shape {self.input_shapes[0]}.")

    def _step_layers(self):
        return list(self.states.values()) + list(self.step_outputs)

    def get_params(self, unwrap_shared=True, **tags):
        params = super().get_params(unwrap_shared=unwrap_shared, **tags)
        for p in helper.get_all_params(self._step_layers(),
                                       unwrap_shared=unwrap_shared, **tags):
            if p not in params:
                params.append(p)
        return params

    def get_output_shape_for(self, input_shapes):
        shape = self.step_outputs[0].output_shape
        batch, length = input_shapes[0][0], input_shapes[0][1]
        if self.only_return_final:
            return (batch,) + tuple(shape[1:])
        return (batch, length) + tuple(shape[1:])

    def output(self, index):
        """A layer giving the container's output number `index`."""
        return ContainerOutputLayer(self, index)

    def get_output_for(self, inputs, **kwargs):
        n_seq, n_non = len(self.sequences), len(self.non_sequences)
        seqs = [x.dimshuffle(1, 0, *range(2, x.ndim)) for x in inputs[:n_seq]]
        non_seq_values = inputs[n_seq:n_seq + n_non]
        mask = (inputs[self.mask_incoming_index].dimshuffle(1, 0)
                if self.mask_incoming_index >= 0 else None)
        n_batch = seqs[0].shape[1]
        inits = []
        for placeholder in self.states:
            if placeholder in self._init_layer_index:
                inits.append(inputs[self._init_layer_index[placeholder]])
            else:
                param = self.state_init_params[placeholder]
                inits.append(batch_initial_state(
                    param, n_batch, tuple(placeholder.shape[1:])))
        state_layers = list(self.states)
        new_layers = list(self.states.values())
        extra = [o for o in self.step_outputs if o not in new_layers]
        n_states = len(state_layers)

        def step(*args):
            slices = list(args[:n_seq])
            m = args[n_seq] if mask is not None else None
            previous = list(args[n_seq + (mask is not None):])
            given = dict(zip(self.sequences, slices))
            given.update(zip(self.non_sequences, non_seq_values))
            given.update(zip(state_layers, previous))
            values = helper.get_output(new_layers + extra, given, **kwargs)
            if m is not None:
                def where(v, other):
                    mm = m.reshape((m.shape[0],) + (1,) * (v.ndim - 1))
                    return pt.switch(mm, v, other)
                values = ([where(v, p) for v, p in
                           zip(values[:n_states], previous)]
                          + [where(v, pt.zeros_like(v))
                             for v in values[n_states:]])
            return values

        sequences = seqs + ([mask] if mask is not None else [])
        outputs_info = inits + [None] * len(extra)
        if self.unroll_scan:
            results = unroll_scan(step, sequences, outputs_info, [],
                                  self.input_shapes[0][1], self.backwards)
        else:
            steps = self.gradient_steps if self.gradient_steps > 0 else -1
            results = pytensor.scan(step, sequences=sequences,
                                    outputs_info=outputs_info,
                                    go_backwards=self.backwards,
                                    truncate_gradient=steps,
                                    return_updates=False)
        if not isinstance(results, (list, tuple)):
            results = [results]
        by_layer = dict(zip(new_layers + extra, results))
        finals = []
        for layer in self.step_outputs:
            out = by_layer[layer]
            if self.only_return_final:
                out = out[-1]
            else:
                out = out.dimshuffle(1, 0, *range(2, out.ndim))
                if self.backwards:
                    out = out[:, ::-1]
            finals.append(out)
        self._all_outputs[finals[0]] = finals
        return finals[0]


class ContainerOutputLayer(Layer):
    """Output number `index` of a :class:`RecurrentContainerLayer` (made by
    its :meth:`~RecurrentContainerLayer.output` method).

    Examples
    --------
    >>> from lasagne.layers import InputLayer, DenseLayer
    >>> x_t, h_prev = InputLayer((None, 2)), StateLayer((None, 3))
    >>> h_t = DenseLayer(ConcatLayer([x_t, h_prev]), 3)
    >>> y_t = DenseLayer(h_t, 1)
    >>> rnn = RecurrentContainerLayer({x_t: InputLayer((None, 4, 2))},
    ...                               {h_prev: h_t}, outputs=[h_t, y_t])
    >>> rnn.output(1).output_shape
    (None, 4, 1)
    """

    def __init__(self, container, index, **kwargs):
        super().__init__(container, **kwargs)
        if not isinstance(container, RecurrentContainerLayer):
            raise TypeError(f"{self._where()}expects a "
                            f"RecurrentContainerLayer, got {container!r}.")
        if not 0 <= index < len(container.step_outputs):
            raise ValueError(
                f"{self._where()}index {index} out of range: the container "
                f"has {len(container.step_outputs)} outputs.")
        self.container, self.index = container, index

    def get_output_shape_for(self, input_shape):
        shape = self.container.step_outputs[self.index].output_shape
        lead = input_shape[:1] if self.container.only_return_final \
            else input_shape[:2]
        return tuple(lead) + tuple(shape[1:])

    def get_output_for(self, input, **kwargs):
        return self.container._all_outputs[input][self.index]


class BidirectionalLayer(MergeLayer):
    """Merge a forward and a backward recurrent layer over the same input.

    Parameters
    ----------
    forward, backward : Layer
        Recurrent layers (``backwards=False`` and ``backwards=True``) with
        equal output shapes except the last axis (for ``'concat'``).
    merge : {'concat', 'sum'}
        Concatenate the two outputs on the last axis, or add them.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, LSTMLayer
    >>> l_in = InputLayer((None, 7, 3))
    >>> l_bi = BidirectionalLayer(LSTMLayer(l_in, 4),
    ...                           LSTMLayer(l_in, 4, backwards=True))
    >>> l_bi.output_shape
    (None, 7, 8)
    """

    def __init__(self, forward, backward, merge="concat", **kwargs):
        super().__init__([forward, backward], **kwargs)
        if merge not in ("concat", "sum"):
            raise ValueError(f"{self._where()}`merge` must be 'concat' or "
                             f"'sum', got {merge!r}.")
        for arg, layer, expected in (("forward", forward, False),
                                     ("backward", backward, True)):
            if getattr(layer, "backwards", expected) != expected:
                raise ValueError(
                    f"{self._where()}the `{arg}` layer {layer!r} has "
                    f"backwards={not expected}; build it with "
                    f"backwards={expected}.")
        self.merge = merge
        self._merger = (ConcatLayer(self.input_shapes, axis=-1)
                        if merge == "concat"
                        else ElemwiseSumLayer(self.input_shapes))

    def get_output_shape_for(self, input_shapes):
        return self._merger.get_output_shape_for(input_shapes)

    def get_output_for(self, inputs, **kwargs):
        return self._merger.get_output_for(inputs, **kwargs)


def bidirectional(layer_class, *args, merge="concat", **kwargs):
    """Build ``layer_class(*args, **kwargs)`` twice, forwards and
    backwards, and merge them with a :class:`BidirectionalLayer`.

    Parameters
    ----------
    layer_class : callable
        A recurrent layer class (or a factory accepting ``backwards``).
    merge : {'concat', 'sum'}
    *args, **kwargs
        Passed to both layers (``mask_input`` included); a ``name`` gets
        ``.forward`` / ``.backward`` appended.

    Examples
    --------
    >>> from lasagne.layers import InputLayer, GRULayer
    >>> l_bi = bidirectional(GRULayer, InputLayer((None, 5, 2)), 3,
    ...                      merge="sum")
    >>> l_bi.output_shape
    (None, 5, 3)
    """
    name = kwargs.pop("name", None)
    if "backwards" in kwargs:
        raise ValueError("bidirectional: do not pass `backwards`; both "
                         "directions are built.")
    forward = layer_class(*args, backwards=False, name=name and f"{name}.forward",
                          **kwargs)
    backward = layer_class(*args, backwards=True,
                           name=name and f"{name}.backward", **kwargs)
    return BidirectionalLayer(forward, backward, merge=merge, name=name)

