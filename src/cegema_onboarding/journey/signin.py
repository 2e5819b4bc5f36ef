"""Signing in: a login with the initial or the chosen password, and remember-me.

The remember-me series rotate their secret on each use; an already-rotated secret
coming back is theft, and every series is forgotten.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

import attrs

from .. import normalize
from ..errors import InvalidInput
from ..model import Account, Channel, RememberToken, Stage
from ..remember import SERIES_BYTES, secret_hash, series_bytes, series_id
from .events import Login, RememberLogin, RevokeRemember
from .inputs import Ctx
from .outcomes import Accepted, Notice, Outcome, Reason, Refused, SendNotice
from .passwords import initial_matches
from .screens import next_step, offline_channel

_ROTATION_GRACE = timedelta(seconds=10)


#: Stages in which the initial password printed on the contract still opens a session.
INITIAL_CREDENTIAL_STAGES = frozenset(
    {
        Stage.PROVISIONED,
        Stage.EMAIL_REQUIRED,
        Stage.EMAIL_PENDING,
        Stage.AWAITING_ACTIVATION,
        Stage.PASSWORD_REQUIRED,
    }
)


def login(account: Account, event: Login, ctx: Ctx) -> Outcome:
    crypto = ctx.crypto
    try:
        pw = normalize.normalize_password(event.password)
    except InvalidInput:
        # Refused before any hashing, identically for every account and for none.
        return Refused(Reason.BAD_CREDENTIALS, field="password")
    new = account
    if account.stage in INITIAL_CREDENTIAL_STAGES:
        # One Argon2 computation on every login keeps known, unknown and
        # not-yet-onboarded accounts indistinguishable by work done.
        crypto.hasher.dummy_verify(pw)
        ok = initial_matches(account, pw, crypto)
        if ok and account.initial_digest and crypto.pepper.needs_update(account.initial_digest):
            new = attrs.evolve(new, initial_digest=crypto.pepper.digest(
                normalize.normalize_initial_password(pw)))
    else:
        ok = account.password_hash is not None and crypto.hasher.verify(pw, account.password_hash)
        if ok and account.password_hash and crypto.hasher.needs_rehash(account.password_hash):
            new = attrs.evolve(new, password_hash=crypto.hasher.hash(pw, ctx.fresh().salt))
    if account.locked_at is not None:
        # "Ce n'était pas moi" locked it: only recovery or staff open it again. Right and
        # wrong passwords get the same generic answer, so a thief learns nothing.
        return Refused(Reason.BAD_CREDENTIALS, field="password",
                       effects=(ctx.audit(account, "login", "hard_locked" if ok
                                          else "bad_credentials"),))
    if not ok:
        return Refused(Reason.BAD_CREDENTIALS, field="password",
                       effects=(ctx.audit(account, "login", "bad_credentials"),))
    if account.disabled:
        return Refused(Reason.DISABLED, effects=(ctx.audit(account, "login", "disabled"),))
    if account.stage in INITIAL_CREDENTIAL_STAGES and _initial_expired(account, ctx):
        return Refused(Reason.INITIAL_CREDENTIALS_EXPIRED,
                       effects=(ctx.audit(account, "login", "initial_expired"),))
    if new.stage is Stage.PROVISIONED:
        new = attrs.evolve(new, stage=Stage.EMAIL_REQUIRED)
    elif new.stage is Stage.QUESTION_REQUIRED and not ctx.settings.secret_questions:
        # The host turned questions off after this member set a password.
        new = attrs.evolve(new, stage=Stage.ACTIVE)
    token = None
    if event.remember is True and new.stage is Stage.ACTIVE:
        new, token = _issue_remember(new, ctx)
    return Accepted(new, (ctx.audit(account, "login", detail="remember" if token else None),),
                    next_step(new, ctx.now, ctx.settings), grants_session=True, secret=token)


def _initial_expired(account: Account, ctx: Ctx) -> bool:
    lifetime = ctx.settings.initial_password_lifetime
    if lifetime is None or account.initial_issued_at is None:
        return False
    return ctx.now > account.initial_issued_at + lifetime


def _ua_hint(user_agent: str | None) -> str | None:
    if not isinstance(user_agent, str):
        return None
    # A hint for the member's device list, not an identifier: short and printable. The
    # origin already cut the agent to 300 characters, without control characters.
    cleaned = "".join(ch for ch in user_agent if ch.isprintable())
    return cleaned[:80] or None


def _issue_remember(account: Account, ctx: Ctx) -> tuple[Account, str]:
    fresh = ctx.fresh()
    if len(fresh.series) != SERIES_BYTES:
        raise ValueError("remember-me needs Entropy.series: use Entropy.draw(...)")
    token = ctx.crypto.remember.issue(account.account_id, fresh.series, fresh.nonce)
    record = RememberToken(
        series_id=series_id(fresh.series),
        secret_hash=secret_hash(fresh.nonce),
        created_at=ctx.now,
        expires_at=ctx.now + ctx.settings.remember_lifetime,
        last_used_at=ctx.now,
        user_agent_hint=_ua_hint(ctx.origin.user_agent),
    )
    kept = tuple(t for t in account.remember if ctx.now <= t.expires_at)
    # Bounded: the least recently used device is forgotten first.
    kept = tuple(sorted(kept, key=lambda t: t.last_used_at))
    kept = (*kept, record)[-ctx.settings.remember_max_devices:]
    return attrs.evolve(account, remember=kept), token


def remember_login(account: Account, event: RememberLogin, ctx: Ctx) -> Outcome:
    found = None
    for t in account.remember:
        # The cut only bounds the work on a hostile value: a stored id is 22 characters
        # (16 bytes in base64), so any cut from 22 up compares the same.
        if isinstance(event.series_id, str) and hmac.compare_digest(
                t.series_id.encode(), event.series_id.encode()[:64]):  # pragma: no mutate
            found = t
    if found is None:
        return Refused(Reason.SESSION_EXPIRED,
                       effects=(ctx.audit(account, "remember_login", "unknown_series"),))
    others = tuple(t for t in account.remember if t is not found)
    if ctx.now > found.expires_at:
        return Refused(Reason.SESSION_EXPIRED, account=attrs.evolve(account, remember=others),
                       effects=(ctx.audit(account, "remember_login", "expired"),))
    presented = event.secret_hash.encode() if isinstance(event.secret_hash, str) else b""
    if not hmac.compare_digest(found.secret_hash.encode(), presented):
        if (found.previous_hash is not None
                and hmac.compare_digest(found.previous_hash.encode(), presented)
                and ctx.now - found.last_used_at <= _ROTATION_GRACE):
            # Two requests of one browser raced on one rotation: refuse, but no alarm.
            return Refused(Reason.SESSION_EXPIRED,
                           effects=(ctx.audit(account, "remember_login", "rotation_race"),))
        # An already-rotated secret came back: someone copied the token. Whoever could
        # copy one cookie may have copied the member's others too, so every remembered
        # device is forgotten (the scheme's own advice), with the sessions they opened,
        # and the member is told.
        revoked = attrs.evolve(account, remember=(), session_epoch=account.session_epoch + 1)
        return Refused(Reason.SESSION_EXPIRED, account=revoked,
                       effects=(ctx.audit(account, "remember_theft", "all_series_revoked"),
                                _theft_notice(account, ctx)))
    if account.locked_at is not None:
        return Refused(Reason.LOCKED, effects=(ctx.audit(account, "remember_login", "locked"),))
    fresh = ctx.fresh()
    raw_series = series_bytes(found.series_id)
    if raw_series is None:
        return Refused(Reason.SESSION_EXPIRED)
    token = ctx.crypto.remember.issue(account.account_id, raw_series, fresh.nonce)
    rotated = attrs.evolve(found, secret_hash=secret_hash(fresh.nonce),
                           previous_hash=found.secret_hash, last_used_at=ctx.now,
                           user_agent_hint=_ua_hint(ctx.origin.user_agent)
                           or found.user_agent_hint)
    new = attrs.evolve(account, remember=(*others, rotated))
    return Accepted(new, (ctx.audit(account, "remember_login"),),
                    next_step(new, ctx.now, ctx.settings), grants_session=True, secret=token)


def _theft_notice(account: Account, ctx: Ctx) -> SendNotice:
    # Informational only (no link): it may go to the verified address even if unproven.
    if account.email is not None and account.email_verified_at is not None:
        return SendNotice(Notice.REMEMBER_THEFT, account.account_id, Channel.EMAIL, ctx.now,
                          to=account.email, ip=ctx.origin.ip,
                          user_agent=ctx.origin.user_agent)
    return SendNotice(Notice.REMEMBER_THEFT, account.account_id, offline_channel(account),
                      ctx.now, ip=ctx.origin.ip)


def revoke_remember(account: Account, event: RevokeRemember, ctx: Ctx) -> Outcome:
    if event.series_id is None:
        kept: tuple[RememberToken, ...] = ()
    elif isinstance(event.series_id, str):
        kept = tuple(t for t in account.remember if t.series_id != event.series_id)
    else:
        return Refused(Reason.INPUT_INVALID, field="series_id")
    new = attrs.evolve(account, remember=kept)
    detail = "all" if event.series_id is None else "one"
    return Accepted(new, (ctx.audit(account, "remember_revoked", detail=detail),),
                    next_step(new, ctx.now, ctx.settings))
