#!/usr/bin/env python
"""Where a cold first training step goes, node by node.

Builds a case of ``cold_compile.py`` (``mlp``, ``cnn``, ``lstm``,
``resnet20``, ``variant``), times ``pytensor.function`` and the first call,
and lists the nodes whose first run took longest under the default mode
(the node linker): ``numba`` for a node function compiled or loaded from
the cache, ``flat`` for an elementwise node's rank-free twin, ``python``
for a node run from Python (our kernels load there). Several cases run in
one process in turn, as a script that builds a second network would.

    python benchmarks/first_call_nodes.py cnn [variant ...] [--top N]

Run it with an empty compiledir to see a cold first step, e.g.
``PYTENSOR_FLAGS=base_compiledir=$(mktemp -d)``.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytensor  # noqa: E402

import lasagne.linker as linker  # noqa: E402

_RECORDS = []
_CURRENT = [None]


def _timed(make, kind):
    def make_timed(*args):
        thunk, node, first = make(*args), _CURRENT[0], [True]

        def run():
            if first[0]:
                first[0] = False
                start = time.perf_counter()
                thunk()
                _RECORDS.append((time.perf_counter() - start, kind, node))
            else:
                thunk()
        return run
    return make_timed


def _instrument():
    compiled_form = linker.compiled_form

    def recording(node):
        _CURRENT[0] = node
        return compiled_form(node)
    linker.compiled_form = recording
    linker._thunk = _timed(linker._thunk, "numba")
    linker._perform_thunk = _timed(linker._perform_thunk, "python")
    linker.flat_thunk = _timed(linker.flat_thunk, "flat")


def main(cases, top):
    import cold_compile
    pytensor.config.floatX = "float32"
    _instrument()
    for case in cases:
        _RECORDS.clear()
        inputs, loss, updates, batch = cold_compile.build(case)
        start = time.perf_counter()
        fn = pytensor.function(inputs, loss, updates=updates)
        compiled = time.perf_counter()
        fn(*batch)
        done = time.perf_counter()
        totals = {}
        for seconds, kind, _ in _RECORDS:
            totals[kind] = totals.get(kind, 0.0) + seconds
        print(f"{case}: pytensor.function {compiled - start:.2f} s "
              f"({len(fn.maker.fgraph.apply_nodes)} nodes), first call "
              f"{done - compiled:.2f} s; node functions built "
              f"{linker.NODE_STATS['built']}, reused "
              f"{linker.NODE_STATS['reused']} (this process)")
        print("  first runs by kind: " + ", ".join(
            f"{kind} {seconds:.2f} s" for kind, seconds in sorted(
                totals.items(), key=lambda kv: -kv[1])))
        for seconds, kind, node in sorted(_RECORDS,
                                          key=lambda r: -r[0])[:top]:
            print(f"  {seconds:6.2f} s  {kind:6s}  {str(node.op)[:90]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="+")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    main(args.cases, args.top)
