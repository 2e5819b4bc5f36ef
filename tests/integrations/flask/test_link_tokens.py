"""Mailed links' tokens stay out of access logs, later URLs and Referers (issue #12).

The Flask side, through Werkzeug's real server, and the log filter itself. The Django side
is in tests/integrations/django/test_link_tokens.py.
"""

from __future__ import annotations

import html
import logging
import logging.config
import re
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("flask")

from cegema_onboarding.integrations.logfilter import (
    REDACTED,
    RedactTokens,
    redact,
    redact_tokens_in,
)
from cegema_onboarding.service import Ok

from ...conftest import GOOD_PASSWORD
from ...live_http import Browser, Seen, log_lines, serving, walk
from .test_views import BASE_URL, CSRF, Env, fr

TOKEN = "abc.DEF-12_xyz"


def csrf_in(body: str) -> str:
    match = CSRF.search(body)
    assert match is not None, "no CSRF token in the page"
    return match.group(1)


def hidden_token(body: str) -> str:
    match = re.search(r'name="token" value="([^"]*)"', body)
    assert match is not None, "no token field in the page"
    return match.group(1)


def set_cookie(response: Any, name: str) -> str:
    found = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    assert len(found) == 1, response.headers.getlist("Set-Cookie")
    return str(found[0])


@pytest.fixture
def env() -> Env:
    return Env()


@pytest.fixture
def werkzeug_server() -> Iterator[tuple[Env, Seen, Browser]]:
    from werkzeug.serving import make_server

    env = Env()  # testing: plain cookies, which a browser sends back over http
    seen = Seen()
    server = make_server("127.0.0.1", 0, seen.wrap(env.app))
    try:
        yield env, seen, serving(server)
    finally:
        server.server_close()


# ---------------------------------------------------------------------- a real server


def test_werkzeug_never_logs_a_links_token_and_the_link_still_works(
        werkzeug_server: tuple[Env, Seen, Browser]) -> None:
    env, seen, browser = werkzeug_server
    member = env.service.staff.provision("100234567", "Marie Dupont")
    with log_lines("werkzeug") as lines:
        page = browser.get("/connexion")
        assert browser.post("/connexion", {
            "identifier": "100234567", "password": member.initial_password,
            "csrf_token": csrf_in(page.body)}).status == 303
        page = browser.get("/premiere-connexion")
        assert browser.post("/premiere-connexion", {
            "email": "marie@example.com", "confirmation": "marie@example.com",
            "csrf_token": csrf_in(page.body)}).status == 303
        link = env.last_link()
        token = link.split("token=")[1]
        first = len(seen.requests)
        # The member clicks the link in the mail.
        replies = walk(browser, env.path_of(link))
        shown = replies[-1]
        assert shown.status == 200 and fr("button.confirm_link") in html.unescape(shown.body)
        done = browser.post("/premiere-connexion/valider", {
            "token": hidden_token(shown.body), "csrf_token": csrf_in(shown.body)})
        assert done.status == 303 and done.location == "/mot-de-passe"
        assert "Choisissez votre nouveau mot de passe" in html.unescape(
            browser.get("/mot-de-passe").body)

    # (1) The access log: the one line that carried the token shows it redacted.
    assert lines, "Werkzeug logged no request line"
    assert not [line for line in lines if token in line]
    assert [line for line in lines if f"valider?token={REDACTED}" in line]
    # Only the first request carried it: no later URL, and no Referer, ever did.
    assert token in seen.requests[first][1]
    for path, query, referer in seen.requests[first + 1:]:
        assert token not in path + query + referer, (path, query, referer)
    # (2) The page the member lands on has no token in its URL, and tells the browser to
    # send no Referer from it; so does the redirect.
    assert len(replies) == 2 and replies[0].status == 303
    assert replies[0].location == "/premiere-connexion/valider"
    for reply in replies:
        assert reply.headers["Referrer-Policy"] == "no-referrer"
    # The token cookie is spent with the link.
    assert browser.cookie("cegema_link") is None


# ---------------------------------------------------------------------- the redirect


def test_the_links_token_moves_to_a_cookie_scoped_to_its_path() -> None:
    env = Env(testing=False)  # production: Secure and prefixed
    client = env.client()
    for path in ("/premiere-connexion/valider", "/mot-de-passe/reinitialiser",
                 "/securite/ce-n-etait-pas-moi", "/profil/email/valider"):
        r = client.get(f"{path}?token={TOKEN}", base_url=BASE_URL)
        assert r.status_code == 303 and r.location == path
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert r.headers["Cache-Control"] == "no-store"
        cookie = set_cookie(r, "__Secure-cegema_link")
        assert cookie.startswith(f"__Secure-cegema_link={TOKEN};")
        for flag in ("Secure", "HttpOnly", "SameSite=Lax", f"Path={path}", "Max-Age=900"):
            assert flag in cookie.split("; "), (flag, cookie)
        assert "Domain" not in cookie
        # The page reads it there (a forged token: the page says the link is invalid).
        page = client.get(path, base_url=BASE_URL)
        assert page.status_code == 400
        assert fr("reason.link_invalid") in html.unescape(page.get_data(as_text=True))


def test_other_query_parameters_survive_the_redirect(env: Env) -> None:
    r = env.client().get(f"/premiere-connexion/valider?lang=en&token={TOKEN}")
    assert r.status_code == 303 and r.location == "/premiere-connexion/valider?lang=en"


def test_a_value_no_link_carries_is_not_kept(env: Env) -> None:
    client = env.client()
    client.get(f"/premiere-connexion/valider?token={TOKEN}")
    r = client.get("/premiere-connexion/valider?token=" + "x" * 600)
    # The earlier link's token goes too: the page must not show it for this one.
    assert "Max-Age=0" in set_cookie(r, "cegema_link") or "expires=Thu, 01 Jan 1970" in \
        set_cookie(r, "cegema_link")
    page = client.get(r.location)
    assert 'name="token"' not in page.get_data(as_text=True)


def test_a_reset_link_opened_then_used_through_the_cookie(env: Env) -> None:
    env.active_member()
    client = env.client()
    page = client.get("/mot-de-passe-oublie")
    client.post("/mot-de-passe-oublie", data={"identifier": "100234567",
                                              "csrf_token": csrf_in(page.get_data(True))})
    env.service.deliver_due()
    link = env.last_link()
    opened = client.get(env.path_of(link), follow_redirects=True)
    body = opened.get_data(as_text=True)
    assert opened.request.path == "/mot-de-passe/reinitialiser"
    assert not opened.request.query_string
    new = "Une autre phrase de passe 2026"
    r = client.post("/mot-de-passe/reinitialiser", data={
        "token": hidden_token(body), "answer": "Rex le chien", "password": new,
        "confirmation": new, "csrf_token": csrf_in(body)})
    assert r.status_code == 303 and r.location == "/connexion"
    # Spent: the cookie goes with it.
    assert "Max-Age=0" in set_cookie(r, "cegema_link") or "expires=Thu, 01 Jan 1970" in \
        set_cookie(r, "cegema_link")
    assert isinstance(env.service.login("100234567", new), Ok)
    assert not isinstance(env.service.login("100234567", GOOD_PASSWORD), Ok)


# ---------------------------------------------------------------------- the log filter


def test_the_filter_redacts_werkzeug_gunicorn_and_quoted_tokens() -> None:
    werkzeug = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, '127.0.0.1 - - [x] "%s" %s %s',
        (f"GET /premiere-connexion/valider?token={TOKEN} HTTP/1.1", "303", "-"), None)
    assert RedactTokens().filter(werkzeug)
    assert werkzeug.getMessage() == (
        f'127.0.0.1 - - [x] "GET /premiere-connexion/valider?token={REDACTED} HTTP/1.1" 303 -')
    # gunicorn formats its access line from a dict of "atoms".
    atoms = {"h": "10.0.0.1", "r": f"GET /x?lang=fr&token={TOKEN}&a=1 HTTP/1.1", "s": "303",
             "f": f"https://mail.example/redirect?url=https%3A%2F%2Fp%2Fx%3Ftoken%3D{TOKEN}"}
    gunicorn = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1,
                                 '%(h)s "%(r)s" %(s)s "%(f)s"', (atoms,), None)
    assert RedactTokens().filter(gunicorn)
    line = gunicorn.getMessage()
    assert TOKEN not in line
    assert f"?lang=fr&token={REDACTED}&a=1 " in line and f"%3Ftoken%3D{REDACTED}" in line
    assert redact("GET /connexion?lang=en HTTP/1.1") == "GET /connexion?lang=en HTTP/1.1"


def test_a_malformed_logging_call_is_left_to_logging() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %s", ("one",), None)
    assert RedactTokens().filter(record)  # does not raise: the handler reports it
    assert record.args == ("one",)


def test_installing_twice_adds_one_filter() -> None:
    logger = logging.getLogger("cegema_onboarding.tests.access")
    redact_tokens_in(logger.name)
    redact_tokens_in(logger.name)
    assert sum(isinstance(f, RedactTokens) for f in logger.filters) == 1


def test_the_dictconfig_recipe_of_the_docs() -> None:
    # The filter on a handler, as docs/django.md's LOGGING: it sees propagated records too.
    parent = "cegema_onboarding.tests.dictconfig"
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logging.config.dictConfig({
        "version": 1, "disable_existing_loggers": False,
        "filters": {"redact_tokens": {
            "()": "cegema_onboarding.integrations.logfilter.RedactTokens"}},
        "handlers": {"keep": {"()": lambda: Keep(), "filters": ["redact_tokens"]}},
        "loggers": {parent: {"handlers": ["keep"], "level": "INFO", "propagate": False}},
    })
    try:
        logging.getLogger(f"{parent}.server").info('"GET /x?token=%s HTTP/1.1" 200', TOKEN)
    finally:
        logging.getLogger(parent).handlers.clear()
    assert lines == [f'"GET /x?token={REDACTED} HTTP/1.1" 200']


def test_the_extension_redacts_werkzeugs_logger() -> None:
    Env()
    assert any(isinstance(f, RedactTokens) for f in logging.getLogger("werkzeug").filters)
