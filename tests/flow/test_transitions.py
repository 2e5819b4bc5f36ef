"""Unit tests of the pure flow: every transition, and every (stage, event) pair."""

from __future__ import annotations

import ast
import itertools
import pathlib
import typing
from datetime import timedelta

import attrs
import pytest

from cegema_onboarding import flow, lockout
from cegema_onboarding.config import LockoutPolicy
from cegema_onboarding.flow import (
    TABLE,
    Accepted,
    ChangeEmail,
    ConfirmLink,
    DeclareNoEmail,
    Entropy,
    Env,
    Login,
    Notice,
    Origin,
    Reason,
    Refused,
    ResendLink,
    SendNotice,
    SetPassword,
    SetSecretAnswer,
    StaffActivate,
    StaffReject,
    SubmitCode,
    SubmitEmail,
)
from cegema_onboarding.model import Account, Channel, LinkPurpose, LinkStatus, Stage, Step, Throttle
from cegema_onboarding.tokens import nonce_hash

from ..conftest import GOOD_PASSWORD, START, make_settings

INITIAL = "ABCD2345EFGH6789"
ENV = Env.from_settings(make_settings())
ENV_NOQ = Env.from_settings(make_settings(secret_questions=False))
_counter = itertools.count()


def entropy() -> Entropy:
    n = next(_counter)
    return Entropy(salt=bytes([n % 256]) * 16, nonce=n.to_bytes(32, "big"),
                   extra=(n + 1_000_000).to_bytes(32, "big"),
                   code=(n + 7).to_bytes(8, "big"))


def new_account(env: Env = ENV, **kw: object) -> Account:
    base = Account(
        account_id="acc-1",
        member_number="100234567",
        name="Marie Dupont",
        created_at=START,
        initial_digest=env.crypto.pepper.digest(INITIAL),
        initial_issued_at=START,
    )
    return attrs.evolve(base, **kw)


def run(account: Account, event: flow.Event, at: timedelta = timedelta(0),
        env: Env = ENV) -> flow.Outcome:
    return flow.step(account, event, START + at, env, entropy=entropy(),
                     origin=Origin(ip="172.17.0.14"))


def accept(account: Account, event: flow.Event, at: timedelta = timedelta(0),
           env: Env = ENV) -> Accepted:
    outcome = run(account, event, at, env)
    assert isinstance(outcome, Accepted), outcome
    return outcome


def refuse(account: Account, event: flow.Event, at: timedelta = timedelta(0),
           env: Env = ENV) -> Refused:
    outcome = run(account, event, at, env)
    assert isinstance(outcome, Refused), outcome
    return outcome


def notices(outcome: Accepted) -> list[SendNotice]:
    return [e for e in outcome.effects if isinstance(e, SendNotice)]


def pending(env: Env = ENV) -> tuple[Account, str]:
    """An account whose validation link was just sent, and that link's nonce hash."""
    a = accept(new_account(env, stage=Stage.EMAIL_REQUIRED),
               SubmitEmail("marie@example.com", "marie@example.com"), env=env)
    link = a.account.links[-1]
    return a.account, link.nonce_hash


def token_hash_of(outcome: Accepted) -> str:
    (notice,) = notices(outcome)
    assert notice.token is not None
    return ENV.crypto.signer.parse(notice.token, LinkPurpose.VERIFY_EMAIL.value).nonce_hash


# ---------------------------------------------------------------- login


@pytest.mark.parametrize("typed", [INITIAL, INITIAL.lower(), "abcd-2345-efgh-6789",
                                   " ABCD 2345 EFGH 6789 ", "ABCD2345EFGH6789".replace("2", "2")])
def test_initial_login_normalises_case_spaces_and_dashes(typed: str) -> None:
    out = accept(new_account(), Login(typed))
    assert out.account.stage is Stage.EMAIL_REQUIRED
    assert out.step is Step.EMAIL
    assert out.grants_session


def test_initial_login_maps_look_alikes() -> None:
    env_account = new_account(initial_digest=ENV.crypto.pepper.digest("0123456789ABCDEF"))
    out = accept(env_account, Login("O123456789ABCDEF"))
    assert out.account.stage is Stage.EMAIL_REQUIRED
    out = accept(env_account, Login("0I23456789ABCDEF"))
    assert out.account.stage is Stage.EMAIL_REQUIRED


def test_wrong_password_is_refused_and_changes_nothing() -> None:
    account = new_account()
    out = refuse(account, Login("WRONGWRONGWRONG0"))
    assert out.reason is Reason.BAD_CREDENTIALS
    assert out.account is None
    assert [e.outcome for e in out.effects if isinstance(e, flow.Audit)] == ["bad_credentials"]


def test_every_login_costs_exactly_one_slow_hash_whatever_the_account() -> None:
    hasher = ENV.crypto.hasher
    active = accept(new_account(stage=Stage.PASSWORD_REQUIRED),
                    SetPassword(GOOD_PASSWORD, GOOD_PASSWORD)).account
    cases: list[tuple[Account | None, str]] = [
        (None, "whatever"),
        (new_account(), INITIAL),
        (new_account(), "wrong"),
        (new_account(stage=Stage.EMAIL_PENDING), INITIAL),
        (active, GOOD_PASSWORD),
        (active, "wrong"),
        (attrs.evolve(active, stage=Stage.ACTIVE, disabled=True), GOOD_PASSWORD),
    ]
    for account, password in cases:
        before = hasher.calls
        if account is None:
            flow.login_unknown(password, ENV, START)
        else:
            run(account, Login(password))
        assert hasher.calls - before == 1, (account and account.stage, password)


def test_over_long_password_is_refused_before_any_hashing() -> None:
    hasher = ENV.crypto.hasher
    before = hasher.calls
    out = refuse(new_account(), Login("A" * 1_000_000))
    assert out.reason is Reason.BAD_CREDENTIALS
    flow.login_unknown("A" * 1_000_000, ENV, START)
    assert hasher.calls == before


def test_initial_credentials_expire() -> None:
    account = new_account()
    lifetime = ENV.settings.initial_password_lifetime
    assert lifetime is not None
    accept(account, Login(INITIAL), lifetime)
    out = refuse(account, Login(INITIAL), lifetime + timedelta(seconds=1))
    assert out.reason is Reason.INITIAL_CREDENTIALS_EXPIRED
    # A wrong password on an expired account still says nothing particular.
    assert refuse(account, Login("nope"), lifetime * 2).reason is Reason.BAD_CREDENTIALS


def test_disabled_account_is_told_only_after_right_credentials() -> None:
    account = new_account(disabled=True)
    assert refuse(account, Login("nope")).reason is Reason.BAD_CREDENTIALS
    assert refuse(account, Login(INITIAL)).reason is Reason.DISABLED
    assert refuse(attrs.evolve(account, stage=Stage.EMAIL_REQUIRED),
                  SubmitEmail("a@example.com", "a@example.com")).reason is Reason.DISABLED


def test_login_resumes_where_the_member_stopped() -> None:
    account, _ = pending()
    assert accept(account, Login(INITIAL), timedelta(hours=3)).step is Step.CHECK_MAILBOX
    # After the link's 24 hours, the email step again, with the address filled in.
    out = accept(account, Login(INITIAL), timedelta(hours=25))
    assert out.step is Step.EMAIL
    assert out.account.pending_email == "marie@example.com"
    waiting = new_account(stage=Stage.AWAITING_ACTIVATION)
    assert accept(waiting, Login(INITIAL)).step is Step.AWAITING_ACTIVATION
    ready = new_account(stage=Stage.PASSWORD_REQUIRED)
    assert accept(ready, Login(INITIAL)).step is Step.PASSWORD


def test_new_password_replaces_initial_one() -> None:
    account = accept(new_account(stage=Stage.PASSWORD_REQUIRED),
                     SetPassword(GOOD_PASSWORD, GOOD_PASSWORD)).account
    assert refuse(account, Login(INITIAL)).reason is Reason.BAD_CREDENTIALS
    out = accept(account, Login(GOOD_PASSWORD))
    assert out.step is Step.QUESTION


def test_login_rehashes_when_parameters_change() -> None:
    old_env = Env.from_settings(make_settings())
    account = accept(new_account(stage=Stage.PASSWORD_REQUIRED),
                     SetPassword(GOOD_PASSWORD, GOOD_PASSWORD), env=old_env).account
    from cegema_onboarding.hashing import Argon2Params

    stronger = Env.from_settings(make_settings(
        argon2=Argon2Params(memory_kib=128, iterations=2, lanes=1, allow_weak=True)))
    out = accept(account, Login(GOOD_PASSWORD), env=stronger)
    assert out.account.password_hash != account.password_hash
    assert out.account.password_hash is not None and "m=128" in out.account.password_hash
    # A failed login changes nothing, old parameters or not.
    assert refuse(account, Login("wrong"), env=stronger).account is None


# ---------------------------------------------------------------- email step


def test_emails_must_match() -> None:
    out = refuse(new_account(stage=Stage.EMAIL_REQUIRED),
                 SubmitEmail("marie@example.com", "marie@exemple.com"))
    assert (out.reason, out.field, out.account) == (Reason.EMAILS_DIFFER, "confirmation", None)


@pytest.mark.parametrize("bad", ["", "marie", "marie@", "@example.com", "a b@example.com",
                                 "marie@example.com\x00", "x" * 300 + "@example.com"])
def test_invalid_addresses_are_refused(bad: str) -> None:
    out = refuse(new_account(stage=Stage.EMAIL_REQUIRED), SubmitEmail(bad, bad))
    assert out.reason is Reason.EMAIL_INVALID
    assert out.field == "email"


def test_email_matching_ignores_case() -> None:
    out = accept(new_account(stage=Stage.EMAIL_REQUIRED),
                 SubmitEmail("Marie@Example.com", "marie@example.COM"))
    assert out.account.stage is Stage.EMAIL_PENDING


def test_submitting_the_email_sends_one_validation_link() -> None:
    out = accept(new_account(stage=Stage.EMAIL_REQUIRED),
                 SubmitEmail("marie@example.com", "marie@example.com"))
    (notice,) = notices(out)
    assert notice.notice is Notice.VALIDATION
    assert notice.to == "marie@example.com"
    assert notice.token and notice.code
    link = out.account.links[-1]
    assert link.expires_at == START + timedelta(hours=24)
    # Only hashes are stored.
    assert notice.token not in repr(out.account) and link.nonce_hash != notice.token
    assert notice.code not in (link.code_digest or "")
    assert out.step is Step.CHECK_MAILBOX


def test_no_email_path_goes_to_staff_queue() -> None:
    out = accept(new_account(stage=Stage.EMAIL_REQUIRED), DeclareNoEmail())
    assert out.account.stage is Stage.AWAITING_ACTIVATION
    assert out.account.activation_requested_at == START
    activated = accept(out.account, StaffActivate("agent7"))
    assert activated.account.stage is Stage.PASSWORD_REQUIRED
    (notice,) = notices(activated)
    assert notice.channel is Channel.POST
    audit = [e for e in activated.effects if isinstance(e, flow.Audit)]
    assert audit[0].actor == "staff:agent7"


def test_staff_rejection_returns_to_email_step_with_reason() -> None:
    waiting = new_account(stage=Stage.AWAITING_ACTIVATION)
    out = accept(waiting, StaffReject("agent7", "Merci de nous indiquer une adresse."))
    assert out.account.stage is Stage.EMAIL_REQUIRED
    assert out.account.activation_rejection == "Merci de nous indiquer une adresse."
    assert refuse(waiting, StaffReject("agent7", "x\x00")).reason is Reason.INPUT_INVALID


def test_pending_link_dies_when_member_declares_no_email() -> None:
    account, token_hash = pending()
    out = accept(account, DeclareNoEmail())
    assert refuse(out.account, ConfirmLink(token_hash)).reason is Reason.LINK_INVALID


# ---------------------------------------------------------------- links


def test_link_valid_at_exactly_24_hours_and_expired_one_second_later() -> None:
    account, token_hash = pending()
    assert flow.inspect_link(account, LinkPurpose.VERIFY_EMAIL, token_hash,
                             START + timedelta(hours=24)) is None
    late = refuse(account, ConfirmLink(token_hash), timedelta(hours=24, seconds=1))
    assert late.reason is Reason.LINK_EXPIRED
    ok = accept(account, ConfirmLink(token_hash), timedelta(hours=24))
    assert ok.account.stage is Stage.PASSWORD_REQUIRED


def test_link_lifetime_is_configurable() -> None:
    env = Env.from_settings(make_settings(link_lifetime=timedelta(hours=2)))
    account, token_hash = pending(env)
    assert refuse(account, ConfirmLink(token_hash), timedelta(hours=2, seconds=1),
                  env=env).reason is Reason.LINK_EXPIRED


def test_confirmed_link_verifies_the_address_and_opens_password_step() -> None:
    account, token_hash = pending()
    out = accept(account, ConfirmLink(token_hash, same_session=True), timedelta(minutes=13))
    assert out.account.email == "marie@example.com"
    assert out.account.email_verified_at == START + timedelta(minutes=13)
    assert out.step is Step.PASSWORD and out.grants_session


def test_a_link_confirmed_outside_the_members_session_opens_no_session() -> None:
    """Whoever reads a mistyped address can verify it, never take the account over."""
    account, token_hash = pending()
    out = accept(account, ConfirmLink(token_hash), timedelta(minutes=13))
    assert out.account.stage is Stage.PASSWORD_REQUIRED
    assert out.step is Step.LOGIN and not out.grants_session
    # The member goes on with the initial credentials, at the password step.
    assert accept(out.account, Login(INITIAL)).step is Step.PASSWORD


def test_a_link_never_works_twice() -> None:
    account, token_hash = pending()
    used = accept(account, ConfirmLink(token_hash)).account
    assert refuse(used, ConfirmLink(token_hash)).reason is Reason.LINK_USED


def test_resending_supersedes_the_older_link() -> None:
    account, first = pending()
    assert refuse(account, ResendLink(), timedelta(seconds=10)).reason is Reason.RATE_LIMITED
    resent = accept(account, ResendLink(), timedelta(minutes=2))
    second = token_hash_of(resent)
    assert refuse(resent.account, ConfirmLink(first)).reason is Reason.LINK_SUPERSEDED
    assert accept(resent.account, ConfirmLink(second)).account.stage is Stage.PASSWORD_REQUIRED


def test_changing_the_address_before_validating() -> None:
    account, first = pending()
    back = accept(account, ChangeEmail())
    assert back.account.stage is Stage.EMAIL_REQUIRED and back.step is Step.EMAIL
    assert back.account.pending_email == "marie@example.com"
    again = accept(back.account, SubmitEmail("marie.d@example.org", "marie.d@example.org"))
    assert refuse(again.account, ConfirmLink(first)).reason is Reason.LINK_SUPERSEDED
    done = accept(again.account, ConfirmLink(token_hash_of(again)))
    assert done.account.email == "marie.d@example.org"


def test_unknown_link_hash_is_invalid() -> None:
    account, _ = pending()
    assert refuse(account, ConfirmLink(nonce_hash(b"x" * 32))).reason is Reason.LINK_INVALID


def test_code_is_an_alternative_to_the_link() -> None:
    out = accept(new_account(stage=Stage.EMAIL_REQUIRED),
                 SubmitEmail("marie@example.com", "marie@example.com"))
    (notice,) = notices(out)
    assert notice.code is not None
    spaced = notice.code[:4].lower() + "-" + notice.code[4:].lower()
    done = accept(out.account, SubmitCode(spaced))
    assert done.account.stage is Stage.PASSWORD_REQUIRED


def test_wrong_codes_are_counted_and_exhaust_the_code() -> None:
    out = accept(new_account(stage=Stage.EMAIL_REQUIRED),
                 SubmitEmail("marie@example.com", "marie@example.com"))
    (notice,) = notices(out)
    account = out.account
    for i in range(ENV.settings.code_max_attempts):
        wrong = refuse(account, SubmitCode("ZZZZZZZZ"))
        assert wrong.account is not None
        account = wrong.account
        assert account.links[-1].code_failures == i + 1
    final = refuse(account, SubmitCode(notice.code or ""))
    assert final.reason is Reason.CODE_ATTEMPTS_EXCEEDED
    # The link itself still works: the code's limit only protects the short secret.
    assert accept(account, ConfirmLink(token_hash_of(out))).account.stage \
        is Stage.PASSWORD_REQUIRED


# ---------------------------------------------------------------- password


@pytest.mark.parametrize(("password", "confirmation", "reason"), [
    ("", "", Reason.PASSWORD_EMPTY),
    ("court", "court", Reason.PASSWORD_TOO_SHORT),
    ("x" * 1025, "x" * 1025, Reason.PASSWORD_TOO_LONG),
    (GOOD_PASSWORD, GOOD_PASSWORD + "!", Reason.PASSWORDS_DIFFER),
    ("password1234", "password1234", Reason.PASSWORD_COMMON),
    ("mon numero 100234567", "mon numero 100234567", Reason.PASSWORD_CONTAINS_MEMBER_NUMBER),
    ("jesuis marie dupont!", "jesuis marie dupont!", Reason.PASSWORD_CONTAINS_NAME),
    ("vive cegema forever", "vive cegema forever", Reason.PASSWORD_CONTAINS_SITE_NAME),
    (INITIAL, INITIAL, Reason.PASSWORD_SAME_AS_INITIAL),
    (INITIAL.lower(), INITIAL.lower(), Reason.PASSWORD_SAME_AS_INITIAL),
])
def test_password_rules_each_give_their_reason(password: str, confirmation: str,
                                               reason: Reason) -> None:
    out = refuse(new_account(stage=Stage.PASSWORD_REQUIRED), SetPassword(password, confirmation))
    assert reason in (out.reason, *out.others)
    assert out.account is None


def test_long_unicode_passwords_are_accepted_untruncated() -> None:
    pw = "ŝecret ünïcødé 🦊 " * 4
    out = accept(new_account(stage=Stage.PASSWORD_REQUIRED), SetPassword(pw, pw))
    assert ENV.crypto.hasher.verify(pw, out.account.password_hash or "")
    assert not ENV.crypto.hasher.verify(pw[:-1], out.account.password_hash or "")


def test_setting_the_password_kills_initial_credentials_links_and_sessions() -> None:
    account, token_hash = pending()
    ready = accept(account, ConfirmLink(token_hash, same_session=True)).account
    out = accept(ready, SetPassword(GOOD_PASSWORD, GOOD_PASSWORD))
    new = out.account
    assert new.initial_digest is None
    assert new.session_epoch == ready.session_epoch + 1
    assert all(lk.status is not LinkStatus.LIVE for lk in new.links)
    assert new.stage is Stage.QUESTION_REQUIRED and out.step is Step.QUESTION
    (notice,) = notices(out)
    assert (notice.notice, notice.channel, notice.to, notice.ip) == (
        Notice.PASSWORD_CHANGED, Channel.EMAIL, "marie@example.com", "172.17.0.14")


def test_password_cannot_be_set_before_email_is_verified() -> None:
    for stage in (Stage.PROVISIONED, Stage.EMAIL_REQUIRED, Stage.EMAIL_PENDING,
                  Stage.AWAITING_ACTIVATION):
        out = refuse(new_account(stage=stage), SetPassword(GOOD_PASSWORD, GOOD_PASSWORD))
        assert out.reason is Reason.INVALID_STEP


def test_no_email_member_gets_the_password_notice_by_post() -> None:
    out = accept(new_account(stage=Stage.PASSWORD_REQUIRED),
                 SetPassword(GOOD_PASSWORD, GOOD_PASSWORD))
    (notice,) = notices(out)
    assert notice.channel is Channel.POST and notice.to is None


def test_questions_off_skips_the_question_step() -> None:
    out = accept(new_account(ENV_NOQ, stage=Stage.PASSWORD_REQUIRED),
                 SetPassword(GOOD_PASSWORD, GOOD_PASSWORD), env=ENV_NOQ)
    assert out.account.stage is Stage.ACTIVE and out.step is Step.PROFILE
    # A member left at the question step when the host turns questions off moves on.
    stuck = attrs.evolve(out.account, stage=Stage.QUESTION_REQUIRED)
    assert accept(stuck, Login(GOOD_PASSWORD), env=ENV_NOQ).account.stage is Stage.ACTIVE
    assert refuse(stuck, SetSecretAnswer("first_pet", "Rex", "Rex"), env=ENV_NOQ).reason \
        is Reason.QUESTIONS_DISABLED


# ---------------------------------------------------------------- secret question


def question_account() -> Account:
    return accept(new_account(stage=Stage.PASSWORD_REQUIRED, email="marie@example.com"),
                  SetPassword(GOOD_PASSWORD, GOOD_PASSWORD)).account


def test_secret_answer_completes_the_journey() -> None:
    account = question_account()
    qid = next(iter(ENV.settings.questions)).id
    out = accept(account, SetSecretAnswer(qid, "Lefèvre", "  lefevre "))
    assert out.account.stage is Stage.ACTIVE and out.step is Step.PROFILE
    assert out.account.question_id == qid
    stored = out.account.answer_hash or ""
    assert stored.startswith("$argon2id$") and "lef" not in stored.lower()
    assert ENV.crypto.hasher.verify("lefevre", stored)


@pytest.mark.parametrize(("qid", "answer", "confirmation", "reason"), [
    ("no_such_question", "Lefèvre", "Lefèvre", Reason.QUESTION_UNKNOWN),
    ("mother_maiden_name", "Lefèvre", "Martin", Reason.ANSWERS_DIFFER),
    ("mother_maiden_name", "", "", Reason.ANSWER_EMPTY),
    ("mother_maiden_name", "aucun", "aucun", Reason.ANSWER_TRIVIAL),
    ("mother_maiden_name", "100234567", "100234567", Reason.ANSWER_SAME_AS_MEMBER_NUMBER),
    ("mother_maiden_name", "marie@example.com", "marie@example.com",
     Reason.ANSWER_SAME_AS_EMAIL),
    ("mother_maiden_name", GOOD_PASSWORD, GOOD_PASSWORD, Reason.ANSWER_SAME_AS_PASSWORD),
    ("mother_maiden_name", "x" * 10_000, "x" * 10_000, Reason.ANSWER_TOO_LONG),
])
def test_secret_answer_rules(qid: str, answer: str, confirmation: str, reason: Reason) -> None:
    out = refuse(question_account(), SetSecretAnswer(qid, answer, confirmation))
    assert reason in (out.reason, *out.others)


def test_journey_cannot_finish_without_the_answer() -> None:
    account = question_account()
    assert accept(account, Login(GOOD_PASSWORD)).step is Step.QUESTION
    assert account.stage is Stage.QUESTION_REQUIRED


# ---------------------------------------------------------------- lockout


def test_lockout_delays_grow_and_stop_at_the_hard_limit() -> None:
    policy = LockoutPolicy(free_attempts=3, base_delay=timedelta(seconds=10),
                           max_delay=timedelta(minutes=5), hard_limit=8)
    t = Throttle("login:1")
    now = START
    waits = []
    for _ in range(policy.hard_limit):
        reserved = lockout.reserve_attempt(t, now, policy)
        assert isinstance(reserved, Throttle)
        t = reserved
        wait = lockout.lockout_wait(t, now, policy)
        waits.append(wait)
        if wait is not None and wait != timedelta.max:
            assert isinstance(lockout.reserve_attempt(t, now, policy), Refused)
            now += wait
    assert waits[:2] == [None, None]
    assert waits[2:7] == [timedelta(seconds=10), timedelta(seconds=20), timedelta(seconds=40),
                          timedelta(seconds=80), timedelta(seconds=160)]
    assert waits[7] == timedelta.max
    refused = lockout.reserve_attempt(t, now + timedelta(days=365), policy)
    assert isinstance(refused, Refused) and refused.reason is Reason.LOCKED
    assert lockout.lockout_wait(lockout.clear_attempts(t), now, policy) is None


def test_lockout_policy_stays_well_under_one_hundred() -> None:
    from cegema_onboarding.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        LockoutPolicy(hard_limit=100)
    assert LockoutPolicy().hard_limit < 100


# ---------------------------------------------------------------- exhaustive


def sample_events(account: Account) -> list[flow.Event]:
    live = [lk for lk in account.links if lk.status is LinkStatus.LIVE]
    link_hash = live[-1].nonce_hash if live else nonce_hash(b"y" * 32)
    return [
        Login(INITIAL), Login(GOOD_PASSWORD), Login("wrong"),
        SubmitEmail("marie@example.com", "marie@example.com"), SubmitEmail("a@b.fr", "c@d.fr"),
        DeclareNoEmail(), ResendLink(), ChangeEmail(),
        ConfirmLink(link_hash), SubmitCode("ZZZZZZZZ"),
        SetPassword(GOOD_PASSWORD, GOOD_PASSWORD), SetPassword("court", "court"),
        SetSecretAnswer("first_pet", "Rex le chien", "Rex le chien"),
        StaffActivate("agent1"), StaffReject("agent1", "motif"),
    ]


def accounts_in_every_stage() -> list[Account]:
    found = {}
    account, _ = pending()
    found[Stage.EMAIL_PENDING] = account
    found[Stage.PROVISIONED] = new_account()
    found[Stage.EMAIL_REQUIRED] = new_account(stage=Stage.EMAIL_REQUIRED)
    found[Stage.AWAITING_ACTIVATION] = new_account(stage=Stage.AWAITING_ACTIVATION)
    found[Stage.PASSWORD_REQUIRED] = new_account(stage=Stage.PASSWORD_REQUIRED,
                                                 email="marie@example.com")
    q = question_account()
    found[Stage.QUESTION_REQUIRED] = q
    found[Stage.ACTIVE] = attrs.evolve(q, stage=Stage.ACTIVE)
    assert set(found) == set(Stage)
    return list(found.values())


@pytest.mark.parametrize("account", accounts_in_every_stage(), ids=lambda a: a.stage.value)
def test_every_stage_event_pair_moves_to_an_allowed_stage_or_changes_nothing(
        account: Account) -> None:
    for event in sample_events(account):
        outcome = run(account, event, timedelta(minutes=5))
        allowed = TABLE[account.stage].get(type(event))
        if isinstance(outcome, Accepted):
            assert allowed is not None, (account.stage, event)
            assert outcome.account.stage in allowed
        else:
            if allowed is None:
                assert outcome.account is None and not outcome.effects
            elif outcome.account is not None:
                # Only bookkeeping: the journey's position never moves on a refusal.
                assert outcome.account.stage is account.stage
                assert isinstance(event, SubmitCode)


def test_table_covers_every_stage_and_every_event_type() -> None:
    assert set(TABLE) == set(Stage)
    used = {event for row in TABLE.values() for event in row}
    assert used == set(typing.get_args(flow.Event))
    reachable = {Stage.PROVISIONED}
    for _ in Stage:
        for stage in list(reachable):
            for targets in TABLE[stage].values():
                reachable.update(targets)
    assert reachable == set(Stage)



def _table_as_built_before() -> dict[Stage, dict[type, tuple[Stage, ...]]]:
    """A frozen copy of how TABLE was assembled by code before it was written out."""
    f = flow
    journey: dict[Stage, dict[type, tuple[Stage, ...]]] = {
        Stage.PROVISIONED: {f.Login: (Stage.EMAIL_REQUIRED,)},
        Stage.EMAIL_REQUIRED: {f.Login: (Stage.EMAIL_REQUIRED,),
                               f.SubmitEmail: (Stage.EMAIL_PENDING,),
                               f.DeclareNoEmail: (Stage.AWAITING_ACTIVATION,)},
        Stage.EMAIL_PENDING: {f.Login: (Stage.EMAIL_PENDING,),
                              f.SubmitEmail: (Stage.EMAIL_PENDING,),
                              f.ResendLink: (Stage.EMAIL_PENDING,),
                              f.ChangeEmail: (Stage.EMAIL_REQUIRED,),
                              f.ConfirmLink: (Stage.PASSWORD_REQUIRED,),
                              f.SubmitCode: (Stage.PASSWORD_REQUIRED,),
                              f.DeclareNoEmail: (Stage.AWAITING_ACTIVATION,)},
        Stage.AWAITING_ACTIVATION: {f.Login: (Stage.AWAITING_ACTIVATION,),
                                    f.SubmitEmail: (Stage.EMAIL_PENDING,),
                                    f.StaffActivate: (Stage.PASSWORD_REQUIRED,),
                                    f.StaffReject: (Stage.EMAIL_REQUIRED,)},
        Stage.PASSWORD_REQUIRED: {f.Login: (Stage.PASSWORD_REQUIRED,),
                                  f.SetPassword: (Stage.QUESTION_REQUIRED, Stage.ACTIVE)},
        Stage.QUESTION_REQUIRED: {f.Login: (Stage.QUESTION_REQUIRED, Stage.ACTIVE),
                                  f.SetSecretAnswer: (Stage.ACTIVE,)},
        Stage.ACTIVE: {f.Login: (Stage.ACTIVE,)},
    }
    after_password = (f.RequestReset, f.CompleteReset, f.StaffAssistedReset, f.ChangePassword,
                      f.RemindIdentifier, f.ConfirmNotMe, f.RevokeRemember)
    active_only = (f.RememberLogin, f.RequestEmailChange, f.ConfirmEmailChange,
                   f.UpdateProfile)
    admin = (f.StaffUnlock, f.StaffDisable, f.StaffEnable, f.SetAdviser, f.StaffReissue,
             f.StaffVerifyEmail)
    table = {stage: dict(row) for stage, row in journey.items()}
    for stage in (Stage.QUESTION_REQUIRED, Stage.ACTIVE):
        for event in after_password:
            table[stage][event] = (stage,)
    for event in active_only:
        table[Stage.ACTIVE][event] = (Stage.ACTIVE,)
    table[Stage.PASSWORD_REQUIRED][f.RemindIdentifier] = (Stage.PASSWORD_REQUIRED,)
    for stage, row in table.items():
        for event in admin:
            row[event] = (stage,)
        for event in (f.StaffReissue, f.StaffVerifyEmail):
            row[event] = tuple(dict.fromkeys((stage, Stage.PASSWORD_REQUIRED)))
    return table


def test_the_written_out_table_is_the_one_built_before() -> None:
    before = _table_as_built_before()
    assert {s: dict(r) for s, r in TABLE.items()} == before
    # Order too: the state diagram and the docs list rows and events in this order.
    assert [(s, list(r.items())) for s, r in TABLE.items()] == [
        (s, list(r.items())) for s, r in before.items()]

_PURE_MODULES = [pathlib.Path(flow.__file__),
                 *sorted((pathlib.Path(flow.__file__).parent / "journey").glob("*.py"))]


@pytest.mark.parametrize("path", _PURE_MODULES, ids=lambda p: p.name)
def test_flow_module_is_pure(path: pathlib.Path) -> None:
    source = path.read_text()
    tree = ast.parse(source)
    banned = {"socket", "smtplib", "sqlite3", "sqlalchemy", "urllib", "http", "random",
              "secrets", "time", "os", "logging", "threading", "subprocess", "email"}
    # The shell's modules: the pure core never reaches back into them.
    shell = {"ports", "service", "mails", "mail", "adapters", "integrations", "relay",
             "provisioning", "bootstrap", "cli", "demo_portal"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & banned
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] not in banned
            if node.level:
                assert node.module.split(".")[0] not in shell, (path.name, node.module)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in {"now", "utcnow", "today"}


def test_events_and_accounts_do_not_show_secrets_in_repr() -> None:
    assert GOOD_PASSWORD not in repr(SetPassword(GOOD_PASSWORD, GOOD_PASSWORD))
    assert INITIAL not in repr(Login(INITIAL))
    account = question_account()
    assert "argon2" not in repr(account)
    assert (account.password_hash or "x") not in repr(account)


# ---------------------------------------------------------------- account life (issue 3)


def life_events(account: Account) -> list[flow.Event]:
    h = nonce_hash(b"z" * 32)
    return [
        flow.RememberLogin("c2VyaWVzLXNlcmllcy0xMg", "0" * 64), flow.RevokeRemember(),
        flow.RequestReset(), flow.CompleteReset(h, "Rex", GOOD_PASSWORD, GOOD_PASSWORD),
        flow.StaffAssistedReset("agent1", "Rex", GOOD_PASSWORD, GOOD_PASSWORD),
        flow.ChangePassword(GOOD_PASSWORD, "Une autre phrase 2026", "Une autre phrase 2026"),
        flow.RemindIdentifier(),
        flow.RequestEmailChange(GOOD_PASSWORD, "n@example.org", "n@example.org"),
        flow.ConfirmEmailChange(h), flow.ConfirmNotMe(h), flow.UpdateProfile(pets=True),
        flow.SetAdviser(None), flow.StaffUnlock("agent1"), flow.StaffDisable("agent1"),
        flow.StaffEnable("agent1"), flow.StaffReissue("agent1"),
        flow.StaffVerifyEmail("agent1", "v@example.org"),
    ]


@pytest.mark.parametrize("account", accounts_in_every_stage(), ids=lambda a: a.stage.value)
def test_account_life_events_follow_the_table(account: Account) -> None:
    for event in life_events(account):
        outcome = flow.step(account, event, START + timedelta(minutes=5), ENV,
                            entropy=attrs.evolve(entropy(), series=b"s" * 16),
                            origin=Origin(ip="172.17.0.14"))
        allowed = TABLE[account.stage].get(type(event))
        if isinstance(outcome, Accepted):
            assert allowed is not None and outcome.account.stage in allowed, event
        elif allowed is None:
            assert outcome.account is None and not outcome.effects
        elif outcome.account is not None:
            assert outcome.account.stage is account.stage


def test_admin_events_work_on_disabled_accounts_and_member_events_do_not() -> None:
    account = attrs.evolve(question_account(), stage=Stage.ACTIVE, disabled=True)
    assert accept(account, flow.StaffEnable("agent1")).account.disabled is False
    assert refuse(account, flow.UpdateProfile(pets=True)).reason is Reason.DISABLED
    assert refuse(account, flow.RequestReset()).reason is Reason.DISABLED


def test_password_change_issues_a_not_me_link_kept_apart_from_the_journey_links() -> None:
    out = accept(new_account(stage=Stage.PASSWORD_REQUIRED, email="marie@example.com"),
                 SetPassword(GOOD_PASSWORD, GOOD_PASSWORD))
    (link,) = out.account.not_me_links
    assert link.purpose is LinkPurpose.NOT_ME and link.address == "marie@example.com"
    assert link.expires_at - link.issued_at == ENV.settings.not_me_link_lifetime
    (notice,) = notices(out)
    assert notice.token is not None
    claims = ENV.crypto.signer.parse(notice.token, LinkPurpose.NOT_ME.value)
    assert flow.inspect_link(out.account, LinkPurpose.NOT_ME, claims.nonce_hash, START) is None


def test_reset_request_needs_a_verified_address_and_cools_down() -> None:
    account = attrs.evolve(question_account(), stage=Stage.ACTIVE,
                           email_verified_at=START)
    first = accept(account, flow.RequestReset())
    (notice,) = notices(first)
    assert notice.notice is Notice.RESET and notice.to == "marie@example.com"
    link = first.account.links[-1]
    assert link.expires_at - link.issued_at == ENV.settings.reset_link_lifetime
    assert refuse(first.account, flow.RequestReset()).reason is Reason.RATE_LIMITED
    unverified = attrs.evolve(account, email_verified_at=None)
    assert refuse(unverified, flow.RequestReset()).reason is Reason.RESET_NOT_AVAILABLE
