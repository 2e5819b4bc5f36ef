"""The Flask integration through Flask's test client: routes, CSRF, cookies, headers,
Host-header poisoning and enumeration."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

flask = pytest.importorskip("flask")

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

from cegema_onboarding import texts  # noqa: E402
from cegema_onboarding.adapters.mailbox import FileMailbox, text_part  # noqa: E402
from cegema_onboarding.adapters.memory import (  # noqa: E402
    ManualClock,
    MemoryMailer,
    MemoryNotifier,
    MemoryStorage,
)
from cegema_onboarding.integrations.flask import Onboarding  # noqa: E402
from cegema_onboarding.model import Stage  # noqa: E402
from cegema_onboarding.service import Ok, OnboardingService, Provisioned  # noqa: E402

from ...conftest import GOOD_PASSWORD, START, make_settings  # noqa: E402

BASE_URL = "https://portail.example"
SESSION_KEY = "flask-tests-session-key-0123456789abcdef"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NONCE = re.compile(r"'nonce-[A-Za-z0-9_\-]+'")


def fr(key: str, **params: object) -> str:
    if "brand" in texts.placeholders(key):
        params.setdefault("brand", "CEGEMA")
    return texts.text(key, "fr", **params)


class Env:
    """An app, its service and its ports."""

    def __init__(self, *, testing: bool = True, template_folder: str | None = None,
                 **config: Any) -> None:
        self.clock = ManualClock(START)
        self.mailer = MemoryMailer()
        self.storage = MemoryStorage()
        self.service = OnboardingService(self.storage, self.mailer,
                                         settings=make_settings(base_url=BASE_URL),
                                         clock=self.clock, notifier=MemoryNotifier())
        app = Flask(__name__, template_folder=template_folder)
        # The journey's tests reach it through "/": this app gives the blueprint its root.
        app.config.update({"SECRET_KEY": SESSION_KEY, "TESTING": testing,
                           "CEGEMA_ONBOARDING_ROOT_REDIRECT": True, **config})
        Onboarding(app, service=self.service)
        self.app = app

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def last_link(self, index: int = -1) -> str:
        match = re.search(r"https://\S+token=[A-Za-z0-9_.\-]+", text_part(self.mailer.sent[index]))
        assert match is not None
        return match.group(0)

    def link_to(self, fragment: str) -> str:
        """The newest mailed link whose URL contains ``fragment``."""
        for message in reversed(self.mailer.sent):
            found = re.search(r"https://\S+token=[A-Za-z0-9_.\-]+", text_part(message))
            if found is not None and fragment in found.group(0):
                return found.group(0)
        raise AssertionError(f"no mailed link to {fragment}")

    def path_of(self, url: str) -> str:
        assert url.startswith(BASE_URL)
        return url[len(BASE_URL):]

    def active_member(self, number: str = "100234567", email: str = "marie@example.com",
                      answer: str = "Rex le chien") -> Provisioned:
        member = self.service.staff.provision(number, "Marie Dupont")
        s = self.service
        r = s.login(number, member.initial_password)
        assert isinstance(r, Ok) and r.session
        session = r.session
        r = s.submit_email(session, email, email)
        token = self.last_link().split("token=")[1]
        r = s.confirm_link(token, session=session)
        assert isinstance(r, Ok) and r.session
        r = s.set_password(r.session, GOOD_PASSWORD, GOOD_PASSWORD)
        assert isinstance(r, Ok) and r.session
        qid = next(iter(s.settings.questions)).id
        r = s.set_secret_answer(r.session, qid, answer, answer)
        assert isinstance(r, Ok)
        return member


def csrf(client: FlaskClient, path: str = "/connexion") -> str:
    # Followed: a mailed link first moves its token from the URL to a cookie (303).
    page = client.get(path, follow_redirects=True)
    match = CSRF.search(page.get_data(as_text=True))
    assert match is not None, f"no CSRF token on {path}"
    return match.group(1)


def post(client: FlaskClient, path: str, data: dict[str, str], *, token_from: str | None = None,
         **kwargs: Any) -> Any:
    data = {**data, "csrf_token": csrf(client, token_from or path)}
    return client.post(path, data=data, **kwargs)


def text_of(response: Any) -> str:
    """The page's HTML with entities decoded, so catalogue texts compare as they read."""
    return html.unescape(str(response.get_data(as_text=True)))


def raw_of(response: Any) -> str:
    return str(response.get_data(as_text=True))


def refused(client: FlaskClient, response: Any, path: str | None = None) -> Any:
    """A refused form answers 303 (Post/Redirect/Get): the page it redirects to, once."""
    assert response.status_code == 303, response.status_code
    if path is not None:
        assert response.location == path
    return client.get(response.location)


def log_in(env: Env, client: FlaskClient, number: str, password: str, **extra: str) -> Any:
    return post(client, "/connexion", {"identifier": number, "password": password, **extra})


@pytest.fixture
def env() -> Env:
    return Env()


@pytest.fixture
def client(env: Env) -> FlaskClient:
    return env.client()


# ---------------------------------------------------------------------- the journey


def test_login_page_has_the_guides_labels(client: FlaskClient) -> None:
    page = client.get("/connexion")
    html = text_of(page)
    assert page.status_code == 200
    assert "SE CONNECTER À VOTRE COMPTE" in html
    for label in ("Identifiant", "Mot de passe", "Se souvenir de moi", "Ouvrir une session"):
        assert label in html
    assert 'href="/identifiant-oublie"' in html and 'href="/mot-de-passe-oublie"' in html
    # Every input has a label pointing at it.
    for field in ("identifier", "password", "remember"):
        assert f'for="{field}"' in html and f'id="{field}"' in html


def test_whole_journey_through_the_routes(env: Env, client: FlaskClient) -> None:
    member = env.service.staff.provision("100234567", "Marie Dupont")
    r = log_in(env, client, "100234567", member.initial_password.lower())
    assert r.status_code == 303 and r.location == "/premiere-connexion"
    assert "PREMIÈRE CONNEXION" in text_of(client.get("/premiere-connexion"))

    r = post(client, "/premiere-connexion", {"email": "marie@example.com",
                                             "confirmation": "Marie@Example.com"})
    assert r.status_code == 303 and r.location == "/premiere-connexion/boite-mail"
    page = text_of(client.get(r.location))
    assert fr("notice.link_sent") in page and "marie@example.com" in page
    link = env.last_link()

    # GET on the link only shows a page, twice over; POST spends it.
    for _ in range(2):
        opened = client.get(env.path_of(link), follow_redirects=True)
        assert opened.status_code == 200
        assert fr("button.confirm_link") in text_of(opened)
    token = link.split("token=")[1]
    path = env.path_of(link).split("?")[0]
    r = post(client, path, {"token": token}, token_from=env.path_of(link))
    assert r.status_code == 303 and r.location == "/mot-de-passe"

    r = post(client, "/mot-de-passe", {"password": GOOD_PASSWORD, "confirmation": GOOD_PASSWORD})
    assert r.location == "/question-secrete"
    assert len(env.mailer.sent) == 2  # the validation mail and the password-changed mail
    qid = next(iter(env.service.settings.questions)).id
    r = post(client, "/question-secrete", {"question": qid, "answer": "Lefebvre",
                                           "confirmation": "Lefebvre"})
    assert r.location == "/profil"
    page = text_of(client.get("/profil"))
    assert "Ça y est ! Vous êtes connecté !" in page
    before = int(re.search(r"Profil complété à (\d+)%", page).group(1))  # type: ignore[union-attr]

    r = post(client, "/profil", {"channels": "email", "pets": "yes", "interests": "vélo",
                                 "comments": "Merci"})
    assert r.status_code == 303
    page = text_of(client.get("/profil"))
    after = int(re.search(r"Profil complété à (\d+)%", page).group(1))  # type: ignore[union-attr]
    assert after > before
    assert 'value="email" checked' in page
    account = env.storage.find_by_member_number("100234567")
    assert account is not None and account.stage is Stage.ACTIVE


def test_refusal_is_shown_next_to_its_field(env: Env, client: FlaskClient) -> None:
    member = env.service.staff.provision("100234567", "Marie Dupont")
    log_in(env, client, "100234567", member.initial_password)
    r = post(client, "/premiere-connexion", {"email": "a@example.com",
                                             "confirmation": "b@example.com"})
    page = text_of(refused(client, r, "/premiere-connexion"))
    assert 'aria-describedby="confirmation-error"' in page
    error = re.search(r'id="confirmation-error">\s*<p>([^<]+)</p>', page)
    assert error is not None and error.group(1) == fr("reason.emails_differ")
    assert 'value="a@example.com"' in page  # what the member typed stays


def test_steps_cannot_be_skipped(env: Env, client: FlaskClient) -> None:
    member = env.service.staff.provision("100234567", "Marie Dupont")
    log_in(env, client, "100234567", member.initial_password)
    assert client.get("/mot-de-passe").location == "/premiere-connexion"
    assert client.get("/question-secrete").location == "/premiere-connexion"
    assert client.get("/profil").location == "/premiere-connexion"
    r = post(client, "/mot-de-passe", {"password": GOOD_PASSWORD, "confirmation": GOOD_PASSWORD},
             token_from="/premiere-connexion")
    assert r.status_code == 303 and r.location == "/premiere-connexion"
    account = env.storage.find_by_member_number("100234567")
    assert account is not None and account.password_hash is None


def test_anonymous_visitors_go_to_the_login_page(client: FlaskClient) -> None:
    for path in ("/", "/premiere-connexion", "/premiere-connexion/boite-mail", "/mot-de-passe",
                 "/question-secrete", "/profil", "/premiere-connexion/en-attente"):
        assert client.get(path).location == "/connexion", path


def test_resend_change_address_and_code(env: Env, client: FlaskClient) -> None:
    member = env.service.staff.provision("100234567", "Marie Dupont")
    log_in(env, client, "100234567", member.initial_password)
    post(client, "/premiere-connexion", {"email": "m@example.com", "confirmation": "m@example.com"})
    first = env.last_link()
    env.clock.advance(minutes=2)
    r = post(client, "/premiere-connexion/renvoyer", {},
             token_from="/premiere-connexion/boite-mail")
    assert r.location == "/premiere-connexion/boite-mail"
    assert fr("notice.link_resent") in text_of(client.get(r.location))
    assert env.last_link() != first
    # The old link now says it was replaced.
    assert fr("reason.link_superseded") in text_of(client.get(env.path_of(first),
                                                                   follow_redirects=True))

    r = post(client, "/premiere-connexion/modifier", {},
             token_from="/premiere-connexion/boite-mail")
    assert r.location == "/premiere-connexion"
    post(client, "/premiere-connexion", {"email": "n@example.com", "confirmation": "n@example.com"})
    code = re.search(r"\b([0-9A-HJKMNP-TV-Z]{4}-?[0-9A-HJKMNP-TV-Z]{4})\b",
                     text_part(env.mailer.sent[-1]))
    assert code is not None
    r = post(client, "/premiere-connexion/code", {"code": "AAAA-AAAA"})
    assert 'id="code-error"' in text_of(refused(client, r, "/premiere-connexion/code"))
    r = post(client, "/premiere-connexion/code", {"code": code.group(1)})
    assert r.location == "/mot-de-passe"


def test_no_email_path_then_staff_activation(env: Env, client: FlaskClient) -> None:
    member = env.service.staff.provision("100234567", "Jean Martin")
    log_in(env, client, "100234567", member.initial_password)
    assert fr("notice.no_email") in text_of(client.get("/premiere-connexion/sans-email"))
    r = post(client, "/premiere-connexion/sans-email", {})
    assert r.location == "/premiere-connexion/en-attente"
    assert fr("screen.awaiting_activation.title") in text_of(client.get(r.location))
    queued = env.service.staff.activation_queue()
    assert [a.member_number for a in queued] == ["100234567"]
    env.service.staff.activate(queued[0].account_id, staff_id="s1")
    assert client.get("/").location == "/mot-de-passe"


def test_session_ends_when_the_password_changes_elsewhere(env: Env) -> None:
    member = env.service.staff.provision("100234567", "Marie Dupont")
    first, second = env.client(), env.client()
    log_in(env, first, "100234567", member.initial_password)
    log_in(env, second, "100234567", member.initial_password)
    post(second, "/premiere-connexion", {"email": "m@example.com", "confirmation": "m@example.com"})
    link = env.last_link()
    post(second, env.path_of(link).split("?")[0], {"token": link.split("token=")[1]},
         token_from=env.path_of(link))
    post(second, "/mot-de-passe", {"password": GOOD_PASSWORD, "confirmation": GOOD_PASSWORD})
    r = first.get("/")
    assert r.location == "/connexion"
    assert fr("reason.session_expired") in text_of(first.get("/connexion"))


def test_logout(env: Env, client: FlaskClient) -> None:
    member = env.service.staff.provision("100234567", "Marie Dupont")
    log_in(env, client, "100234567", member.initial_password)
    r = post(client, "/deconnexion", {}, token_from="/premiere-connexion")
    assert r.location == "/connexion"
    assert client.get("/premiere-connexion").location == "/connexion"


# ---------------------------------------------------------------------- account life


def test_forgotten_password_and_reset_link(env: Env, client: FlaskClient) -> None:
    env.active_member()
    r = post(client, "/mot-de-passe-oublie", {"identifier": "100234567"})
    assert r.location == "/connexion"
    assert fr("notice.forgotten_password_sent") in text_of(client.get("/connexion"))
    env.service.deliver_due()
    link = env.last_link()
    page = client.get(env.path_of(link), follow_redirects=True)
    assert page.status_code == 200 and fr("label.reset_answer") in text_of(page)
    question = next(iter(env.service.settings.questions)).label("fr")
    assert question in text_of(page)  # the member's own question is named
    assert page.headers["Referrer-Policy"] == "no-referrer"
    path, token = env.path_of(link).split("?")[0], link.split("token=")[1]
    new = "Une autre phrase de passe 2026"
    r = post(client, path, {"token": token, "answer": "faux", "password": new,
                            "confirmation": new}, token_from=env.path_of(link))
    assert 'id="answer-error"' in text_of(refused(client, r, path))
    r = post(client, path, {"token": token, "answer": "Rex le chien", "password": new,
                            "confirmation": new}, token_from=env.path_of(link))
    assert r.location == "/connexion"
    assert fr("notice.password_reset_done") in text_of(client.get("/connexion"))
    assert log_in(env, client, "100234567", new).location == "/profil"


def test_forgotten_identifier(env: Env, client: FlaskClient) -> None:
    env.active_member(email="numero@example.com")
    r = post(client, "/identifiant-oublie", {"email": "Numero@example.com"})
    assert r.location == "/connexion"
    env.service.deliver_due()
    assert "100234567" in text_part(env.mailer.sent[-1])
    r = post(client, "/identifiant-oublie", {"email": "not an address"})
    assert 'id="email-error"' in text_of(refused(client, r, "/identifiant-oublie"))


def test_remember_me_logs_a_browser_back_in(env: Env) -> None:
    env.active_member()
    first = env.client()
    r = log_in(env, first, "100234567", GOOD_PASSWORD, remember="1")
    assert r.location == "/profil"
    remembered = first.get_cookie("cegema_remember")
    assert remembered is not None and remembered.value
    fresh = env.client()
    fresh.set_cookie("cegema_remember", remembered.value)
    assert fresh.get("/").location == "/profil"
    assert "Mon profil et mes informations" in text_of(fresh.get("/profil"))
    # Logging out forgets the device: the old token no longer logs anyone in.
    post(fresh, "/deconnexion", {}, token_from="/profil")
    again = env.client()
    again.set_cookie("cegema_remember", remembered.value)
    assert again.get("/").location == "/connexion"


def test_change_password_and_email_from_the_profile(env: Env, client: FlaskClient) -> None:
    env.active_member()
    log_in(env, client, "100234567", GOOD_PASSWORD)
    new = "Une autre phrase de passe 2026"
    r = post(client, "/profil/mot-de-passe", {"current_password": "wrong", "password": new,
                                              "confirmation": new})
    page = text_of(refused(client, r, "/profil/mot-de-passe"))
    assert 'id="current_password-error"' in page
    r = post(client, "/profil/mot-de-passe", {"current_password": GOOD_PASSWORD,
                                              "password": new, "confirmation": new})
    assert r.status_code == 303
    r = post(client, "/profil/email", {"current_password": new, "email": "new@example.com",
                                       "confirmation": "new@example.com"})
    assert r.status_code == 303
    link = env.link_to("/profil/email/valider")
    assert client.get(env.path_of(link)).headers["Referrer-Policy"] == "no-referrer"
    post(client, env.path_of(link).split("?")[0], {"token": link.split("token=")[1]},
         token_from=env.path_of(link))
    account = env.storage.find_by_member_number("100234567")
    assert account is not None and account.email == "new@example.com"
    # Confirmed in the member's own browser: a recovery channel at once.
    assert not account.email_unproven


# ---------------------------------------------------------------------- security


def _post_rules(app: Flask) -> list[str]:
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("cegema_onboarding.") and "POST" in (rule.methods or ()):
            rules.append(rule.rule)
    return rules


def test_every_post_route_refuses_a_missing_or_wrong_csrf_token(env: Env) -> None:
    member = env.service.staff.provision("100234567", "Marie Dupont")
    client = env.client()
    log_in(env, client, "100234567", member.initial_password)
    rules = _post_rules(env.app)
    assert len(rules) >= 15
    for path in rules:
        for data in ({}, {"csrf_token": "x" * 43}):
            r = client.post(path, data={**data, "email": "a@example.com",
                                        "confirmation": "a@example.com"})
            assert r.status_code == 400, path
            assert "Ce formulaire a expiré" in text_of(r)
    account = env.storage.find_by_member_number("100234567")
    assert account is not None and account.stage is Stage.EMAIL_REQUIRED
    assert env.mailer.sent == []


def test_csrf_token_changes_at_login(env: Env, client: FlaskClient) -> None:
    member = env.service.staff.provision("100234567", "Marie Dupont")
    before = csrf(client)
    log_in(env, client, "100234567", member.initial_password)
    assert csrf(client, "/premiere-connexion") != before


def _set_cookies(response: Any) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}


def test_cookie_flags_in_production() -> None:
    env = Env(testing=False)
    env.active_member()
    client = env.client()
    page = client.get("/connexion", base_url=BASE_URL)
    cookie = _set_cookies(page)["__Host-cegema_session"]
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie
    assert "Domain" not in cookie
    token = CSRF.search(text_of(page)).group(1)  # type: ignore[union-attr]
    r = client.post("/connexion", base_url=BASE_URL,
                    data={"identifier": "100234567", "password": GOOD_PASSWORD,
                          "remember": "1", "csrf_token": token})
    assert r.location == "/profil"
    remember = _set_cookies(r)["__Host-cegema_remember"]
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="):
        assert flag in remember
    assert "Domain" not in remember


def test_cookie_flags_in_testing_are_not_secure_but_still_httponly(client: FlaskClient) -> None:
    cookie = _set_cookies(client.get("/connexion"))["cegema_session"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_the_session_cookie_is_signed_again_when_it_changes_or_once_a_minute(
        env: Env, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    member = env.service.staff.provision("100234567", "Marie Dupont")
    assert "cegema_session" in _set_cookies(client.get("/connexion"))  # a new session
    assert "cegema_session" not in _set_cookies(client.get("/connexion"))  # unchanged
    r = log_in(env, client, "100234567", member.initial_password)
    assert "cegema_session" in _set_cookies(r)  # changed: logged in, new CSRF token
    client.get("/premiere-connexion")
    assert "cegema_session" not in _set_cookies(client.get("/premiere-connexion"))
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 61)
    # A minute later the same page signs it again: the idle timeout slides.
    assert "cegema_session" in _set_cookies(client.get("/premiere-connexion"))
    assert "cegema_session" not in _set_cookies(client.get("/premiere-connexion"))


def test_an_idle_session_expires_after_its_lifetime(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    env = Env(CEGEMA_ONBOARDING_SESSION_LIFETIME=600)
    member = env.service.staff.provision("100234567", "Marie Dupont")
    client = env.client()
    log_in(env, client, "100234567", member.initial_password)
    now = time.time()
    # Active every 50 s for 20 minutes: never idle for 10, so never logged out.
    for step in range(1, 25):
        monkeypatch.setattr(time, "time", lambda step=step: now + 50 * step)
        assert client.get("/premiere-connexion").status_code == 200, step
    # Then 10 minutes and a second without a request: back to the login page.
    monkeypatch.setattr(time, "time", lambda: now + 50 * 24 + 601)
    r = client.get("/premiere-connexion")
    assert r.status_code == 303 and r.location == "/connexion"


def test_security_headers_on_every_page(env: Env, client: FlaskClient) -> None:
    for path in ("/connexion", "/identifiant-oublie", "/mot-de-passe-oublie",
                 "/premiere-connexion/valider?token=abc", "/mot-de-passe/reinitialiser?token=x",
                 "/securite/ce-n-etait-pas-moi?token=x", "/profil/email/valider?token=x"):
        r = client.get(path)
        assert r.headers["Referrer-Policy"] == "no-referrer", path
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["Cache-Control"] == "no-store"


def test_bad_links_say_so(client: FlaskClient) -> None:
    r = client.get("/premiere-connexion/valider?token=forged.token", follow_redirects=True)
    assert r.status_code == 400 and fr("reason.link_invalid") in text_of(r)
    assert fr("button.confirm_link") not in text_of(r)


def test_host_header_poisoning_keeps_the_configured_base_url(env: Env) -> None:
    member = env.service.staff.provision("100234567", "Marie Dupont")
    client = env.client()
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    page = client.get("/connexion", headers=evil)
    token = CSRF.search(text_of(page)).group(1)  # type: ignore[union-attr]
    client.post("/connexion", headers=evil, data={
        "identifier": "100234567", "password": member.initial_password, "csrf_token": token})
    token = CSRF.search(text_of(client.get("/premiere-connexion", headers=evil))).group(1)  # type: ignore[union-attr]
    r = client.post("/premiere-connexion", headers=evil, data={
        "email": "m@example.com", "confirmation": "m@example.com", "csrf_token": token})
    assert r.status_code == 303
    body = text_part(env.mailer.sent[-1])
    assert "evil.example" not in body
    assert f"{BASE_URL}/premiere-connexion/valider?token=" in body


def _normalised(response: Any, *typed: str) -> tuple[int, str, list[str]]:
    body = CSRF.sub('name="csrf_token" value="TOKEN"', raw_of(response))
    for value in typed:
        body = body.replace(value, "TYPED")
    # Each response has a nonce of its own, like its CSRF token, and a fresh request id:
    # random, not per account, they tell nothing apart.
    headers = sorted(NONCE.sub("'nonce-N'", f"{k}: {v}") for k, v in response.headers.items()
                     if k not in ("Set-Cookie", "X-Request-ID"))
    return response.status_code, NONCE.sub("'nonce-N'", body), headers


def test_login_responses_do_not_tell_unknown_members_apart(env: Env) -> None:
    env.service.staff.provision("100234567", "Marie Dupont")
    one, other = env.client(), env.client()
    wrong = log_in(env, one, "100234567", "not the password")
    unknown = log_in(env, other, "100239999", "not the password")
    assert _normalised(wrong) == _normalised(unknown)
    wrong, unknown = refused(one, wrong), refused(other, unknown)
    assert fr("reason.bad_credentials") in text_of(wrong)
    assert _normalised(wrong, "100234567") == _normalised(unknown, "100239999")


def test_recovery_responses_do_not_tell_unknown_accounts_apart(env: Env) -> None:
    env.active_member(email="known@example.com")
    for path, field, known, unknown in (
        ("/mot-de-passe-oublie", "identifier", "100234567", "100239999"),
        ("/identifiant-oublie", "email", "known@example.com", "unknown@example.com"),
    ):
        a, b = env.client(), env.client()
        ra, rb = post(a, path, {field: known}), post(b, path, {field: unknown})
        assert (ra.status_code, ra.location) == (rb.status_code, rb.location)
        assert _normalised(a.get(ra.location)) == _normalised(b.get(rb.location))


def test_rate_limited_requests_get_a_message(env: Env, client: FlaskClient) -> None:
    limit = env.service.settings.rate_limits.forgot_identifier.count
    for _ in range(limit):
        assert post(client, "/mot-de-passe-oublie", {"identifier": "100234567"}).status_code == 303
    r = post(client, "/mot-de-passe-oublie", {"identifier": "100234567"})
    page = refused(client, r, "/mot-de-passe-oublie")
    assert page.status_code == 429
    assert fr("notice.rate_limited_wait", duration="5 minutes") in text_of(page)


# ---------------------------------------------------------------------- language, templates


def test_language_from_the_switch_then_its_cookie(env: Env) -> None:
    client = env.client()
    assert "SE CONNECTER" in text_of(client.get("/connexion"))
    english = client.get("/connexion?lang=en")
    assert "LOG IN TO YOUR ACCOUNT" in text_of(english)
    assert english.headers["Content-Language"] == "en"
    assert "LOG IN TO YOUR ACCOUNT" in text_of(client.get("/connexion"))  # the cookie
    back = client.get("/connexion?lang=fr")
    assert "SE CONNECTER" in text_of(back)
    assert "SE CONNECTER" in text_of(client.get("/connexion"))


def test_a_browser_asking_for_english_still_gets_french(env: Env) -> None:
    # The portal speaks the guide's language until the member uses the switch.
    client = env.client()
    r = client.get("/connexion", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "SE CONNECTER" in text_of(r) and "LOG IN TO YOUR ACCOUNT" not in text_of(r)
    assert r.headers["Content-Language"] == "fr"
    switched = client.get("/connexion?lang=en", headers={"Accept-Language": "fr"})
    assert "LOG IN TO YOUR ACCOUNT" in text_of(switched)


def test_host_templates_override_the_defaults(tmp_path: Path) -> None:
    folder = tmp_path / "templates" / "cegema_onboarding"
    folder.mkdir(parents=True)
    (folder / "login.html").write_text(
        '{% extends "cegema_onboarding/base.html" %}{% block content %}'
        '<h1>Portail maison</h1><input name="csrf_token" value="{{ csrf_token }}">'
        "{% endblock %}", encoding="utf-8")
    env = Env(template_folder=str(tmp_path / "templates"))
    html = text_of(env.client().get("/connexion"))
    assert "Portail maison" in html and "SE CONNECTER" not in html


def test_config_keys_build_the_service() -> None:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=SESSION_KEY, TESTING=True,
        CEGEMA_ONBOARDING_STORAGE=MemoryStorage(), CEGEMA_ONBOARDING_MAILER=MemoryMailer(),
        CEGEMA_ONBOARDING_SETTINGS=make_settings(base_url=BASE_URL),
        CEGEMA_ONBOARDING_URL_PREFIX="/espace",
    )
    Onboarding(app)
    page = app.test_client().get("/espace/connexion")
    assert page.status_code == 200 and "SE CONNECTER" in text_of(page)


def test_the_core_never_imports_flask() -> None:
    code = ("import sys, cegema_onboarding, cegema_onboarding.service, cegema_onboarding.cli, "
            "cegema_onboarding.flow; assert 'flask' not in sys.modules, 'flask imported'")
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603 - fixed argv


def test_the_flask_views_never_import_the_extension() -> None:
    # The extension imports the views to register them; the views and the helpers they
    # share must not import back, or the extension <-> views cycle returns.
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("cegema_onboarding", cache_dir=None)
    package = "cegema_onboarding.integrations.flask"
    for importer, imported in [("views", "extension"), ("views_account", "extension"),
                               ("views_account", "views"), ("_context", "extension"),
                               ("_context", "views"), ("_context", "views_account")]:
        chain = graph.find_shortest_chain(importer=f"{package}.{importer}",
                                          imported=f"{package}.{imported}")
        assert chain is None, chain


# ---------------------------------------------------------------------- the demo portal


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Any, FileMailbox, OnboardingService]]:
    from cegema_onboarding.integrations.flask.demo import create_app

    mailbox = FileMailbox(tmp_path / "mailbox")
    service = OnboardingService(MemoryStorage(), mailbox,
                                settings=make_settings(base_url=BASE_URL),
                                clock=ManualClock(START), notifier=MemoryNotifier())
    yield create_app(service, mailbox, secret_key=SESSION_KEY, staff_password="staff-pw-123",
                     testing=True), mailbox, service


def test_demo_mailbox_lists_and_escapes_mails(demo: Any) -> None:
    app, mailbox, service = demo
    member = service.staff.provision("100234567", "Marie <b>Dupont</b>")
    client = app.test_client()
    log_in(None, client, "100234567", member.initial_password)  # type: ignore[arg-type]
    post(client, "/premiere-connexion", {"email": "m@example.com", "confirmation": "m@example.com"})
    listing = text_of(client.get("/mailbox"))
    assert fr("mail.validation.subject") in listing
    name = mailbox.messages()[-1][0]
    page = raw_of(client.get(f"/mailbox/{name}"))
    assert "<b>Dupont</b>" not in page and "&lt;b&gt;Dupont&lt;/b&gt;" in page
    assert f'<a href="{BASE_URL}/premiere-connexion/valider?token=' in page
    assert 'sandbox="allow-top-navigation-by-user-activation"' in page
    assert client.get("/mailbox/../../etc/passwd").status_code == 404


def test_demo_staff_page_is_off_unless_enabled(tmp_path: Path) -> None:
    from cegema_onboarding.integrations.flask.demo import create_app

    mailbox = FileMailbox(tmp_path)
    service = OnboardingService(MemoryStorage(), mailbox, settings=make_settings(),
                                clock=ManualClock(START))
    app = create_app(service, mailbox, secret_key=SESSION_KEY, testing=True)
    assert app.test_client().get("/staff").status_code == 404


def test_demo_staff_page_needs_its_password_and_csrf(demo: Any) -> None:
    app, _, service = demo
    member = service.staff.provision("100234567", "Jean Martin")
    r = service.login("100234567", member.initial_password)
    assert isinstance(r, Ok) and r.session
    service.declare_no_email(r.session)
    account_id = service.staff.activation_queue()[0].account_id
    client = app.test_client()
    assert "100234567" not in text_of(client.get("/staff"))
    # Not logged in as staff: activation is refused.
    r = post(client, f"/staff/activate/{account_id}", {}, token_from="/staff")
    assert r.location == "/staff"
    assert service.staff.activation_queue()
    r = post(client, "/staff", {"password": "wrong"})
    assert fr("ui.staff_login_failed") in text_of(refused(client, r, "/staff"))
    post(client, "/staff", {"password": "staff-pw-123"})
    assert "100234567" in text_of(client.get("/staff"))
    assert client.post(f"/staff/activate/{account_id}").status_code == 400  # no CSRF token
    r = post(client, f"/staff/activate/{account_id}", {}, token_from="/staff")
    assert r.location == f"/staff?activated={account_id}"
    assert not service.staff.activation_queue()


def test_demo_provisioning_is_idempotent_and_stops_showing_dead_passwords(
        tmp_path: Path) -> None:
    from cegema_onboarding.integrations.flask.demo import (
        DEMO_MEMBER,
        build_demo,
        provision_demo_members,
    )

    settings = make_settings(base_url="http://127.0.0.1:8000")
    service, _, keys, _ = build_demo(tmp_path, 8000, settings=settings, clock=ManualClock(START))
    first = provision_demo_members(service, tmp_path)
    again = provision_demo_members(service, tmp_path)
    assert first == again and first[DEMO_MEMBER]
    assert len(keys["staff_password"]) >= 12
    password = first[DEMO_MEMBER]
    assert password is not None
    r = service.login(DEMO_MEMBER, password)
    assert isinstance(r, Ok) and r.session
    service.declare_no_email(r.session)
    staff_id = "s1"
    service.staff.activate(service.staff.activation_queue()[0].account_id, staff_id=staff_id)
    r = service.login(DEMO_MEMBER, password)
    assert isinstance(r, Ok) and r.session
    assert isinstance(service.set_password(r.session, GOOD_PASSWORD, GOOD_PASSWORD), Ok)
    assert provision_demo_members(service, tmp_path)[DEMO_MEMBER] is None


def test_a_fresh_demo_forgets_its_members_and_issues_new_initial_passwords(
        tmp_path: Path) -> None:
    from cegema_onboarding.integrations.flask.demo import (
        DEMO_MEMBER,
        build_demo,
        forget_demo,
        provision_demo_members,
    )

    settings = make_settings(base_url="http://127.0.0.1:8000")
    service, _, _, _ = build_demo(tmp_path, 8000, settings=settings, clock=ManualClock(START))
    before = provision_demo_members(service, tmp_path)[DEMO_MEMBER]
    assert before is not None
    (tmp_path / "unrelated.txt").write_text("kept", encoding="utf-8")
    service.storage.engine.dispose()  # type: ignore[attr-defined]
    forget_demo(tmp_path)
    assert (tmp_path / "unrelated.txt").read_text(encoding="utf-8") == "kept"
    assert not (tmp_path / "members.json").exists()
    service, _, _, _ = build_demo(tmp_path, 8000, settings=settings, clock=ManualClock(START))
    after = provision_demo_members(service, tmp_path)[DEMO_MEMBER]
    assert after is not None and after != before
    assert isinstance(service.login(DEMO_MEMBER, after), Ok)


def test_rejected_no_email_request_is_explained_at_the_email_step(env: Env,
                                                                  client: FlaskClient) -> None:
    member = env.service.staff.provision("100234567", "Jean Martin")
    log_in(env, client, "100234567", member.initial_password)
    post(client, "/premiere-connexion/sans-email", {})
    account_id = env.service.staff.activation_queue()[0].account_id
    env.service.staff.reject(account_id, "adresse postale inconnue", staff_id="s1")
    assert client.get("/").location == "/premiere-connexion"
    page = text_of(client.get("/premiere-connexion"))
    assert fr("screen.activation_rejected.body", reason="adresse postale inconnue") in page


def test_not_me_link_locks_the_account(env: Env, client: FlaskClient) -> None:
    env.active_member()
    link = env.link_to("/securite/ce-n-etait-pas-moi")
    page = client.get(env.path_of(link), follow_redirects=True)
    assert page.status_code == 200 and fr("button.not_me") in text_of(page)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    r = post(client, env.path_of(link).split("?")[0], {"token": link.split("token=")[1]},
             token_from=env.path_of(link))
    assert r.location == "/connexion"
    assert fr("notice.not_me_done") in text_of(client.get("/connexion"))
    # Locked: the right password no longer opens a session.
    assert log_in(env, client, "100234567", GOOD_PASSWORD).location == "/connexion"


def test_demo_server_log_lines_hide_tokens() -> None:
    import logging

    from cegema_onboarding.integrations.logfilter import RedactTokens

    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '"%s" %s %s',
                               ("GET /premiere-connexion/valider?token=abc.DEF-12_x HTTP/1.1",
                                200, "-"), None)
    assert RedactTokens().filter(record)
    assert "abc.DEF" not in record.getMessage()
    assert "token=<redacted> HTTP/1.1" in record.getMessage()


def test_a_tampered_session_cookie_is_a_new_anonymous_session(env: Env) -> None:
    member = env.service.staff.provision("100234567", "Marie Dupont")
    client = env.client()
    log_in(env, client, "100234567", member.initial_password)
    cookie = client.get_cookie("cegema_session")
    assert cookie is not None
    assert client.get("/").location == "/premiere-connexion"
    head, _, signature = cookie.value.rpartition(".")
    forged = head + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    client.set_cookie("cegema_session", forged)
    assert client.get("/").location == "/connexion"


def test_another_browsers_csrf_token_is_refused(env: Env) -> None:
    member = env.service.staff.provision("100234567", "Marie Dupont")
    victim, attacker = env.client(), env.client()
    token = csrf(attacker)
    r = victim.post("/connexion", data={"identifier": "100234567",
                                        "password": member.initial_password,
                                        "csrf_token": token})
    assert r.status_code == 400
    assert victim.get("/").location == "/connexion"


def test_forgetting_every_device_revokes_remember_me(env: Env) -> None:
    env.active_member()
    client = env.client()
    log_in(env, client, "100234567", GOOD_PASSWORD, remember="1")
    remembered = client.get_cookie("cegema_remember")
    assert remembered is not None
    assert "Aucun appareil mémorisé." not in text_of(client.get("/profil"))
    r = post(client, "/profil/appareils/oublier", {}, token_from="/profil")
    assert r.location == "/profil"
    assert "Aucun appareil mémorisé." in text_of(client.get("/profil"))
    other = env.client()
    other.set_cookie("cegema_remember", remembered.value)
    assert other.get("/").location == "/connexion"


def test_demo_staff_unlocks_and_reissues_credentials(demo: Any) -> None:
    app, _, service = demo
    member = service.staff.provision("100234567", "Jean Martin")
    client = app.test_client()
    post(client, "/staff", {"password": "staff-pw-123"})
    r = post(client, "/staff/unlock", {"member_number": "100239999"}, token_from="/staff")
    assert 'id="member_number-error"' in text_of(refused(client, r, "/staff"))
    r = post(client, "/staff/unlock", {"member_number": "100234567"}, token_from="/staff")
    assert r.location == "/staff"
    r = post(client, "/staff/reissue", {"member_number": "100234567"}, token_from="/staff")
    shown = re.search(r"<strong>100234567</strong> / <strong>([A-Z0-9]+)</strong>", raw_of(r))
    assert shown is not None
    assert isinstance(service.login("100234567", shown.group(1)), Ok)
    assert not isinstance(service.login("100234567", member.initial_password), Ok)


def test_the_session_cookie_signature_is_itsdangerous_own() -> None:
    import hashlib

    from itsdangerous import URLSafeTimedSerializer

    from cegema_onboarding.integrations.flask.websession import _SALT, CookieCodec, WebState

    # The codec derives its signing key once; the signatures must stay those of a plain
    # itsdangerous serializer, so that cookies signed before the change still load.
    plain = URLSafeTimedSerializer(SESSION_KEY, salt=_SALT,
                                   signer_kwargs={"digest_method": hashlib.sha256})
    codec = CookieCodec(SESSION_KEY, 600)
    state = WebState(csrf="c" * 43, account_id="acc-1", epoch=3)
    assert plain.loads(codec.dump(state), max_age=600) == {"c": "c" * 43, "a": "acc-1",
                                                            "e": 3}
    loaded = codec.load(plain.dumps({"c": "d" * 43, "a": "acc-2", "e": 1}))
    assert (loaded.csrf, loaded.account_id, loaded.epoch) == ("d" * 43, "acc-2", 1)
    # itsdangerous compresses a payload that shrinks; such a cookie still loads.
    squeezed = plain.dumps({"c": "a" * 120, "a": "acc-3"})
    assert squeezed.startswith(".")
    assert codec.load(squeezed).account_id == "acc-3"
    other = URLSafeTimedSerializer("another key", salt=_SALT,
                                   signer_kwargs={"digest_method": hashlib.sha256})
    assert codec.load(other.dumps({"c": "d" * 43, "a": "acc-2"})).account_id is None


def test_the_old_demo_module_still_offers_redact_tokens_with_a_warning() -> None:
    import cegema_onboarding.demo_portal as old
    from cegema_onboarding.integrations.logfilter import RedactTokens

    with pytest.deprecated_call(match="integrations.logfilter"):
        assert old.RedactTokens is RedactTokens
    with pytest.raises(AttributeError):
        _ = old.create_app

