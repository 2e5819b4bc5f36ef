"""Signed link tokens and short codes for emailed links.

A link token is an itsdangerous URL-safe signed payload ``{"a": account_id, "n": nonce}``. The
signature binds it to this library's namespace and to one purpose (the purpose is the
itsdangerous salt), so a token minted for one purpose never parses as another. The nonce carries
at least 128 bits from the caller's CSPRNG (ASVS 11.5.1); storage keeps only
:func:`nonce_hash` of it, which is what makes a link single-use and lets a newer link kill older
ones. Expiry is not in the token: the flow compares the issue time it stored with the injected
clock, so "valid at exactly 24 h, invalid one second later" is decided in one place.

Short codes (8 Crockford base32 symbols, 40 bits) go in the same mail for members who read it on
another device. They are low-entropy on purpose, so they are only usable with the account they
were sent for, are stored as a peppered HMAC bound to that account, and attempts count towards
the lockout.

Every failure raises the same :class:`~cegema_onboarding.errors.BadToken`, with no cause
attached, so neither the message nor a logged traceback tells an attacker what was wrong.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from typing import Any, Final

import attrs
from itsdangerous import BadData, URLSafeSerializer

from cegema_onboarding.credentials import ALPHABET, Pepper, symbols_from_bytes
from cegema_onboarding.errors import BadToken, ConfigurationError
from cegema_onboarding.normalize import MAX_CODE, MAX_TOKEN

__all__ = [
    "CODE_LENGTH",
    "DEFAULT_NAMESPACE",
    "MAX_ACCOUNT_ID",
    "MAX_NONCE_BYTES",
    "MIN_KEY_LENGTH",
    "MIN_NONCE_BYTES",
    "LinkClaims",
    "LinkSigner",
    "code_digest",
    "code_from_bytes",
    "nonce_hash",
    "normalize_code",
    "verify_code",
]

DEFAULT_NAMESPACE: Final = "cegema_onboarding.link"
MIN_KEY_LENGTH: Final = 32
MIN_NONCE_BYTES: Final = 16
# Keeps every issued token well under MAX_TOKEN, which parse() enforces before any work.
MAX_NONCE_BYTES: Final = 64
MAX_ACCOUNT_ID: Final = 128
CODE_LENGTH: Final = 8
# 8 symbols x 5 bits = 40 bits = 5 bytes.
CODE_BYTES: Final = CODE_LENGTH * 5 // 8

_PURPOSE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}", re.ASCII)
# The output alphabet of URLSafeSerializer: URL-safe base64 plus "." separators.
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_.-]+", re.ASCII)
_B64URL = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)
_DASHES: Final = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_LOOKALIKES: Final = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})
_ALPHABET_SET: Final = frozenset(ALPHABET)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64url(value: str) -> bytes | None:
    if not _B64URL.fullmatch(value):
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    # Canonical spelling only, so one nonce has one token.
    return raw if _b64url(raw) == value else None


def nonce_hash(nonce: bytes) -> str:
    """Return the SHA-256 hex digest of a link nonce; storage keeps this, never the nonce."""
    if not isinstance(nonce, bytes):
        raise TypeError("nonce must be bytes")
    return hashlib.sha256(nonce).hexdigest()


@attrs.frozen
class LinkClaims:
    """What a valid link token says: the account, and the hash of its nonce."""

    account_id: str
    nonce_hash: str = attrs.field(repr=False)


def _check_purpose(purpose: object) -> str:
    if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
        raise ValueError("purpose must match [a-z0-9][a-z0-9_.-]{0,63}")
    return purpose


def _check_key(key: object) -> bytes:
    # itsdangerous would encode a str key as UTF-8 too; doing it here gives one key type.
    if isinstance(key, str):
        raw = key.encode("utf-8", "surrogatepass")
    elif isinstance(key, bytes):
        raw = key
    else:
        raise ConfigurationError("link signing keys must be str or bytes")
    if len(raw) < MIN_KEY_LENGTH:
        # Never quote the key itself.
        raise ConfigurationError(f"link signing keys must be at least {MIN_KEY_LENGTH} bytes")
    return raw


class LinkSigner:
    """Issues and parses purpose-bound, signed link tokens, with key rotation."""

    __slots__ = ("_keys", "_namespace", "_serializers")

    def __init__(self, keys: Sequence[str | bytes], *, namespace: str = DEFAULT_NAMESPACE) -> None:
        """Keep ``keys`` (newest first): the first signs, all of them verify."""
        if isinstance(keys, str | bytes) or not keys:
            raise ConfigurationError("LinkSigner needs a non-empty list of keys, newest first")
        checked = [_check_key(k) for k in keys]
        if not isinstance(namespace, str) or not _PURPOSE.fullmatch(namespace):
            raise ConfigurationError("namespace must match [a-z0-9][a-z0-9_.-]{0,63}")
        # itsdangerous signs with the LAST key of its list and verifies with all of them.
        self._keys: list[bytes] = list(reversed(checked))
        self._namespace = namespace
        self._serializers: dict[str, URLSafeSerializer] = {}

    def __repr__(self) -> str:
        return f"LinkSigner(namespace={self._namespace!r}, keys=<{len(self._keys)} hidden>)"

    def _serializer(self, purpose: str) -> URLSafeSerializer:
        ser = self._serializers.get(purpose)
        if ser is None:
            ser = URLSafeSerializer(
                secret_key=self._keys,
                salt=f"{self._namespace}.{purpose}",
                signer_kwargs={"digest_method": hashlib.sha256, "key_derivation": "hmac"},
            )
            # A benign race at worst builds the same serializer twice.
            self._serializers[purpose] = ser
        return ser

    def issue(self, account_id: str, purpose: str, nonce: bytes) -> str:
        """Return a signed token for ``account_id`` and ``purpose`` carrying ``nonce``."""
        _check_purpose(purpose)
        if not isinstance(account_id, str) or not 1 <= len(account_id) <= MAX_ACCOUNT_ID:
            raise ValueError(f"account_id must be a str of 1..{MAX_ACCOUNT_ID} characters")
        if not isinstance(nonce, bytes):
            raise TypeError("nonce must be bytes")
        if not MIN_NONCE_BYTES <= len(nonce) <= MAX_NONCE_BYTES:
            raise ValueError(
                f"nonce must be {MIN_NONCE_BYTES}..{MAX_NONCE_BYTES} bytes (at least 128 bits)"
            )
        token = self._serializer(purpose).dumps({"a": account_id, "n": _b64url(nonce)})
        if not isinstance(token, str) or len(token) > MAX_TOKEN:
            raise ValueError("account_id too long for a link token")
        return token

    def parse(self, token: object, purpose: str) -> LinkClaims:
        """Return the claims of a valid ``token`` for ``purpose``; raise BadToken otherwise."""
        _check_purpose(purpose)
        claims = self._parse(token, purpose)
        if claims is None:
            # Raised outside any except block: no __context__, no __cause__, one message.
            raise BadToken() from None
        return claims

    def _parse(self, token: object, purpose: str) -> LinkClaims | None:
        # Type and length before anything else, then the character set, then the signature:
        # nothing is decoded or decompressed until the HMAC has been checked.
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN:
            return None
        if not _TOKEN_CHARS.fullmatch(token):
            return None
        payload: Any
        try:
            payload = self._serializer(purpose).loads(token)
        except (BadData, ValueError, TypeError, UnicodeError):
            return None
        if not isinstance(payload, dict) or set(payload) != {"a", "n"}:
            return None
        account_id, nonce_text = payload["a"], payload["n"]
        if not isinstance(account_id, str) or not 1 <= len(account_id) <= MAX_ACCOUNT_ID:
            return None
        if not isinstance(nonce_text, str) or len(nonce_text) > 2 * MAX_NONCE_BYTES:
            return None
        nonce = _unb64url(nonce_text)
        if nonce is None or not MIN_NONCE_BYTES <= len(nonce) <= MAX_NONCE_BYTES:
            return None
        return LinkClaims(account_id=account_id, nonce_hash=nonce_hash(nonce))


def code_from_bytes(random: bytes) -> str:
    """Return an 8-symbol Crockford base32 code made from the first 5 bytes of ``random``."""
    return symbols_from_bytes(random, CODE_LENGTH)


def _normalize_code(raw: object) -> str | None:
    if not isinstance(raw, str) or len(raw) > MAX_CODE:
        return None
    value = unicodedata.normalize("NFKC", raw)
    if len(value) > MAX_CODE:
        return None
    value = "".join(c for c in "".join(value.split()) if c not in _DASHES)
    if len(value) != CODE_LENGTH or not value.isascii():
        return None
    value = value.upper().translate(_LOOKALIKES)
    if not set(value) <= _ALPHABET_SET:
        return None
    return value


def normalize_code(raw: object) -> str:
    """Return a typed code in canonical form (upper case, no spaces or dashes, look-alikes)."""
    value = _normalize_code(raw)
    if value is None:
        raise BadToken() from None
    return value


def code_digest(pepper: Pepper, account_id: str, code: str) -> str:
    """Return the peppered digest of ``code`` bound to ``account_id``, for storage."""
    if not isinstance(account_id, str) or not account_id:
        raise ValueError("account_id must be a non-empty str")
    return pepper.digest(f"{account_id}:{normalize_code(code)}")


def verify_code(pepper: Pepper, account_id: str, code: object, stored: str) -> bool:
    """Return whether ``code`` is the code stored for ``account_id`` (constant-time)."""
    value = _normalize_code(code)
    if value is None or not isinstance(account_id, str) or not account_id:
        return False
    return pepper.verify(f"{account_id}:{value}", stored)
