"""Property tests: any Account round-trips through the codec and JSON, and the compiled
codec gives exactly what a plain value-by-value walk gives."""

from __future__ import annotations

import base64
import enum
import json
import types
import typing
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, get_args, get_origin

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from cegema_onboarding.codec import from_data, to_data
from cegema_onboarding.model import (
    Account,
    Adviser,
    Channel,
    Consent,
    Link,
    LinkPurpose,
    LinkStatus,
    Profile,
    RememberToken,
    Stage,
)

# Aware datetimes in UTC and in fixed offsets (to_data keeps the offset).
moments = st.builds(
    lambda naive, minutes: naive.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from([0, 60, 120, -300, 330]),
) | st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                 timezones=st.just(UTC))
texts = st.text(max_size=30)
maybe_text = st.none() | texts
maybe_moment = st.none() | moments

links = st.builds(Link, purpose=st.sampled_from(LinkPurpose), nonce_hash=texts,
                  issued_at=moments, expires_at=moments, address=maybe_text,
                  code_digest=maybe_text, code_failures=st.integers(0, 10),
                  status=st.sampled_from(LinkStatus))
remembered = st.builds(RememberToken, series_id=texts, secret_hash=texts, created_at=moments,
                       expires_at=moments, last_used_at=moments, user_agent_hint=maybe_text,
                       previous_hash=maybe_text)
profiles = st.builds(
    Profile,
    channels=st.lists(st.sampled_from(Channel), max_size=4).map(tuple),
    pets=st.none() | st.booleans(),
    interests=st.lists(texts, max_size=3).map(tuple),
    comments=texts,
    consents=st.lists(st.builds(Consent, channel=st.sampled_from(Channel),
                                granted=st.booleans(), at=moments, source=texts),
                      max_size=3).map(tuple),
    adviser=st.none() | st.builds(Adviser, name=texts, address=texts, orias=texts,
                                  more_info_url=texts),
)
accounts = st.builds(
    Account,
    account_id=texts, member_number=texts, name=texts, created_at=moments,
    stage=st.sampled_from(Stage), lang=st.sampled_from(["fr", "en"]), email=maybe_text,
    email_verified_at=maybe_moment, pending_email=maybe_text, initial_digest=maybe_text,
    initial_issued_at=maybe_moment, password_hash=maybe_text,
    password_changed_at=maybe_moment, question_id=maybe_text, answer_hash=maybe_text,
    links=st.lists(links, max_size=4).map(tuple), disabled=st.booleans(),
    session_epoch=st.integers(0, 2**40), activation_requested_at=maybe_moment,
    activation_rejection=maybe_text, postal_address=maybe_text, phone=maybe_text,
    locked_at=maybe_moment, not_me_links=st.lists(links, max_size=3).map(tuple),
    remember=st.lists(remembered, max_size=3).map(tuple), profile=profiles,
    version=st.integers(0, 2**31),
)


# ------------------------------------------------------------- the reference walk
# The codec as it was before it was compiled per type: slow, obviously right.


def reference_to_data(value: object) -> Any:
    if attrs.has(type(value)):
        return {f.name: reference_to_data(getattr(value, f.name))
                for f in attrs.fields(type(value))}  # type: ignore[arg-type]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        assert value.tzinfo is not None
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (tuple, list, frozenset)):
        return [reference_to_data(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): reference_to_data(v) for k, v in value.items()}
    assert value is None or isinstance(value, (str, int, float, bool))
    return value


def reference_decode(tp: Any, data: Any) -> Any:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        return None if data is None else reference_decode(options[0], data)
    if origin is tuple:
        return tuple(reference_decode(get_args(tp)[0], v) for v in data)
    if attrs.has(tp):
        hints = typing.get_type_hints(tp)
        return tp(**{f.alias or f.name: reference_decode(hints[f.name], data[f.name])
                     for f in attrs.fields(tp) if f.name in data})
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(data)
    if tp is datetime:
        return datetime.fromisoformat(data)
    assert isinstance(data, tp)
    return data


@settings(max_examples=150, deadline=None)
@given(accounts)
def test_any_account_round_trips_through_json(account: Account) -> None:
    data = to_data(account)
    assert data == reference_to_data(account)
    stored = json.loads(json.dumps(data))
    back = from_data(Account, stored)
    assert back == account
    assert back == reference_decode(Account, stored)
    # The offsets survive, not only the instants.
    assert [link.issued_at.utcoffset() for link in back.links] == [
        link.issued_at.utcoffset() for link in account.links]


@settings(max_examples=50, deadline=None)
@given(accounts, st.sets(st.sampled_from([f.name for f in attrs.fields(Account)
                                          if f.default is not attrs.NOTHING])))
def test_fields_missing_from_stored_data_take_their_defaults(
        account: Account, dropped: set[str]) -> None:
    data = json.loads(json.dumps(to_data(account)))
    for name in dropped:
        del data[name]
    back = from_data(Account, data)
    defaults = Account(account_id="x", member_number="x", name="x",
                       created_at=account.created_at)
    for f in attrs.fields(Account):
        expected = getattr(defaults if f.name in dropped else account, f.name)
        assert getattr(back, f.name) == expected
