"""The generic codec round-trips every model value."""

from __future__ import annotations

import json
from datetime import timedelta

import attrs
import pytest

from cegema_onboarding.codec import from_data, to_data
from cegema_onboarding.model import Account, Link, LinkPurpose, LinkStatus, Stage, Throttle

from ..conftest import START


def full_account() -> Account:
    link = Link(LinkPurpose.VERIFY_EMAIL, "ab" * 32, START, START + timedelta(hours=24),
                address="marie@example.com", code_digest="t1$" + "0" * 64, code_failures=2,
                status=LinkStatus.USED)
    return Account(account_id="a1", member_number="100234567", name="Marie Dupont",
                   created_at=START, stage=Stage.QUESTION_REQUIRED, email="marie@example.com",
                   email_verified_at=START, links=(link,), password_hash="$argon2id$x",
                   session_epoch=3, version=7)


def test_account_round_trips_through_json() -> None:
    account = full_account()
    data = json.loads(json.dumps(to_data(account)))
    assert from_data(Account, data) == account


def test_missing_fields_take_their_defaults() -> None:
    data = to_data(full_account())
    del data["phone"], data["disabled"]
    back = from_data(Account, data)
    assert back.phone is None and back.disabled is False


def test_throttle_round_trips() -> None:
    t = Throttle("login:1", 3, START, 4)
    assert from_data(Throttle, to_data(t)) == t


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_data(attrs.evolve(full_account(), created_at=START.replace(tzinfo=None)))


def test_wrong_types_are_refused() -> None:
    data = to_data(full_account())
    data["session_epoch"] = "three"
    with pytest.raises(TypeError):
        from_data(Account, data)
