"""The onboarding funnel in the Django admin."""

from __future__ import annotations

import html

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from cegema_onboarding.adapters.memory import ManualClock
from cegema_onboarding.service import OnboardingService

pytestmark = pytest.mark.django_db

ACCOUNTS = "/admin/cegema_onboarding/onboardingaccount/"
FUNNEL = ACCOUNTS + "funnel/"


def _member(service: OnboardingService, number: str, *, log_in: bool) -> None:
    member = service.staff.provision(number, "Jean Martin", postal_address="1 rue de la Paix")
    if log_in:
        result = service.login(number, member.initial_password)
        assert result.session is not None  # type: ignore[union-attr]
        service.declare_no_email(result.session)  # type: ignore[union-attr]


def test_staff_see_the_funnel_linked_from_the_accounts(dj_service: OnboardingService,
                                                        clock: ManualClock) -> None:
    get_user_model().objects.create_superuser("agnes", "agnes@cegema.example", "x" * 20)
    client = Client()
    client.login(username="agnes", password="x" * 20)
    _member(dj_service, "100000001", log_in=True)
    for number in ("100000002", "100000003", "100000004"):
        _member(dj_service, number, log_in=False)
    assert 'href="funnel/">Onboarding funnel<' in client.get(
        ACCOUNTS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    page = client.get(FUNNEL, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    rows = page.context["rows"]
    assert [(r["name"], r["count"], r["percent"]) for r in rows[:3]] == [
        ("provisioned", 4, 100.0), ("first login", 1, 25.0),
        ("email given or no-email", 1, 25.0)]
    english = page.content.decode()
    assert "Onboarding funnel" in english and "1 awaiting activation (no email)" in english
    assert "more than 7 days: 0" in english
    clock.advance(days=8)
    en = {"HTTP_ACCEPT_LANGUAGE": "en"}
    assert "more than 7 days: 1" in client.get(FUNNEL, **en).content.decode()
    assert "more than 30 days: 0" in client.get(FUNNEL + "?days=30", **en).content.decode()
    # In a French admin, the whole page is French.
    assert 'href="funnel/">Parcours de première connexion<' in client.get(
        ACCOUNTS, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    french = html.unescape(client.get(FUNNEL, HTTP_ACCEPT_LANGUAGE="fr").content.decode())
    for wanted in ("Parcours de première connexion", "Médiane depuis l'étape précédente",
                   "comptes créés", "première connexion", "email donné ou sans email",
                   "0 en attente de leur lien, 1 en attente d'activation (sans email).",
                   "En attente d'activation depuis plus de 7 jours : 1"):
        assert wanted in french, wanted
    assert "Onboarding funnel" not in french and "Stuck" not in french


def test_the_medians_say_their_units_in_the_staff_language(dj_service: OnboardingService,
                                                           clock: ManualClock) -> None:
    get_user_model().objects.create_superuser("agnes", "agnes@cegema.example", "x" * 20)
    client = Client()
    client.login(username="agnes", password="x" * 20)
    member = dj_service.staff.provision("100000001", "Jean Martin",
                                        postal_address="1 rue de la Paix")
    clock.advance(days=3, hours=12)
    result = dj_service.login("100000001", member.initial_password)
    assert result.session is not None  # type: ignore[union-attr]
    clock.advance(seconds=75)
    dj_service.declare_no_email(result.session)  # type: ignore[union-attr]

    def medians(lang: str) -> list[str]:
        page = client.get(FUNNEL, HTTP_ACCEPT_LANGUAGE=lang)
        return [row["median"] for row in page.context["rows"][1:3]]

    assert medians("fr") == ["3,5 jours", "1 min 15 s"]
    assert medians("en") == ["3.5 days", "1 min 15 s"]
    french = html.unescape(client.get(FUNNEL, HTTP_ACCEPT_LANGUAGE="fr").content.decode())
    assert "3,5 jours" in french and "days" not in french


def test_every_funnel_step_has_its_admin_text() -> None:
    """A step added to the funnel must get its catalogue key, or the page would fail."""
    from cegema_onboarding import funnel
    from cegema_onboarding.funnel import STEPS
    from cegema_onboarding.integrations.django.admin_funnel import STEP_KEYS
    from cegema_onboarding.texts import text

    # One table for the page and for `cegema-onboarding stats`, so that both name a step alike.
    assert STEP_KEYS is funnel.STEP_KEYS
    assert list(STEP_KEYS) == [name for name, _stages, _actions in STEPS]
    assert all(text(key, "fr") != key and text(key, "en") for key in STEP_KEYS.values())


def test_the_funnel_is_for_staff_only(dj_service: OnboardingService) -> None:
    get_user_model().objects.create_user("paul", "paul@example.com", "y" * 20)
    client = Client()
    assert client.get(FUNNEL).status_code == 302  # to the admin's login
    client.login(username="paul", password="y" * 20)
    assert client.get(FUNNEL).status_code == 302
