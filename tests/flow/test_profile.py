""""Mon profil et mes informations": what the form may hold, consents, and the adviser."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from cegema_onboarding.flow import Reason, SetAdviser, UpdateProfile
from cegema_onboarding.model import Adviser, Channel, Consent, Profile, Stage, Step

from ..conftest import START
from .helpers import ENV, accept, active, audit, new_account, refuse, wrong_type

HISTORY = ENV.settings.consent_history


def test_an_update_replaces_the_editable_profile_and_records_consents() -> None:
    account = active(profile=Profile(channels=(Channel.POST, Channel.SMS), pets=False,
                                     interests=("Golf",), comments="ancien"))
    event = UpdateProfile(channels=(Channel.EMAIL, Channel.SMS, Channel.EMAIL), pets=True,
                          interests=("  Vélo   électrique ", "Jardin"), comments="  Merci\n",
                          source="  guichet  ")
    at = timedelta(hours=1)
    out = accept(account, event, at=at)
    assert out.account == attrs.evolve(account, profile=Profile(
        channels=(Channel.EMAIL, Channel.SMS), pets=True,
        interests=("Vélo électrique", "Jardin"), comments="Merci",
        consents=(Consent(Channel.EMAIL, True, START + at, "guichet"),
                  Consent(Channel.POST, False, START + at, "guichet"))))
    assert out.effects == (audit("profile_updated", at=at),)
    assert out.step is Step.PROFILE and out.grants_session is False


def test_an_unchanged_channel_records_no_consent() -> None:
    account = active(profile=Profile(channels=(Channel.EMAIL,)))
    out = accept(account, UpdateProfile(channels=(Channel.EMAIL,)))
    assert out.account.profile.consents == ()


@pytest.mark.parametrize("channels", [[Channel.SMS], frozenset({Channel.SMS})])
def test_channels_may_come_as_a_list_or_a_set(channels: object) -> None:
    out = accept(active(), UpdateProfile(channels=wrong_type(channels)))
    assert out.account.profile.channels == (Channel.SMS,)


def test_the_consent_history_keeps_its_newest_entries() -> None:
    old = tuple(Consent(Channel.SMS, i % 2 == 0, START, f"s{i}") for i in range(HISTORY))
    account = active(profile=Profile(channels=(Channel.SMS,), consents=old))
    out = accept(account, UpdateProfile(channels=(Channel.SMS, Channel.POST)))
    consents = out.account.profile.consents
    assert len(consents) == HISTORY
    assert consents == (*old[1:], Consent(Channel.POST, True, START, "web"))


def test_the_adviser_stays_through_an_update() -> None:
    adviser = Adviser(name="Agence Nord")
    out = accept(active(profile=Profile(adviser=adviser)), UpdateProfile())
    assert out.account.profile.adviser == adviser


@pytest.mark.parametrize(("event", "field"), [
    (UpdateProfile(channels=wrong_type("email")), "channels"),
    (UpdateProfile(channels=wrong_type((Channel.SMS, "post"))), "channels"),
    (UpdateProfile(pets=wrong_type("oui")), "pets"),
    (UpdateProfile(pets=wrong_type(1)), "pets"),
    (UpdateProfile(interests=wrong_type("Vélo")), "interests"),
    (UpdateProfile(interests=tuple(f"i{i}" for i in range(21))), "interests"),
    (UpdateProfile(interests=("x" * 61,)), "interests"),
    (UpdateProfile(interests=("a\x00b",)), "interests"),
    (UpdateProfile(comments=wrong_type(None)), "comments"),
    (UpdateProfile(comments="x" * 2001), "comments"),
    (UpdateProfile(comments="a\x07b"), "comments"),
    (UpdateProfile(comments="a\ud800b"), "comments"),
    (UpdateProfile(source=""), "source"),
    (UpdateProfile(source="x" * 65), "source"),
    (UpdateProfile(source=wrong_type(None)), "source"),
])
def test_what_the_form_cannot_hold_is_refused_by_field(event: UpdateProfile, field: str) -> None:
    out = refuse(active(), event)
    assert (out.reason, out.field, out.account, out.effects) == (
        Reason.INPUT_INVALID, field, None, ())


def test_the_limits_themselves_are_accepted() -> None:
    event = UpdateProfile(interests=(*(f"i{i}" for i in range(20)), "x" * 60),
                          comments="x" * 2000, source="s" * 64)
    refused = refuse(active(), event)
    assert refused.field == "interests"  # 21 interests, one too many
    event = attrs.evolve(event, interests=(*(f"i{i}" for i in range(19)), "x" * 60))
    out = accept(active(), event)
    assert len(out.account.profile.interests) == 20
    assert out.account.profile.comments == "x" * 2000
    assert out.account.profile.consents == ()


def test_interests_are_deduplicated_by_case_keeping_the_first_spelling() -> None:
    out = accept(active(), UpdateProfile(interests=["Vélo", " VÉLO", "jardin", "vélo"]))
    assert out.account.profile.interests == ("Vélo", "jardin")


def test_blank_interests_are_refused() -> None:
    assert refuse(active(), UpdateProfile(interests=(" ",))).field == "interests"


def test_comments_keep_line_breaks_and_tabs() -> None:
    out = accept(active(), UpdateProfile(comments="ligne 1\n\tligne 2"))
    assert out.account.profile.comments == "ligne 1\n\tligne 2"
    assert accept(active(), UpdateProfile(comments="")).account.profile.comments == ""


def test_the_profile_is_for_active_members_only() -> None:
    out = refuse(active(stage=Stage.QUESTION_REQUIRED), UpdateProfile())
    assert out.reason is Reason.INVALID_STEP


# ---------------------------------------------------------------- adviser


def test_the_host_records_an_adviser_and_the_member_resumes_where_they_were() -> None:
    adviser = Adviser(name="Agence Nord", address="1 rue", orias="07001234",
                      more_info_url="  https://example.org/agence  ")
    account = new_account(stage=Stage.AWAITING_ACTIVATION)
    out = accept(account, SetAdviser(adviser), at=timedelta(minutes=2))
    assert out.account == attrs.evolve(account, profile=Profile(adviser=adviser))
    assert out.effects == (audit("adviser_set", at=timedelta(minutes=2)),)
    assert out.step is Step.AWAITING_ACTIVATION


def test_clearing_the_adviser() -> None:
    out = accept(active(profile=Profile(adviser=Adviser(name="x"), pets=True)), SetAdviser(None))
    assert out.account.profile == Profile(pets=True)
    assert out.step is Step.PROFILE


def test_an_adviser_without_a_link_is_fine() -> None:
    assert accept(active(), SetAdviser(Adviser(name="x"))).account.profile.adviser is not None


@pytest.mark.parametrize(("adviser", "field"), [
    (wrong_type("Agence"), "adviser"),
    (Adviser(name="x" * 501), "adviser.name"),
    (Adviser(address="a\x00b"), "adviser.address"),
    (Adviser(orias=wrong_type(7)), "adviser.orias"),
    (Adviser(more_info_url="javascript:alert(1)"), "adviser.more_info_url"),
    (Adviser(more_info_url="https://example.org/a b"), "adviser.more_info_url"),
    (Adviser(more_info_url="ftp://example.org"), "adviser.more_info_url"),
    (Adviser(more_info_url="https://"), "adviser.more_info_url"),
])
def test_an_adviser_that_cannot_be_shown_safely_is_refused(adviser: Adviser, field: str) -> None:
    out = refuse(active(), SetAdviser(adviser))
    assert (out.reason, out.field, out.account, out.effects) == (
        Reason.INPUT_INVALID, field, None, ())


@pytest.mark.parametrize("url", ["http://example.org", "HTTPS://EXAMPLE.ORG/x?y=1"])
def test_web_links_of_either_scheme_and_case_are_kept(url: str) -> None:
    out = accept(active(), SetAdviser(Adviser(name="A" * 500, more_info_url=url)))
    assert out.account.profile.adviser == Adviser(name="A" * 500, more_info_url=url)


def test_the_meter_says_what_each_missing_part_adds() -> None:
    from cegema_onboarding.profile import ProfileWeights, completion, missing

    account = active(profile=Profile(channels=(Channel.EMAIL,)))
    gains = dict(missing(account))
    assert "channels" not in gains and "comments" not in gains  # done, or worth nothing
    assert gains["pets"] == 10 and gains["interests"] == 10
    # Each gain is exactly how far the meter moves when that part alone is filled.
    filled = attrs.evolve(account, profile=attrs.evolve(account.profile, pets=False))
    assert completion(filled) - completion(account) == gains["pets"]
    odd = ProfileWeights(email=1, phone=1, postal_address=1, channels=0, pets=0,
                         interests=0, comments=0, secret_answer=1)
    assert sum(p for _, p in missing(new_account(), odd)) == 100
