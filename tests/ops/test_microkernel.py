"""The register tile's geometry follows the CPU Numba compiles for."""
from lasagne.ops import _microkernel as mk


def test_avx512_detection_follows_numba_settings():
    assert mk._has_avx512("", "+avx2,+avx512f,+fma")
    assert not mk._has_avx512("", "+avx2,-avx512f,+fma")
    assert not mk._has_avx512("", "+avx2,+fma")
    # A named target without features: the portable (narrow) geometry.
    assert not mk._has_avx512("skylake", "")


def test_geometries_fit_the_vector_registers():
    """Accumulators (rows x vectors, in registers of the CPU's width) fit
    in the register file with room for the loaded vectors: 32 ZMM with
    AVX-512, 16 YMM without."""
    for avx512, registers in ((True, 32), (False, 16)):
        vector_bytes, rows, speed = mk._geometry(avx512)
        assert vector_bytes == (64 if avx512 else 32)
        assert set(rows) == set(speed) == {1, 2, 4}
        for nv, r in rows.items():
            assert r * nv + nv + 1 <= registers, (avx512, nv, r)


def test_module_geometry_is_the_hosts():
    import llvmlite.binding as llvm
    import pytest
    from numba.core import config
    if config.CPU_NAME or config.CPU_FEATURES:
        pytest.skip("Numba compiles for a chosen CPU, not the host")
    host = bool(llvm.get_host_cpu_features().get("avx512f", False))
    assert mk.VECTOR_BYTES == (64 if host else 32)
