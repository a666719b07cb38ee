"""Data-parallel training on JAX's runtime: one step, many devices and hosts.

:func:`data_parallel_function` takes what a Lasagne user already writes for
``pytensor.function`` (inputs, outputs, the updates dictionary) and a
:class:`jax.sharding.Mesh`, and returns a compiled step. Each call splits
the batch over the mesh's devices along the first axis; XLA partitions the
graph (GSPMD) and inserts the collectives, so the gradients of the mean
loss are all-reduced over the devices and the step computes what the same
step computes on one device for the whole batch.

Parameters, optimizer states and batch-norm averages live on the devices
between steps, replicated on every device, or with ``shard_params=True``
split along their first axis over the devices (FSDP-style: each device
stores a part; XLA gathers a parameter when it is used). The layers'
shared variables stay the reference: :meth:`DataParallelStep.sync` copies
the device state into them (call it before ``get_all_param_values``,
:mod:`lasagne.persistence` or an evaluation function), and a step notices
when a shared variable was set from outside (``set_all_param_values``,
loading a checkpoint) and uploads the new value.

Batch normalization: the batch statistics are those of the whole global
batch, synchronised over the devices (the partitioned mean and variance
reduce over every device), exactly as on one device.

Several processes (hosts): call :func:`jax.distributed.initialize` before
anything else, build the mesh over ``jax.devices()`` (all processes'
devices), and give each process's step its own part of the batch; the
global batch is the concatenation of the processes' parts in process
order.
"""
import numpy as np
import pytensor
from pytensor.compile.mode import Mode
from pytensor.tensor.random.type import RandomType

from .jax_linker import (_REWRITES, ShapeSpecializingJAXLinker, _from_jax_rng,
                         _to_jax_rng)
from .ops import _jax

# Everything here runs on JAX: load it, and our Ops' lowerings, now (with
# its 64-bit types as lasagne's floatX says) rather than at the first step,
# after the parameters were uploaded.
_jax.load()

__all__ = ["data_parallel_function", "DataParallelStep", "default_mesh"]


def default_mesh(axis_name="batch"):
    """A one-axis mesh over every device of every process.

    Examples
    --------
    >>> from lasagne.parallel import default_mesh
    >>> mesh = default_mesh()
    >>> mesh.axis_names
    ('batch',)
    """
    import jax
    return jax.sharding.Mesh(np.array(jax.devices()), (axis_name,))


def data_parallel_function(inputs, outputs, updates=None, mesh=None,
                           shard_params=False, batch_axis=None, **kwargs):
    """Compile a training (or evaluation) step that runs data-parallel.

    Parameters
    ----------
    inputs : list of symbolic variables
        As for ``pytensor.function``; every input with at least one
        dimension is split along its first axis over the devices.
    outputs : variable or list of variables
        As for ``pytensor.function`` (the loss, accuracies, ...). Outputs
        are returned as numpy arrays; in a multi-process run, outputs split
        over the batch are the process's own part.
    updates : dict or list of pairs, optional
        The updates dictionary, as from :mod:`lasagne.updates`.
    mesh : jax.sharding.Mesh, optional
        The devices to use; :func:`default_mesh` if omitted.
    shard_params : bool
        Store each shared variable whose first dimension divides by the
        number of devices split over them (FSDP-style) rather than
        replicated. The numbers are the same.
    batch_axis : str, optional
        The mesh axis the batch is split over (the mesh's first).
    **kwargs
        Passed on to ``pytensor.function`` (``givens``, ...).

    Returns
    -------
    DataParallelStep
        Call it like the compiled function; ``.sync()`` writes the device
        state back into the shared variables.

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as pt, lasagne
    >>> from lasagne.parallel import data_parallel_function
    >>> x, y = pt.matrix("x"), pt.ivector("y")
    >>> net = lasagne.layers.DenseLayer(lasagne.layers.InputLayer((None, 4), x),
    ...     3, nonlinearity=lasagne.nonlinearities.softmax)
    >>> loss = lasagne.objectives.categorical_crossentropy(
    ...     lasagne.layers.get_output(net), y).mean()
    >>> params = lasagne.layers.get_all_params(net, trainable=True)
    >>> step = data_parallel_function([x, y], loss,
    ...     updates=lasagne.updates.sgd(loss, params, 0.1))
    >>> loss_value = step(np.ones((8, 4), "float32"), np.zeros(8, "int32"))
    >>> step.sync()  # the layer's shared variables now hold the new values
    """
    mode = Mode(ShapeSpecializingJAXLinker(), _REWRITES)
    function = pytensor.function(inputs, outputs, updates=updates, mode=mode,
                                 **kwargs)
    return DataParallelStep(function, mesh or default_mesh(), shard_params,
                            batch_axis,
                            single_output=not isinstance(outputs, (list, tuple)))


class DataParallelStep:
    """A compiled step that splits each batch over a mesh of devices.

    Made by :func:`data_parallel_function`; see there.
    """

    def __init__(self, function, mesh, shard_params=False, batch_axis=None,
                 single_output=False):
        import jax
        from jax.sharding import NamedSharding, PartitionSpec

        self.function = function
        self.mesh = mesh
        self.shard_params = shard_params
        self.batch_axis = batch_axis or mesh.axis_names[0]
        self._dispatcher = function.maker.linker.dispatcher
        fgraph = self._dispatcher.fgraph
        specs = function.maker.expanded_inputs
        self._n_outputs = len(fgraph.outputs) - sum(
            s.update is not None for s in specs)
        self._single_output = single_output
        self._inputs = [i for i, s in enumerate(specs) if not s.shared]
        self._shared = [i for i, s in enumerate(specs) if s.shared]
        self._containers = function.input_storage
        self._updated = [i for i, s in enumerate(specs)
                         if s.update is not None]
        self._replicated = NamedSharding(mesh, PartitionSpec())
        self._batch = NamedSharding(mesh, PartitionSpec(self.batch_axis))
        self._n_devices = mesh.shape[self.batch_axis]
        self._state = {}   # input position -> device value
        self._seen = {}    # input position -> host object last synchronised
        self._programs = {}
        self._jax = jax

    # -- state --------------------------------------------------------------
    def _sharding_of(self, value):
        if (self.shard_params and isinstance(value, np.ndarray)
                and value.ndim >= 1 and value.shape[0] % self._n_devices == 0):
            return self._batch
        return self._replicated

    def _upload(self, i):
        host = self._containers[i].storage[0]
        self._seen[i] = host
        if isinstance(host, np.random.Generator):
            # The JAX programs only read and write the key.
            key = np.asarray(_to_jax_rng(host)["jax_state"])
            self._state[i] = {"jax_state": self._put(key, self._replicated)}
        else:
            host = np.asarray(host)
            self._state[i] = self._put(host, self._sharding_of(host))

    def _put(self, host, sharding):
        return self._jax.make_array_from_callback(
            host.shape, sharding, lambda index: host[index])

    def sync(self):
        """Copy the device state into the shared variables."""
        for i, value in self._state.items():
            if i not in self._updated:
                continue
            if isinstance(value, dict):
                host = _from_jax_rng({"jax_state": _gather(value["jax_state"])})
            else:
                host = _gather(value)
            self._containers[i].storage[0] = host
            self._seen[i] = host

    # -- the step -----------------------------------------------------------
    def _program(self, signature):
        program = self._programs.get(signature)
        if program is None:
            function, static = self._dispatcher.to_jax(signature)
            if static:
                raise NotImplementedError(
                    "data_parallel_function: the graph takes sizes from "
                    "integer inputs; give them as constants instead.")
            program = self._jax.jit(function)
            self._programs[signature] = program
        return program

    def __call__(self, *values):
        if len(values) != len(self._inputs):
            raise TypeError(f"DataParallelStep: expected {len(self._inputs)} "
                            f"inputs, got {len(values)}.")
        for i in self._shared:
            if i not in self._state or (
                    self._containers[i].storage[0] is not self._seen[i]):
                self._upload(i)
        args = [None] * len(self._containers)
        for i, value in zip(self._inputs, values):
            value = np.asarray(value, dtype=self.function.maker.fgraph
                               .inputs[i].type.dtype)
            if value.ndim == 0:
                args[i] = self._put(value, self._replicated)
            else:
                rows = value.shape[0] * self._jax.process_count()
                if rows % self._n_devices:
                    raise ValueError(
                        f"DataParallelStep: input {i} has a "
                        f"global batch of {rows} rows, which does not split "
                        f"over {self._n_devices} devices; use a batch size "
                        f"divisible by {self._n_devices} (drop or pad the "
                        f"last batch).")
                args[i] = self._jax.make_array_from_process_local_data(
                    self._batch, value)
        for i in self._shared:
            args[i] = self._state[i]
        signature = tuple(getattr(a, "shape", None) for a in args)
        results = self._program(signature)(*args)
        outputs = results[:self._n_outputs]
        for i, new in zip(self._updated, results[self._n_outputs:]):
            if isinstance(new, dict) or not hasattr(new, "sharding"):
                self._state[i] = new
            else:
                self._state[i] = self._jax.device_put(
                    new, self._state[i].sharding)
        outputs = [_to_host(o) for o in outputs]
        if self._single_output:
            return outputs[0]
        return outputs


def _gather(value):
    """The whole of a JAX array as numpy, gathered from every process."""
    if getattr(value, "is_fully_addressable", True):
        return np.asarray(value)
    if value.is_fully_replicated:
        return np.asarray(value.addressable_data(0))
    from jax.experimental import multihost_utils
    return np.asarray(multihost_utils.process_allgather(value, tiled=True))


def _to_host(value):
    """A numpy copy of a (possibly multi-process) JAX array: the whole array
    if this process can see it, else this process's part of the batch."""
    if getattr(value, "is_fully_addressable", True):
        return np.asarray(value)
    if value.is_fully_replicated:
        return np.asarray(value.addressable_data(0))
    shards = sorted(value.addressable_shards, key=lambda s: s.index[0].start
                    or 0)
    seen, parts = set(), []
    for shard in shards:
        key = shard.index[0].start
        if key not in seen:
            seen.add(key)
            parts.append(np.asarray(shard.data))
    return np.concatenate(parts, axis=0)
