"""PREMIÈRE CONNEXION: the address, its link or code, the new password, the secret answer.
"""

from __future__ import annotations

import hmac

import attrs

from .. import normalize
from ..errors import BadToken, InvalidInput
from ..model import Account, Channel, Link, LinkPurpose, LinkStatus, Stage, Step
from ..password_policy import AnswerRejection, check_answer
from ..tokens import normalize_code, verify_code
from .events import (
    ChangeEmail,
    ConfirmLink,
    DeclareNoEmail,
    ResendLink,
    SetPassword,
    SetSecretAnswer,
    SubmitCode,
    SubmitEmail,
)
from .inputs import Ctx
from .links import (
    cooldown_params,
    cooling_down,
    find_link,
    inspect_link,
    issue_link,
    live_link,
    move_address,
    replace_link,
    retire_links,
)
from .outcomes import ANSWER_REASONS, Accepted, Effect, Notice, Outcome, Reason, Refused, SendNotice
from .passwords import check_new_password, new_password
from .screens import next_step


def submit_email(account: Account, event: SubmitEmail, ctx: Ctx) -> Outcome:
    try:
        address = normalize.normalize_email(event.email)
    except InvalidInput:
        return Refused(Reason.EMAIL_INVALID, field="email")
    try:
        # Validation is the costly part of this step: the same text need not be validated
        # twice.
        confirmation = (address if event.confirmation == event.email
                        else normalize.normalize_email(event.confirmation))
    except InvalidInput:
        return Refused(Reason.EMAILS_DIFFER, field="confirmation")
    if not hmac.compare_digest(normalize.email_key(address).encode(),
                               normalize.email_key(confirmation).encode()):
        return Refused(Reason.EMAILS_DIFFER, field="confirmation")
    live = live_link(account, LinkPurpose.VERIFY_EMAIL)
    same_address = (live is not None and live.address is not None
                    and normalize.email_key(live.address) == normalize.email_key(address))
    if same_address and live is not None and cooling_down(live, ctx):
        return Refused(Reason.RATE_LIMITED, params=cooldown_params(live, ctx))
    new, token, code = issue_link(account, LinkPurpose.VERIFY_EMAIL, address, ctx,
                                  stage=Stage.EMAIL_PENDING, pending_email=address,
                                  activation_requested_at=None, activation_rejection=None)
    effects: tuple[Effect, ...] = (
        SendNotice(Notice.VALIDATION, account.account_id, Channel.EMAIL, ctx.now, to=address,
                   token=token, code=code, ip=ctx.origin.ip),
        ctx.audit(account, "email_submitted"),
    )
    return Accepted(new, effects, Step.CHECK_MAILBOX)


def resend_link(account: Account, event: ResendLink, ctx: Ctx) -> Outcome:
    address = account.pending_email
    if address is None:
        return Refused(Reason.INVALID_STEP)
    live = live_link(account, LinkPurpose.VERIFY_EMAIL)
    if live is not None and cooling_down(live, ctx):
        return Refused(Reason.RATE_LIMITED, params=cooldown_params(live, ctx))
    new, token, code = issue_link(account, LinkPurpose.VERIFY_EMAIL, address, ctx)
    effects: tuple[Effect, ...] = (
        SendNotice(Notice.VALIDATION, account.account_id, Channel.EMAIL, ctx.now, to=address,
                   token=token, code=code, ip=ctx.origin.ip),
        ctx.audit(account, "link_resent"),
    )
    return Accepted(new, effects, Step.CHECK_MAILBOX)


def change_email(account: Account, event: ChangeEmail, ctx: Ctx) -> Outcome:
    new = retire_links(account, LinkPurpose.VERIFY_EMAIL, LinkStatus.SUPERSEDED,
                       stage=Stage.EMAIL_REQUIRED)
    return Accepted(new, (ctx.audit(account, "email_change_started"),), Step.EMAIL)


def declare_no_email(account: Account, event: DeclareNoEmail, ctx: Ctx) -> Outcome:
    new = retire_links(account, LinkPurpose.VERIFY_EMAIL, LinkStatus.REVOKED,
                       stage=Stage.AWAITING_ACTIVATION, activation_requested_at=ctx.now,
                       activation_rejection=None)
    return Accepted(new, (ctx.audit(account, "activation_requested"),), Step.AWAITING_ACTIVATION)


def confirm_link(account: Account, event: ConfirmLink, ctx: Ctx) -> Outcome:
    reason = inspect_link(account, LinkPurpose.VERIFY_EMAIL, event.nonce_hash, ctx.now)
    if reason is not None:
        return Refused(reason, effects=(ctx.audit(account, "link_confirm", reason.value),))
    link = find_link(account, LinkPurpose.VERIFY_EMAIL, event.nonce_hash)
    assert link is not None
    return _email_verified(account, link, ctx, "link", event.same_session is True)


def submit_code(account: Account, event: SubmitCode, ctx: Ctx) -> Outcome:
    live = live_link(account, LinkPurpose.VERIFY_EMAIL)
    if live is None or live.code_digest is None:
        return Refused(Reason.LINK_INVALID, field="code")
    if ctx.now > live.expires_at:
        return Refused(Reason.LINK_EXPIRED, field="code")
    if live.code_failures >= ctx.settings.code_max_attempts:
        return Refused(Reason.CODE_ATTEMPTS_EXCEEDED, field="code")
    try:
        code = normalize_code(event.code)
    except BadToken:
        # Malformed input is not a guess at the code: refuse it without counting.
        return Refused(Reason.CODE_INVALID, field="code")
    if verify_code(ctx.crypto.pepper, account.account_id, code, live.code_digest):
        # The code is typed into the member's own logged-in session.
        return _email_verified(account, live, ctx, "code", True)
    failures = live.code_failures + 1
    counted = replace_link(account, live, attrs.evolve(live, code_failures=failures))
    reason = (Reason.CODE_ATTEMPTS_EXCEEDED if failures >= ctx.settings.code_max_attempts
              else Reason.CODE_INVALID)
    return Refused(reason, field="code", account=counted,
                   effects=(ctx.audit(account, "code", "wrong_code"),))


def _email_verified(account: Account, link: Link, ctx: Ctx, how: str,
                    in_session: bool) -> Accepted:
    assert link.address is not None
    new = move_address(account, link.address, ctx, proven=in_session, spent=link,
                       stage=Stage.PASSWORD_REQUIRED)
    audit = ctx.audit(account, "email_verified",
                      detail=how if in_session else f"{how}_outside_session")
    if in_session:
        return Accepted(new, (audit,), Step.PASSWORD, grants_session=True)
    return Accepted(new, (audit,), Step.LOGIN)


def set_password(account: Account, event: SetPassword, ctx: Ctx) -> Outcome:
    pw = check_new_password(account, event.password, event.confirmation, ctx)
    if isinstance(pw, Refused):
        return pw
    # A member sent back here by re-issued credentials keeps the answer already set.
    target = (Stage.QUESTION_REQUIRED
              if ctx.settings.secret_questions and account.answer_hash is None else Stage.ACTIVE)
    new, effects = new_password(attrs.evolve(account, stage=target), pw, ctx, "password_set")
    return Accepted(new, effects, next_step(new, ctx.now, ctx.settings), grants_session=True)


def set_answer(account: Account, event: SetSecretAnswer, ctx: Ctx) -> Outcome:
    settings = ctx.settings
    if not settings.secret_questions:
        return Refused(Reason.QUESTIONS_DISABLED)
    if not isinstance(event.question_id, str) or event.question_id not in settings.questions:
        return Refused(Reason.QUESTION_UNKNOWN, field="question")
    try:
        rejections = check_answer(event.answer, event.confirmation,
                                  member_number=account.member_number,
                                  email=account.email or "")
    except InvalidInput:
        return Refused(Reason.INPUT_INVALID, field="answer")
    answer = ""
    if not rejections:
        answer = normalize.normalize_answer(event.answer)
        if account.password_hash is not None and _same_as_password(event.answer, answer,
                                                                    account.password_hash, ctx):
            rejections = (AnswerRejection.SAME_AS_PASSWORD,)
    if rejections:
        reasons = tuple(ANSWER_REASONS[r] for r in rejections)
        field = "confirmation" if reasons[0] is Reason.ANSWERS_DIFFER else "answer"
        return Refused(reasons[0], field=field, others=reasons[1:])
    new = attrs.evolve(account, question_id=event.question_id, stage=Stage.ACTIVE,
                       answer_hash=ctx.crypto.hasher.hash(answer, ctx.fresh().salt))
    return Accepted(new, (ctx.audit(account, "secret_answer_set"),), Step.PROFILE)


def _same_as_password(raw: str, normalized: str, password_hash: str, ctx: Ctx) -> bool:
    hasher = ctx.crypto.hasher
    # Both forms are tried: the member may have typed the answer exactly as the password.
    as_typed = hasher.verify(normalize.normalize_password(raw), password_hash)
    return hasher.verify(normalized, password_hash) or as_typed
