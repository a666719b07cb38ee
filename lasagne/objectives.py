"""PLACEHOLDER: written under issue #3 (helper branch core-modules)."""
__all__ = []
