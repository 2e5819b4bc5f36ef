"""HEAD shows a page like GET and never submits its form, as in the Flask extension.

The views answered 405 to HEAD, which uptime probes and mail scanners send. Letting HEAD
in had to come with ``request.method != "POST"`` in every view: a view that tested
``== "GET"`` would have taken HEAD for a submission. The first test sends a HEAD with a
full form body to every route of the app, anonymous, at the email step and as an active
member, and asserts that nothing stored changed and no mail left.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.core import mail
from django.test import Client
from django.urls import URLPattern, get_resolver

from cegema_onboarding.service import OnboardingService

from ...conftest import GOOD_PASSWORD
from .helpers import csrf_client, last_link, path_of, post_form, token_from
from .test_account_life import EMAIL, log_in, onboard

pytestmark = pytest.mark.django_db

NUMBER = "100234567"
APP_URLS = "cegema_onboarding.integrations.django.urls"


def snapshot() -> list[list[dict[str, Any]]]:
    """Every row of every table of the app."""
    return [list(model.objects.order_by("pk").values())
            for model in apps.get_app_config("cegema_onboarding").get_models()]


def app_paths() -> list[str]:
    """Every path of the app's URLconf without arguments (the links' paths included)."""
    patterns = get_resolver(APP_URLS).url_patterns
    return sorted("/" + str(p.pattern) for p in patterns
                  if isinstance(p, URLPattern) and not p.pattern.converters)


def form_body(token: str, initial: str, service: OnboardingService) -> dict[str, str]:
    """A body every view would accept on POST, CSRF token included."""
    question = next(iter(service.settings.questions)).id
    return {"csrfmiddlewaretoken": token, "identifier": NUMBER, "password": initial,
            "email": EMAIL, "confirmation": EMAIL, "current_password": GOOD_PASSWORD,
            "new_password": GOOD_PASSWORD, "question": question, "answer": "Rex le chien",
            "code": "123456", "token": "x", "phone": "0601020304"}


def head(client: Client, path: str, data: dict[str, str]) -> Any:
    """A HEAD carrying a urlencoded form body, as a careless client might send."""
    from urllib.parse import urlencode

    return client.generic("HEAD", path, urlencode(data),
                          content_type="application/x-www-form-urlencoded")


def head_everywhere(client: Client, initial: str, service: OnboardingService) -> None:
    token = token_from(client, "/mot-de-passe-oublie/")
    paths = app_paths()
    assert len(paths) >= 15, paths
    for path in paths:
        before, sent = snapshot(), len(mail.outbox)
        response = head(client, path, form_body(token, initial, service))
        assert response.status_code < 500, path
        assert snapshot() == before, f"HEAD {path} changed the storage"
        assert len(mail.outbox) == sent, f"HEAD {path} sent a mail"


def test_no_head_changes_anything_at_any_stage(dj_service: OnboardingService) -> None:
    member = dj_service.staff.provision(NUMBER, "Marie Dupont")
    head_everywhere(csrf_client(), member.initial_password, dj_service)
    client = csrf_client()
    assert log_in(client, NUMBER, member.initial_password).status_code == 302  # type: ignore[attr-defined]
    head_everywhere(client, member.initial_password, dj_service)


def test_no_head_changes_anything_for_an_active_member(dj_service: OnboardingService) -> None:
    onboard(dj_service, NUMBER)
    client = csrf_client()
    assert log_in(client, NUMBER, GOOD_PASSWORD).status_code == 302  # type: ignore[attr-defined]
    head_everywhere(client, GOOD_PASSWORD, dj_service)


def test_a_form_page_answers_head_like_get(dj_service: OnboardingService) -> None:
    client = Client()
    for path in ("/connexion/", "/mot-de-passe-oublie/", "/identifiant-oublie/"):
        got, probed = client.get(path), client.head(path)
        assert got.status_code == probed.status_code == 200, path
        assert probed["Content-Type"] == got["Content-Type"]


def test_a_head_with_credentials_does_not_log_in(dj_service: OnboardingService) -> None:
    member = dj_service.staff.provision(NUMBER, "Marie Dupont")
    client = csrf_client()
    token = token_from(client, "/connexion/")
    response = head(client, "/connexion/", {"csrfmiddlewaretoken": token,
                                            "identifier": NUMBER,
                                            "password": member.initial_password})
    assert response.status_code == 200
    # Still the login form: nobody is logged in.
    assert client.get("/premiere-connexion/").status_code == 302


def test_a_head_on_a_mailed_link_leaves_it_usable(dj_service: OnboardingService) -> None:
    member = dj_service.staff.provision(NUMBER, "Marie Dupont")
    client = csrf_client()
    log_in(client, NUMBER, member.initial_password)
    post_form(client, "/premiere-connexion/", "/premiere-connexion/email/",
              {"email": EMAIL, "confirmation": EMAIL})
    link = path_of(last_link())
    path = link.split("?")[0]
    # A mail scanner's HEAD on the link: the same redirect as a GET, the link unspent.
    assert Client().head(link).status_code == 303
    confirmed = post_form(client, link, path, {"token": link.split("token=")[1]})
    assert confirmed.status_code == 302
    assert client.get("/premiere-connexion/").status_code == 200
    stage = dj_service.storage.find_by_member_number(NUMBER).stage  # type: ignore[union-attr]
    assert stage.name == "PASSWORD_REQUIRED"
