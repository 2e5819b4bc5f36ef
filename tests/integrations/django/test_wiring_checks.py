"""System checks on the host's wiring: database alias, auth backend, LOGIN_URL (issue #14)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.checks import run_checks
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings

from .conftest import onboarding_config

BACKEND = "cegema_onboarding.integrations.django.backends.OnboardingBackend"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def messages(**settings: Any) -> dict[str, Any]:
    with override_settings(**settings):
        return {m.id: m for m in run_checks() if m.id and m.id.startswith("cegema_onboarding")}


WIRING = {"cegema_onboarding.E004", "cegema_onboarding.W009", "cegema_onboarding.W010",
          "cegema_onboarding.W011"}


def test_the_test_project_is_wired_right() -> None:
    assert set(messages()) & WIRING == set()


def test_an_unknown_database_alias_is_an_error_naming_the_setting() -> None:
    found = messages(CEGEMA_ONBOARDING=onboarding_config(DATABASE="onboarding"))
    error = found["cegema_onboarding.E004"]
    assert error.is_serious()
    assert "CEGEMA_ONBOARDING['DATABASE']" in error.msg and "'onboarding'" in error.msg
    assert "'default'" in error.msg and "DATABASES" in error.hint


def test_a_known_database_alias_passes() -> None:
    found = messages(CEGEMA_ONBOARDING=onboarding_config(DATABASE="pg"))
    assert "cegema_onboarding.E004" not in found


def test_a_missing_onboarding_backend_is_flagged() -> None:
    found = messages(AUTHENTICATION_BACKENDS=[MODEL_BACKEND])
    warning = found["cegema_onboarding.W009"]
    assert "request.user" in warning.msg and BACKEND in warning.hint


def test_no_backend_is_needed_when_members_are_not_users() -> None:
    found = messages(AUTHENTICATION_BACKENDS=[MODEL_BACKEND],
                     CEGEMA_ONBOARDING=onboarding_config(CREATE_USERS=False))
    assert "cegema_onboarding.W009" not in found


@pytest.mark.parametrize("login_url", ["/accounts/login/", "admin:login", "/connexion/x/"])
def test_a_login_url_elsewhere_is_flagged(login_url: str) -> None:
    warning = messages(LOGIN_URL=login_url)["cegema_onboarding.W010"]
    assert repr(login_url) in warning.msg and "'cegema_onboarding:login'" in warning.hint


@pytest.mark.parametrize("login_url", ["cegema_onboarding:login", "/connexion/",
                                       "https://portail.example/connexion/"])
def test_a_login_url_naming_the_onboarding_login_passes(login_url: str) -> None:
    assert "cegema_onboarding.W010" not in messages(LOGIN_URL=login_url)


def test_login_required_reaches_the_onboarding_login() -> None:
    @login_required
    def members_only(request: HttpRequest) -> HttpResponse:
        return HttpResponse("members")

    request = RequestFactory().get("/members/")
    request.user = AnonymousUser()
    response = members_only(request)
    assert response.status_code == 302
    assert response["Location"] == "/connexion/?next=/members/"


@override_settings(ROOT_URLCONF="tests.integrations.django.urls_admin_only")
def test_onboarding_urls_missing_from_the_urlconf_are_flagged() -> None:
    assert "cegema_onboarding.W011" in messages()
