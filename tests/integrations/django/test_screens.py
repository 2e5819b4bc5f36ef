"""The member's screens as the guide shows them (issue #15), through Django's test client:
local times, the resend wait, the completion meter and Post/Redirect/Get."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core import mail
from django.test import Client
from django.utils.html import escape

from cegema_onboarding.adapters.memory import ManualClock
from cegema_onboarding.service import OnboardingService

from ...conftest import GOOD_PASSWORD
from .helpers import body, csrf_client, html, last_link, path_of, post_form, shown
from .test_account_life import log_in, onboard

LOGIN = "/connexion/"
JOURNEY = "/premiere-connexion/"
EMAIL = "marie.dupont@example.org"

pytestmark = pytest.mark.django_db

WINTER = datetime(2026, 12, 5, 7, 27, tzinfo=UTC)
SUMMER = datetime(2026, 7, 14, 6, 27, tzinfo=UTC)


@pytest.mark.parametrize(("instant", "shown"), [
    (WINTER, "05/12/2026 08:27 (CET)"), (SUMMER, "14/07/2026 08:27 (CEST)")])
def test_the_profile_shows_last_use_in_paris_time(
        dj_service: OnboardingService, clock: ManualClock, instant: datetime,
        shown: str) -> None:
    clock.set(instant)
    onboard(dj_service)
    client = csrf_client()
    log_in(client, "100234567", GOOD_PASSWORD, remember=True)
    page = body(client.get("/profil/"))
    assert f"Dernière utilisation {shown}" in page


# ---------------------------------------------------------------------------- resend


def at_mailbox(service: OnboardingService) -> Client:
    client = csrf_client()
    member = service.staff.provision("100234567", "Marie Dupont")
    post_form(client, LOGIN, LOGIN, {"identifier": "100234567",
                                     "password": member.initial_password})
    response = post_form(client, JOURNEY, "/premiere-connexion/email/",
                         {"email": EMAIL, "confirmation": EMAIL})
    assert response["Location"] == JOURNEY
    return client


@pytest.mark.parametrize(("waited", "wait"), [(0, "une minute"), (15, "45 secondes")])
def test_resend_says_the_actual_wait_on_the_mailbox_screen(
        dj_service: OnboardingService, clock: ManualClock, waited: int, wait: str) -> None:
    client = at_mailbox(dj_service)
    clock.advance(seconds=waited)
    response = post_form(client, JOURNEY, "/premiere-connexion/renvoyer/", {})
    page = body(shown(client, response, JOURNEY))
    assert html("screen.check_mailbox.title") in page
    assert escape(f"Merci de patienter {wait} avant de demander un nouveau lien.") in page
    assert html("reason.rate_limited") not in page
    assert len(mail.outbox) == 1


# ---------------------------------------------------------------------------- screens


def test_the_waiting_page_does_not_repeat_its_title(dj_service: OnboardingService) -> None:
    client = csrf_client()
    member = dj_service.staff.provision("100234567", "Jean Martin")
    post_form(client, LOGIN, LOGIN, {"identifier": "100234567",
                                     "password": member.initial_password})
    response = post_form(client, "/premiere-connexion/sans-email/",
                         "/premiere-connexion/sans-email/", {})
    page = body(client.get(response["Location"]))
    title = html("screen.awaiting_activation.title")
    assert page.count(title) == 2  # the <title> and the heading, not the paragraph
    assert escape("Un conseiller vous tiendra informé du statut de votre demande.") in page


def test_the_meter_says_what_each_missing_item_adds_and_pets_can_be_cleared(
        dj_service: OnboardingService) -> None:
    onboard(dj_service)
    client = csrf_client()
    log_in(client, "100234567", GOOD_PASSWORD)
    page = body(client.get("/profil/"))
    assert html("ui.completion.missing") in page
    for item in ("+10 % : vos animaux", "+20 % : vos préférences de communication"):
        assert escape(item) in page
    assert 'value="unset" checked' in page
    post_form(client, "/profil/", "/profil/", {"pets": "yes"})
    page = body(client.get("/profil/"))
    assert "vos animaux" not in page and 'value="yes" checked' in page
    post_form(client, "/profil/", "/profil/", {"pets": "unset"})
    page = body(client.get("/profil/"))
    assert escape("+10 % : vos animaux") in page and 'value="unset" checked' in page


# ---------------------------------------------------------------------------- PRG

SECRET = "Un secret à ne jamais garder 42"


def test_a_refused_login_redirects_and_keeps_the_number_not_the_password(
        dj_service: OnboardingService) -> None:
    client = csrf_client()
    response = post_form(client, LOGIN, LOGIN, {"identifier": "100239999",
                                                "password": SECRET})
    page = body(shown(client, response, LOGIN))
    assert html("reason.bad_credentials") in page
    assert 'value="100239999"' in page and escape(SECRET) not in page
    assert SECRET not in str(client.session.items())
    again = body(client.get(LOGIN))  # a reload: the clean form
    assert html("reason.bad_credentials") not in again


@pytest.mark.parametrize(("form", "data", "reason", "typed"), [
    ("/identifiant-oublie/", {"email": "pas une adresse"}, "email_invalid", "pas une adresse"),
    ("/mot-de-passe-oublie/", {"identifier": "x" * 80}, None, None),
])
def test_recovery_forms_redirect_refusals_and_answers_alike(
        dj_service: OnboardingService, form: str, data: dict[str, str], reason: str | None,
        typed: str | None) -> None:
    client = csrf_client()
    response = post_form(client, form, form, data)
    page = body(shown(client, response, form))
    if reason is not None:
        assert html(f"reason.{reason}") in page
    if typed is not None:
        assert f'value="{typed}"' in page


def test_the_journey_forms_redirect_their_refusals(dj_service: OnboardingService) -> None:
    client = at_mailbox(dj_service)
    response = post_form(client, "/premiere-connexion/code/", "/premiere-connexion/code/",
                         {"code": "AAAA-AAAA"})
    assert html("reason.code_invalid") in body(
        shown(client, response, "/premiere-connexion/code/"))
    link = last_link()
    post_form(client, path_of(link), "/premiere-connexion/valider",
              {"token": link.split("token=")[1]})
    response = post_form(client, JOURNEY, "/premiere-connexion/mot-de-passe/",
                         {"password": SECRET, "confirmation": SECRET + "!"})
    page = body(shown(client, response, JOURNEY))
    assert html("reason.passwords_differ") in page and escape(SECRET) not in page
    assert SECRET not in str(client.session.items())


def test_the_link_sent_confirmation_is_a_dialog_that_needs_no_script(
        dj_service: OnboardingService) -> None:
    client = at_mailbox(dj_service)
    page = body(client.get(JOURNEY))
    assert '<dialog open class="popup" id="sent-dialog" aria-labelledby="sent-message">' in page
    assert html("notice.link_sent") in page and '<form method="dialog">' in page
    assert page.count(html("notice.link_sent")) == 1  # not in the messages as well
    assert "<dialog" not in body(client.get(JOURNEY))  # once
