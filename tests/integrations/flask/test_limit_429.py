"""A rate-limit refusal answers 429 Too Many Requests with Retry-After (issues #15, #16).

The refused POST still answers 303 (Post/Redirect/Get); the GET it leads to shows the
refusal, with the actual wait, as a 429 with ``Retry-After``. Reloading that page (or
coming back to it) is an ordinary GET of the clean form.
"""

from __future__ import annotations

import pytest

pytest.importorskip("flask")

from .test_views import Env, _normalised, log_in, post, refused, text_of


def test_a_limited_login_answers_429_with_the_wait_and_keeps_the_number() -> None:
    env = Env()
    client = env.client()
    limit = env.service.settings.rate_limits.login_ip.count
    for _ in range(limit):
        assert log_in(env, client, "100234567", "not the password").status_code == 303
    env.clock.advance(seconds=20)
    page = refused(client, log_in(env, client, "100234567", "not the password"), "/connexion")
    assert page.status_code == 429
    assert page.headers["Retry-After"] == "40"
    assert "Trop de demandes. Merci de patienter 40 secondes avant de réessayer." in text_of(
        page)
    assert "quelques minutes" not in text_of(page)
    # What the member typed stays, except the password.
    assert 'value="100234567"' in text_of(page)
    assert "not the password" not in text_of(page)
    # A reload (or Back to it) is a GET of the clean form, never a POST resubmitted.
    again = client.get("/connexion")
    assert again.status_code == 200 and "Retry-After" not in again.headers


def test_english_says_the_wait_too() -> None:
    env = Env()
    client = env.client()
    client.get("/connexion?lang=en")
    for _ in range(env.service.settings.rate_limits.login_ip.count):
        log_in(env, client, "100234567", "not the password")
    page = refused(client, log_in(env, client, "100234567", "not the password"))
    assert page.status_code == 429 and page.headers["Retry-After"] == "60"
    assert "Too many requests. Please wait one minute before trying again." in text_of(page)


def test_known_and_unknown_numbers_get_the_same_429() -> None:
    env = Env()
    env.active_member("100234567")
    pages = []
    for number in ("100234567", "100239999"):
        client = env.client()
        for _ in range(env.service.settings.rate_limits.forgot_identifier.count):
            post(client, "/mot-de-passe-oublie", {"identifier": number})
        page = refused(client, post(client, "/mot-de-passe-oublie", {"identifier": number}))
        assert page.status_code == 429
        pages.append(_normalised(page, number))
    assert pages[0] == pages[1]
