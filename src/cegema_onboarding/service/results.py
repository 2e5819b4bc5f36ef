"""What the service's actions return: typed values a web layer renders."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from .. import texts
from ..flow import Reason, Refused
from ..model import Account, Channel, Profile, Session, Step

__all__ = [
    "ActivationRequest",
    "DeliveryReport",
    "LinkCheck",
    "Ok",
    "ProfileView",
    "Provisioned",
    "RememberedDevice",
    "Result",
    "Screen",
    "describe",
    "refusal_text",
]


@attrs.frozen
class Ok:
    """The action succeeded. Show ``step``; keep ``session`` when one is granted.

    ``notice`` is a key of :mod:`cegema_onboarding.texts` for a confirmation message.
    ``remember_token`` is set after a login with "Se souvenir de moi" or by token: store
    it in a long-lived, HttpOnly, Secure cookie, replacing the previous one.
    """

    step: Step
    session: Session | None = None
    notice: str | None = None
    remember_token: str | None = attrs.field(default=None, repr=False)


Result = Ok | Refused


@attrs.frozen
class Screen:
    """What the member's current screen needs: the step and its data."""

    step: Step
    name: str
    email: str | None = None
    prefill_email: str | None = None
    rejection: str | None = None
    link_expires_at: datetime | None = None
    #: How staff will tell a member awaiting activation (post, SMS or phone), else None.
    notice_channel: Channel | None = None


@attrs.frozen
class ActivationRequest:
    """A no-email member as staff see them: who, how they will be told, and since when.

    ``channel`` is the one the activation notice will take (the member's preferred channel
    among those that reach them); ``recipient`` is the postal address (several lines) for
    post, the phone number for SMS or a call, None when the account has none.
    """

    account_id: str
    member_number: str
    name: str
    channel: Channel
    recipient: str | None
    requested_at: datetime | None


@attrs.frozen
class LinkCheck:
    """What opening a link (GET) found. Opening never spends it."""

    valid: bool
    reason: Reason | None = None


@attrs.frozen
class Provisioned:
    """A new account and its initial password, in clear this one time, for the contract."""

    account_id: str
    member_number: str
    initial_password: str = attrs.field(repr=False)


@attrs.frozen
class RememberedDevice:
    """One remembered browser, as the member's device list shows it."""

    series_id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent_hint: str | None


@attrs.frozen
class ProfileView:
    """"Mon profil et mes informations": what the page shows, with the completion meter."""

    name: str
    member_number: str
    email: str | None
    phone: str | None
    postal_address: str | None
    profile: Profile
    completion: int
    #: The remembered browsers, most recently used first (as :meth:`remembered_devices`).
    devices: tuple[RememberedDevice, ...] = ()
    #: The member's screen (as :meth:`resume`): the profile once onboarding is done.
    step: Step = Step.PROFILE
    #: The address was confirmed outside the member's session: it gets no recovery mail
    #: until the member confirms it again from here (:meth:`OnboardingService.request_email_change`
    #: with the same address, then the link opened in this session).
    email_unproven: bool = False
    #: What each missing part would add to the meter, ``(item, points)`` with the items of
    #: :data:`cegema_onboarding.profile.ITEMS`; label them with ``ui.completion.<item>``.
    missing: tuple[tuple[str, int], ...] = ()


@attrs.frozen
class DeliveryReport:
    """What one delivery round did."""

    sent: int = 0
    retried: int = 0
    parked: int = 0


def describe(refused: Refused, lang: str | None = None) -> str:
    """The member-facing text of a refusal, French by default."""
    key, params = refusal_text(refused, refused.reason, lang)
    return texts.text(key, lang, **params)


def refusal_text(refused: Refused, reason: Reason, lang: str | None = None
                 ) -> tuple[str, dict[str, object]]:
    """The text key and parameters of one reason of ``refused``.

    A resend refused during the cool-down carries ``wait_seconds``, a rate limit
    ``retry_seconds``: either says the actual wait, rounded up ("Merci de patienter 45
    secondes..."), not "quelques minutes".
    """
    if reason is Reason.RATE_LIMITED and (found := _wait(refused)) is not None:
        key, wait = found
        return key, {"duration": texts.duration(timedelta(seconds=wait), lang, round_up=True)}
    return f"reason.{reason.value}", dict(refused.params)


def retry_after(refused: Refused) -> int | None:
    """The whole seconds a rate-limit refusal asks the member to wait (``Retry-After``).

    None for any other refusal, and for a limit refusal that names no wait.
    """
    found = _wait(refused) if refused.reason is Reason.RATE_LIMITED else None
    return None if found is None else found[1]


#: The parameters that may carry a wait, in the order they are read, each with the text
#: that says it: one table, so that the page's wording and its Retry-After always agree.
_WAITS = (("wait_seconds", "notice.resend_wait"),
          ("retry_seconds", "notice.rate_limited_wait"))


def _wait(refused: Refused) -> tuple[str, int] | None:
    """The text key and the seconds of the first wait ``refused`` names, else None."""
    params = dict(refused.params)
    for name, key in _WAITS:
        wait = params.get(name)
        if isinstance(wait, int) and wait > 0:
            return key, wait
    return None


def devices_of(account: Account) -> tuple[RememberedDevice, ...]:
    """The account's remembered browsers, most recently used first."""
    devices = [RememberedDevice(t.series_id, t.created_at, t.last_used_at, t.expires_at,
                                t.user_agent_hint) for t in account.remember]
    return tuple(sorted(devices, key=lambda d: d.last_used_at, reverse=True))


def profile_view(account: Account, completion: int, step: Step,
                 missing: tuple[tuple[str, int], ...] = ()) -> ProfileView:
    """What the profile page shows of ``account``, with its completion and screen."""
    return ProfileView(
        name=account.name, member_number=account.member_number, email=account.email,
        phone=account.phone, postal_address=account.postal_address, profile=account.profile,
        completion=completion, devices=devices_of(account), step=step,
        email_unproven=account.email_unproven, missing=missing)
