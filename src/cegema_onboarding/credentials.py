"""Initial credentials printed on contracts, and the pepper that keys their stored form.

An initial password is 16 symbols of Crockford base32 (80 bits from a CSPRNG). The alphabet has
no I, L, O or U, so nothing printed can be misread, and what the member types is normalised
(case, spaces, dashes, O/0, I/L/1) before it is checked; see
:func:`cegema_onboarding.normalize.normalize_initial_password`.

Why initial passwords are stored as HMAC-SHA256 under a pepper and not with Argon2id:

- A slow KDF exists to make guessing a *low-entropy, human-chosen* secret expensive. An initial
  password is machine-generated with 80 bits of entropy: even an attacker who can compute
  billions of HMACs per second offline would need tens of thousands of GPU-years for one
  account, so key stretching buys nothing that matters.
- The key (pepper) lives outside the database (environment, secret manager, HSM). A stolen
  database dump alone does not even allow offline guessing.
- Initial passwords are one-time: they die when the member sets a password and after an expiry,
  and can never become the long-term password, so the exposure window is short.
- Provisioning a whole member base (hundreds of thousands of contracts) with Argon2id at
  m=19 MiB, t=2 would take hours of CPU and gigabytes of memory traffic; with HMAC it takes
  seconds. That is what makes bulk provisioning and re-issuing practical.

Member-chosen passwords and secret answers are low-entropy and still go through Argon2id
(:mod:`cegema_onboarding.hashing`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Sequence
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cegema_onboarding.errors import ConfigurationError, InvalidInput

__all__ = [
    "ALPHABET",
    "INITIAL_PASSWORD_BYTES",
    "INITIAL_PASSWORD_LENGTH",
    "MIN_PEPPER_KEY_BYTES",
    "Pepper",
    "format_for_print",
    "initial_password_from_bytes",
    "new_initial_password",
    "symbols_from_bytes",
]

ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
INITIAL_PASSWORD_LENGTH: Final = 16
# 5 bits per symbol, so 16 symbols consume exactly 80 bits.
INITIAL_PASSWORD_BYTES: Final = INITIAL_PASSWORD_LENGTH * 5 // 8
MIN_PEPPER_KEY_BYTES: Final = 32

_BITS_PER_SYMBOL: Final = 5
_KEY_ID = re.compile(r"[a-z0-9]{1,32}")
_STORED = re.compile(r"([a-z0-9]{1,32})\$([0-9a-f]{64})")
_HKDF_INFO: Final = b"cegema_onboarding pepper"


def symbols_from_bytes(random: bytes, count: int) -> str:
    """Map the leading ``count * 5`` bits of ``random`` to ``count`` alphabet symbols."""
    if not isinstance(random, bytes | bytearray):
        raise TypeError("random must be bytes")
    needed = -(-count * _BITS_PER_SYMBOL // 8)
    if count < 1 or len(random) < needed:
        raise ValueError(f"need at least {needed} random bytes for {count} symbols")
    # 32 symbols = 2**5, so cutting the bit stream into 5-bit groups is exactly uniform:
    # no modulo, no rejection sampling, no bias.
    total_bits = needed * 8
    stream = int.from_bytes(random[:needed], "big")
    out = []
    for i in range(count):
        shift = total_bits - _BITS_PER_SYMBOL * (i + 1)
        out.append(ALPHABET[(stream >> shift) & 0b11111])
    return "".join(out)


def initial_password_from_bytes(random: bytes) -> str:
    """Return the 16-symbol initial password made from the first 10 bytes of ``random``."""
    return symbols_from_bytes(random, INITIAL_PASSWORD_LENGTH)


def new_initial_password() -> str:
    """Return a fresh initial password from the operating system's CSPRNG (shell use only)."""
    return initial_password_from_bytes(secrets.token_bytes(INITIAL_PASSWORD_BYTES))


def format_for_print(pw: str) -> str:
    """Return the password in groups of four separated by dashes, as printed on the contract."""
    if not isinstance(pw, str) or not pw or not set(pw) <= set(ALPHABET):
        # The value is not echoed: it is a credential.
        raise InvalidInput("initial_password", "malformed")
    return "-".join(pw[i : i + 4] for i in range(0, len(pw), 4))


class Pepper:
    """A list of HMAC-SHA256 keys, newest first, for keyed hashes of high-entropy secrets."""

    __slots__ = ("_keys", "_newest")

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        """Check and keep the keys; the first one is used for new digests."""
        if isinstance(keys, str | bytes) or not keys:
            raise ConfigurationError("Pepper needs at least one (key_id, key) pair")
        table: dict[str, bytes] = {}
        for entry in keys:
            if not isinstance(entry, tuple) or len(entry) != 2:
                raise ConfigurationError("each pepper key must be a (key_id, key) pair")
            key_id, key = entry
            if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
                raise ConfigurationError("pepper key ids must match [a-z0-9]{1,32}")
            if key_id in table:
                raise ConfigurationError(f"duplicate pepper key id {key_id!r}")
            if not isinstance(key, bytes) or len(key) < MIN_PEPPER_KEY_BYTES:
                # Only the id is named; the key itself must never reach a message.
                raise ConfigurationError(
                    f"pepper key {key_id!r} must be at least {MIN_PEPPER_KEY_BYTES} bytes"
                )
            table[key_id] = key
        self._keys: dict[str, bytes] = table
        self._newest: str = keys[0][0]

    @classmethod
    def from_secret(cls, secret: str | bytes, key_id: str = "k1") -> Pepper:
        """Derive a single 32-byte key from a configured secret with HKDF-SHA256."""
        raw = secret.encode("utf-8") if isinstance(secret, str) else secret
        if not isinstance(raw, bytes) or len(raw) < MIN_PEPPER_KEY_BYTES:
            # HKDF spreads entropy, it does not add any.
            raise ConfigurationError(f"pepper secret must be at least {MIN_PEPPER_KEY_BYTES} bytes")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(raw)
        return cls([(key_id, key)])

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Return the key ids, newest first."""
        return tuple(self._keys)

    @property
    def newest_key_id(self) -> str:
        """Return the id of the key used for new digests."""
        return self._newest

    def _mac(self, key: bytes, normalized: str) -> str:
        if not isinstance(normalized, str):
            raise InvalidInput("secret", "type")
        try:
            data = normalized.encode("utf-8")
        except UnicodeEncodeError:
            data = None
        if data is None:
            raise InvalidInput("secret", "encoding")
        return hmac.new(key, data, hashlib.sha256).hexdigest()

    def digest(self, normalized: str) -> str:
        """Return ``"<key_id>$<hex HMAC-SHA256>"`` of ``normalized`` under the newest key."""
        return f"{self._newest}${self._mac(self._keys[self._newest], normalized)}"

    def ascii_digester(self) -> Callable[[str], str]:
        """Return a faster :meth:`digest` for many ASCII secrets (bulk provisioning)."""
        # The keyed state is computed once and copied per secret; the output is digest()'s.
        keyed = hmac.new(self._keys[self._newest], None, hashlib.sha256)
        prefix = f"{self._newest}$"

        def digest(normalized: str) -> str:
            mac = keyed.copy()
            mac.update(normalized.encode("ascii"))
            return prefix + mac.hexdigest()

        return digest

    def verify(self, normalized: str, stored: str) -> bool:
        """Return whether ``stored`` is the digest of ``normalized`` under the key it names."""
        if not isinstance(stored, str) or not isinstance(normalized, str):
            return False
        match = _STORED.fullmatch(stored)
        if match is None:
            return False
        key = self._keys.get(match.group(1))
        if key is None:
            return False
        try:
            expected = self._mac(key, normalized)
        except InvalidInput:
            return False
        return hmac.compare_digest(expected.encode("ascii"), match.group(2).encode("ascii"))

    def unknown_key(self, stored: str) -> str | None:
        """The key id ``stored`` names when this pepper lacks that key, else None."""
        match = _STORED.fullmatch(stored) if isinstance(stored, str) else None
        if match is None or match.group(1) in self._keys:
            return None
        return match.group(1)

    def needs_update(self, stored: str) -> bool:
        """Return whether ``stored`` was not made with the newest key (or is unreadable)."""
        if not isinstance(stored, str):
            return True
        match = _STORED.fullmatch(stored)
        return match is None or match.group(1) != self._newest

    def __repr__(self) -> str:
        return f"Pepper(key_ids={list(self._keys)!r})"
