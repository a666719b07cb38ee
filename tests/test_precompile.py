"""``python -m lasagne.precompile``: every kernel a network runs is compiled
for the dtype asked."""
import pytest
from numba.core import types

from lasagne import _python_nodes, precompile
from lasagne.ops import (_attention_numba, _batchnorm_numba, _conv_perform,
                         _pool_machine, recurrent_kernels)


def _dtypes(dispatcher):
    return {str(arg.dtype) for sig in dispatcher.signatures for arg in sig
            if isinstance(arg, types.Array)}


def test_exercise_compiles_every_kernel_for_the_dtype():
    precompile._exercise("float32")
    kernels = [_conv_perform._forward, _conv_perform._grad_input,
               _conv_perform._grad_filters, *_batchnorm_numba.machine_kernels(),
               *_pool_machine._kernels(), *_attention_numba.machine_kernels(),
               recurrent_kernels.lstm_forward, recurrent_kernels.lstm_backward,
               recurrent_kernels.gru_forward, recurrent_kernels.gru_backward,
               recurrent_kernels.rnn_forward, recurrent_kernels.rnn_backward,
               _python_nodes._blas_dot]
    for kernel in kernels:
        assert "float32" in _dtypes(kernel), kernel


def test_unknown_dtypes_are_refused_before_any_work():
    with pytest.raises(ValueError, match=r"\['float16'\].*float32"):
        precompile.precompile(["float32", "float16"])
