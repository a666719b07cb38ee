"""Saving and loading parameters by name: round trips, renaming, partial
loads, atomic saves, all-or-nothing loads and Lasagne Recipes model-zoo
pickles."""
import io
import os
import pathlib
import pickle
import signal
import stat
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytensor
import pytest

import lasagne
from lasagne.layers import (BatchNormLayer, DenseLayer, InputLayer, Layer,
                            get_all_params)
from lasagne.persistence import (LoadReport, load_model_zoo, load_params,
                                 save_params)


def build(hidden=5, out=3, names=("fc1", "fc2")):
    l_in = InputLayer((None, 4), name="in")
    l1 = DenseLayer(l_in, hidden, name=names[0])
    return DenseLayer(l1, out, name=names[1])


def randomize(net, seed):
    rng = np.random.default_rng(seed)
    for p in get_all_params(net):
        value = p.get_value()
        p.set_value(rng.normal(size=value.shape).astype(value.dtype))


def snapshot(net):
    return {p.name: p.get_value().copy() for p in get_all_params(net)}


def assert_unchanged(net, before):
    after = snapshot(net)
    assert after.keys() == before.keys()
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)


@pytest.fixture
def saved(tmp_path):
    """A trained-looking network saved to tmp_path/net.npz."""
    net = build()
    randomize(net, 0)
    path = tmp_path / "net.npz"
    save_params(net, path)
    return net, path


class TestRoundTrip:
    def test_values_come_back_exactly(self, saved):
        net, path = saved
        expected = snapshot(net)
        randomize(net, 1)
        report = load_params(net, path)
        assert_unchanged(net, expected)
        assert report.complete
        assert report.matched == [(n, n) for n in expected]

    def test_file_is_a_plain_npz_keyed_by_name(self, saved):
        net, path = saved
        with np.load(path) as archive:
            assert archive.files == ["fc1.W", "fc1.b", "fc2.W", "fc2.b"]
            np.testing.assert_array_equal(archive["fc2.W"], net.W.get_value())

    def test_written_under_the_exact_name(self, tmp_path):
        net = build()
        save_params(net, str(tmp_path / "model"))
        assert os.listdir(tmp_path) == ["model"]
        load_params(net, tmp_path / "model")

    def test_into_a_fresh_network(self, saved):
        net, path = saved
        fresh = build()
        load_params(fresh, path)
        assert_unchanged(fresh, snapshot(net))

    def test_tags_select_parameters(self, tmp_path):
        net = BatchNormLayer(DenseLayer(InputLayer((None, 3)), 2, name="fc"),
                             name="bn")
        randomize(net, 0)
        save_params(net, tmp_path / "t.npz", trainable=True)
        with np.load(tmp_path / "t.npz") as archive:
            assert archive.files == ["fc.W", "fc.b", "bn.beta", "bn.gamma"]
        expected = snapshot(net)
        randomize(net, 1)
        stats = {n: v for n, v in snapshot(net).items()
                 if n in ("bn.mean", "bn.inv_std")}
        load_params(net, tmp_path / "t.npz", trainable=True)
        got = snapshot(net)
        for name in ["fc.W", "fc.b", "bn.beta", "bn.gamma"]:
            np.testing.assert_array_equal(got[name], expected[name])
        for name, value in stats.items():  # not trainable: not touched
            np.testing.assert_array_equal(got[name], value)

    def test_parameter_named_file(self, tmp_path):
        # numpy.savez(file, **arrays) would clash with its own argument name
        W = pytensor.shared(np.ones((4, 2)), name="file")
        net = DenseLayer(InputLayer((None, 4)), 2, W=W)
        save_params(net, tmp_path / "f.npz")
        W.set_value(np.zeros((4, 2)))
        load_params(net, tmp_path / "f.npz")
        np.testing.assert_array_equal(W.get_value(), np.ones((4, 2)))

    def test_dtype_cast_to_the_parameter(self, tmp_path):
        np.savez(tmp_path / "f64.npz", **{"fc.W": np.full((4, 2), 0.5),
                                          "fc.b": np.arange(2)})
        W = pytensor.shared(np.zeros((4, 2), "float32"), name="fc.W")
        b = pytensor.shared(np.zeros(2, "float32"), name="fc.b")
        net = DenseLayer(InputLayer((None, 4)), 2, W=W, b=b)
        load_params(net, tmp_path / "f64.npz")
        assert W.get_value().dtype == np.float32
        np.testing.assert_array_equal(W.get_value(), np.full((4, 2), 0.5))
        np.testing.assert_array_equal(b.get_value(), [0.0, 1.0])

    def test_tied_weights_saved_once(self, tmp_path):
        l_in = InputLayer((None, 6))
        enc = DenseLayer(l_in, 3, name="enc")
        dec = DenseLayer(enc, 6, W=enc.W.T, name="dec")
        twin = DenseLayer(l_in, 3, W=enc.W, b=enc.b, name="twin")
        randomize([dec, twin], 0)
        save_params([dec, twin], tmp_path / "tied.npz")
        with np.load(tmp_path / "tied.npz") as archive:
            assert archive.files == ["enc.W", "enc.b", "dec.b"]
        expected = snapshot([dec, twin])
        randomize([dec, twin], 1)
        load_params([dec, twin], tmp_path / "tied.npz")
        assert_unchanged([dec, twin], expected)
        assert twin.W is enc.W


class TestRenaming:
    def test_layer_prefix(self, saved):
        net, path = saved
        new = build(names=("new_fc1", "fc2"))
        report = load_params(new, path, rename={"fc1": "new_fc1"})
        np.testing.assert_array_equal(new.input_layer.W.get_value(),
                                      net.input_layer.W.get_value())
        np.testing.assert_array_equal(new.W.get_value(), net.W.get_value())
        assert report.matched[:2] == [("fc1.W", "new_fc1.W"),
                                      ("fc1.b", "new_fc1.b")]

    def test_exact_name_and_longest_prefix_win(self, saved):
        net, path = saved
        new = build(names=("a", "b"))
        load_params(new, path, rename={"fc1": "a", "fc2": "b",
                                       "fc1.b": "a.b", "fc2.W": "b.W"})
        assert_unchanged(new, {k.replace("fc1", "a").replace("fc2", "b"): v
                               for k, v in snapshot(net).items()})

    def test_prefix_must_end_at_a_dot(self, tmp_path):
        np.savez(tmp_path / "p.npz", **{"fc10.W": np.ones((4, 5))})
        net = DenseLayer(InputLayer((None, 4)), 5, b=None, name="x10")
        with pytest.raises(ValueError, match="unexpected in file.*fc10.W"):
            load_params(net, tmp_path / "p.npz", rename={"fc1": "x1"})

    def test_none_drops_saved_values(self, saved):
        net, path = saved
        head = build(out=7)  # a new classifier on the same trunk
        before = snapshot(head)
        report = load_params(head, path, rename={"fc2": None}, strict=False)
        assert report.missing == ["fc2.W", "fc2.b"] and not report.unexpected
        np.testing.assert_array_equal(head.input_layer.W.get_value(),
                                      net.input_layer.W.get_value())
        np.testing.assert_array_equal(head.W.get_value(), before["fc2.W"])

    def test_two_saved_names_onto_one_refused(self, saved):
        net, path = saved
        before = snapshot(net)
        with pytest.raises(ValueError, match="'fc1.W' and 'fc2.W' would both "
                                             "load into 'fc2.W'"):
            load_params(net, path, rename={"fc1.W": "fc2.W"})
        assert_unchanged(net, before)


class TestPartialLoading:
    def test_report(self, saved, tmp_path):
        net, path = saved
        new = build(names=("fc1", "head"))
        report = load_params(new, path, rename={"gone": "x"}, strict=False)
        assert isinstance(report, LoadReport) and not report.complete
        assert str(report) == (
            f"Loaded 2 of 4 parameters from '{path}'.\n"
            "  matched (2): fc1.W, fc1.b\n"
            "  missing in file (2): head.W, head.b\n"
            "  unexpected in file (2): fc2.W, fc2.b\n"
            "  unused renames (1): gone")
        assert repr(report) == (f"<LoadReport '{path}': 2 matched, 2 missing, "
                                f"2 unexpected>")
        np.testing.assert_array_equal(new.input_layer.W.get_value(),
                                      net.input_layer.W.get_value())

    def test_strict_refuses_and_says_how_to_fix(self, saved):
        net, path = saved
        new = build(names=("fc1", "fc_2"))
        before = snapshot(new)
        with pytest.raises(ValueError) as info:
            load_params(new, path)
        message = str(info.value)
        assert "missing in file (2): fc_2.W (did you mean fc2.W?)" in message
        assert "unexpected in file (2): fc2.W, fc2.b" in message
        assert "rename=" in message and "strict=False" in message
        assert "Nothing was changed" in message
        assert_unchanged(new, before)

    def test_strict_refuses_unused_rename(self, saved):
        net, path = saved
        with pytest.raises(ValueError, match="rename keys matching nothing "
                                             "in the file: 'fc3'"):
            load_params(net, path, rename={"fc3": "x"})


class TestAtomicSave:
    @pytest.fixture
    def failing_write(self, monkeypatch):
        """Make the second array written raise, after the first array and
        the zip headers have reached the temporary file."""
        real = np.lib.format.write_array
        calls = []

        def write_then_fail(fp, array, *args, **kwargs):
            calls.append(array.shape)
            if len(calls) == 2:
                fp.write(b"half an array")
                raise self.Crash("disk on fire")
            return real(fp, array, *args, **kwargs)

        monkeypatch.setattr(np.lib.format, "write_array", write_then_fail)
        return calls

    class Crash(Exception):
        pass

    def test_old_file_intact_and_no_temp_left(self, saved, failing_write):
        net, path = saved
        old_bytes = path.read_bytes()
        randomize(net, 5)
        with pytest.raises(self.Crash):
            save_params(net, path)
        assert len(failing_write) == 2
        assert path.read_bytes() == old_bytes
        assert os.listdir(path.parent) == ["net.npz"]
        fresh = build()
        load_params(fresh, path)  # still a valid file of the old values

    def test_killed_process_leaves_old_file_intact(self, saved):
        """SIGKILL a real process in the middle of a save: the target keeps
        its old contents (only a stale temporary file may remain)."""
        net, path = saved
        old_bytes = path.read_bytes()
        child = textwrap.dedent(f"""
            import sys, time
            import numpy as np
            from tests.test_persistence import build, randomize
            from lasagne.persistence import save_params
            real = np.lib.format.write_array
            def slow(fp, array, *args, **kwargs):
                real(fp, array, *args, **kwargs)
                print("wrote", flush=True)
                time.sleep(60)
            np.lib.format.write_array = slow
            net = build()
            randomize(net, 9)
            save_params(net, {str(path)!r})
        """)
        root = pathlib.Path(__file__).resolve().parents[1]
        proc = subprocess.Popen([sys.executable, "-c", child], cwd=root,
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline() == "wrote\n"
            temps = [p for p in os.listdir(path.parent) if p != "net.npz"]
            assert len(temps) == 1 and temps[0].startswith(".net.npz.")
            assert path.read_bytes() == old_bytes  # mid-save
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL
        assert path.read_bytes() == old_bytes
        fresh = build()
        load_params(fresh, path)
        assert_unchanged(fresh, snapshot(net))

    def test_interrupt_is_cleaned_up_too(self, saved, monkeypatch):
        net, path = saved
        old_bytes = path.read_bytes()

        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(os, "fsync", interrupted)
        with pytest.raises(KeyboardInterrupt):
            save_params(net, path)
        assert path.read_bytes() == old_bytes
        assert os.listdir(path.parent) == ["net.npz"]

    def test_failed_first_save_leaves_nothing(self, tmp_path, failing_write):
        with pytest.raises(self.Crash):
            save_params(build(), tmp_path / "new.npz")
        assert os.listdir(tmp_path) == []

    def test_failed_rename_leaves_nothing(self, tmp_path):
        (tmp_path / "dir.npz").mkdir()  # os.replace cannot replace a folder
        with pytest.raises(OSError):
            save_params(build(), tmp_path / "dir.npz")
        assert os.listdir(tmp_path) == ["dir.npz"]
        assert os.listdir(tmp_path / "dir.npz") == []

    def test_permissions_of_the_replaced_file_are_kept(self, saved):
        net, path = saved
        os.chmod(path, 0o640)
        save_params(net, path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640

    def test_new_file_gets_umask_permissions(self, tmp_path):
        old = os.umask(0o027)
        try:
            save_params(build(), tmp_path / "u.npz")
        finally:
            os.umask(old)
        assert stat.S_IMODE(os.stat(tmp_path / "u.npz").st_mode) == 0o640


def _write_bad_file(kind, path, good):
    if kind == "truncated zip":
        data = good.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    elif kind == "corrupt member":
        data = bytearray(good.read_bytes())
        start = data.index(b"\x93NUMPY")  # the first array's header
        data[start:start + 6] = b"garbag"
        path.write_bytes(bytes(data))
    elif kind == "not a zip":
        path.write_bytes(b"this is not an npz file at all" * 10)
    elif kind == "empty file":
        path.write_bytes(b"")
    elif kind == "a folder":
        path.mkdir()
    elif kind == "single array":
        with open(path, "wb") as f:
            np.save(f, np.ones(3))
    elif kind == "wrong shape":
        # the first two values fit; the failure is found later
        other = build(out=6)
        save_params(other, path)
    elif kind == "extra value":
        with np.load(good) as archive:
            arrays = dict(archive)
        np.savez(path, **arrays, **{"fc3.W": np.ones(2)})
    elif kind == "missing value":
        with np.load(good) as archive:
            arrays = dict(archive)
        del arrays["fc2.b"]
        np.savez(path, **arrays)
    elif kind == "overflow":
        with np.load(good) as archive:
            arrays = dict(archive)
        arrays["fc2.W"] = np.full((5, 3), 1e300)
        np.savez(path, **arrays)
    elif kind == "complex into float":
        with np.load(good) as archive:
            arrays = dict(archive)
        arrays["fc2.b"] = arrays["fc2.b"].astype(np.complex128)
        np.savez(path, **arrays)


BAD_FILES = {
    # kind: (exception, message fragment)
    "missing file": (FileNotFoundError, "no file"),
    "truncated zip": (ValueError, "cannot read"),
    "corrupt member": (ValueError, "cannot read"),
    "not a zip": (ValueError, "cannot read"),
    "empty file": (ValueError, "cannot read"),
    "a folder": (ValueError, "cannot read.*IsADirectoryError"),
    "single array": (ValueError, "single array"),
    "wrong shape": (ValueError, r"fc2.W: saved shape \(5, 6\), network "
                                r"shape \(5, 3\); fc2.b: saved shape \(6,\)"),
    "extra value": (ValueError, r"unexpected in file \(1\): fc3.W"),
    "missing value": (ValueError, r"missing in file \(1\): fc2.b"),
    "overflow": (ValueError, "fc2.W: saved values overflow the parameter's "
                             "dtype float32"),
    "complex into float": (ValueError, "saved dtype complex128 cannot be cast"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_failed_load_changes_nothing(kind, saved, tmp_path):
    net, good = saved
    path = tmp_path / "bad.npz"
    _write_bad_file(kind, path, good)
    floatX = "float32" if kind == "overflow" else pytensor.config.floatX
    with pytensor.config.change_flags(floatX=floatX):
        target = build()
    randomize(target, 7)
    before = snapshot(target)
    exc_type, fragment = BAD_FILES[kind]
    with pytest.raises(exc_type, match=fragment) as info:
        load_params(target, path)
    assert "Nothing was changed" in str(info.value)
    assert_unchanged(target, before)


class TestNames:
    def test_duplicate_names_refused(self, tmp_path):
        l_in = InputLayer((None, 4))
        net = DenseLayer(DenseLayer(l_in, 3), 2)
        with pytest.raises(ValueError, match=r"2 parameter\(s\) named 'W' "
                           r"\(in <DenseLayer>; <DenseLayer>\).*name='fc1'"):
            save_params(net, tmp_path / "x.npz")
        assert os.listdir(tmp_path) == []
        with pytest.raises(ValueError, match="named 'W'"):
            load_params(net, tmp_path / "x.npz")

    def test_unnamed_parameter_refused(self, tmp_path):
        class Scale(Layer):
            def __init__(self, incoming, **kwargs):
                super().__init__(incoming, **kwargs)
                self.s = self.add_param(np.ones(3), (3,))

            def get_output_for(self, input, **kwargs):
                return input * self.s

        net = Scale(InputLayer((None, 3)), name="scale")
        with pytest.raises(ValueError, match=r"1 parameter\(s\) without a "
                                             r"name \(in <Scale 'scale'>\)"):
            save_params(net, tmp_path / "x.npz")


# ---------------------------------------------------------------- model zoo

class _Python2Pickler(pickle._Pickler):
    """Writes what Python 2's cPickle wrote for protocol 2: every byte string
    and str as a BINSTRING (a Python 2 ``str``). Array data pickled this way
    is why model-zoo files need ``encoding='latin-1'`` under Python 3."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        data = obj if isinstance(obj, bytes) else obj.encode("latin-1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def python2_pickle(obj):
    out = io.BytesIO()
    _Python2Pickler(out, protocol=2).dump(obj)
    # numpy 1 (all Python 2 had) lived in numpy.core
    return out.getvalue().replace(b"numpy._core.", b"numpy.core.")


def zoo_dict(net, seed=3):
    rng = np.random.default_rng(seed)
    return {"param values": [rng.normal(size=p.get_value().shape)
                             .astype(np.float32) for p in get_all_params(net)],
            "synset words": ["n01440764 tench", "n01443537 goldfish"],
            "mean value": np.array([104.0, 117.0, 123.0], np.float32)}


class TestModelZoo:
    def test_python2_pickle(self, tmp_path):
        net = build()
        zoo = zoo_dict(net)
        path = tmp_path / "model.pkl"
        path.write_bytes(python2_pickle(zoo))
        with open(path, "rb") as f:  # the fixture really needs latin-1
            with pytest.raises(UnicodeDecodeError):
                pickle.load(f)
        loaded = load_model_zoo(net, path)
        assert loaded["synset words"] == zoo["synset words"]
        np.testing.assert_array_equal(loaded["mean value"], zoo["mean value"])
        for p, v in zip(get_all_params(net), zoo["param values"]):
            assert p.get_value().dtype == p.dtype
            np.testing.assert_array_equal(p.get_value(), v)

    def test_python3_pickle_file_object_and_dict(self, tmp_path):
        net = build()
        zoo = zoo_dict(net, seed=4)
        data = pickle.dumps(zoo, protocol=2)
        load_model_zoo(net, io.BytesIO(data))
        np.testing.assert_array_equal(net.W.get_value(), zoo["param values"][2])
        zoo = zoo_dict(net, seed=5)
        load_model_zoo(net, zoo)
        np.testing.assert_array_equal(net.W.get_value(), zoo["param values"][2])
        bytes_keys = {b"param values": zoo_dict(net, 6)["param values"]}
        load_model_zoo(net, bytes_keys)
        np.testing.assert_array_equal(net.W.get_value(),
                                      bytes_keys[b"param values"][2])

    @pytest.mark.parametrize("kind, exc_type, fragment", [
        ("missing file", FileNotFoundError, "no file"),
        ("wrong count", ValueError, "holds 3 parameter values but the "
                                    "network has 4"),
        ("wrong shape", ValueError, r"#3 fc2.b: saved shape \(2,\), network "
                                    r"shape \(3,\)"),
        ("no param values", ValueError, r"no 'param values' entry \(its "
                                        r"keys: \['mean value', "
                                        r"'synset words'\]\)"),
        ("truncated", ValueError, "cannot read"),
        ("not a dict", ValueError, "holds a list"),
        ("code", ValueError, "refusing to load the global posix.system"),
    ])
    def test_failures_change_nothing(self, kind, exc_type, fragment,
                                     tmp_path):
        net = build()
        randomize(net, 8)
        before = snapshot(net)
        zoo = zoo_dict(net)
        if kind == "wrong count":
            zoo["param values"].pop()
        elif kind == "wrong shape":
            zoo["param values"][3] = np.ones(2)
        elif kind == "no param values":
            del zoo["param values"]
        path = tmp_path / "zoo.pkl"
        if kind == "truncated":
            path.write_bytes(python2_pickle(zoo)[:200])
        elif kind == "not a dict":
            path.write_bytes(python2_pickle(zoo["param values"]))
        elif kind == "code":
            path.write_bytes(b"cposix\nsystem\n(S'touch pwned'\ntR.")
        elif kind != "missing file":
            path.write_bytes(python2_pickle(zoo))
        with pytest.raises(exc_type, match=fragment) as info:
            load_model_zoo(net, path)
        assert "Nothing was changed" in str(info.value)
        assert kind == "missing file" or repr(str(path)) in str(info.value)
        assert_unchanged(net, before)
        assert not (pathlib.Path.cwd() / "pwned").exists()


def test_exported():
    assert lasagne.persistence.save_params is save_params
    assert "persistence" in lasagne.__all__
