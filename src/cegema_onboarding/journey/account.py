"""The life of an active account: password and address changes, profile, adviser."""

from __future__ import annotations

import hmac
import re

import attrs

from .. import normalize
from ..errors import InvalidInput
from ..model import Account, Adviser, Channel, Consent, LinkPurpose, Step
from .events import (
    ChangePassword,
    ConfirmEmailChange,
    RequestEmailChange,
    SetAdviser,
    UpdateProfile,
)
from .inputs import Ctx, clean_comments, clean_interests
from .links import (
    cooldown_params,
    cooling_down,
    find_link,
    inspect_link,
    issue_link,
    issue_not_me,
    live_link,
    move_address,
)
from .outcomes import Accepted, Effect, Notice, Outcome, Reason, Refused, SendNotice
from .passwords import check_new_password, new_password
from .screens import next_step

_MAX_SOURCE = 64
_MAX_ADVISER_FIELD = 500
_WEB_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)


def mask_email(address: str) -> str:
    """An address with most of its local part hidden, for notices sent elsewhere."""
    local, _, domain = address.rpartition("@")
    if not local:
        return "***"
    return f"{local[0]}***@{domain}"


def _verify_current(account: Account, password: object, ctx: Ctx) -> Refused | None:
    """Re-authentication: None when ``password`` is the member's current one."""
    if not isinstance(password, str):
        return Refused(Reason.BAD_CREDENTIALS, field="current_password")
    try:
        pw = normalize.normalize_password(password)
    except InvalidInput:
        return Refused(Reason.BAD_CREDENTIALS, field="current_password")
    if account.password_hash is None or not ctx.crypto.hasher.verify(pw, account.password_hash):
        return Refused(Reason.BAD_CREDENTIALS, field="current_password",
                       effects=(ctx.audit(account, "reauthenticate", "bad_credentials"),))
    return None


def change_password(account: Account, event: ChangePassword, ctx: Ctx) -> Outcome:
    refused = _verify_current(account, event.current, ctx)
    if refused is not None:
        return refused
    pw = check_new_password(account, event.password, event.confirmation, ctx)
    if isinstance(pw, Refused):
        return attrs.evolve(pw, secret_checked=True)
    new, effects = new_password(account, pw, ctx, "password_changed")
    return Accepted(new, effects, next_step(new, ctx.now, ctx.settings), grants_session=True)


def request_email_change(account: Account, event: RequestEmailChange, ctx: Ctx) -> Outcome:
    refused = _verify_current(account, event.password, ctx)
    if refused is not None:
        return refused
    try:
        address = normalize.normalize_email(event.email)
    except InvalidInput:
        return Refused(Reason.EMAIL_INVALID, field="email", secret_checked=True)
    try:
        confirmation = normalize.normalize_email(event.confirmation)
    except InvalidInput:
        return Refused(Reason.EMAILS_DIFFER, field="confirmation", secret_checked=True)
    key = normalize.email_key(address)
    if not hmac.compare_digest(key.encode(), normalize.email_key(confirmation).encode()):
        return Refused(Reason.EMAILS_DIFFER, field="confirmation", secret_checked=True)
    same = account.email is not None and normalize.email_key(account.email) == key
    if same and not account.email_unproven:
        return Refused(Reason.EMAIL_UNCHANGED, field="email", secret_checked=True)
    live = live_link(account, LinkPurpose.CHANGE_EMAIL)
    if (live is not None and live.address is not None
            and normalize.email_key(live.address) == key and cooling_down(live, ctx)):
        return Refused(Reason.RATE_LIMITED, secret_checked=True,
                       params=cooldown_params(live, ctx))
    new, token, code = issue_link(account, LinkPurpose.CHANGE_EMAIL, address, ctx)
    effects: list[Effect] = [
        SendNotice(Notice.EMAIL_CHANGE, account.account_id, Channel.EMAIL, ctx.now, to=address,
                   token=token, code=code, ip=ctx.origin.ip, user_agent=ctx.origin.user_agent),
    ]
    if account.email is not None and not same:
        # The old address hears of it, with the new one masked and a "this wasn't me"
        # link that outlives whatever an intruder does next with the account. (The same
        # address again is the member proving an unproven one: nothing to report.)
        new, not_me = issue_not_me(new, account.email, ctx.fresh().second_nonce(), ctx)
        effects.append(SendNotice(Notice.EMAIL_CHANGE_NOTICE, account.account_id, Channel.EMAIL,
                                  ctx.now, to=account.email, detail=mask_email(address),
                                  token=not_me, ip=ctx.origin.ip,
                                  user_agent=ctx.origin.user_agent))
    effects.append(ctx.audit(account, "email_change_requested"))
    return Accepted(new, tuple(effects), Step.PROFILE)


def confirm_email_change(account: Account, event: ConfirmEmailChange, ctx: Ctx) -> Outcome:
    reason = inspect_link(account, LinkPurpose.CHANGE_EMAIL, event.nonce_hash, ctx.now)
    if reason is not None:
        return Refused(reason, effects=(ctx.audit(account, "email_change", reason.value),))
    link = find_link(account, LinkPurpose.CHANGE_EMAIL, event.nonce_hash)
    assert link is not None and link.address is not None
    # A reset link sent to the old address dies with the change (see move_address).
    new = move_address(account, link.address, ctx, proven=event.same_session is True,
                       spent=link)
    detail = None if event.same_session is True else "outside_session"
    return Accepted(new, (ctx.audit(account, "email_changed", detail=detail),), Step.PROFILE)


def update_profile(account: Account, event: UpdateProfile, ctx: Ctx) -> Outcome:
    channels = event.channels
    if not isinstance(channels, tuple | list | frozenset) or not all(
            isinstance(c, Channel) for c in channels):
        return Refused(Reason.INPUT_INVALID, field="channels")
    ordered = tuple(dict.fromkeys(channels))
    if event.pets is not None and not isinstance(event.pets, bool):
        return Refused(Reason.INPUT_INVALID, field="pets")
    interests = clean_interests(event.interests)
    if interests is None:
        return Refused(Reason.INPUT_INVALID, field="interests")
    comments = clean_comments(event.comments)
    if comments is None:
        return Refused(Reason.INPUT_INVALID, field="comments")
    try:
        source = normalize.check_text(event.source, "source", _MAX_SOURCE).strip()
    except InvalidInput:
        return Refused(Reason.INPUT_INVALID, field="source")
    old = account.profile
    consents = list(old.consents)
    for channel in Channel:
        before, after = channel in old.channels, channel in ordered
        if before != after:
            consents.append(Consent(channel, after, ctx.now, source))
    profile = attrs.evolve(old, channels=ordered, pets=event.pets, interests=interests,
                           comments=comments,
                           consents=tuple(consents[-ctx.settings.consent_history:]))
    new = attrs.evolve(account, profile=profile)
    return Accepted(new, (ctx.audit(account, "profile_updated"),), Step.PROFILE)


def set_adviser(account: Account, event: SetAdviser, ctx: Ctx) -> Outcome:
    adviser = event.adviser
    if adviser is not None:
        if not isinstance(adviser, Adviser):
            return Refused(Reason.INPUT_INVALID, field="adviser")
        for name in ("name", "address", "orias", "more_info_url"):
            value = getattr(adviser, name)
            if not isinstance(value, str) or len(value) > _MAX_ADVISER_FIELD or "\x00" in value:
                return Refused(Reason.INPUT_INVALID, field=f"adviser.{name}")
        # The link is rendered in an href: anything but http(s) (javascript:, data:...)
        # would be stored script.
        url = adviser.more_info_url.strip()
        if url and not _WEB_URL.fullmatch(url):
            return Refused(Reason.INPUT_INVALID, field="adviser.more_info_url")
    new = attrs.evolve(account, profile=attrs.evolve(account.profile, adviser=adviser))
    return Accepted(new, (ctx.audit(account, "adviser_set"),),
                    next_step(new, ctx.now, ctx.settings))
