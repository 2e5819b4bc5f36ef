"""Remember-me tokens ("Se souvenir de moi"): signed, series-based, rotated on each use.

A token is an itsdangerous-signed payload ``{"a": account_id, "s": series, "k": secret}``.
The account id in it means a login by token is one keyed lookup, never a scan; the
signature means nobody can make the library look up an account they picked. The secret
carries 256 bits from the caller's CSPRNG and only its SHA-256 is stored, in the account's
:class:`~cegema_onboarding.model.RememberToken` for that series. Each use replaces the
secret; presenting a replaced secret again means the token was copied, and the flow then
revokes the series (Barry Jaspan's "improved persistent login cookie").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from typing import Any, Final

import attrs
from itsdangerous import BadData, URLSafeSerializer

from .errors import ConfigurationError

SERIES_BYTES: Final = 16
SECRET_BYTES: Final = 32
MAX_REMEMBER_TOKEN: Final = 512
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_.-]+", re.ASCII)
_B64URL = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(value: object, size: int) -> bytes | None:
    if not isinstance(value, str) or len(value) > 2 * size or not _B64URL.fullmatch(value):
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size and _b64(raw) == value else None


def secret_hash(secret: bytes) -> str:
    """The SHA-256 hex digest of a remember-me secret: what storage keeps."""
    return hashlib.sha256(secret).hexdigest()


@attrs.frozen
class RememberClaims:
    """What a valid token says: the account, the series, and the hash of its secret."""

    account_id: str
    series_id: str
    secret_hash: str = attrs.field(repr=False)


class RememberCodec:
    """Issues and parses remember-me tokens with the host's signing keys (newest first)."""

    __slots__ = ("_serializer",)

    def __init__(self, keys: Sequence[str]) -> None:
        """Sign with the first key; verify with all of them."""
        if isinstance(keys, str) or not keys or any(len(k) < 32 for k in keys):
            raise ConfigurationError("remember-me needs signing keys of 32 characters or more")
        self._serializer = URLSafeSerializer(
            secret_key=[k.encode() for k in reversed(keys)],
            salt="cegema_onboarding.remember",
            signer_kwargs={"digest_method": hashlib.sha256, "key_derivation": "hmac"},
        )

    def __repr__(self) -> str:
        return "RememberCodec(keys=<hidden>)"

    def issue(self, account_id: str, series: bytes, secret: bytes) -> str:
        """A token for ``account_id`` carrying ``series`` and ``secret``."""
        if len(series) != SERIES_BYTES or len(secret) != SECRET_BYTES:
            raise ValueError("remember-me series and secret have fixed sizes")
        token = self._serializer.dumps({"a": account_id, "s": _b64(series), "k": _b64(secret)})
        assert isinstance(token, str)
        return token

    def parse(self, token: object) -> RememberClaims | None:
        """The claims of a well-signed token, or None for anything else."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_REMEMBER_TOKEN:
            return None
        if not _TOKEN_CHARS.fullmatch(token):
            return None
        payload: Any
        try:
            payload = self._serializer.loads(token)
        except (BadData, ValueError, TypeError, UnicodeError):
            return None
        if not isinstance(payload, dict) or set(payload) != {"a", "s", "k"}:
            return None
        account_id = payload["a"]
        if not isinstance(account_id, str) or not 1 <= len(account_id) <= 128:
            return None
        series = _unb64(payload["s"], SERIES_BYTES)
        secret = _unb64(payload["k"], SECRET_BYTES)
        if series is None or secret is None:
            return None
        return RememberClaims(account_id, _b64(series), secret_hash(secret))


def series_id(series: bytes) -> str:
    """The printable id of a series, as stored and as the member's device list shows it."""
    return _b64(series)


def series_bytes(series: str) -> bytes | None:
    """The raw bytes of a printable series id, or None when it is not one."""
    return _unb64(series, SERIES_BYTES)
