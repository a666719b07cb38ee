"""The register-tiled multiply-accumulate at the heart of the conv kernels.

One call computes a tile of ``MR`` rows by ``NV`` SIMD vectors::

    acc[i, :] (+)= sum_t  src[aoff[i] + boff[t]] * M[t, :]      (i < MR)

where row ``t`` of ``M`` starts at ``t * ldm``, or at ``ldm[t]`` when
``ldm`` is an offset table (then ``M`` can be an input read at shifted
windows: the width-vectorised forward convolution).

``src`` is read at an arbitrary offset per row and per step, so the same
tile serves a convolution's forward pass (rows: output positions, steps:
kernel taps, ``M``: the filters, tap-major) and its filter gradient (rows:
taps, steps: output positions, ``M``: the output gradient, position-major)
with no im2col copy. Each step loads ``NV`` vectors of ``M`` and broadcasts
one ``src`` element per row, and the ``MR * NV`` accumulators stay in
registers for the whole loop.

The tile is written directly in LLVM IR (a Numba ``intrinsic``): explicit
vectors of ``VECTOR_BYTES`` and ``llvm.fma``, so that the ``MR * NV``
accumulators are values LLVM keeps in registers (Numba's auto-vectorizer
keeps to 256-bit vectors and would not keep this many there).

The tile's geometry follows the CPU that Numba compiles for
(:func:`_geometry`), because a tile that needs more vector registers than
the CPU has spills its accumulators to memory at every step and runs at a
fraction of the rate:

* AVX-512 (32 ZMM registers): 64-byte vectors, 10 rows x 2 vectors
  (measured 165 GFLOP/s per core in float32 on a Sapphire Rapids core),
  6 x 4 (168) and 24 x 1 (136).
* AVX2 or less (16 YMM registers): 32-byte vectors, 6 rows x 2 vectors
  (12 accumulators, the classic AVX2 GEMM tile: 70 GFLOP/s on a Zen 3
  core, against about 80 for OpenBLAS's sgemm there), 2 x 4 (64) and
  7 x 1 (63). More rows run at half speed: 3 x 4 and 8 x 1 spill vector
  or pointer registers (each row holds a pointer). The AVX-512 geometry
  needed 40-48 YMM accumulators there and ran the conv kernels at 8-30
  GFLOP/s.
"""
import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba.core import config
from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.core.extending import intrinsic

__all__ = ["TILE_ROWS", "TILE_SPEED", "VECTOR_BYTES", "tile1", "tile2",
           "tile4"]



def _has_avx512(cpu_name, cpu_features):
    """Whether Numba compiles for a CPU with AVX-512F: its own settings
    (``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES``) first, else the host."""
    if cpu_features:
        return "+avx512f" in cpu_features.split(",")
    if cpu_name and cpu_name != "host":
        return False  # a named (portable) target: the narrow geometry
    return bool(llvm.get_host_cpu_features().get("avx512f", False))


def _geometry(avx512):
    """``(VECTOR_BYTES, TILE_ROWS, TILE_SPEED)`` for a CPU with or without
    AVX-512; the speeds (GFLOP/s, measured) weigh the choice of tile."""
    if avx512:
        return 64, {1: 24, 2: 10, 4: 6}, {1: 136.0, 2: 165.0, 4: 168.0}
    return 32, {1: 7, 2: 6, 4: 2}, {1: 63.0, 2: 70.0, 4: 64.0}


#: Bytes per SIMD vector of the tile (lanes = VECTOR_BYTES // itemsize),
#: the rows of the tile for 1, 2 and 4 vectors per row, and their speeds.
VECTOR_BYTES, TILE_ROWS, TILE_SPEED = _geometry(
    _has_avx512(config.CPU_NAME, config.CPU_FEATURES))


def _make_tile(n_vectors):
    rows = TILE_ROWS[n_vectors]

    @intrinsic
    def tile(typingctx, out, out_at, ldo, src, aoff, aoff_at, boff, steps,
             m, m_at, ldm, accumulate):
        arrays = (out, src, m)
        if not all(isinstance(a, types.Array) for a in arrays + (aoff, boff)):
            raise TypingError("tile: out, src, aoff, boff and m are arrays")
        dtype = out.dtype
        if dtype not in (types.float32, types.float64) or any(
                a.dtype != dtype for a in arrays):
            raise TypingError("tile: out, src and m share a float dtype")
        if aoff.dtype != types.int64 or boff.dtype != types.int64:
            raise TypingError("tile: aoff and boff are int64 arrays")
        # ldm: M's row stride, or an int64 array of each step's row offset.
        m_table = isinstance(ldm, types.Array)
        if m_table and ldm.dtype != types.int64:
            raise TypingError("tile: an ldm table is an int64 array")
        sig = types.void(out, types.intp, types.intp, src, aoff, types.intp,
                         boff, types.intp, m, types.intp,
                         ldm if m_table else types.intp, types.boolean)

        def codegen(context, builder, signature, args):
            (out_a, out_at_v, ldo_v, src_a, aoff_a, aoff_at_v, boff_a,
             steps_v, m_a, m_at_v, ldm_v, accumulate_v) = args
            fty = context.get_value_type(dtype)
            lanes = VECTOR_BYTES // (4 if dtype == types.float32 else 8)
            vty = ir.VectorType(fty, lanes)
            i32, i64 = ir.IntType(32), ir.IntType(64)
            vptr = vty.as_pointer()
            fma = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vty, [vty] * 3),
                "llvm.fma.v%df%d" % (lanes, 32 if lanes == 16 else 64))

            def data(array_type, value):
                return context.make_array(array_type)(
                    context, builder, value).data

            out_p = builder.gep(data(out, out_a), [out_at_v])
            src_p = data(src, src_a)
            aoff_p = builder.gep(data(aoff, aoff_a), [aoff_at_v])
            boff_p = data(boff, boff_a)
            m_p = builder.gep(data(m, m_a), [m_at_v])
            row_p = [builder.gep(src_p, [builder.load(
                builder.gep(aoff_p, [ir.Constant(i64, i)]))])
                for i in range(rows)]

            if m_table:
                moff_p = data(ldm, ldm_v)

            def vector_at(base, row, v):
                if base is out_p:
                    start = builder.mul(row, ldo_v)
                elif m_table:
                    start = builder.load(builder.gep(moff_p, [row]))
                else:
                    start = builder.mul(row, ldm_v)
                at = builder.add(start, ir.Constant(i64, v * lanes))
                return builder.bitcast(builder.gep(base, [at]), vptr)

            zero = ir.Constant(vty, [0.0] * lanes)
            start = []
            for i in range(rows):
                for v in range(n_vectors):
                    old = builder.load(vector_at(out_p, ir.Constant(i64, i),
                                                 v), align=4)
                    start.append(builder.select(accumulate_v, old, zero))
            entry = builder.block
            fn = builder.function
            head = fn.append_basic_block("tile.head")
            body = fn.append_basic_block("tile.body")
            done = fn.append_basic_block("tile.done")
            builder.branch(head)

            builder.position_at_end(head)
            t = builder.phi(i64)
            t.add_incoming(ir.Constant(i64, 0), entry)
            acc = []
            for value in start:
                phi = builder.phi(vty)
                phi.add_incoming(value, entry)
                acc.append(phi)
            builder.cbranch(builder.icmp_signed("<", t, steps_v), body, done)

            builder.position_at_end(body)
            b = builder.load(builder.gep(boff_p, [t]))
            mv = [builder.load(vector_at(m_p, t, v), align=4)
                  for v in range(n_vectors)]
            undef = ir.Constant(vty, ir.Undefined)
            splat = ir.Constant(ir.VectorType(i32, lanes), [0] * lanes)
            new = []
            for i in range(rows):
                s = builder.load(builder.gep(row_p[i], [b]))
                sv = builder.shuffle_vector(
                    builder.insert_element(undef, s, ir.Constant(i32, 0)),
                    undef, splat)
                for v in range(n_vectors):
                    new.append(builder.call(fma, [sv, mv[v],
                                                  acc[i * n_vectors + v]]))
            t_next = builder.add(t, ir.Constant(i64, 1))
            latch = builder.block
            builder.branch(head)
            t.add_incoming(t_next, latch)
            for phi, value in zip(acc, new):
                phi.add_incoming(value, latch)

            builder.position_at_end(done)
            for i in range(rows):
                for v in range(n_vectors):
                    builder.store(acc[i * n_vectors + v],
                                  vector_at(out_p, ir.Constant(i64, i), v),
                                  align=4)
            return context.get_dummy_value()

        return sig, codegen

    return tile


tile1 = _make_tile(1)
tile2 = _make_tile(2)
tile4 = _make_tile(4)


def vector_lanes(dtype):
    """Elements per SIMD vector of the tile for `dtype`."""
    return VECTOR_BYTES // np.dtype(dtype).itemsize
