"""Mailed links' tokens stay out of access logs, later URLs and Referers (issue #12).

The request lines are those of ``runserver``'s own server and request handler, logged on
``django.server``; the application sees each request's WSGI environ through a recorder.
"""

from __future__ import annotations

import html as html_lib
import logging
import re
from collections.abc import Iterator

import pytest
from django.core import mail
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
from django.test import Client, override_settings

from cegema_onboarding.adapters.memory import ManualClock
from cegema_onboarding.integrations.django.conf import get_service
from cegema_onboarding.integrations.logfilter import REDACTED, RedactTokens
from cegema_onboarding.service import OnboardingService

from ...live_http import Browser, Seen, log_lines, serving, walk
from .conftest import onboarding_config
from .helpers import body, html, last_link, path_of

pytestmark = pytest.mark.django_db

TOKEN = "abc.DEF-12_xyz"
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
LINKS = ("/premiere-connexion/valider", "/mot-de-passe/reinitialiser",
         "/securite/ce-n-etait-pas-moi", "/profil/email/valider")


def csrf_in(page: str) -> str:
    match = CSRF_FIELD.search(page)
    assert match is not None, "no CSRF token in the page"
    return match.group(1)


def hidden_token(page: str) -> str:
    match = re.search(r'name="token" value="([^"]*)"', page)
    assert match is not None, "no token field in the page"
    return match.group(1)


@pytest.fixture
def runserver(clock: ManualClock) -> Iterator[tuple[OnboardingService, Seen, Browser]]:
    """runserver's server and handler on a free port; plain-http cookies, as in development."""
    seen = Seen()
    config = onboarding_config(CLOCK=clock, COOKIE_SECURE=False)
    with override_settings(CEGEMA_ONBOARDING=config,
                           ALLOWED_HOSTS=["127.0.0.1", "testserver"]):
        mail.outbox = []
        server = WSGIServer(("127.0.0.1", 0), WSGIRequestHandler, ipv6=False)
        server.set_app(seen.wrap(WSGIHandler()))
        try:
            yield get_service(), seen, serving(server)
        finally:
            server.server_close()


def test_runserver_never_logs_a_links_token_and_the_link_still_works(
        runserver: tuple[OnboardingService, Seen, Browser]) -> None:
    service, seen, browser = runserver
    member = service.staff.provision("100234567", "Marie Dupont")
    with log_lines("django.server") as lines:
        page = browser.get("/connexion/")
        assert browser.post("/connexion/", {
            "identifier": "100234567", "password": member.initial_password,
            "csrfmiddlewaretoken": csrf_in(page.body)}).status == 302
        page = browser.get("/premiere-connexion/")
        assert browser.post("/premiere-connexion/email/", {
            "email": "marie@example.org", "confirmation": "marie@example.org",
            "csrfmiddlewaretoken": csrf_in(page.body)}).status == 302
        link = last_link()
        token = link.split("token=")[1]
        first = len(seen.requests)
        # The member clicks the link in the mail.
        replies = walk(browser, path_of(link))
        shown = replies[-1]
        assert shown.status == 200
        assert html("button.confirm_link") in shown.body
        done = browser.post("/premiere-connexion/valider", {
            "token": hidden_token(shown.body), "csrfmiddlewaretoken": csrf_in(shown.body)})
        assert done.status == 302 and done.location == "/premiere-connexion/"
        password_page = html_lib.unescape(browser.get("/premiere-connexion/").body)
        assert "Choisissez votre nouveau mot de passe" in password_page

    # (1) runserver's log: the one line that carried the token shows it redacted.
    assert lines, "runserver logged no request line"
    assert not [line for line in lines if token in line]
    assert [line for line in lines if f"valider?token={REDACTED}" in line]
    # Only the first request carried it: no later QUERY_STRING, and no Referer, ever did.
    assert token in seen.requests[first][1]
    for path, query, referer in seen.requests[first + 1:]:
        assert token not in path + query + referer, (path, query, referer)
    # (2) The page the member lands on has no token in its URL, and tells the browser to
    # send no more than the site's origin from it; the redirect sends no Referer at all.
    assert len(replies) == 2 and replies[0].status == 303
    assert replies[0].location == "/premiere-connexion/valider"
    # The page keeps its address (no token in it) to the site itself, so that its form's
    # POST carries its Origin for Django's CSRF check.
    assert replies[0].headers["Referrer-Policy"] == "no-referrer"
    assert replies[1].headers["Referrer-Policy"] == "same-origin"
    # The token cookie is spent with the link.
    assert browser.cookie("cegema_link") is None


def test_the_links_token_moves_to_a_cookie_scoped_to_its_path(
        dj_service: OnboardingService) -> None:
    client = Client()
    for path in LINKS:
        response = client.get(f"{path}?token={TOKEN}")
        assert response.status_code == 303 and response["Location"] == path
        assert response["Referrer-Policy"] == "no-referrer"
        # DEBUG is off in these tests: Secure, so prefixed.
        cookie = response.cookies["__Secure-cegema_link"]
        assert cookie.value == TOKEN
        assert cookie["path"] == path and cookie["secure"] and cookie["httponly"]
        assert cookie["samesite"] == "Lax" and cookie["max-age"] == 900
        assert not cookie["domain"]
        # The page reads it there (a forged token: the page says the link is invalid).
        page = client.get(path)
        assert page.status_code == 200
        assert html("reason.link_invalid") in body(page)
        assert 'name="token"' not in body(page)


def test_other_query_parameters_survive_the_redirect(dj_service: OnboardingService) -> None:
    response = Client().get(f"/premiere-connexion/valider?lang=en&token={TOKEN}")
    assert response.status_code == 303
    assert response["Location"] == "/premiere-connexion/valider?lang=en"


def test_a_value_no_link_carries_is_not_kept(dj_service: OnboardingService) -> None:
    client = Client()
    client.get(f"/premiere-connexion/valider?token={TOKEN}")
    response = client.get("/premiere-connexion/valider?token=" + "x" * 600)
    # The earlier link's token goes too: the page must not show it for this one.
    assert response.cookies["__Secure-cegema_link"].value == ""
    assert 'name="token"' not in body(client.get("/premiere-connexion/valider"))


def test_runserver_logger_is_redacted_once_the_app_is_ready() -> None:
    filters = logging.getLogger("django.server").filters
    assert sum(isinstance(f, RedactTokens) for f in filters) == 1
