"""What every page's context holds, under the Flask integration's names (issue #14)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import override_settings

from cegema_onboarding.integrations.django.member import CurrentMember
from cegema_onboarding.service import OnboardingService

from ...conftest import GOOD_PASSWORD
from .helpers import body, csrf_client, html, post_form
from .test_account_life import log_in, onboard

pytestmark = pytest.mark.django_db

BASE = (Path(__file__).resolve().parents[3] / "src" / "cegema_onboarding" / "integrations"
        / "django" / "templates" / "cegema_onboarding" / "base.html")


class NonceMiddleware:
    """Stands in for a CSP middleware (django-csp) that puts a nonce on the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.csp_nonce = "n0nce"  # type: ignore[attr-defined]
        return self.get_response(request)


def test_a_stranger_gets_the_shared_names() -> None:
    context = csrf_client().get("/connexion/?x=1").context
    assert context["brand"] == "CEGEMA"
    assert (context["lang"], context["other_lang"]) == ("fr", "en")
    assert context["other_lang_url"] == "/connexion/?x=1&lang=en"
    assert context["csp_nonce"] == "" and context["notice"] is None
    assert context["current_member"] is None


def test_a_member_in_the_journey_is_not_onboarded(dj_service: OnboardingService) -> None:
    member = dj_service.staff.provision("100234567", "Marie Dupont")
    client = csrf_client()
    log_in(client, "100234567", member.initial_password)
    current = client.get("/premiere-connexion/").context["current_member"]
    assert current == CurrentMember(account_id=member.account_id, member_number="100234567",
                                    name="Marie Dupont", onboarded=False)


def test_an_onboarded_member_is(dj_service: OnboardingService) -> None:
    account_id = onboard(dj_service)
    client = csrf_client()
    log_in(client, "100234567", GOOD_PASSWORD)
    current = client.get("/profil/").context["current_member"]
    assert current.onboarded and current.account_id == account_id


def test_the_notice_carries_this_requests_confirmation(dj_service: OnboardingService) -> None:
    onboard(dj_service)
    client = csrf_client()
    log_in(client, "100234567", GOOD_PASSWORD)
    post_form(client, "/profil/", "/profil/", {"comments": "Bonjour"})
    response = client.get("/profil/")
    assert response.context["notice"] == html("notice.profile_saved")
    # Still shown by the page itself.
    assert html("notice.profile_saved") in body(response)


def test_the_requests_csp_nonce_is_passed_on() -> None:
    with override_settings(MIDDLEWARE=[*settings.MIDDLEWARE,
                                       f"{__name__}.NonceMiddleware"]):
        assert csrf_client().get("/connexion/").context["csp_nonce"] == "n0nce"


def test_the_language_switch_serves_the_other_language_and_keeps_it() -> None:
    client = csrf_client()
    response = client.get("/connexion/?lang=en")
    assert html("screen.login.title", "en") in body(response)
    assert response.context["other_lang_url"] == "/connexion/?lang=fr"
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "en"
    # LocaleMiddleware reads the cookie on the next request.
    assert html("screen.login.title", "en") in body(client.get("/connexion/"))
    assert html("screen.login.title") in body(client.get("/connexion/?lang=fr"))


def test_an_unknown_language_changes_nothing() -> None:
    response = csrf_client().get("/connexion/?lang=de")
    assert html("screen.login.title") in body(response)
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_the_base_template_has_the_three_shared_blocks() -> None:
    source = BASE.read_text(encoding="utf-8")
    for block in ("title", "head", "content"):
        assert f"{{% block {block} %}}" in source


