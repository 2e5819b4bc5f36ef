"""Checking and setting passwords: the policy's refusals, the initial credentials, and
what every password change ends (sessions, devices, links, the "not me" lock).
"""

from __future__ import annotations

import attrs

from .. import normalize
from ..config import Crypto
from ..errors import InvalidInput
from ..model import Account, Channel
from ..password_policy import PasswordContext, PasswordRejection
from .inputs import Ctx
from .links import issue_not_me, retire_all_links
from .outcomes import PASSWORD_REASONS, Effect, Notice, Reason, Refused, SendNotice


def initial_matches(account: Account, pw: str, crypto: Crypto) -> bool:
    try:
        typed = normalize.normalize_initial_password(pw)
    except InvalidInput:
        typed = ""
    # Always compute the HMAC so a malformed entry costs what a wrong one does.
    stored = account.initial_digest or ""
    return crypto.pepper.verify(typed, stored) and bool(typed) and bool(stored)


def check_new_password(account: Account, password: str, confirmation: str,
                        ctx: Ctx) -> str | Refused:
    """The normalised new password, or the refusal naming every rule it breaks."""
    policy = ctx.settings.password_policy
    context = PasswordContext(
        member_number=account.member_number,
        email=account.email or account.pending_email or "",
        names=tuple(account.name.split()),
    )
    try:
        rejections = policy.check(password, confirmation, context)
    except InvalidInput:
        return Refused(Reason.INPUT_INVALID, field="password")
    # Retyping the initial password is the more telling reason than its guessability.
    if (rejections in ((), (PasswordRejection.TOO_GUESSABLE,))
            and account.initial_digest is not None
            and initial_matches(account, normalize.normalize_password(password), ctx.crypto)):
        rejections = (PasswordRejection.SAME_AS_INITIAL,)
    if rejections:
        reasons = tuple(PASSWORD_REASONS[r] for r in rejections)
        field = "confirmation" if reasons[0] is Reason.PASSWORDS_DIFFER else "password"
        return Refused(reasons[0], field=field, others=reasons[1:],
                       params=(("min_length", policy.min_length),
                               ("max_length", policy.max_length)))
    return normalize.normalize_password(password)


def new_password(account: Account, pw: str, ctx: Ctx, action: str,
                  actor: str | None = None) -> tuple[Account, tuple[Effect, ...]]:
    """Every password change: hash, end sessions, devices, links and locks; notify."""
    fresh = ctx.fresh()
    pw_hash = ctx.crypto.hasher.hash(pw, fresh.salt)
    new = retire_all_links(account, password_hash=pw_hash, password_changed_at=ctx.now,
                           initial_digest=None, session_epoch=account.session_epoch + 1,
                           remember=(), locked_at=None)
    channel = Channel.EMAIL if account.email else Channel.POST
    token = None
    if account.email is not None:
        new, token = issue_not_me(new, account.email, fresh.nonce, ctx)
    audit = ctx.audit(account, action)
    if actor is not None:
        audit = attrs.evolve(audit, actor=actor)
    effects: tuple[Effect, ...] = (
        SendNotice(Notice.PASSWORD_CHANGED, account.account_id, channel, ctx.now,
                   to=account.email, token=token, ip=ctx.origin.ip,
                   user_agent=ctx.origin.user_agent),
        audit,
    )
    return new, effects
