"""Remember-me ("Se souvenir de moi"): issuing a series at login, rotating it on each use,
telling a racing browser from a stolen cookie, and forgetting devices."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from cegema_onboarding.flow import (
    Login,
    Notice,
    Origin,
    Reason,
    RememberLogin,
    RevokeRemember,
    SendNotice,
)
from cegema_onboarding.model import Channel, RememberToken, Stage, Step
from cegema_onboarding.remember import secret_hash, series_id

from ..conftest import GOOD_PASSWORD, START
from .helpers import (
    AGENT,
    ENTROPY,
    ENV,
    IP,
    accept,
    active,
    audit,
    refuse,
    run,
    wrong_type,
)

LIFETIME = ENV.settings.remember_lifetime
GRACE = timedelta(seconds=10)
TICK = timedelta(microseconds=1)
OLD_SECRET = b"o" * 32
SECRET = b"s" * 32
SERIES = b"S" * 16


def device(series: bytes = SERIES, *, secret: bytes = SECRET, previous: bytes | None = None,
           used: timedelta = timedelta(0), expires: timedelta = LIFETIME,
           hint: str | None = "Firefox") -> RememberToken:
    return RememberToken(
        series_id=series_id(series), secret_hash=secret_hash(secret), created_at=START,
        expires_at=START + expires, last_used_at=START + used, user_agent_hint=hint,
        previous_hash=None if previous is None else secret_hash(previous))


def come_back(series: bytes = SERIES, secret: bytes = SECRET) -> RememberLogin:
    return RememberLogin(series_id(series), secret_hash(secret))


# ---------------------------------------------------------------- issuing at login


def test_login_with_remember_issues_one_series_with_its_token() -> None:
    out = accept(active(), Login(GOOD_PASSWORD, remember=True))
    (record,) = out.account.remember
    assert record == RememberToken(
        series_id=series_id(ENTROPY.series), secret_hash=secret_hash(ENTROPY.nonce),
        created_at=START, expires_at=START + LIFETIME, last_used_at=START,
        user_agent_hint=AGENT)
    assert out.secret == ENV.crypto.remember.issue("acc-1", ENTROPY.series, ENTROPY.nonce)
    assert out.effects == (audit("login", detail="remember"),)
    assert out.grants_session is True and out.step is Step.PROFILE


def test_login_without_remember_issues_nothing() -> None:
    out = accept(active(), Login(GOOD_PASSWORD))
    assert out.account.remember == () and out.secret is None
    assert out.effects == (audit("login"),)


def test_only_a_true_remember_flag_remembers() -> None:
    out = accept(active(), Login(GOOD_PASSWORD, remember=wrong_type(1)))
    assert out.account.remember == () and out.secret is None


def test_a_member_not_yet_active_is_not_remembered() -> None:
    out = accept(active(stage=Stage.QUESTION_REQUIRED), Login(GOOD_PASSWORD, remember=True))
    assert out.account.remember == () and out.secret is None


def test_remembering_needs_a_full_series() -> None:
    short = attrs.evolve(ENTROPY, series=b"x" * 15)
    message = r"^remember-me needs Entropy\.series: use Entropy\.draw\(\.\.\.\)$"
    with pytest.raises(ValueError, match=message):
        run(active(), Login(GOOD_PASSWORD, remember=True), fresh=short)


def test_the_device_hint_is_the_user_agent_cut_to_80_characters() -> None:
    origin = Origin(ip=IP, user_agent="A" * 79 + "BC" + "D" * 150)
    out = accept(active(), Login(GOOD_PASSWORD, remember=True), origin=origin)
    assert out.account.remember[-1].user_agent_hint == "A" * 79 + "B"


def test_no_user_agent_leaves_no_hint() -> None:
    out = accept(active(), Login(GOOD_PASSWORD, remember=True), origin=Origin(ip=IP))
    assert out.account.remember[-1].user_agent_hint is None


def test_expired_devices_are_dropped_when_another_is_remembered() -> None:
    at_expiry = device(b"1" * 16, expires=timedelta(hours=1))
    gone = device(b"2" * 16, expires=timedelta(hours=1) - TICK)
    out = accept(active(remember=(at_expiry, gone)), Login(GOOD_PASSWORD, remember=True),
                 at=timedelta(hours=1))
    assert [t.series_id for t in out.account.remember] == [
        at_expiry.series_id, series_id(ENTROPY.series)]


def test_the_least_recently_used_device_is_forgotten_beyond_the_maximum() -> None:
    cap = ENV.settings.remember_max_devices
    devices = tuple(device(bytes([i]) * 16, used=timedelta(minutes=cap - i)) for i in range(cap))
    out = accept(active(remember=devices), Login(GOOD_PASSWORD, remember=True),
                 at=timedelta(hours=1))
    kept = out.account.remember
    assert len(kept) == cap
    # Device 0 was used last, device cap-1 first: the latter goes, the rest by last use.
    assert [t.series_id for t in kept] == [
        *(devices[i].series_id for i in range(cap - 2, -1, -1)), series_id(ENTROPY.series)]


def test_below_the_maximum_every_device_stays() -> None:
    cap = ENV.settings.remember_max_devices
    devices = tuple(device(bytes([i]) * 16) for i in range(cap - 1))
    out = accept(active(remember=devices), Login(GOOD_PASSWORD, remember=True))
    assert len(out.account.remember) == cap


# ---------------------------------------------------------------- coming back


def test_a_remembered_device_logs_in_and_its_secret_rotates() -> None:
    other = device(b"O" * 16)
    account = active(remember=(device(), other))
    out = accept(account, come_back(), at=timedelta(minutes=5))
    assert out.grants_session is True and out.step is Step.PROFILE
    assert out.secret == ENV.crypto.remember.issue("acc-1", SERIES, ENTROPY.nonce)
    assert out.effects == (audit("remember_login", at=timedelta(minutes=5)),)
    assert out.account.remember == (other, RememberToken(
        series_id=series_id(SERIES), secret_hash=secret_hash(ENTROPY.nonce), created_at=START,
        expires_at=START + LIFETIME, last_used_at=START + timedelta(minutes=5),
        user_agent_hint=AGENT, previous_hash=secret_hash(SECRET)))


def test_a_device_without_user_agent_keeps_its_hint() -> None:
    out = accept(active(remember=(device(hint="Safari"),)), come_back(), origin=Origin(ip=IP))
    assert out.account.remember[0].user_agent_hint == "Safari"


def test_a_device_is_valid_until_its_expiry_inclusive() -> None:
    account = active(remember=(device(expires=timedelta(days=2)),))
    assert accept(account, come_back(), at=timedelta(days=2)).grants_session is True
    late = refuse(account, come_back(), at=timedelta(days=2) + TICK)
    assert late.reason is Reason.SESSION_EXPIRED
    assert late.account == attrs.evolve(account, remember=())
    assert late.effects == (audit("remember_login", "expired", at=timedelta(days=2) + TICK),)


def test_an_expired_device_alone_is_dropped() -> None:
    other = device(b"O" * 16)
    account = active(remember=(device(expires=timedelta(days=2)), other))
    late = refuse(account, come_back(), at=timedelta(days=3))
    assert late.account is not None and late.account.remember == (other,)


def test_an_unknown_series_is_refused_without_change() -> None:
    out = refuse(active(remember=(device(),)), come_back(b"U" * 16))
    assert out.reason is Reason.SESSION_EXPIRED and out.account is None
    assert out.effects == (audit("remember_login", "unknown_series"),)


def test_a_series_is_compared_on_its_first_64_characters_only() -> None:
    event = RememberLogin(series_id(SERIES) + "x" * 100, secret_hash(SECRET))
    out = refuse(active(remember=(device(),)), event)
    assert out.effects == (audit("remember_login", "unknown_series"),)


def test_a_series_of_the_wrong_type_is_unknown() -> None:
    event = RememberLogin(wrong_type(12), secret_hash(SECRET))
    out = refuse(active(remember=(device(),)), event)
    assert out.effects == (audit("remember_login", "unknown_series"),)


def test_a_series_that_does_not_decode_is_refused_after_the_checks() -> None:
    odd = attrs.evolve(device(), series_id="not-a-series")
    out = refuse(active(remember=(odd,)), RememberLogin("not-a-series", secret_hash(SECRET)))
    assert out.reason is Reason.SESSION_EXPIRED and out.account is None and out.effects == ()


def test_a_locked_account_is_not_let_in_by_a_remembered_device() -> None:
    account = active(remember=(device(),), locked_at=START)
    out = refuse(account, come_back())
    assert out.reason is Reason.LOCKED and out.account is None
    assert out.effects == (audit("remember_login", "locked"),)


# ---------------------------------------------------------------- race or theft


def racing(used: timedelta) -> RememberToken:
    return device(secret=SECRET, previous=OLD_SECRET, used=used)


def test_the_previous_secret_within_ten_seconds_is_a_race() -> None:
    account = active(remember=(racing(timedelta(0)),))
    for at in (timedelta(0), GRACE):
        out = refuse(account, come_back(secret=OLD_SECRET), at=at)
        assert out.reason is Reason.SESSION_EXPIRED and out.account is None
        assert out.effects == (audit("remember_login", "rotation_race", at=at),)


def test_the_previous_secret_after_ten_seconds_is_theft() -> None:
    account = active(remember=(racing(timedelta(0)), device(b"O" * 16)))
    out = refuse(account, come_back(secret=OLD_SECRET), at=GRACE + TICK)
    assert out.reason is Reason.SESSION_EXPIRED
    assert out.account == attrs.evolve(account, remember=(), session_epoch=4)
    assert out.effects == (
        audit("remember_theft", "all_series_revoked", at=GRACE + TICK),
        SendNotice(Notice.REMEMBER_THEFT, "acc-1", Channel.EMAIL, START + GRACE + TICK,
                   to="marie@example.com", ip=IP, user_agent=AGENT),
    )


def test_an_unknown_secret_is_theft_even_right_after_a_rotation() -> None:
    account = active(remember=(racing(timedelta(0)),))
    out = refuse(account, come_back(secret=b"x" * 32))
    assert out.account == attrs.evolve(account, remember=(), session_epoch=4)
    assert out.effects[0] == audit("remember_theft", "all_series_revoked")


def test_a_secret_of_the_wrong_type_is_theft() -> None:
    event = RememberLogin(series_id(SERIES), wrong_type(None))
    out = refuse(active(remember=(device(),)), event)
    assert out.effects[0] == audit("remember_theft", "all_series_revoked")


@pytest.mark.parametrize(("email", "verified", "phone", "channel"), [
    ("marie@example.com", None, None, Channel.POST),
    (None, START, None, Channel.POST),
    (None, None, "0601020304", Channel.PHONE),
    ("marie@example.com", None, "0601020304", Channel.PHONE),
])
def test_theft_is_told_offline_without_a_verified_address(
        email: str | None, verified: object, phone: str | None, channel: Channel) -> None:
    account = active(remember=(device(),), email=email, email_verified_at=verified, phone=phone)
    out = refuse(account, come_back(secret=b"x" * 32))
    assert out.effects[1] == SendNotice(Notice.REMEMBER_THEFT, "acc-1", channel, START, ip=IP)


def test_theft_is_told_to_a_verified_but_unproven_address() -> None:
    account = active(remember=(device(),), email_unproven=True)
    out = refuse(account, come_back(secret=b"x" * 32))
    notice = out.effects[1]
    assert isinstance(notice, SendNotice) and notice.to == "marie@example.com"


# ---------------------------------------------------------------- forgetting devices


def test_forgetting_every_device() -> None:
    account = active(remember=(device(), device(b"O" * 16)))
    out = accept(account, RevokeRemember())
    assert out.account == attrs.evolve(account, remember=())
    assert out.effects == (audit("remember_revoked", detail="all"),)
    assert out.step is Step.PROFILE and out.grants_session is False


def test_forgetting_one_device() -> None:
    other = device(b"O" * 16)
    out = accept(active(remember=(device(), other)), RevokeRemember(series_id(SERIES)))
    assert out.account.remember == (other,)
    assert out.effects == (audit("remember_revoked", detail="one"),)


def test_forgetting_an_unknown_device_changes_nothing_but_is_recorded() -> None:
    account = active(remember=(device(),))
    out = accept(account, RevokeRemember("unknown"))
    assert out.account == account
    assert out.effects == (audit("remember_revoked", detail="one"),)


def test_forgetting_a_device_named_by_a_non_string_is_refused() -> None:
    out = refuse(active(remember=(device(),)), RevokeRemember(wrong_type(7)))
    assert out.reason is Reason.INPUT_INVALID and out.field == "series_id"
    assert out.account is None and out.effects == ()


def test_forgetting_devices_at_the_question_step_resumes_there() -> None:
    out = accept(active(stage=Stage.QUESTION_REQUIRED), RevokeRemember(), at=timedelta(hours=1))
    assert out.step is Step.QUESTION
    assert out.effects == (audit("remember_revoked", detail="all", at=timedelta(hours=1)),)
