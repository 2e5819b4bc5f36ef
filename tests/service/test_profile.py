"""The profile: preferences and consent history, pets, interests, comments, adviser, meter."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from cegema_onboarding.codec import from_data, to_data
from cegema_onboarding.errors import ConfigurationError
from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.model import Account, Adviser, Channel, Profile
from cegema_onboarding.profile import ITEMS, ProfileWeights, completion
from cegema_onboarding.service import Ok, ProfileView

from .test_recovery import make_service, onboard

BASE = Account(account_id="a", member_number="1", name="Zoé",
               created_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_completion_is_a_pure_percentage_with_host_weights() -> None:
    assert completion(BASE) == 0
    full = attrs.evolve(
        BASE, email="z@example.com", email_verified_at=BASE.created_at, phone="0102030405",
        postal_address="1 rue", answer_hash="$argon2id$x",
        profile=Profile(channels=(Channel.EMAIL,), pets=False, interests=("Vélo",),
                        comments="merci"))
    assert completion(full) == 100
    # pets=False is an answer: it counts like True.
    assert completion(attrs.evolve(full, profile=attrs.evolve(full.profile, pets=None))) == 90
    weights = ProfileWeights(email=1, phone=0, postal_address=0, channels=0, pets=0,
                             interests=0, comments=0, secret_answer=1)
    assert completion(attrs.evolve(BASE, answer_hash="$argon2id$x"), weights) == 50
    assert completion(full, weights) == 100
    assert set(ITEMS) == {f.name for f in attrs.fields(ProfileWeights)}


@pytest.mark.parametrize("bad", [{"email": -1}, {"phone": True}, dict.fromkeys(ITEMS, 0)])
def test_weights_are_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        ProfileWeights(**bad)  # type: ignore[arg-type]


def test_profile_update_records_consent_with_time_and_source() -> None:
    service, storage, mailer, clock = make_service()
    member, session = onboard(service, mailer)
    out = service.update_profile(session, channels=[Channel.EMAIL, Channel.SMS], pets=True,
                                 interests=["Randonnée", " randonnée ", "Lecture"],
                                 comments="Appelez-moi le matin.\nMerci", ip="203.0.113.7")
    assert isinstance(out, Ok) and out.notice == "notice.profile_saved"
    clock.advance(days=1)
    assert isinstance(service.update_profile(session, channels=[Channel.SMS, Channel.POST],
                                             pets=False, source="courrier"), Ok)
    view = service.profile(session)
    assert isinstance(view, ProfileView)
    p = view.profile
    assert p.channels == (Channel.SMS, Channel.POST) and p.pets is False
    assert [(c.channel, c.granted, c.source) for c in p.consents] == [
        (Channel.EMAIL, True, "web"), (Channel.SMS, True, "web"),
        (Channel.EMAIL, False, "courrier"), (Channel.POST, True, "courrier")]
    assert p.consents[-1].at > p.consents[0].at
    assert 0 <= view.completion <= 100
    # The whole profile survives the storage codec (SQL stores accounts as JSON).
    account = storage.get(member.account_id)
    assert account is not None
    assert from_data(Account, to_data(account)) == account


def test_consent_history_is_bounded() -> None:
    service, storage, mailer, clock = make_service(consent_history=4)
    member, session = onboard(service, mailer)
    for i in range(6):
        clock.advance(minutes=1)
        service.update_profile(session, channels=[Channel.SMS] if i % 2 == 0 else [])
    account = storage.get(member.account_id)
    assert account is not None and len(account.profile.consents) == 4


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"channels": ["email"]}, "channels"),
    ({"pets": 1}, "pets"),
    ({"interests": ["x" * 61]}, "interests"),
    ({"interests": ["ok"] * 21}, "interests"),
    ({"interests": ["a\x00b"]}, "interests"),
    ({"interests": "vélo"}, "interests"),
    ({"comments": "x" * 2001}, "comments"),
    ({"comments": "nul\x00"}, "comments"),
    ({"comments": None}, "comments"),
    ({"source": ""}, "source"),
])
def test_bad_profile_input_is_refused_and_changes_nothing(kwargs: dict[str, object],
                                                          field: str) -> None:
    service, storage, mailer, _clock = make_service()
    member, session = onboard(service, mailer)
    before = storage.get(member.account_id)
    out = service.update_profile(session, **kwargs)  # type: ignore[arg-type]
    assert isinstance(out, Refused) and out.reason is Reason.INPUT_INVALID and out.field == field
    assert storage.get(member.account_id) == before


def test_adviser_is_host_data_shown_on_the_profile() -> None:
    service, storage, mailer, _clock = make_service()
    member, session = onboard(service, mailer)
    adviser = Adviser(name="Agence de Lyon", address="2 place Bellecour, 69002 Lyon",
                      orias="07 012 345")
    assert isinstance(service.staff.set_adviser(member.account_id, adviser), Ok)
    view = service.profile(session)
    assert isinstance(view, ProfileView) and view.profile.adviser == adviser
    records = storage.audit_records(account_id=member.account_id)
    assert any(r.action == "adviser_set" and r.actor.startswith("host:") for r in records)
    bad = service.staff.set_adviser(member.account_id, Adviser(name="x" * 501))
    assert isinstance(bad, Refused) and bad.reason is Reason.INPUT_INVALID


def test_profile_needs_a_finished_journey_and_a_live_session() -> None:
    service, _storage, _mailer, _clock = make_service()
    member = service.staff.provision("100777777", "Jean Martin")
    out = service.login("100777777", member.initial_password)
    assert isinstance(out, Ok) and out.session is not None
    early = service.update_profile(out.session, pets=True)
    assert isinstance(early, Refused) and early.reason is Reason.INVALID_STEP
    stale = attrs.evolve(out.session, epoch=out.session.epoch + 1)
    assert isinstance(service.profile(stale), Refused)
