"""The flow's read-only helpers the shell relies on: rate-limit and lockout keys, link
lifetimes and inspection, the recovery address, where a member resumes, the inputs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cegema_onboarding import flow, lockout, ratelimit
from cegema_onboarding.config import LockoutPolicy, RecoveryPolicy
from cegema_onboarding.flow import Entropy, Origin, Reason, Refused
from cegema_onboarding.model import Link, LinkPurpose, LinkStatus, Stage, Step, Throttle
from cegema_onboarding.ratelimit import Action, Limit, RateLimits

from ..conftest import START, make_settings
from .helpers import ENV, active, new_account, wrong_type

MINUTE = timedelta(minutes=1)
# Every limit different, so that each key is seen to get its own.
LIMITS = RateLimits(login_ip=Limit(1, MINUTE), link_ip=Limit(2, MINUTE),
                    link_identifier=Limit(3, MINUTE), forgot_ip=Limit(4, MINUTE),
                    forgot_identifier=Limit(5, MINUTE), recovery_ip=Limit(6, MINUTE),
                    code_ip=Limit(7, MINUTE), remember_ip=Limit(8, MINUTE))
SETTINGS = make_settings(rate_limits=LIMITS)
TICK = timedelta(microseconds=1)


# ---------------------------------------------------------------- rate-limit keys


@pytest.mark.parametrize(("action", "ip_limit", "id_limit"), [
    (Action.LOGIN, 1, None), (Action.LINK, 2, 3), (Action.FORGOT_PASSWORD, 4, 5),
    (Action.FORGOT_IDENTIFIER, 4, 5), (Action.RECOVERY, 6, None), (Action.CODE, 7, None),
    (Action.REMEMBER, 8, None),
])
def test_each_action_spends_its_own_counters(action: Action, ip_limit: int,
                                             id_limit: int | None) -> None:
    keys = ratelimit.rate_keys(action, SETTINGS, ip="192.0.2.7", identifier="100234567")
    expected = [(f"rl:{action.value}:ip:192.0.2.7", Limit(ip_limit, MINUTE))]
    if id_limit is not None:
        expected.append((f"rl:{action.value}:id:100234567", Limit(id_limit, MINUTE)))
    assert keys == tuple(expected)


def test_no_ip_and_no_identifier_spend_nothing() -> None:
    assert ratelimit.rate_keys(Action.LINK, SETTINGS) == ()
    assert ratelimit.rate_keys(Action.LINK, SETTINGS, ip="", identifier="") == ()
    assert ratelimit.rate_keys(Action.LINK, SETTINGS, identifier="x") == (
        ("rl:link:id:x", Limit(3, MINUTE)),)


def test_keys_are_bounded() -> None:
    keys = ratelimit.rate_keys(Action.LINK, SETTINGS, ip="z" * 100, identifier="i" * 400)
    assert keys == (("rl:link:ip:" + "z" * 64, Limit(2, MINUTE)),
                    ("rl:link:id:" + "i" * 300, Limit(3, MINUTE)))


@pytest.mark.parametrize(("ip", "key"), [
    ("192.0.2.7", "192.0.2.7"),
    (" 192.0.2.7 ", "192.0.2.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2::9", "2001:db8:1:2::/64"),
    ("::ffff:192.0.2.7", "192.0.2.7"),
    ("pas une adresse", "pas une adresse"),
    ("x" * 80, "x" * 64),
])
def test_a_client_is_its_address_or_its_ipv6_slash_64(ip: str, key: str) -> None:
    assert ratelimit.client_key(ip) == key


def test_failure_counters_have_their_own_keys() -> None:
    assert lockout.attempt_key("100234567") == "login:100234567"
    assert lockout.reset_attempt_key("acc-1") == "reset:acc-1"


def test_a_reset_checks_the_answer_only_under_link_and_answer() -> None:
    assert flow.reset_checks_answer(make_settings()) is True
    assert flow.reset_checks_answer(make_settings(recovery=RecoveryPolicy.LINK_ONLY)) is False


# ---------------------------------------------------------------- lockout


def test_lockout_helpers_follow_the_policy() -> None:
    policy = LockoutPolicy(free_attempts=1, base_delay=timedelta(seconds=30),
                           max_delay=timedelta(minutes=5), hard_limit=3)
    fresh = Throttle("login:1")
    assert lockout.lockout_wait(fresh, START, policy) is None
    reserved = lockout.reserve_attempt(fresh, START, policy)
    assert reserved == Throttle("login:1", in_flight=1, in_flight_at=START)
    failed = Throttle("login:1", failures=1, last_failure_at=START)
    assert lockout.lockout_wait(failed, START, policy) == timedelta(seconds=30)
    assert lockout.reserve_attempt(failed, START, policy) == Refused(Reason.LOCKED)
    assert lockout.clear_attempts(Throttle("login:1", failures=3, last_failure_at=START,
                                        in_flight=2, in_flight_at=START, version=4)) == \
        Throttle("login:1", version=4)


# ---------------------------------------------------------------- links


def a_link(purpose: LinkPurpose, status: LinkStatus = LinkStatus.LIVE, nonce: str = "a" * 64,
           expires: timedelta = MINUTE) -> Link:
    return Link(purpose=purpose, nonce_hash=nonce, issued_at=START, expires_at=START + expires,
                status=status)


def test_each_purpose_has_its_lifetime() -> None:
    settings = make_settings(link_lifetime=timedelta(hours=2),
                             reset_link_lifetime=timedelta(hours=3),
                             not_me_link_lifetime=timedelta(hours=4))
    assert flow.link_lifetime(LinkPurpose.VERIFY_EMAIL, settings) == timedelta(hours=2)
    assert flow.link_lifetime(LinkPurpose.CHANGE_EMAIL, settings) == timedelta(hours=2)
    assert flow.link_lifetime(LinkPurpose.RESET_PASSWORD, settings) == timedelta(hours=3)
    assert flow.link_lifetime(LinkPurpose.NOT_ME, settings) == timedelta(hours=4)


def test_inspecting_a_link_names_its_state_without_spending_it() -> None:
    live = a_link(LinkPurpose.RESET_PASSWORD)
    account = active(links=(live,))
    inspect = flow.inspect_link
    assert inspect(account, LinkPurpose.RESET_PASSWORD, "a" * 64, START + MINUTE) is None
    assert inspect(account, LinkPurpose.RESET_PASSWORD, "a" * 64, START + MINUTE + TICK) is \
        Reason.LINK_EXPIRED
    assert inspect(account, LinkPurpose.CHANGE_EMAIL, "a" * 64, START) is Reason.LINK_INVALID
    assert inspect(account, LinkPurpose.RESET_PASSWORD, "b" * 64, START) is Reason.LINK_INVALID


def test_the_last_matching_link_is_the_one_inspected() -> None:
    # Two links with one hash cannot happen by chance; the newest says what the link is.
    account = active(links=(a_link(LinkPurpose.RESET_PASSWORD, LinkStatus.USED),
                            a_link(LinkPurpose.RESET_PASSWORD, LinkStatus.SUPERSEDED)))
    assert flow.inspect_link(account, LinkPurpose.RESET_PASSWORD, "a" * 64, START) is \
        Reason.LINK_SUPERSEDED


def test_the_live_link_is_the_newest_unspent_one_of_its_purpose() -> None:
    older = a_link(LinkPurpose.VERIFY_EMAIL, nonce="1" * 64)
    newer = a_link(LinkPurpose.VERIFY_EMAIL, nonce="2" * 64)
    account = active(links=(older, newer, a_link(LinkPurpose.RESET_PASSWORD),
                            a_link(LinkPurpose.VERIFY_EMAIL, LinkStatus.USED, nonce="3" * 64)))
    assert flow.live_link(account, LinkPurpose.VERIFY_EMAIL) is newer
    assert flow.live_link(account, LinkPurpose.CHANGE_EMAIL) is None


def test_recovery_goes_only_to_a_verified_proven_address() -> None:
    assert flow.recovery_address(active()) == "marie@example.com"
    assert flow.recovery_address(active(email=None)) is None
    assert flow.recovery_address(active(email_verified_at=None)) is None
    assert flow.recovery_address(active(email_unproven=True)) is None


@pytest.mark.parametrize(("address", "masked"), [
    ("marie@example.com", "m***@example.com"), ("m@example.com", "m***@example.com"),
    ("@example.com", "***"), ("a@b@example.com", "a***@example.com"),
])
def test_an_address_shown_elsewhere_is_masked(address: str, masked: str) -> None:
    assert flow.mask_email(address) == masked


# ---------------------------------------------------------------- where a member resumes


@pytest.mark.parametrize(("stage", "step"), [
    (Stage.PROVISIONED, Step.EMAIL), (Stage.EMAIL_REQUIRED, Step.EMAIL),
    (Stage.EMAIL_PENDING, Step.EMAIL), (Stage.AWAITING_ACTIVATION, Step.AWAITING_ACTIVATION),
    (Stage.PASSWORD_REQUIRED, Step.PASSWORD), (Stage.QUESTION_REQUIRED, Step.QUESTION),
    (Stage.ACTIVE, Step.PROFILE),
])
def test_each_stage_resumes_at_its_screen(stage: Stage, step: Step) -> None:
    assert flow.next_step(new_account(stage=stage), START, ENV.settings) is step


def test_questions_off_skip_the_question_screen() -> None:
    settings = make_settings(secret_questions=False)
    account = new_account(stage=Stage.QUESTION_REQUIRED)
    assert flow.next_step(account, START, settings) is Step.PROFILE


def test_a_pending_address_shows_the_mailbox_while_its_link_lives() -> None:
    account = new_account(stage=Stage.EMAIL_PENDING,
                          links=(a_link(LinkPurpose.VERIFY_EMAIL),))
    assert flow.next_step(account, START + MINUTE, ENV.settings) is Step.CHECK_MAILBOX
    assert flow.next_step(account, START + MINUTE + TICK, ENV.settings) is Step.EMAIL


# ---------------------------------------------------------------- inputs


def test_entropy_is_drawn_in_the_sizes_each_use_needs() -> None:
    sizes: list[int] = []

    def token_bytes(n: int) -> bytes:
        sizes.append(n)
        return bytes([len(sizes)]) * n

    drawn = Entropy.draw(token_bytes)
    assert sizes == [16, 32, 8, 16, 32]
    assert (drawn.salt, drawn.nonce, drawn.code, drawn.series, drawn.extra) == (
        b"\1" * 16, b"\2" * 32, b"\3" * 8, b"\4" * 16, b"\5" * 32)
    assert drawn.second_nonce() == b"\5" * 32


def test_a_second_nonce_needs_sixteen_bytes() -> None:
    base = Entropy(salt=b"", nonce=b"", code=b"", extra=b"x" * 16)
    assert base.second_nonce() == b"x" * 16
    with pytest.raises(ValueError, match=r"^this event sends two links: draw the entropy "
                                         r"with Entropy\.draw$"):
        Entropy(salt=b"", nonce=b"", code=b"", extra=b"x" * 15).second_nonce()


@pytest.mark.parametrize(("ip", "kept"), [
    ("192.0.2.7", "192.0.2.7"), (" 2001:DB8::1 ", "2001:db8::1"), ("x", None), (None, None),
    (7, None), ("1" * 65, None), ("192.0.2.7".ljust(64), "192.0.2.7"),
    ("192.0.2.7".ljust(65), None),
])
def test_an_origin_keeps_only_an_ip_address(ip: object, kept: str | None) -> None:
    assert Origin(ip=wrong_type(ip)).ip == kept


@pytest.mark.parametrize(("agent", "kept"), [
    ("Firefox", "Firefox"), (" Fire\x00fox\n ", "Firefox"), ("   ", None), (None, None),
    (3, None), ("a" * 299 + "bc", "a" * 299 + "b"),
])
def test_an_origin_cleans_the_user_agent(agent: object, kept: str | None) -> None:
    assert Origin(user_agent=wrong_type(agent)).user_agent == kept


def test_an_origin_is_a_member_unless_told_otherwise() -> None:
    assert Origin().actor == "member" and Origin().ip is None


def test_an_event_that_draws_needs_entropy() -> None:
    message = r"^this event needs fresh entropy: pass entropy=Entropy\.draw\(\.\.\.\)$"
    with pytest.raises(ValueError, match=message):
        flow.step(new_account(stage=Stage.EMAIL_REQUIRED),
                  flow.SubmitEmail("marie@example.com", "marie@example.com"), START, ENV)
