"""Argon2id hashing of member-chosen secrets (passwords and secret answers).

Stored hashes are PHC strings (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``), so the
parameters travel with each hash and can be raised later: :meth:`PasswordHasher.needs_rehash`
tells the caller when a successful login should re-hash.

Salts are arguments, never drawn here, so that the functional core stays deterministic.

Equal work for known and unknown accounts: every call of :meth:`PasswordHasher.hash`,
:meth:`PasswordHasher.verify` and :meth:`PasswordHasher.dummy_verify` performs one Argon2id
check, and :attr:`PasswordHasher.calls` counts them. When ``verify`` is handed a stored value it
cannot use (malformed, another algorithm), it still performs one computation against an internal
dummy with the current parameters before returning ``False``, so a broken or missing record costs
the same as a wrong password. When a wrong secret was checked against a hash made with cheaper
parameters than the current ones (they were raised since), ``verify`` then does the difference
in extra Argon2id work, so that the check costs what the current parameters cost, as the dummy
of an unknown account does (Django's ``harden_runtime``; Django does it for PBKDF2 only).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Final

import attrs
from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from cegema_onboarding.errors import ConfigurationError, InvalidInput

# The stored format and its bounds; ParsedPHC and parse_phc stay importable from here.
from .phc import (
    ARGON2_VERSION,
    MAX_HASH_BYTES,
    MAX_ITERATIONS,
    MAX_LANES,
    MAX_MEMORY_KIB,
    MAX_SALT_BYTES,
    MIN_HASH_BYTES,
    MIN_SALT_BYTES,
    ParsedPHC,
    parse_phc,
)

__all__ = [
    "ASVS_MIN_ITERATIONS",
    "ASVS_MIN_LANES",
    "ASVS_MIN_MEMORY_KIB",
    "FAST_TEST_PARAMS",
    "MAX_SECRET_CHARS",
    "PRODUCTION_PARAMS",
    "SALT_BYTES",
    "Argon2Params",
    "ParsedPHC",
    "PasswordHasher",
    "ReplayHasher",
    "argon2_blocks",
    "parse_phc",
]

# OWASP ASVS 5.0 Appendix C / OWASP Password Storage cheat sheet minimum for Argon2id.
ASVS_MIN_MEMORY_KIB: Final = 19456
ASVS_MIN_ITERATIONS: Final = 2
ASVS_MIN_LANES: Final = 1
SALT_BYTES: Final = 16
# Above normalize.MAX_PASSWORD so that PasswordPolicy's highest allowed cap (4096) still hashes;
# Argon2 pre-hashes the input, so this bounds a cheap linear step only.
MAX_SECRET_CHARS: Final = 4096


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@attrs.frozen
class Argon2Params:
    """Argon2id cost parameters; refuses anything below the ASVS minimum unless ``allow_weak``."""

    memory_kib: int = ASVS_MIN_MEMORY_KIB
    iterations: int = ASVS_MIN_ITERATIONS
    lanes: int = ASVS_MIN_LANES
    salt_bytes: int = SALT_BYTES
    hash_bytes: int = 32
    allow_weak: bool = False

    def __attrs_post_init__(self) -> None:
        """Validate the parameters."""
        for name in ("memory_kib", "iterations", "lanes", "salt_bytes", "hash_bytes"):
            if not _is_int(getattr(self, name)):
                raise ConfigurationError(f"Argon2Params.{name} must be an int")
        if not 1 <= self.lanes <= MAX_LANES:
            raise ConfigurationError(f"Argon2Params.lanes must be in 1..{MAX_LANES}")
        if not 8 * self.lanes <= self.memory_kib <= MAX_MEMORY_KIB:
            raise ConfigurationError("Argon2Params.memory_kib must be in 8*lanes..4 GiB")
        if not 1 <= self.iterations <= MAX_ITERATIONS:
            raise ConfigurationError(f"Argon2Params.iterations must be in 1..{MAX_ITERATIONS}")
        # The salt and tag floors hold even for test parameters: they cost nothing.
        if not MIN_SALT_BYTES <= self.salt_bytes <= MAX_SALT_BYTES:
            raise ConfigurationError("Argon2Params.salt_bytes must be in 16..64")
        if not MIN_HASH_BYTES <= self.hash_bytes <= MAX_HASH_BYTES:
            raise ConfigurationError("Argon2Params.hash_bytes must be in 16..64")
        weak = self.memory_kib < ASVS_MIN_MEMORY_KIB or self.iterations < ASVS_MIN_ITERATIONS
        if weak and self.allow_weak is not True:
            raise ConfigurationError(
                "Argon2id parameters below the ASVS minimum "
                f"(m={ASVS_MIN_MEMORY_KIB}, t={ASVS_MIN_ITERATIONS}, p={ASVS_MIN_LANES}); "
                "pass allow_weak=True only in tests"
            )


PRODUCTION_PARAMS: Final = Argon2Params()
FAST_TEST_PARAMS: Final = Argon2Params(memory_kib=64, iterations=1, lanes=1, allow_weak=True)


def argon2_blocks(memory_kib: int, iterations: int, lanes: int) -> int:
    """The 1 KiB blocks one Argon2 computation fills: its work, in the unit it is paid in.

    Argon2 rounds the memory down to a multiple of four blocks per lane and fills it once
    per pass; its time grows with this number.
    """
    segment = 4 * lanes
    return (memory_kib // segment) * segment * iterations


def _encode_secret(secret: str) -> bytes:
    if not isinstance(secret, str):
        raise InvalidInput("secret", "type")
    if len(secret) > MAX_SECRET_CHARS:
        raise InvalidInput("secret", "too_long")
    data: bytes | None
    try:
        data = secret.encode("utf-8")
    except UnicodeEncodeError:
        data = None
    if data is None:
        # Raised outside the except block: the codec error quotes part of the secret.
        raise InvalidInput("secret", "encoding")
    return data


class PasswordHasher:
    """Argon2id hashing and verification with a count of slow computations."""

    def __init__(self, params: Argon2Params = PRODUCTION_PARAMS) -> None:
        """Use ``params`` for new hashes and for the dummy computation."""
        if not isinstance(params, Argon2Params):
            raise ConfigurationError("params must be an Argon2Params")
        self._params = params
        self._lock = threading.Lock()
        self._calls = 0
        # The dummy's salt and tag need not be secret: nobody can make a computation match
        # them on purpose, and the result is thrown away anyway.
        self._dummy_salt = (b"cegema-dummy-salt" * 4)[: params.salt_bytes]
        self._dummy_digest = bytes(params.hash_bytes)
        self._blocks = argon2_blocks(params.memory_kib, params.iterations, params.lanes)

    def __repr__(self) -> str:
        return f"PasswordHasher(params={self._params!r})"

    @property
    def params(self) -> Argon2Params:
        """Return the parameters used for new hashes."""
        return self._params

    @property
    def salt_bytes(self) -> int:
        """Return how many random salt bytes :meth:`hash` expects."""
        return self._params.salt_bytes

    @property
    def calls(self) -> int:
        """Return how many Argon2id computations this hasher has performed."""
        with self._lock:
            return self._calls

    def _count(self) -> None:
        with self._lock:
            self._calls += 1

    def _kdf(self, salt: bytes, memory: int, iterations: int, lanes: int, length: int) -> Argon2id:
        return Argon2id(
            salt=salt, length=length, iterations=iterations, lanes=lanes, memory_cost=memory
        )

    def hash(self, secret: str, salt: bytes) -> str:
        """Return the PHC string of ``secret`` (UTF-8) under ``salt`` and the current params."""
        data = _encode_secret(secret)
        if not isinstance(salt, bytes) or len(salt) != self._params.salt_bytes:
            raise ValueError(f"salt must be exactly {self._params.salt_bytes} bytes")
        p = self._params
        kdf = self._kdf(salt, p.memory_kib, p.iterations, p.lanes, p.hash_bytes)
        self._count()
        return kdf.derive_phc_encoded(data)

    def _dummy(self, data: bytes) -> None:
        p = self._params
        kdf = self._kdf(self._dummy_salt, p.memory_kib, p.iterations, p.lanes, p.hash_bytes)
        self._count()
        with contextlib.suppress(InvalidKey):
            kdf.verify(data, self._dummy_digest)

    def verify(self, secret: str, phc: str) -> bool:
        """Return whether ``secret`` matches ``phc``; False (never an error) for a bad ``phc``."""
        data = _encode_secret(secret)
        kdf: Argon2id | None = None
        parsed: ParsedPHC | None = None
        try:
            parsed = parse_phc(phc)
        except InvalidInput:
            parsed = None
        if (
            parsed is not None
            and parsed.algorithm == "argon2id"
            and parsed.version == ARGON2_VERSION
        ):
            try:
                kdf = self._kdf(
                    parsed.salt, parsed.memory_kib, parsed.iterations, parsed.lanes, parsed.hash_len
                )
            except ValueError:
                kdf = None
        if kdf is None or parsed is None:
            # Unusable stored value: spend the same work as a real check, then refuse.
            self._dummy(data)
            return False
        self._count()
        try:
            kdf.verify(data, parsed.digest)
        except InvalidKey:
            # Only after a failure, as Django does: a success re-hashes with the current
            # parameters anyway, and costs more than an unknown account's check whatever
            # is done here (but then the secret was known).
            self._harden(data, parsed)
            return False
        return True

    def _harden(self, data: bytes, parsed: ParsedPHC) -> None:
        """Top a check against older, cheaper parameters up to what the current ones cost.

        Without it, an unknown account's check (the dummy, current parameters) takes
        longer than a known one's whose hash predates a raise: the time would tell
        whether the account exists. The extra computation fills the missing blocks with
        the current lanes, in as few passes as the current memory allows, within one
        rounding step of four blocks per lane and pass.
        """
        missing = self._blocks - argon2_blocks(parsed.memory_kib, parsed.iterations,
                                              parsed.lanes)
        if missing <= 0:
            return
        p = self._params
        segment = 4 * p.lanes
        per_pass = max(argon2_blocks(p.memory_kib, 1, p.lanes), 2 * segment)
        iterations = min(-(-missing // per_pass), MAX_ITERATIONS)
        memory = max(round(missing / iterations / segment) * segment, 2 * segment)
        kdf = self._kdf(self._dummy_salt, memory, iterations, p.lanes, p.hash_bytes)
        with contextlib.suppress(InvalidKey):
            kdf.verify(data, self._dummy_digest)

    def dummy_verify(self, secret: str) -> None:
        """Perform one Argon2id computation with the current params and discard the result."""
        self._dummy(_encode_secret(secret))

    def needs_rehash(self, phc: str) -> bool:
        """Return whether ``phc`` was not made with exactly the current params."""
        try:
            parsed = parse_phc(phc)
        except InvalidInput:
            return True
        p = self._params
        return (
            parsed.algorithm,
            parsed.version,
            parsed.memory_kib,
            parsed.iterations,
            parsed.lanes,
            parsed.salt_len,
            parsed.hash_len,
        ) != (
            "argon2id",
            ARGON2_VERSION,
            p.memory_kib,
            p.iterations,
            p.lanes,
            p.salt_bytes,
            p.hash_bytes,
        )


class ReplayHasher(PasswordHasher):
    """The hasher of one request that may have to run again after a lost race.

    A request that loses a compare-and-set reads the record again and applies the flow
    again; the flow then asks the same questions of the hasher (this secret against this
    stored hash, this secret under this salt). This hasher answers them again from
    memory, as ``inner`` answered them the first time, and asks ``inner`` only what is
    new (a stored hash that changed meanwhile is checked afresh). A retry therefore costs
    no second Argon2id computation, and ``inner``'s count shows each check once. It holds
    the secrets it was given: make one per request and drop it with the request.
    """

    def __init__(self, inner: PasswordHasher) -> None:
        """Answer from ``inner``, each question once."""
        super().__init__(inner.params)
        self._inner = inner
        self._verified: dict[tuple[str, str], bool] = {}
        self._hashed: dict[tuple[str, bytes], str] = {}
        self._dummies: set[str] = set()

    def __repr__(self) -> str:
        return f"ReplayHasher({self._inner!r})"

    @property
    def calls(self) -> int:
        """Return the computations of the hasher this one answers for."""
        return self._inner.calls

    def hash(self, secret: str, salt: bytes) -> str:
        """``inner.hash``, computed once per secret and salt."""
        key = (secret, salt)
        found = self._hashed.get(key)
        if found is None:
            found = self._hashed[key] = self._inner.hash(secret, salt)
        return found

    def verify(self, secret: str, phc: str) -> bool:
        """``inner.verify``, computed once per secret and stored hash."""
        key = (secret, phc)
        found = self._verified.get(key)
        if found is None:
            found = self._verified[key] = self._inner.verify(secret, phc)
        return found

    def dummy_verify(self, secret: str) -> None:
        """``inner.dummy_verify``, once per secret."""
        if secret not in self._dummies:
            self._inner.dummy_verify(secret)
            self._dummies.add(secret)
