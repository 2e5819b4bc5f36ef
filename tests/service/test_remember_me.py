"""Remember me: long-lived, rotated, revocable tokens with theft detection."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.remember import SECRET_BYTES, RememberCodec
from cegema_onboarding.service import Ok

from ..conftest import GOOD_PASSWORD, SECRET
from .test_recovery import make_service, onboard


def remembered(**overrides: object) -> tuple:  # type: ignore[type-arg]
    service, storage, mailer, clock = make_service(**overrides)
    member, _ = onboard(service, mailer)
    out = service.login(member.member_number, GOOD_PASSWORD, remember=True,
                        user_agent="Mozilla/5.0 (X11; Linux) Firefox/140.0\x00evil")
    assert isinstance(out, Ok) and out.remember_token is not None
    return service, storage, clock, member, out.remember_token


def test_token_carries_enough_entropy_and_only_its_hash_is_stored() -> None:
    _service, storage, _clock, member, token = remembered()
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    secret = base64.urlsafe_b64decode(payload["k"] + "==")
    assert len(secret) * 8 >= 128 and SECRET_BYTES * 8 >= 128
    account = storage.get(member.account_id)
    assert account is not None
    (record,) = account.remember
    assert payload["k"] not in repr(account) and payload["k"] not in str(record)
    assert record.secret_hash != payload["k"]
    assert record.expires_at - record.created_at == timedelta(days=30)
    # The user agent is a printable hint only.
    assert record.user_agent_hint is not None and "\x00" not in record.user_agent_hint


def test_token_logs_in_and_rotates_on_each_use() -> None:
    service, _storage, _clock, _member, token = remembered()
    first = service.login_with_token(token)
    assert isinstance(first, Ok) and first.session is not None
    assert first.remember_token is not None and first.remember_token != token
    second = service.login_with_token(first.remember_token)
    assert isinstance(second, Ok) and second.remember_token is not None


def test_replayed_rotated_token_revokes_the_series_and_is_audited() -> None:
    service, storage, clock, member, stolen = remembered()
    clock.advance(minutes=1)
    legit = service.login_with_token(stolen)
    assert isinstance(legit, Ok) and legit.remember_token is not None
    assert legit.session is not None
    clock.advance(minutes=5)
    replay = service.login_with_token(stolen)
    assert isinstance(replay, Refused) and replay.reason is Reason.SESSION_EXPIRED
    # The whole series is gone, the legitimate holder's newer token included.
    dead = service.login_with_token(legit.remember_token)
    assert isinstance(dead, Refused)
    assert not service.check_session(legit.session)
    outcomes = [(r.action, r.outcome) for r in storage.audit_records(account_id=member.account_id)]
    assert ("remember_theft", "all_series_revoked") in outcomes


def test_parallel_requests_on_one_rotation_are_not_taken_for_theft() -> None:
    service, _storage, _clock, _member, token = remembered()
    fresh = service.login_with_token(token)
    assert isinstance(fresh, Ok) and fresh.remember_token is not None
    raced = service.login_with_token(token)  # same second: the browser's other tab
    assert isinstance(raced, Refused)
    assert isinstance(service.login_with_token(fresh.remember_token), Ok)


def test_absolute_expiry_is_not_extended_by_use() -> None:
    service, storage, clock, member, token = remembered(remember_lifetime=timedelta(days=2))
    clock.advance(days=1)
    out = service.login_with_token(token)
    assert isinstance(out, Ok) and out.remember_token is not None
    clock.advance(days=1, seconds=1)
    late = service.login_with_token(out.remember_token)
    assert isinstance(late, Refused) and late.reason is Reason.SESSION_EXPIRED
    account = storage.get(member.account_id)
    assert account is not None and account.remember == ()


def test_revocation_one_by_one_or_all_at_once() -> None:
    service, _storage, _clock, member, first = remembered()
    second = service.login(member.member_number, GOOD_PASSWORD, remember=True)
    assert isinstance(second, Ok) and second.remember_token and second.session
    devices = service.remembered_devices(second.session)
    assert not isinstance(devices, Refused) and len(devices) == 2
    service.revoke_remembered(second.session, devices[-1].series_id)
    results = [service.login_with_token(t) for t in (first, second.remember_token)]
    assert sum(isinstance(r, Ok) for r in results) == 1
    ok = next(r for r in results if isinstance(r, Ok))
    assert ok.session is not None
    assert isinstance(service.revoke_remembered(ok.session), Ok)
    for token in (first, second.remember_token, ok.remember_token):
        assert isinstance(service.login_with_token(token or ""), Refused)


def test_password_change_revokes_every_token() -> None:
    service, _storage, _clock, member, token = remembered()
    out = service.login(member.member_number, GOOD_PASSWORD)
    assert isinstance(out, Ok) and out.session is not None
    new = "Une toute autre phrase 2026"
    assert isinstance(service.change_password(out.session, GOOD_PASSWORD, new, new), Ok)
    assert isinstance(service.login_with_token(token), Refused)


def test_devices_are_bounded() -> None:
    service, storage, clock, member, _ = remembered(remember_max_devices=3)
    for _ in range(5):
        clock.advance(seconds=1)
        service.login(member.member_number, GOOD_PASSWORD, remember=True)
    account = storage.get(member.account_id)
    assert account is not None and len(account.remember) == 3


def test_disabled_account_cannot_use_its_token() -> None:
    service, _storage, _clock, member, token = remembered()
    service.staff.disable(member.account_id, staff_id="agent7")
    service.staff.enable(member.account_id, staff_id="agent7")
    # Disabling revoked the device for good.
    assert isinstance(service.login_with_token(token), Refused)


@pytest.mark.parametrize("bad", ["", "x" * 1_000_000, "a.b.c", "\x00", None, 42, "é" * 10,
                                 "eyJhIjoiYSJ9.forged"])
def test_malformed_tokens_are_refused(bad: object) -> None:
    service, _storage, _clock, _member, _token = remembered()
    out = service.login_with_token(bad)  # type: ignore[arg-type]
    assert isinstance(out, Refused) and out.reason is Reason.SESSION_EXPIRED


def test_token_signed_with_another_key_is_refused_and_lookup_is_by_id() -> None:
    service, _storage, _clock, member, token = remembered()
    other = RememberCodec(["another-key-0123456789-abcdefghijklmnop"])
    forged = other.issue(member.account_id, b"s" * 16, b"k" * 32)
    assert isinstance(service.login_with_token(forged), Refused)
    mine = RememberCodec([SECRET])
    assert mine.parse(token) is not None
    assert mine.parse(token).account_id == member.account_id  # type: ignore[union-attr]


def test_remember_is_only_for_members_who_finished_the_journey() -> None:
    service, _storage, _mailer, _clock = make_service()
    member = service.staff.provision("100999999", "Jean Martin")
    out = service.login("100999999", member.initial_password, remember=True)
    assert isinstance(out, Ok) and out.remember_token is None
