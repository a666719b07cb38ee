"""PLACEHOLDER: written under issue #3 (foundation, main branch)."""
__all__ = []
