"""The flow's inputs besides the account and the event, and the cleaning of raw input.

:class:`Entropy` (random bytes drawn by the caller), :class:`Origin` (who and from where,
cleaned on the way in) and :class:`Env` (settings and keyed primitives) are what keep
:func:`cegema_onboarding.flow.step` a function of its arguments. :class:`Ctx` bundles them
for the handlers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import datetime

import attrs

from .. import normalize
from ..config import Crypto, Settings
from ..errors import InvalidInput
from ..model import Account
from ..remember import SERIES_BYTES
from .outcomes import Audit

_MAX_INTERESTS = 20
_MAX_INTEREST = 60
_MAX_COMMENTS = 2000


@attrs.frozen
class Entropy:
    """Fresh random bytes drawn by the caller for one step: salt, nonce, code, series.

    ``nonce`` is a link's nonce or a remember-me secret; ``series`` a remember-me series.
    """

    salt: bytes = attrs.field(repr=False)
    nonce: bytes = attrs.field(repr=False)
    code: bytes = attrs.field(repr=False)
    series: bytes = attrs.field(default=b"", repr=False)
    extra: bytes = attrs.field(default=b"", repr=False)

    @classmethod
    def draw(cls, token_bytes: Callable[[int], bytes]) -> Entropy:
        """Draw every field from a CSPRNG such as ``secrets.token_bytes``."""
        return cls(salt=token_bytes(16), nonce=token_bytes(32), code=token_bytes(8),
                   series=token_bytes(SERIES_BYTES), extra=token_bytes(32))

    def second_nonce(self) -> bytes:
        """A second link nonce, for the steps that send two links at once."""
        if len(self.extra) < 16:
            raise ValueError("this event sends two links: draw the entropy with Entropy.draw")
        return self.extra


def _clean_ip(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _clean_agent(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = "".join(ch for ch in value[:300] if ch.isprintable())
    return cleaned.strip() or None


@attrs.frozen
class Origin:
    """Where an event comes from: the member's IP and user agent, or a staff id.

    Both come from the request, so both are cleaned on the way in: ``ip`` is kept only
    when it parses as one IP address (a host behind a proxy splits ``X-Forwarded-For``
    first), and ``user_agent`` loses control characters and is cut to 300 characters.
    Anything else becomes ``None`` rather than reach an audit record or a mail.
    """

    ip: str | None = attrs.field(default=None, converter=_clean_ip)
    user_agent: str | None = attrs.field(default=None, converter=_clean_agent)
    actor: str = "member"


@attrs.frozen
class Env:
    """The long-lived half of the flow's inputs: settings and keyed primitives."""

    settings: Settings
    crypto: Crypto

    @classmethod
    def from_settings(cls, settings: Settings) -> Env:
        """Build the environment, checking keys and parameters once."""
        return cls(settings=settings, crypto=Crypto.from_settings(settings))


@attrs.frozen
class Ctx:
    """One step's inputs, as every handler receives them."""

    now: datetime
    env: Env
    entropy: Entropy | None
    origin: Origin

    @property
    def settings(self) -> Settings:
        return self.env.settings

    @property
    def crypto(self) -> Crypto:
        return self.env.crypto

    def fresh(self) -> Entropy:
        if self.entropy is None:
            raise ValueError("this event needs fresh entropy: pass entropy=Entropy.draw(...)")
        return self.entropy

    def audit(self, account: Account, action: str, outcome: str = "ok",
              detail: str | None = None) -> Audit:
        return Audit(
            action=action,
            outcome=outcome,
            at=self.now,
            account_id=account.account_id,
            actor=self.origin.actor,
            ip=self.origin.ip,
            detail=detail,
        )


def staff_ok(staff_id: object) -> bool:
    try:
        normalize.check_text(staff_id, "staff_id", 64)
    except InvalidInput:
        return False
    return True


def clean_interests(raw: object) -> tuple[str, ...] | None:
    if not isinstance(raw, tuple | list) or len(raw) > _MAX_INTERESTS:
        return None
    seen: dict[str, str] = {}
    for item in raw:
        try:
            value = " ".join(normalize.check_text(item, "interest", _MAX_INTEREST).split())
        except InvalidInput:
            return None
        if value:
            seen.setdefault(value.casefold(), value)
    return tuple(seen.values())


# `no mutate`: a mutant adds printable characters to the set, which changes nothing.
_COMMENT_CONTROLS = frozenset("\n\t")  # pragma: no mutate


def clean_comments(raw: object) -> str | None:
    if not isinstance(raw, str) or len(raw) > _MAX_COMMENTS:
        return None
    # Line breaks and tabs are fine in a comment; other control characters are not, nor lone
    # surrogates (category Cs, never printable: no check of their own is needed).
    if any(not ch.isprintable() and ch not in _COMMENT_CONTROLS for ch in raw):
        return None
    return raw.strip()
