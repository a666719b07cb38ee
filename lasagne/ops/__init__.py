"""The Ops PyTensor 3 lacks: N-d convolution and pooling (and fused
recurrences), each with a numpy reference, a Numba kernel and a JAX lowering."""
from ._memory import tune_allocator as _tune_allocator

_tune_allocator()
