"""Saving and loading a network's parameters by name.

Parameters are stored in one ``.npz`` file (a zip of ``.npy`` arrays, as
written by :func:`numpy.savez`) keyed by parameter names, so a file can be
read back into a network whose layers were reordered, renamed or extended.
Saves are atomic and loads are all-or-nothing: a crash while saving leaves the
previous file intact, and a load that fails leaves every parameter as it was.
"""
import difflib
import os
import pickle
import tempfile
import zipfile
import zlib

import numpy as np

from .layers.helper import get_all_layers, get_all_params

__all__ = ["save_params", "load_params", "load_model_zoo", "LoadReport"]


class LoadReport:
    """What :func:`load_params` matched between a file and a network.

    Attributes
    ----------
    source : str
        The file (or a description of the source) the values came from.
    matched : list of (str, str)
        ``(name in file, name in network)`` for every parameter set.
    missing : list of str
        Parameters of the network with no value in the file (left as they
        were).
    unexpected : list of str
        Names in the file that match no parameter of the network (after
        renaming; ignored).
    unused_renames : list of str
        Keys of the `rename` map that matched no name in the file.

    Examples
    --------
    >>> report = LoadReport("model.npz", [("fc.W", "fc.W")], ["out.W"], [])
    >>> report.complete
    False
    >>> print(report)
    Loaded 1 of 2 parameters from 'model.npz'.
      matched (1): fc.W
      missing in file (1): out.W
    """

    def __init__(self, source, matched, missing, unexpected,
                 unused_renames=()):
        self.source = source
        self.matched = list(matched)
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.unused_renames = list(unused_renames)

    @property
    def complete(self):
        """True when every parameter was loaded and every value was used."""
        return not (self.missing or self.unexpected or self.unused_renames)

    def __str__(self):
        total = len(self.matched) + len(self.missing)
        lines = [f"Loaded {len(self.matched)} of {total} parameters from "
                 f"{self.source!r}."]
        matched = [new if old == new else f"{old} -> {new}"
                   for old, new in self.matched]
        for label, names in (("matched", matched),
                             ("missing in file", self.missing),
                             ("unexpected in file", self.unexpected),
                             ("unused renames", self.unused_renames)):
            if names:
                lines.append(f"  {label} ({len(names)}): {', '.join(names)}")
        return "\n".join(lines)

    def __repr__(self):
        return (f"<LoadReport {self.source!r}: {len(self.matched)} matched, "
                f"{len(self.missing)} missing, {len(self.unexpected)} "
                f"unexpected>")


def _named_params(layer_or_layers, caller, **tags):
    """The parameters of a graph (``get_all_params`` order) keyed by their
    names, refusing missing or duplicate names."""
    params = get_all_params(layer_or_layers, **tags)
    owners = {}
    for layer in get_all_layers(layer_or_layers):
        for param in layer.get_params(**tags):
            owners.setdefault(param, []).append(layer)
    by_name = {}
    for param in params:
        by_name.setdefault(param.name or "", []).append(param)
    problems = []
    for name, group in by_name.items():
        if name and len(group) == 1:
            continue
        where = "; ".join(
            ", ".join(map(repr, owners.get(p, []))) or "?" for p in group)
        label = f"named {name!r}" if name else "without a name"
        problems.append(f"{len(group)} parameter(s) {label} (in {where})")
    if problems:
        raise ValueError(
            f"{caller}: parameters are saved and loaded by name, so every "
            f"parameter needs a unique, non-empty name, but the network has "
            f"{'; '.join(problems)}. Give every layer with parameters a "
            f"distinct name, e.g. DenseLayer(..., name='fc1'), which names "
            f"its parameters 'fc1.W' and 'fc1.b' (or name the shared "
            f"variables you pass in). Nothing was changed.")
    return {param.name: param for param in params}


def save_params(layer_or_layers, filename, **tags):
    """Save the parameters of a network to a ``.npz`` file, keyed by name.

    The file is written to a temporary file in the same folder, flushed to
    disk and then renamed over `filename` in one step, so an interrupted save
    (an exception, a full disk, a killed process) never leaves a truncated
    file: `filename` holds either the previous contents or the new ones.

    Parameters
    ----------
    layer_or_layers : Layer or list of Layer
        The output layer(s) of the network.
    filename : str or path-like
        Where to save; written as given (no extension is added). The result
        is a plain ``.npz`` file: ``numpy.load(filename)`` reads it.
    **tags
        Filters as for :func:`lasagne.layers.get_all_params`, e.g.
        ``trainable=True`` to save only the trainable parameters.

    Raises
    ------
    ValueError
        If two parameters share a name, or one has none (name the layers).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from lasagne.layers import InputLayer, DenseLayer
    >>> net = DenseLayer(InputLayer((None, 4)), num_units=2, name="fc")
    >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
    >>> save_params(net, path)
    >>> sorted(np.load(path).files)
    ['fc.W', 'fc.b']
    """
    named = _named_params(layer_or_layers, "save_params", **tags)
    values = {name: np.asarray(param.get_value(borrow=False))
              for name, param in named.items()}
    _atomic_write(os.fspath(filename),
                  lambda fileobj: _write_npz(fileobj, values))


def _write_npz(fileobj, arrays):
    """Write `arrays` as a ``.npz`` archive (the layout numpy.savez uses,
    without its argument-name clashes: a parameter may be called 'file')."""
    with zipfile.ZipFile(fileobj, mode="w", compression=zipfile.ZIP_STORED,
                         allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", mode="w",
                              force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _atomic_write(filename, write):
    """Call ``write(fileobj)`` on a temporary file next to `filename`, make
    it durable, then move it over `filename`; clean up on any failure."""
    folder = os.path.dirname(os.path.abspath(filename))
    base = os.path.basename(filename)
    fd, tmp_path = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp",
                                    dir=folder)
    try:
        with os.fdopen(fd, "wb") as fileobj:
            write(fileobj)
            fileobj.flush()
            os.fsync(fileobj.fileno())
        os.chmod(tmp_path, _file_mode(filename))
        os.replace(tmp_path, filename)
    except BaseException:
        try:
            os.unlink(tmp_path)
        except OSError:
            pass
        raise
    _fsync_folder(folder)


def _file_mode(filename):
    """The permissions the saved file gets: those of the file it replaces,
    or those a newly created file would get under the current umask."""
    try:
        return os.stat(filename).st_mode & 0o7777
    except OSError:
        # the umask can only be read by setting it: put it straight back
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_folder(folder):
    """Make the rename itself durable (POSIX); harmless where unsupported."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_npz(filename):
    """All arrays of a ``.npz`` file, read fully into memory."""
    caller = "load_params"
    unreadable = (OSError, ValueError, EOFError, zipfile.BadZipFile,
                  pickle.UnpicklingError, zlib.error)
    try:
        fileobj = open(filename, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{caller}: no file {filename!r} (working directory "
            f"{os.getcwd()!r}). Nothing was changed.") from None
    except OSError as exc:
        raise _unreadable(filename, exc) from exc
    # our own handle, closed whatever np.load does on a corrupt file
    with fileobj:
        try:
            archive = np.load(fileobj, allow_pickle=False)
            if isinstance(archive, np.lib.npyio.NpzFile):
                with archive:
                    return {name: archive[name] for name in archive.files}
        except unreadable as exc:
            raise _unreadable(filename, exc) from exc
    raise ValueError(
        f"{caller}: {filename!r} holds a single array, not a .npz file of "
        f"named parameters as written by save_params. Nothing was changed.")


def _unreadable(filename, exc):
    return ValueError(
        f"load_params: cannot read {filename!r} as a .npz file of named "
        f"parameters ({type(exc).__name__}: {exc}); the file may be "
        f"truncated or not written by save_params. Nothing was changed.")


def _rename(name, rename):
    """Map a saved name through `rename`: an exact key first, else the
    longest key that is a dotted prefix ('conv1' renames 'conv1.W').
    Returns (new name or None to drop, key used or None)."""
    if name in rename:
        return rename[name], name
    best = None
    for key in rename:
        if name.startswith(key + ".") and (best is None
                                           or len(key) > len(best)):
            best = key
    if best is None:
        return name, None
    target = rename[best]
    return (None if target is None else target + name[len(best):]), best


def _close(name, candidates):
    close = difflib.get_close_matches(name, candidates, n=1)
    return f"{name} (did you mean {close[0]}?)" if close else name


def _check_castable(param, value, name):
    if value.shape != param.get_value(borrow=True).shape:
        return (f"{name}: saved shape {value.shape}, network shape "
                f"{param.get_value(borrow=True).shape}")
    if not np.can_cast(value.dtype, param.dtype, casting="same_kind"):
        return (f"{name}: saved dtype {value.dtype} cannot be cast to the "
                f"parameter's dtype {param.dtype}")
    return None


def _converted(param, value, name):
    """`value` cast to the parameter's dtype, or an error text."""
    problem = _check_castable(param, value, name)
    if problem:
        return None, problem
    with np.errstate(over="ignore", invalid="ignore"):
        cast = np.array(value, dtype=param.dtype, copy=True)
    if (np.issubdtype(cast.dtype, np.inexact)
            and np.count_nonzero(~np.isfinite(cast))
            != np.count_nonzero(~np.isfinite(value))):
        return None, (f"{name}: saved values overflow the parameter's "
                      f"dtype {param.dtype}")
    return cast, None


def _set_all_or_nothing(pairs, caller, source, hint):
    """Check and convert every (param, value, label), then set them all;
    raise with the full list of problems, changing nothing, if any check
    fails."""
    converted, problems = [], []
    for param, value, label in pairs:
        cast, problem = _converted(param, value, label)
        converted.append((param, cast))
        if problem:
            problems.append(problem)
    if problems:
        raise ValueError(
            f"{caller}: {len(problems)} value(s) in {source!r} do not fit the "
            f"network: " + "; ".join(problems) + f". {hint} Nothing was "
            f"changed.")
    for param, value in converted:
        param.set_value(value, borrow=True)


def load_params(layer_or_layers, filename, rename=None, strict=True, **tags):
    """Load parameter values saved by :func:`save_params`, matched by name.

    Every name, shape and dtype is checked before any parameter is set: a
    load that fails for any reason (missing or corrupt file, a missing or
    extra name in strict mode, a shape that does not fit) raises and leaves
    every parameter of the network unchanged.

    Parameters
    ----------
    layer_or_layers : Layer or list of Layer
        The output layer(s) of the network to load into.
    filename : str or path-like
        A ``.npz`` file keyed by parameter names.
    rename : dict, optional
        Maps names in the file to names in the network. A key matches a
        whole name (``{'conv1.W': 'new.W'}``) or a dotted prefix of it, such
        as a layer name: ``{'conv1': 'new_conv1'}`` loads ``'conv1.W'`` into
        ``'new_conv1.W'``. The longest matching key wins; a value of ``None``
        drops the matching saved values.
    strict : bool
        If True (default), every parameter of the network must get a value
        and every value in the file must be used. If False, only the
        parameters found are loaded and the returned report tells what
        matched.
    **tags
        Filters as for :func:`lasagne.layers.get_all_params`: only those
        parameters are considered.

    Returns
    -------
    LoadReport
        The matched, missing and unexpected names (``print`` it).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file cannot be read, names do not match (strict mode), or a
        shape or dtype does not fit.

    Examples
    --------
    >>> import os, tempfile
    >>> from lasagne.layers import InputLayer, DenseLayer
    >>> l_in = InputLayer((None, 4))
    >>> old = DenseLayer(l_in, num_units=2, name="fc")
    >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
    >>> save_params(old, path)
    >>> new = DenseLayer(DenseLayer(l_in, num_units=2, name="new_fc"),
    ...                  num_units=3, name="out")
    >>> report = load_params(new, path, rename={"fc": "new_fc"}, strict=False)
    >>> print(report)  # doctest: +ELLIPSIS
    Loaded 2 of 4 parameters from '...net.npz'.
      matched (2): fc.W -> new_fc.W, fc.b -> new_fc.b
      missing in file (2): out.W, out.b
    >>> bool((new.input_layer.W.get_value() == old.W.get_value()).all())
    True
    """
    caller = "load_params"
    filename = os.fspath(filename)
    rename = dict(rename or {})
    named = _named_params(layer_or_layers, caller, **tags)
    saved = _read_npz(filename)
    used_keys = set()
    targets = {}
    for saved_name in saved:
        new_name, key = _rename(saved_name, rename)
        if key is not None:
            used_keys.add(key)
        if new_name is None:
            continue
        if new_name in targets:
            raise ValueError(
                f"{caller}: the saved parameters {targets[new_name]!r} and "
                f"{saved_name!r} would both load into {new_name!r} with "
                f"rename={rename!r}. Fix the renaming map. Nothing was "
                f"changed.")
        targets[new_name] = saved_name
    matched = [(targets[name], name) for name in named if name in targets]
    missing = [name for name in named if name not in targets]
    unexpected = [targets[name] for name in targets if name not in named]
    unused = [key for key in rename if key not in used_keys]
    if strict and (missing or unexpected or unused):
        details = []
        if missing:
            details.append(f"missing in file ({len(missing)}): " + ", ".join(
                _close(n, [t for t in targets if t not in named])
                for n in missing))
        if unexpected:
            details.append(f"unexpected in file ({len(unexpected)}): "
                           + ", ".join(unexpected))
        if unused:
            details.append(f"rename keys matching nothing in the file: "
                           f"{', '.join(map(repr, unused))}")
        raise ValueError(
            f"{caller}: the names in {filename!r} do not match the network's "
            f"parameters; " + "; ".join(details) + ". Map saved names to the "
            f"network's with rename={{'old_layer': 'new_layer'}}, or pass "
            f"strict=False to load only the parameters that match. Nothing "
            f"was changed.")
    _set_all_or_nothing(
        [(named[new], saved[old], new if old == new else f"{old} -> {new}")
         for old, new in matched], caller, filename,
        hint="Check that the network is built with the same sizes as the "
             "saved one (or leave these parameters out with "
             "rename={name: None} and strict=False).")
    return LoadReport(filename, matched, missing, unexpected, unused)


_ZOO_GLOBALS = {
    # what numpy arrays and scalars pickled by Python 2 / numpy 1 refer to
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
    ("collections", "OrderedDict"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
}


class _ZooUnpickler(pickle.Unpickler):
    """Unpickles arrays, numbers, strings and containers, nothing else: a
    pickle can run arbitrary code, and a model-zoo file needs none."""

    def find_class(self, module, name):
        if (module, name) not in _ZOO_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to load the global {module}.{name}, which a "
                f"model-zoo file of arrays does not need. If you trust the "
                f"file, unpickle it yourself with pickle.load(f, "
                f"encoding='latin-1') and pass the resulting dict")
        return super().find_class(module, name)


def load_model_zoo(layer_or_layers, filename_or_dict):
    """Load a Lasagne Recipes model-zoo file into a network.

    Model-zoo files are pickles written by Python 2 of a dict whose key
    ``'param values'`` holds the parameter values as a list of arrays, in
    the order of :func:`lasagne.layers.get_all_params`; other keys (such as
    ``'synset words'`` or ``'mean value'``) are ignored. Every value is
    checked before any is set, so a failure changes nothing.

    Parameters
    ----------
    layer_or_layers : Layer or list of Layer
        The output layer(s) of a network built as the recipe builds it.
    filename_or_dict : str, path-like, file object or dict
        The pickle file (read with ``encoding='latin-1'``, which decodes the
        Python 2 strings holding array data), or the already-loaded dict.
        Only arrays, numbers, strings and containers are unpickled: other
        objects are refused, as a pickle can run arbitrary code.

    Returns
    -------
    dict
        The loaded model-zoo dict, whose other entries (class names, mean
        image) the caller may need.

    Raises
    ------
    ValueError
        If the file cannot be read, has no ``'param values'``, or the number
        of values or a shape does not fit the network.

    Examples
    --------
    >>> import numpy as np
    >>> from lasagne.layers import InputLayer, DenseLayer
    >>> net = DenseLayer(InputLayer((None, 3)), num_units=2)
    >>> zoo = {"param values": [np.ones((3, 2)), np.zeros(2)],
    ...        "synset words": ["cat", "dog"]}
    >>> load_model_zoo(net, zoo)["synset words"]
    ['cat', 'dog']
    >>> net.W.get_value().sum()
    np.float64(6.0)
    """
    caller = "load_model_zoo"
    if isinstance(filename_or_dict, dict):
        zoo, source = filename_or_dict, "the given dict"
    else:
        zoo = _read_zoo_pickle(filename_or_dict)
        source = filename_or_dict
        if hasattr(source, "read"):
            source = getattr(source, "name", "the given file object")
        if isinstance(source, os.PathLike):
            source = os.fspath(source)
    if not isinstance(zoo, dict):
        raise ValueError(
            f"{caller}: {source!r} holds a {type(zoo).__name__}, not a "
            f"model-zoo dict with a 'param values' entry. Nothing was "
            f"changed.")
    values = zoo.get("param values", zoo.get(b"param values"))
    if values is None:
        raise ValueError(
            f"{caller}: {source!r} has no 'param values' entry (its keys: "
            f"{sorted(map(str, zoo))}). Nothing was changed.")
    values = [np.asarray(v) for v in values]
    params = get_all_params(layer_or_layers)
    if len(values) != len(params):
        raise ValueError(
            f"{caller}: {source!r} holds {len(values)} parameter values but "
            f"the network has {len(params)} parameters. Build the network "
            f"exactly as the recipe does (same layers, same order, biases "
            f"included). Nothing was changed.")
    _set_all_or_nothing(
        [(param, value, f"#{i} {param.name or '(unnamed)'}")
         for i, (param, value) in enumerate(zip(params, values))],
        caller, source,
        hint="Build the network exactly as the recipe does (same layer "
             "sizes and options, in the same order).")
    return zoo


def _read_zoo_pickle(filename_or_file):
    caller = "load_model_zoo"
    try:
        if hasattr(filename_or_file, "read"):
            return _ZooUnpickler(filename_or_file, encoding="latin-1").load()
        with open(filename_or_file, "rb") as fileobj:
            return _ZooUnpickler(fileobj, encoding="latin-1").load()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{caller}: no file {filename_or_file!r} (working directory "
            f"{os.getcwd()!r}). Nothing was changed.") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError,
            AttributeError, ImportError, IndexError) as exc:
        raise ValueError(
            f"{caller}: cannot read {filename_or_file!r} as a model-zoo "
            f"pickle ({type(exc).__name__}: {exc}). Nothing was "
            f"changed.") from exc
