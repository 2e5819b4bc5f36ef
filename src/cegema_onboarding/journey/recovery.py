"""Getting back in: the reset link, the answer with staff, the member number by mail, and
"ce n'était pas moi" (lock everything, then recover).
"""

from __future__ import annotations

import attrs

from .. import normalize
from ..config import RecoveryPolicy, Settings
from ..errors import InvalidInput
from ..model import Account, Channel, LinkPurpose, LinkStatus, Step
from .events import CompleteReset, ConfirmNotMe, RemindIdentifier, RequestReset, StaffAssistedReset
from .inputs import Ctx, staff_ok
from .links import (
    cooling_down,
    find_link,
    inspect_link,
    issue_link,
    live_link,
    recovery_address,
    replace_link,
    retire_all_links,
)
from .outcomes import Accepted, Effect, Notice, Outcome, Reason, Refused, SendNotice
from .passwords import check_new_password, new_password


def reset_checks_answer(settings: Settings) -> bool:
    """Whether completing a reset checks the secret answer (and so counts failures)."""
    return settings.recovery_policy is RecoveryPolicy.LINK_AND_ANSWER


def _check_secret_answer(account: Account, answer: object, ctx: Ctx) -> Refused | None:
    """None when ``answer`` is the member's; else the refusal, after the same hash work."""
    hasher = ctx.crypto.hasher
    if not isinstance(answer, str) or len(answer) > normalize.MAX_ANSWER:
        return Refused(Reason.INPUT_INVALID, field="answer")
    try:
        typed = normalize.normalize_answer(answer)
    except InvalidInput:
        typed = ""
    if not ctx.settings.secret_questions or account.answer_hash is None:
        hasher.dummy_verify(typed)
        return Refused(Reason.RESET_NOT_AVAILABLE,
                       effects=(ctx.audit(account, "secret_answer", "not_available"),))
    ok = hasher.verify(typed, account.answer_hash) and bool(typed)
    if not ok:
        return Refused(Reason.ANSWER_WRONG, field="answer",
                       effects=(ctx.audit(account, "secret_answer", "wrong_answer"),))
    return None


def request_reset(account: Account, event: RequestReset, ctx: Ctx) -> Outcome:
    address = recovery_address(account)
    if address is None:
        return Refused(Reason.RESET_NOT_AVAILABLE,
                       effects=(ctx.audit(account, "reset_requested", "no_email"),))
    live = live_link(account, LinkPurpose.RESET_PASSWORD)
    if live is not None and cooling_down(live, ctx):
        return Refused(Reason.RATE_LIMITED,
                       effects=(ctx.audit(account, "reset_requested", "cooling_down"),))
    new, token, code = issue_link(account, LinkPurpose.RESET_PASSWORD, address, ctx)
    effects: tuple[Effect, ...] = (
        SendNotice(Notice.RESET, account.account_id, Channel.EMAIL, ctx.now, to=address,
                   token=token, code=code, ip=ctx.origin.ip, user_agent=ctx.origin.user_agent),
        ctx.audit(account, "reset_requested"),
    )
    return Accepted(new, effects, Step.LOGIN)


def complete_reset(account: Account, event: CompleteReset, ctx: Ctx) -> Outcome:
    reason = inspect_link(account, LinkPurpose.RESET_PASSWORD, event.nonce_hash, ctx.now)
    if reason is not None:
        return Refused(reason, effects=(ctx.audit(account, "reset", reason.value),))
    checked = False
    if ctx.settings.recovery_policy is RecoveryPolicy.LINK_AND_ANSWER:
        # The answer first: a password-rule refusal must not hide a wrong answer's count.
        refused = _check_secret_answer(account, event.answer, ctx)
        if refused is not None:
            return refused
        checked = True
    pw = check_new_password(account, event.password, event.confirmation, ctx)
    if isinstance(pw, Refused):
        return attrs.evolve(pw, secret_checked=checked)
    link = find_link(account, LinkPurpose.RESET_PASSWORD, event.nonce_hash)
    assert link is not None
    spent = replace_link(account, link, attrs.evolve(link, status=LinkStatus.USED))
    new, effects = new_password(spent, pw, ctx, "password_reset")
    # Not logged in afterwards: the member logs in with the new password.
    return Accepted(new, effects, Step.LOGIN)


def staff_assisted_precheck(account: Account, event: StaffAssistedReset,
                             settings: Settings) -> Refused | None:
    if not staff_ok(event.staff_id):
        return Refused(Reason.INPUT_INVALID, field="staff_id")
    if not settings.staff_assisted_recovery:
        return Refused(Reason.RESET_NOT_AVAILABLE)
    if recovery_address(account) is not None:
        # The answer with staff is the path of members with no usable address only: a
        # member with a verified, proven address recovers through the emailed link.
        return Refused(Reason.RESET_NOT_AVAILABLE)
    return None


def staff_assisted_reset(account: Account, event: StaffAssistedReset, ctx: Ctx) -> Outcome:
    refused = staff_assisted_precheck(account, event, ctx.settings)
    if refused is not None:
        return refused
    refused = _check_secret_answer(account, event.answer, ctx)
    if refused is not None:
        return refused
    pw = check_new_password(account, event.password, event.confirmation, ctx)
    if isinstance(pw, Refused):
        return attrs.evolve(pw, secret_checked=True)
    new, effects = new_password(account, pw, ctx, "password_reset_staff",
                                 actor=f"staff:{event.staff_id}")
    return Accepted(new, effects, Step.LOGIN)


def remind_identifier(account: Account, event: RemindIdentifier, ctx: Ctx) -> Outcome:
    address = recovery_address(account)
    if address is None:
        return Refused(Reason.INVALID_STEP)
    effects: tuple[Effect, ...] = (
        SendNotice(Notice.IDENTIFIER, account.account_id, Channel.EMAIL, ctx.now,
                   to=address, ip=ctx.origin.ip, user_agent=ctx.origin.user_agent),
        ctx.audit(account, "identifier_reminded"),
    )
    return Accepted(account, effects, Step.LOGIN)


def confirm_not_me(account: Account, event: ConfirmNotMe, ctx: Ctx) -> Outcome:
    reason = inspect_link(account, LinkPurpose.NOT_ME, event.nonce_hash, ctx.now)
    link = find_link(account, LinkPurpose.NOT_ME, event.nonce_hash)
    if reason is not None or link is None:
        reason = reason or Reason.LINK_INVALID
        return Refused(reason, effects=(ctx.audit(account, "not_me", reason.value),))
    # Whatever else happens: locked, every session, device and link ended.
    spent = tuple(attrs.evolve(lk, status=LinkStatus.USED if lk is link else LinkStatus.REVOKED)
                  if lk.status is LinkStatus.LIVE else lk for lk in account.not_me_links)
    new = retire_all_links(account, not_me_links=spent, locked_at=ctx.now,
                           session_epoch=account.session_epoch + 1, remember=())
    address = recovery_address(account)
    current = (address is not None and link.address is not None
               and normalize.email_key(link.address) == normalize.email_key(address)
               and (account.email_changed_at is None
                    or link.issued_at >= account.email_changed_at))
    if not current:
        # The link predates a change of address (by the member or by staff), or the
        # account has no proven address. Whoever clicks may be reading an address the
        # member left because it was compromised: the account never moves back to it and
        # no recovery goes anywhere. The member recovers through staff (re-issued
        # credentials), who check who they are talking to.
        return Accepted(new, (ctx.audit(account, "not_me_locked", detail="staff_recovery"),),
                        Step.LOGIN)
    # The link went to the address the account still has: recovery starts there at once.
    assert address is not None
    new, token, code = issue_link(new, LinkPurpose.RESET_PASSWORD, address, ctx)
    effects: tuple[Effect, ...] = (
        ctx.audit(account, "not_me_locked"),
        SendNotice(Notice.RESET, account.account_id, Channel.EMAIL, ctx.now, to=address,
                   token=token, code=code, ip=ctx.origin.ip, user_agent=ctx.origin.user_agent),
    )
    return Accepted(new, effects, Step.LOGIN)
