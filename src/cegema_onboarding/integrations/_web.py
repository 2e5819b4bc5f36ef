"""What the Flask and Django integrations share: cookie names, the mailed links' token, the
screen of each step, which refusals mean a dead link, and how a profile form reads.

Framework-free on purpose: each integration reads its own request and writes its own
response; these helpers only name the cookies and shape the values, so that both
frameworks behave alike.

Mailed links carry their token in the query string, and every web server logs the request
line. So the GET of ``<link path>?token=...`` is answered with a 303 to the same path
without the token, which goes into a short-lived cookie scoped to that one path. Only that
first request line carries the token (and :mod:`.logfilter` redacts it there); the page's
URL, the browser's history and any Referer do not. The page's form then posts the token in
its body, which servers do not log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Final
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from ..flow import Reason, Refused
from ..model import Channel, Step
from ..normalize import MAX_TOKEN

#: The query parameter of mailed links.
LINK_PARAM: Final = "token"
#: How long the token cookie lives, in seconds: the redirect and a reload of the page. The
#: page's form carries the token itself, so a slow member still submits it in time.
LINK_COOKIE_MAX_AGE: Final = 15 * 60
# What a link token looks like (itsdangerous' URL-safe alphabet). Nothing else goes into a
# cookie: no quoting surprises, and no 4 KB values from a forged URL.
_TOKEN_SHAPE: Final = re.compile(rf"[A-Za-z0-9_.\-]{{1,{MAX_TOKEN}}}")


def host_cookie(name: str, secure: bool) -> str:
    """``__Host-<name>`` when the cookie is Secure, else ``name``.

    Browsers accept ``__Host-`` only with Secure, ``Path=/`` and no ``Domain``, and drop
    Secure cookies on plain http (development), where the prefix must go too.
    """
    return f"__Host-{name}" if secure else name


def link_cookie(secure: bool) -> str:
    """The name of the cookie that holds a mailed link's token between redirect and page."""
    # __Secure-, not __Host-: __Host- demands Path=/, and this cookie is scoped to the one
    # link path that reads it.
    return "__Secure-cegema_link" if secure else "cegema_link"


def storable_token(value: str | None) -> str | None:
    """A link token fit for the cookie; ``None`` for anything no mailed link carries."""
    if value is None or _TOKEN_SHAPE.fullmatch(value) is None:
        return None
    return value


def query_without_token(pairs: Iterable[tuple[str, str]]) -> str:
    """The query string less the token, so that ``?lang=en`` survives the redirect."""
    return urlencode([(key, value) for key, value in pairs if key != LINK_PARAM])


# ---------------------------------------------------------------------- where to go next

#: The longest ``next`` kept: a page address, not a payload.
MAX_NEXT: Final = 1024


def safe_next(url: str | None) -> str | None:
    """``url`` if it is a path on this site (``/...``), else ``None``.

    Only absolute paths pass: ``//evil.example`` and ``/\\evil.example`` (browsers read
    both as another host), any scheme (``https:``, ``javascript:``), a backslash or a
    control character anywhere (browsers drop or rewrite them), and anything longer than
    :data:`MAX_NEXT` are refused, so that a login link cannot send a member elsewhere.
    """
    if not url or len(url) > MAX_NEXT or not url.startswith("/"):
        return None
    if url.startswith("//") or "\\" in url:
        return None
    if any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in url):
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None
    return url


# ---------------------------------------------------------------------- names

#: The cookies' names before :func:`host_cookie` prefixes them: the member's session, the
#: remember-me series and the language preference.
SESSION_COOKIE_NAME: Final = "cegema_session"
REMEMBER_COOKIE_NAME: Final = "cegema_remember"
LANG_COOKIE_NAME: Final = "cegema_lang"

#: The screen of each step that has one: Flask's endpoint names; steps not listed fall
#: back to the login page.
STEP_SCREENS: Final[Mapping[Step, str]] = {
    Step.EMAIL: "email",
    Step.CHECK_MAILBOX: "check_mailbox",
    Step.AWAITING_ACTIVATION: "awaiting",
    Step.PASSWORD: "password",
    Step.QUESTION: "question",
    Step.PROFILE: "profile",
}


# ---------------------------------------------------------------------- refusals

#: Refusals that mean a mailed link cannot be used any more (or never could): its page
#: says why and shows no form, since retyping would not help.
LINK_REASONS: Final = frozenset({Reason.LINK_INVALID, Reason.LINK_EXPIRED, Reason.LINK_USED,
                                 Reason.LINK_SUPERSEDED})


def dead_link(reason: Reason | None) -> Refused:
    """The refusal a dead link's page shows; a link refused without a reason is invalid."""
    return Refused(reason or Reason.LINK_INVALID)


def refusal_field(refused: Refused, aliases: Mapping[str, str] | None = None) -> str | None:
    """The form field a refusal is shown next to, under the page's own name for it.

    ``None`` when the refusal is about the whole form. ``aliases`` maps the service's field
    names to a page's (a login form may call the member number "identifier").
    """
    if refused.field is None:
        return None
    return (aliases or {}).get(refused.field, refused.field)


# ---------------------------------------------------------------------- the profile form

#: The contact channels the profile form offers, in the order shown; each one's label is
#: the text ``label.channel.<value>``.
PROFILE_CHANNELS: Final = (Channel.PHONE, Channel.EMAIL, Channel.SMS, Channel.POST)
_CHANNEL_VALUES: Final[Mapping[str, Channel]] = {c.value: c for c in Channel}


def parse_channels(values: Iterable[str]) -> list[Channel]:
    """The channels ticked on the form; values no channel has are ignored, not refused."""
    return [_CHANNEL_VALUES[value] for value in values if value in _CHANNEL_VALUES]


def parse_pets(value: str | None) -> bool | None:
    """The pets answer: ``yes``, ``no``, or anything else for "not said"."""
    return {"yes": True, "no": False}.get(value or "")


# ---------------------------------------------------------------------- times


def local_time(when: datetime, zone: str, lang: str) -> str:
    """``when`` in the host's zone, with its abbreviation, as the mails write it.

    "05/12/2026 08:27 (CET)" in French, "2026-12-05 08:27 (CET)" in English. ``zone`` is
    ``MailSettings.timezone``, checked when the settings were built; stored times are UTC.
    """
    local = when.astimezone(ZoneInfo(zone))
    shown = local.strftime("%d/%m/%Y %H:%M" if lang == "fr" else "%Y-%m-%d %H:%M")
    return f"{shown} ({local.tzname() or zone})"
