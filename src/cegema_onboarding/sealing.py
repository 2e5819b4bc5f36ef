"""Sealing of outbox payloads: they hold live tokens until they are sent.

Each of the host's secret keys gives one Fernet key through HKDF (SHA-256, an info string
of its own, so that the outbox key is never the key that signs links). The first key
seals; every key opens, so that keys can be rotated without losing queued messages.
``cryptography``'s errors stop here: a payload that cannot be opened is a
:class:`~cegema_onboarding.errors.SealError`.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import SealError

__all__ = ["Sealer"]

_INFO = b"cegema_onboarding outbox"


class Sealer:
    """Encrypts and authenticates payloads under the first key; opens under any."""

    def __init__(self, keys: Sequence[str]) -> None:
        fernets = []
        for key in keys:
            raw = HKDF(hashes.SHA256(), 32, salt=None, info=_INFO).derive(key.encode())
            fernets.append(Fernet(base64.urlsafe_b64encode(raw)))
        self._fernet = MultiFernet(fernets)

    def seal(self, data: bytes) -> bytes:
        """``data`` encrypted and authenticated under the first key."""
        return self._fernet.encrypt(data)

    def open(self, data: bytes) -> bytes:
        """The payload ``data`` was sealed from; :class:`SealError` if no key opens it."""
        try:
            return self._fernet.decrypt(data)
        except InvalidToken:
            raise SealError("a sealed payload could not be opened") from None
