"""One cache salt for the Numba kernels of all our Ops.

PyTensor keys its on-disk Numba cache on an Op's class and props, not on
the code that implements it. Mixing a hash of every source file of this
package into the key makes any change to a kernel (or a helper it calls)
invalidate the compiled graphs built with the old one; a stale entry
loaded beside new code can crash the process.
"""
import hashlib
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def _ops_source_salt():
    digest = hashlib.sha256()
    for name in sorted(os.listdir(_HERE)):
        if name.endswith(".py"):
            with open(os.path.join(_HERE, name), "rb") as f:
                digest.update(name.encode() + b"\0" + f.read())
    return int(digest.hexdigest()[:8], 16)


#: Integer to return with each Numba funcify of this package.
KERNEL_SALT = _ops_source_salt()
