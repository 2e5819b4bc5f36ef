"""Helpers for driving the app through Django's test client."""

from __future__ import annotations

import re
from typing import Any

from django.core import mail
from django.test import Client
from django.utils.html import escape

from cegema_onboarding import texts

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def csrf_client() -> Client:
    """A client that enforces CSRF like a browser would be held to it."""
    return Client(enforce_csrf_checks=True)


def token_from(client: Client, url: str) -> str:
    """GET a page and return the CSRF token of its first form."""
    response = client.get(url, follow=True)  # a link first moves its token to a cookie
    assert response.status_code == 200, response.status_code
    match = _CSRF.search(response.content.decode())
    assert match is not None, "no CSRF token in the page"
    return match.group(1)


def post_form(client: Client, form_url: str, action: str, data: dict[str, str],
              **extra: Any) -> Any:
    """Open the page with the form, then POST to its action with the page's CSRF token."""
    token = token_from(client, form_url)
    return client.post(action, {**data, "csrfmiddlewaretoken": token}, **extra)


def html(key: str, lang: str = "fr", **params: Any) -> str:
    """A catalogue text as the templates render it (HTML-escaped)."""
    params.setdefault("brand", "CEGEMA")
    return str(escape(texts.text(key, lang, **params)))


def body(response: Any) -> str:
    """The decoded page."""
    return str(response.content.decode())


def last_link() -> str:
    """The link in the last mail sent through Django's mail outbox."""
    message = mail.outbox[-1]
    match = re.search(r"https?://[^\s\"<>]+token=[A-Za-z0-9_.\-]+", message.body)
    assert match is not None, "no link in the mail"
    return match.group(0)


def path_of(url: str) -> str:
    """The path and query of an absolute link, for the test client."""
    return re.sub(r"^https?://[^/]+", "", url)


def without_csrf(page: str) -> str:
    """A page with its per-response CSRF tokens blanked, to compare two responses."""
    return _CSRF.sub('name="csrfmiddlewaretoken" value=""', page)


def shown(client: Client, response: Any, path: str | None = None) -> Any:
    """A form's answer is a 303 (Post/Redirect/Get): the page it leads to."""
    assert response.status_code == 303, response.status_code
    if path is not None:
        assert response["Location"] == path
    return client.get(response["Location"])
