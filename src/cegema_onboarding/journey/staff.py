"""Staff actions on an account: activation, lock, disable, new credentials, verified address.

Each checks the staff id before anything else (:func:`staff_checked`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Protocol, TypeVar

import attrs

from .. import normalize
from ..credentials import initial_password_from_bytes
from ..errors import InvalidInput
from ..model import Account, Channel, LinkPurpose, LinkStatus, Stage, Step
from .events import (
    StaffActivate,
    StaffDisable,
    StaffEnable,
    StaffReissue,
    StaffReject,
    StaffUnlock,
    StaffVerifyEmail,
)
from .inputs import Ctx, staff_ok
from .links import move_address, retire_all_links, retire_not_me, retired
from .outcomes import Accepted, Audit, Effect, Notice, Outcome, Reason, Refused, SendNotice
from .screens import next_step, notice_channel


class _ByStaff(Protocol):
    @property
    def staff_id(self) -> str: ...


_E = TypeVar("_E", bound=_ByStaff)


def staff_checked(handler: Callable[[Account, _E, Ctx], Outcome]
                  ) -> Callable[[Account, _E, Ctx], Outcome]:
    """Refuse a malformed staff id before the handler looks at anything else."""
    @functools.wraps(handler)
    def checked(account: Account, event: _E, ctx: Ctx) -> Outcome:
        if not staff_ok(event.staff_id):
            return Refused(Reason.INPUT_INVALID, field="staff_id")
        return handler(account, event, ctx)
    return checked


@staff_checked
def staff_activate(account: Account, event: StaffActivate, ctx: Ctx) -> Outcome:
    new = attrs.evolve(account, stage=Stage.PASSWORD_REQUIRED, activation_rejection=None)
    channel = notice_channel(account)
    effects: tuple[Effect, ...] = (
        SendNotice(Notice.ACTIVATED, account.account_id, channel, ctx.now,
                   to=account.email if channel is Channel.EMAIL else None),
        _staff_audit(account, ctx, event.staff_id, "activation_approved"),
    )
    return Accepted(new, effects, Step.PASSWORD)


@staff_checked
def staff_reject(account: Account, event: StaffReject, ctx: Ctx) -> Outcome:
    try:
        reason = normalize.check_text(event.reason, "reason", 500).strip()
    except InvalidInput:
        return Refused(Reason.INPUT_INVALID, field="reason")
    new = attrs.evolve(account, stage=Stage.EMAIL_REQUIRED, activation_rejection=reason)
    # No mail template for a rejection: the member chose the no-email path anyway.
    channel = notice_channel(account, allow_email=False)
    effects: tuple[Effect, ...] = (
        SendNotice(Notice.ACTIVATION_REJECTED, account.account_id, channel, ctx.now,
                   detail=reason),
        _staff_audit(account, ctx, event.staff_id, "activation_rejected"),
    )
    return Accepted(new, effects, Step.EMAIL)


def _staff_audit(account: Account, ctx: Ctx, staff_id: str, action: str) -> Audit:
    return Audit(action, "ok", ctx.now, account.account_id, f"staff:{staff_id}", ctx.origin.ip)


@staff_checked
def staff_unlock(account: Account, event: StaffUnlock, ctx: Ctx) -> Outcome:
    # Unlocking clears the failure counters (in the shell) and nothing else: a "this
    # wasn't me" lock means the password may be a thief's, so only a reset or re-issued
    # credentials lift it.
    return Accepted(account, (_staff_audit(account, ctx, event.staff_id, "unlocked"),),
                    next_step(account, ctx.now, ctx.settings))


@staff_checked
def staff_disable(account: Account, event: StaffDisable, ctx: Ctx) -> Outcome:
    new = attrs.evolve(account, disabled=True, session_epoch=account.session_epoch + 1,
                       remember=())
    return Accepted(new, (_staff_audit(account, ctx, event.staff_id, "disabled"),),
                    next_step(new, ctx.now, ctx.settings))


@staff_checked
def staff_enable(account: Account, event: StaffEnable, ctx: Ctx) -> Outcome:
    new = attrs.evolve(account, disabled=False)
    return Accepted(new, (_staff_audit(account, ctx, event.staff_id, "enabled"),),
                    next_step(new, ctx.now, ctx.settings))


@staff_checked
def staff_reissue(account: Account, event: StaffReissue, ctx: Ctx) -> Outcome:
    initial = initial_password_from_bytes(ctx.fresh().nonce)
    stage = account.stage
    if stage in (Stage.PASSWORD_REQUIRED, Stage.QUESTION_REQUIRED, Stage.ACTIVE):
        # The email (or staff activation) is already proven: straight to a new password.
        stage = Stage.PASSWORD_REQUIRED
    new = retire_all_links(
        account, stage=stage, initial_digest=ctx.crypto.pepper.digest(initial),
        initial_issued_at=ctx.now, password_hash=None, session_epoch=account.session_epoch + 1,
        remember=(), locked_at=None, not_me_links=retire_not_me(account, LinkStatus.REVOKED))
    return Accepted(new, (_staff_audit(account, ctx, event.staff_id, "credentials_reissued"),),
                    next_step(new, ctx.now, ctx.settings), secret=initial)


@staff_checked
def staff_verify_email(account: Account, event: StaffVerifyEmail, ctx: Ctx) -> Outcome:
    raw = event.email if event.email is not None else account.pending_email
    try:
        if raw is None:
            raise InvalidInput("email", "missing")
        address = normalize.normalize_email(raw)
    except InvalidInput:
        audit = attrs.evolve(_staff_audit(account, ctx, event.staff_id,
                                          "email_verified_by_staff"), outcome="email_invalid")
        return Refused(Reason.EMAIL_INVALID, field="email", effects=(audit,))
    links = retired(retired(account.links, LinkPurpose.VERIFY_EMAIL, LinkStatus.REVOKED),
                    LinkPurpose.CHANGE_EMAIL, LinkStatus.REVOKED)
    stage = account.stage
    if stage not in (Stage.PASSWORD_REQUIRED, Stage.QUESTION_REQUIRED, Stage.ACTIVE):
        stage = Stage.PASSWORD_REQUIRED
    # Staff vouch for the address; links sent to any other one die (a reset link at the
    # old address among them).
    new = move_address(attrs.evolve(account, links=links, activation_rejection=None),
                       address, ctx, proven=True, stage=stage)
    return Accepted(new, (_staff_audit(account, ctx, event.staff_id, "email_verified_by_staff"),),
                    next_step(new, ctx.now, ctx.settings))
