"""The Argon2 PHC string format that stored hashes use, and its bounds.

``$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>``: the parameters travel with each hash,
so that they can be raised later (:mod:`cegema_onboarding.hashing`). Parsing refuses
anything a hostile or corrupted record could use to make one check allocate terabytes or
spin for minutes, and any non-canonical spelling, so that one hash has exactly one.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

import attrs

from .errors import InvalidInput

__all__ = [
    "ARGON2_VERSION",
    "MAX_HASH_BYTES",
    "MAX_ITERATIONS",
    "MAX_LANES",
    "MAX_MEMORY_KIB",
    "MAX_PHC",
    "MAX_SALT_BYTES",
    "MIN_HASH_BYTES",
    "MIN_SALT_BYTES",
    "ParsedPHC",
    "parse_phc",
]

MIN_SALT_BYTES: Final = 16
MIN_HASH_BYTES: Final = 16
MAX_SALT_BYTES: Final = 64
MAX_HASH_BYTES: Final = 64
# Upper bounds so that a corrupted or hostile stored hash cannot make one verify allocate
# terabytes or spin for minutes.
MAX_MEMORY_KIB: Final = 4 * 1024 * 1024
MAX_ITERATIONS: Final = 64
MAX_LANES: Final = 64
MAX_PHC: Final = 512
ARGON2_VERSION: Final = 19

_PHC = re.compile(
    r"\$(argon2id|argon2i|argon2d)"
    r"\$v=(0|[1-9][0-9]{0,2})"
    r"\$m=(0|[1-9][0-9]{0,9}),t=(0|[1-9][0-9]{0,9}),p=(0|[1-9][0-9]{0,9})"
    r"\$([A-Za-z0-9+/]+)"
    r"\$([A-Za-z0-9+/]+)",
    re.ASCII,
)


@attrs.frozen
class ParsedPHC:
    """The fields of an Argon2 PHC string."""

    algorithm: str
    version: int
    memory_kib: int
    iterations: int
    lanes: int
    salt_len: int
    hash_len: int
    salt: bytes = attrs.field(repr=False)
    digest: bytes = attrs.field(repr=False)


def _b64decode(value: str) -> bytes | None:
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    # Only the canonical encoding is accepted (no stray trailing bits), so that one hash has
    # exactly one spelling.
    if base64.b64encode(raw).decode("ascii").rstrip("=") != value:
        return None
    return raw


def parse_phc(phc: str) -> ParsedPHC:
    """Parse an Argon2 PHC string; raise ``InvalidInput("password_hash", "malformed")``."""
    malformed = InvalidInput("password_hash", "malformed")
    if not isinstance(phc, str) or len(phc) > MAX_PHC:
        raise malformed
    match = _PHC.fullmatch(phc)
    if match is None:
        raise malformed
    algorithm = match.group(1)
    version, memory, iterations, lanes = (int(match.group(i)) for i in range(2, 6))
    salt = _b64decode(match.group(6))
    digest = _b64decode(match.group(7))
    if salt is None or digest is None:
        raise malformed
    if (
        not 1 <= lanes <= MAX_LANES
        or not 8 * lanes <= memory <= MAX_MEMORY_KIB
        or not 1 <= iterations <= MAX_ITERATIONS
        or not MIN_SALT_BYTES <= len(salt) <= MAX_SALT_BYTES
        or not MIN_HASH_BYTES <= len(digest) <= MAX_HASH_BYTES
    ):
        raise malformed
    return ParsedPHC(
        algorithm=algorithm,
        version=version,
        memory_kib=memory,
        iterations=iterations,
        lanes=lanes,
        salt_len=len(salt),
        hash_len=len(digest),
        salt=salt,
        digest=digest,
    )

