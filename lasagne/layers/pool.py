"""PLACEHOLDER: written under issue #4 (convolution and pooling)."""
__all__ = []
