"""The extraction marker of the message ids, apart so that every key module can import it."""

from __future__ import annotations

__all__ = ["N_"]


def N_(key: str) -> str:
    """Mark ``key`` for ``pybabel extract -k N_`` and return it unchanged."""
    return key
