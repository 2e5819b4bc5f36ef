"""The first-connection journey: the address and its link or code, the no-email path,
the new password and the secret answer, each with its exact effects."""

from __future__ import annotations

import math
from datetime import timedelta

import attrs
import pytest

from cegema_onboarding.flow import (
    ChangeEmail,
    ConfirmLink,
    DeclareNoEmail,
    Env,
    Notice,
    Reason,
    ResendLink,
    SendNotice,
    SetPassword,
    SetSecretAnswer,
    SubmitCode,
    SubmitEmail,
)
from cegema_onboarding.model import Account, Channel, Link, LinkPurpose, LinkStatus, Stage, Step
from cegema_onboarding.tokens import code_digest, nonce_hash

from ..conftest import GOOD_PASSWORD, START, make_settings
from .helpers import (
    AGENT,
    ANSWER,
    ENTROPY,
    ENV,
    IP,
    PASSWORD_HASH,
    QUESTION,
    accept,
    audit,
    entropy,
    link_code,
    link_token,
    new_account,
    refuse,
    wrong_type,
)

TICK = timedelta(microseconds=1)
COOLDOWN = ENV.settings.resend_cooldown
LIFETIME = ENV.settings.link_lifetime
MAX_CODES = ENV.settings.code_max_attempts
NO_QUESTIONS = Env.from_settings(make_settings(secret_questions=False))
EMAIL = "marie@example.com"


def sent_link(fresh_n: int = 1, at: timedelta = timedelta(0), address: str = EMAIL) -> Link:
    fresh = entropy(fresh_n)
    return Link(purpose=LinkPurpose.VERIFY_EMAIL, nonce_hash=nonce_hash(fresh.nonce),
                issued_at=START + at, expires_at=START + at + LIFETIME, address=address,
                code_digest=code_digest(ENV.crypto.pepper, "acc-1", link_code(fresh)))


def pending(**kw: object) -> Account:
    values: dict[str, object] = {"stage": Stage.EMAIL_PENDING, "pending_email": EMAIL,
                                 "links": (sent_link(),)}
    return new_account(**{**values, **kw})


# ---------------------------------------------------------------- the address


def test_submitting_an_address_sends_its_link_and_code() -> None:
    account = new_account(stage=Stage.EMAIL_REQUIRED, activation_requested_at=START,
                          activation_rejection="motif")
    at = timedelta(minutes=4)
    out = accept(account, SubmitEmail(" Marie@Example.com ", "marie@example.COM"), at=at)
    address = "Marie@example.com"
    assert out.account == attrs.evolve(
        account, stage=Stage.EMAIL_PENDING, pending_email=address,
        activation_requested_at=None, activation_rejection=None,
        links=(attrs.evolve(sent_link(at=at), address=address),))
    assert out.effects == (
        SendNotice(Notice.VALIDATION, "acc-1", Channel.EMAIL, START + at, to=address,
                   token=link_token(LinkPurpose.VERIFY_EMAIL), code=link_code(), ip=IP),
        audit("email_submitted", at=at),
    )
    assert out.step is Step.CHECK_MAILBOX and out.grants_session is False


@pytest.mark.parametrize(("email", "confirmation", "reason", "field"), [
    ("marie", "marie", Reason.EMAIL_INVALID, "email"),
    (EMAIL, "marie@", Reason.EMAILS_DIFFER, "confirmation"),
    (EMAIL, "marie@example.org", Reason.EMAILS_DIFFER, "confirmation"),
])
def test_address_mistakes(email: str, confirmation: str, reason: Reason, field: str) -> None:
    out = refuse(new_account(stage=Stage.EMAIL_REQUIRED), SubmitEmail(email, confirmation))
    assert (out.reason, out.field, out.account, out.effects) == (reason, field, None, ())


def test_the_same_address_again_cools_down_another_does_not() -> None:
    account = pending()
    early = refuse(account, SubmitEmail("MARIE@example.com", "marie@example.com"),
                   at=COOLDOWN - TICK)
    assert (early.reason, early.field, early.effects) == (Reason.RATE_LIMITED, None, ())
    assert early.params == (("wait_seconds", math.ceil(TICK.total_seconds())),)
    again = accept(account, SubmitEmail(EMAIL, EMAIL), at=COOLDOWN, fresh=entropy(2))
    assert again.account.links == (attrs.evolve(sent_link(), status=LinkStatus.SUPERSEDED),
                                   sent_link(2, at=COOLDOWN))
    other = accept(account, SubmitEmail("autre@example.org", "autre@example.org"))
    assert other.account.pending_email == "autre@example.org"


def test_old_spent_links_are_trimmed_live_ones_kept() -> None:
    keep = ENV.settings.link_history
    spent = tuple(attrs.evolve(sent_link(10 + i), status=LinkStatus.USED,
                               purpose=LinkPurpose.RESET_PASSWORD) for i in range(keep))
    live = attrs.evolve(sent_link(30), purpose=LinkPurpose.CHANGE_EMAIL)
    account = new_account(stage=Stage.EMAIL_REQUIRED, links=(spent[0], live, *spent[1:]))
    out = accept(account, SubmitEmail(EMAIL, EMAIL))
    assert out.account.links == (live, *spent[2:], sent_link())
    short = new_account(stage=Stage.EMAIL_REQUIRED, links=spent[: keep - 1])
    assert accept(short, SubmitEmail(EMAIL, EMAIL)).account.links == (*spent[: keep - 1],
                                                                      sent_link())


def test_resending_sends_a_new_link_to_the_pending_address() -> None:
    out = accept(pending(), ResendLink(), at=COOLDOWN, fresh=entropy(2))
    assert out.account == attrs.evolve(pending(), links=(
        attrs.evolve(sent_link(), status=LinkStatus.SUPERSEDED), sent_link(2, at=COOLDOWN)))
    assert out.effects == (
        SendNotice(Notice.VALIDATION, "acc-1", Channel.EMAIL, START + COOLDOWN, to=EMAIL,
                   token=link_token(LinkPurpose.VERIFY_EMAIL, entropy(2).nonce),
                   code=link_code(entropy(2)), ip=IP),
        audit("link_resent", at=COOLDOWN),
    )
    assert out.step is Step.CHECK_MAILBOX


def test_resending_cools_down_and_needs_a_pending_address() -> None:
    early = refuse(pending(), ResendLink(), at=COOLDOWN - TICK)
    assert (early.reason, early.effects) == (Reason.RATE_LIMITED, ())
    # The wait left, in whole seconds rounded up, for the screen to say.
    assert early.params == (("wait_seconds", math.ceil(TICK.total_seconds())),)
    assert refuse(pending(), ResendLink(), at=timedelta(seconds=15)).params == (
        ("wait_seconds", int(COOLDOWN.total_seconds()) - 15),)
    # A part of a second left counts as a whole one: never "0 s" nor a wait cut short.
    assert refuse(pending(), ResendLink(), at=timedelta(seconds=15.5)).params == (
        ("wait_seconds", int(COOLDOWN.total_seconds()) - 15),)
    assert refuse(pending(pending_email=None), ResendLink()).reason is Reason.INVALID_STEP
    spent = pending(links=(attrs.evolve(sent_link(), status=LinkStatus.USED),))
    assert accept(spent, ResendLink()).account.links[-1].status is LinkStatus.LIVE


def test_changing_the_address_supersedes_the_link() -> None:
    out = accept(pending(), ChangeEmail(), at=TICK)
    assert out.account == attrs.evolve(pending(), stage=Stage.EMAIL_REQUIRED, links=(
        attrs.evolve(sent_link(), status=LinkStatus.SUPERSEDED),))
    assert out.effects == (audit("email_change_started", at=TICK),) and out.step is Step.EMAIL


def test_declaring_no_address_revokes_the_link_and_asks_staff() -> None:
    account = pending(activation_rejection="motif")
    out = accept(account, DeclareNoEmail(), at=TICK)
    assert out.account == attrs.evolve(
        account, stage=Stage.AWAITING_ACTIVATION, activation_requested_at=START + TICK,
        activation_rejection=None,
        links=(attrs.evolve(sent_link(), status=LinkStatus.REVOKED),))
    assert out.effects == (audit("activation_requested", at=TICK),)
    assert out.step is Step.AWAITING_ACTIVATION


# ---------------------------------------------------------------- the link


def test_confirming_in_session_verifies_proves_and_opens_the_password_step() -> None:
    out = accept(pending(), ConfirmLink(sent_link().nonce_hash, same_session=True), at=LIFETIME)
    assert out.account == attrs.evolve(
        pending(), stage=Stage.PASSWORD_REQUIRED, email=EMAIL,
        email_verified_at=START + LIFETIME, email_changed_at=START + LIFETIME,
        pending_email=None, links=(attrs.evolve(sent_link(), status=LinkStatus.USED),))
    assert out.effects == (audit("email_verified", detail="link", at=LIFETIME),)
    assert out.step is Step.PASSWORD and out.grants_session is True


@pytest.mark.parametrize("same_session", [False, wrong_type(1)])
def test_confirming_elsewhere_verifies_but_proves_nothing(same_session: bool) -> None:
    out = accept(pending(), ConfirmLink(sent_link().nonce_hash, same_session=same_session))
    assert out.account.email_unproven is True and out.account.email == EMAIL
    assert out.effects == (audit("email_verified", detail="link_outside_session"),)
    assert out.step is Step.LOGIN and out.grants_session is False


def test_a_dead_link_is_refused_and_recorded() -> None:
    late = refuse(pending(), ConfirmLink(sent_link().nonce_hash), at=LIFETIME + TICK)
    assert late.reason is Reason.LINK_EXPIRED and late.account is None
    assert late.effects == (audit("link_confirm", "link_expired", at=LIFETIME + TICK),)


# ---------------------------------------------------------------- the code


def test_the_right_code_verifies_in_session() -> None:
    out = accept(pending(), SubmitCode(link_code().lower()), at=LIFETIME)
    assert out.account.stage is Stage.PASSWORD_REQUIRED and out.account.email_unproven is False
    assert out.account.links == (attrs.evolve(sent_link(), status=LinkStatus.USED),)
    assert out.effects == (audit("email_verified", detail="code", at=LIFETIME),)
    assert out.grants_session is True and out.step is Step.PASSWORD


def test_a_wrong_code_is_counted_on_the_link() -> None:
    out = refuse(pending(), SubmitCode("ZZZZZZZZ"), at=TICK)
    assert (out.reason, out.field) == (Reason.CODE_INVALID, "code")
    assert out.account == attrs.evolve(pending(), links=(
        attrs.evolve(sent_link(), code_failures=1),))
    assert out.effects == (audit("code", "wrong_code", at=TICK),)


def test_the_last_allowed_wrong_code_exhausts_it() -> None:
    almost = pending(links=(attrs.evolve(sent_link(), code_failures=MAX_CODES - 2),))
    assert refuse(almost, SubmitCode("ZZZZZZZZ")).reason is Reason.CODE_INVALID
    last = pending(links=(attrs.evolve(sent_link(), code_failures=MAX_CODES - 1),))
    out = refuse(last, SubmitCode("ZZZZZZZZ"))
    assert (out.reason, out.field) == (Reason.CODE_ATTEMPTS_EXCEEDED, "code")
    assert out.account is not None and out.account.links[0].code_failures == MAX_CODES
    spent = pending(links=(attrs.evolve(sent_link(), code_failures=MAX_CODES),))
    done = refuse(spent, SubmitCode(link_code()))
    assert (done.reason, done.field, done.account, done.effects) == (
        Reason.CODE_ATTEMPTS_EXCEEDED, "code", None, ())


def test_a_malformed_code_is_not_counted() -> None:
    out = refuse(pending(), SubmitCode("12"))
    assert (out.reason, out.field, out.account, out.effects) == (
        Reason.CODE_INVALID, "code", None, ())


def test_a_code_needs_a_live_unexpired_link_with_a_code() -> None:
    late = refuse(pending(), SubmitCode(link_code()), at=LIFETIME + TICK)
    assert (late.reason, late.field, late.effects) == (Reason.LINK_EXPIRED, "code", ())
    no_code = pending(links=(attrs.evolve(sent_link(), code_digest=None),))
    assert (refuse(no_code, SubmitCode(link_code())).reason,
            refuse(no_code, SubmitCode(link_code())).field) == (Reason.LINK_INVALID, "code")
    assert refuse(pending(links=()), SubmitCode(link_code())).reason is Reason.LINK_INVALID


# ---------------------------------------------------------------- password and answer


def at_password(**kw: object) -> Account:
    values: dict[str, object] = {"stage": Stage.PASSWORD_REQUIRED, "email": EMAIL,
                                 "email_verified_at": START}
    return new_account(**{**values, **kw})


def test_setting_the_password_leads_to_the_question() -> None:
    out = accept(at_password(), SetPassword(GOOD_PASSWORD, GOOD_PASSWORD))
    assert out.account.stage is Stage.QUESTION_REQUIRED and out.step is Step.QUESTION
    assert out.account.password_hash == ENV.crypto.hasher.hash(GOOD_PASSWORD, ENTROPY.salt)
    assert out.account.initial_digest is None and out.account.session_epoch == 1
    assert out.effects[1] == audit("password_set") and out.grants_session is True
    assert out.effects[0] == SendNotice(
        Notice.PASSWORD_CHANGED, "acc-1", Channel.EMAIL, START, to=EMAIL,
        token=link_token(LinkPurpose.NOT_ME), ip=IP, user_agent=AGENT)


def test_a_member_with_an_answer_or_no_questions_goes_straight_to_the_profile() -> None:
    out = accept(at_password(answer_hash="x"), SetPassword(GOOD_PASSWORD, GOOD_PASSWORD))
    assert out.account.stage is Stage.ACTIVE and out.step is Step.PROFILE
    out = accept(at_password(), SetPassword(GOOD_PASSWORD, GOOD_PASSWORD), env=NO_QUESTIONS)
    assert out.account.stage is Stage.ACTIVE


def at_question(**kw: object) -> Account:
    values: dict[str, object] = {"stage": Stage.QUESTION_REQUIRED, "email": EMAIL,
                                 "email_verified_at": START, "password_hash": PASSWORD_HASH}
    return new_account(**{**values, **kw})


def test_the_answer_completes_the_journey() -> None:
    out = accept(at_question(), SetSecretAnswer(QUESTION, ANSWER, " lefevre "), at=TICK)
    assert out.account == attrs.evolve(
        at_question(), stage=Stage.ACTIVE, question_id=QUESTION,
        answer_hash=ENV.crypto.hasher.hash("lefevre", ENTROPY.salt))
    assert out.effects == (audit("secret_answer_set", at=TICK),)
    assert out.step is Step.PROFILE and out.grants_session is False


@pytest.mark.parametrize(("event", "reason", "field", "others"), [
    (SetSecretAnswer("nope", ANSWER, ANSWER), Reason.QUESTION_UNKNOWN, "question", ()),
    (SetSecretAnswer(wrong_type(3), ANSWER, ANSWER), Reason.QUESTION_UNKNOWN, "question", ()),
    (SetSecretAnswer(QUESTION, ANSWER, "Dupuis"), Reason.ANSWERS_DIFFER, "confirmation", ()),
    (SetSecretAnswer(QUESTION, "100234567", "100234567"),
     Reason.ANSWER_SAME_AS_MEMBER_NUMBER, "answer", ()),
    (SetSecretAnswer(QUESTION, wrong_type(None), ANSWER), Reason.INPUT_INVALID, "answer", ()),
    (SetSecretAnswer(QUESTION, GOOD_PASSWORD, GOOD_PASSWORD),
     Reason.ANSWER_SAME_AS_PASSWORD, "answer", ()),
])
def test_answer_rules(event: SetSecretAnswer, reason: Reason, field: str,
                      others: tuple[Reason, ...]) -> None:
    out = refuse(at_question(), event)
    assert (out.reason, out.field, out.others, out.account, out.effects) == (
        reason, field, others, None, ())


def test_every_broken_answer_rule_is_named() -> None:
    out = refuse(at_question(), SetSecretAnswer(QUESTION, "100234567", "x"))
    assert (out.reason, out.field, out.others) == (
        Reason.ANSWERS_DIFFER, "confirmation", (Reason.ANSWER_SAME_AS_MEMBER_NUMBER,))
    out = refuse(at_question(), SetSecretAnswer(QUESTION, "aa", "aa"))
    assert (out.reason, out.field, out.others) == (Reason.ANSWER_TRIVIAL, "answer", ())


def test_the_answer_may_be_the_password_only_if_there_is_none() -> None:
    out = accept(at_question(password_hash=None),
                 SetSecretAnswer(QUESTION, GOOD_PASSWORD, GOOD_PASSWORD))
    assert out.account.stage is Stage.ACTIVE


def test_an_answer_typed_otherwise_than_the_password_is_still_the_password() -> None:
    # The comparison form of the answer (casefolded, without punctuation) is tried too.
    folded = ENV.crypto.hasher.hash("le chat de ma voisine 1987", b"f" * 16)
    out = refuse(at_question(password_hash=folded),
                 SetSecretAnswer(QUESTION, "Le Chat De Ma Voisine, 1987!",
                                 "Le Chat De Ma Voisine, 1987!"))
    assert (out.reason, out.field) == (Reason.ANSWER_SAME_AS_PASSWORD, "answer")


def test_without_an_address_the_answer_is_compared_with_none() -> None:
    out = refuse(at_question(email=None), SetSecretAnswer(QUESTION, "XXXX", "XXXX"))
    assert (out.reason, out.others) == (Reason.ANSWER_TRIVIAL, ())


def test_without_any_address_the_password_is_compared_with_none() -> None:
    phrase = "Le grand XXXX de ma voisine 1987"
    out = accept(at_password(email=None, email_verified_at=None), SetPassword(phrase, phrase))
    assert out.account.password_hash == ENV.crypto.hasher.hash(phrase, ENTROPY.salt)


def test_no_answer_when_questions_are_off() -> None:
    out = refuse(at_question(), SetSecretAnswer(QUESTION, ANSWER, ANSWER), env=NO_QUESTIONS)
    assert (out.reason, out.field) == (Reason.QUESTIONS_DISABLED, None)
