"""PLACEHOLDER: written under issue #5 (recurrent layers)."""
__all__ = []
