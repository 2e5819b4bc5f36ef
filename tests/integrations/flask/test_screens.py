"""The member's screens as the guide shows them (issue #15), through Flask's test client:
local times, the language, the resend wait, the staff login and the completion meter."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flask")

from cegema_onboarding.adapters.mailbox import FileMailbox
from cegema_onboarding.adapters.memory import (
    ManualClock,
    MemoryNotifier,
    MemoryStorage,
)
from cegema_onboarding.integrations._web import local_time
from cegema_onboarding.service import OnboardingService

from ...conftest import GOOD_PASSWORD, make_settings
from .test_views import BASE_URL, SESSION_KEY, Env, fr, log_in, post, text_of

WINTER = datetime(2026, 12, 5, 7, 27, tzinfo=UTC)
SUMMER = datetime(2026, 7, 14, 6, 27, tzinfo=UTC)


def onboarded(env: Env) -> None:
    """A member who finished the journey, through the service."""
    env.active_member(answer="Martin")


@pytest.mark.parametrize(("instant", "french", "english"), [
    (WINTER, "05/12/2026 08:27 (CET)", "2026-12-05 08:27 (CET)"),
    (SUMMER, "14/07/2026 08:27 (CEST)", "2026-07-14 08:27 (CEST)"),
])
def test_local_time_says_the_zone_as_the_mail_does(instant: datetime, french: str,
                                                   english: str) -> None:
    assert local_time(instant, "Europe/Paris", "fr") == french
    assert local_time(instant, "Europe/Paris", "en") == english
    assert local_time(instant, "UTC", "fr").endswith("07:27 (UTC)" if instant == WINTER
                                                     else "06:27 (UTC)")


@pytest.mark.parametrize(("instant", "shown"), [
    (WINTER, "Dernière utilisation 05/12/2026 08:27 (CET)"),
    (SUMMER, "Dernière utilisation 14/07/2026 08:27 (CEST)"),
])
def test_the_profile_shows_last_use_in_paris_time(instant: datetime, shown: str) -> None:
    env = Env()
    env.clock.set(instant)
    onboarded(env)
    client = env.client()
    assert log_in(env, client, "100234567", GOOD_PASSWORD, remember="1").status_code == 303
    page = text_of(client.get("/profil"))
    assert shown in page
    assert instant.strftime("%d/%m/%Y %H:%M") not in page  # never the UTC time


STAFF_PASSWORD = "staff-pw-123"


def demo_app(tmp_path: Path, instant: datetime = WINTER) -> tuple[Any, OnboardingService]:
    from cegema_onboarding.integrations.flask.demo import create_app

    mailbox = FileMailbox(tmp_path / "mailbox")
    service = OnboardingService(MemoryStorage(), mailbox,
                                settings=make_settings(base_url=BASE_URL),
                                clock=ManualClock(instant), notifier=MemoryNotifier())
    return create_app(service, mailbox, secret_key=SESSION_KEY,
                      staff_password=STAFF_PASSWORD, testing=True), service


@pytest.mark.parametrize(("instant", "shown"), [
    (WINTER, "05/12/2026 08:27 (CET)"), (SUMMER, "14/07/2026 08:27 (CEST)")])
def test_the_staff_page_shows_the_request_time_in_paris_time(
        tmp_path: Path, instant: datetime, shown: str) -> None:
    app, service = demo_app(tmp_path, instant)
    member = service.staff.provision("100234567", "Marie Dupont")
    session = service.login("100234567", member.initial_password).session  # type: ignore[union-attr]
    assert session is not None
    service.declare_no_email(session)
    client = app.test_client()
    assert post(client, "/staff", {"password": STAFF_PASSWORD}).status_code == 303
    page = text_of(client.get("/staff"))
    assert shown in page and instant.strftime("%d/%m/%Y %H:%M") not in page


def test_french_is_kept_until_the_member_switches() -> None:
    env = Env()
    client = env.client()
    page = text_of(client.get("/connexion", headers={"Accept-Language": "en"}))
    assert fr("screen.login.title") in page
    assert 'hreflang="en"' in page


# ---------------------------------------------------------------------- "Renvoyer le lien"


def at_mailbox(env: Env) -> Any:
    member = env.service.staff.provision("100234567", "Marie Dupont")
    client = env.client()
    log_in(env, client, "100234567", member.initial_password)
    post(client, "/premiere-connexion", {"email": "marie@example.com",
                                         "confirmation": "marie@example.com"})
    return client


@pytest.mark.parametrize(("waited", "wait"), [(0, "une minute"), (15, "45 secondes"),
                                              (59.5, "une seconde")])
def test_resend_says_the_actual_wait_on_the_mailbox_screen(waited: float, wait: str) -> None:
    env = Env()
    client = at_mailbox(env)
    env.clock.advance(seconds=waited)
    r = post(client, "/premiere-connexion/renvoyer", {},
             token_from="/premiere-connexion/boite-mail")
    assert r.status_code == 303 and r.location == "/premiere-connexion/boite-mail"
    page = text_of(client.get(r.location))
    assert f"Merci de patienter {wait} avant de demander un nouveau lien." in page
    assert fr("reason.rate_limited") not in page
    assert len(env.mailer.sent) == 1
    env.clock.advance(seconds=61)
    r = post(client, "/premiere-connexion/renvoyer", {},
             token_from="/premiere-connexion/boite-mail")
    assert r.location == "/premiere-connexion/boite-mail" and len(env.mailer.sent) == 2


def test_the_resend_wait_in_english() -> None:
    env = Env()
    client = at_mailbox(env)
    client.get("/premiere-connexion/boite-mail?lang=en")  # the switch on that page
    env.clock.advance(seconds=20)
    r = post(client, "/premiere-connexion/renvoyer", {},
             token_from="/premiere-connexion/boite-mail")
    assert "Please wait 40 seconds before asking for a new link." in text_of(
        client.get(r.location))


# ---------------------------------------------------------------------- staff, waiting page


def test_the_staff_login_does_not_mention_an_identifier(tmp_path: Path) -> None:
    app, _ = demo_app(tmp_path)
    client = app.test_client()
    r = post(client, "/staff", {"password": "wrong"})
    assert r.status_code == 303 and r.location == "/staff"
    page = text_of(client.get("/staff"))
    assert fr("ui.staff_login_failed") in page and "Mot de passe incorrect." in page
    assert fr("reason.bad_credentials") not in page and "Identifiant" not in page
    assert 'aria-describedby="password-error"' in page
    assert fr("ui.staff_login_failed") not in text_of(client.get("/staff"))  # shown once


def test_the_waiting_page_does_not_repeat_its_title() -> None:
    env = Env()
    member = env.service.staff.provision("100234567", "Jean Martin")
    client = env.client()
    log_in(env, client, "100234567", member.initial_password)
    r = post(client, "/premiere-connexion/sans-email", {})
    page = text_of(client.get(r.location))
    title = fr("screen.awaiting_activation.title")
    assert page.count(title) == 2  # the <title> and the heading, not the paragraph
    paragraph = re.search(r"<h1[^>]*>[^<]*</h1>\s*<p>([^<]+)</p>", page)
    assert paragraph is not None and not paragraph.group(1).startswith(title)
    assert "Un conseiller vous tiendra informé du statut de votre demande." in page


# ---------------------------------------------------------------------- the completion meter


def test_the_meter_says_what_each_missing_item_adds_and_pets_can_be_cleared() -> None:
    env = Env()
    onboarded(env)
    client = env.client()
    log_in(env, client, "100234567", GOOD_PASSWORD)
    page = text_of(client.get("/profil"))
    assert fr("ui.completion.missing") in page
    for item in ("+10 % : vos animaux", "+10 % : vos centres d'intérêt",
                 "+20 % : vos préférences de communication"):
        assert item in page
    assert 'id="pets-unset" name="pets" value="unset" checked' in page
    post(client, "/profil", {"pets": "yes"})
    page = text_of(client.get("/profil"))
    assert "vos animaux" not in page and 'value="yes" checked' in page
    post(client, "/profil", {"pets": "unset"})
    page = text_of(client.get("/profil"))
    assert "+10 % : vos animaux" in page and 'value="unset" checked' in page
    account = env.storage.find_by_member_number("100234567")
    assert account is not None and account.profile.pets is None


# ---------------------------------------------------------------------- Post/Redirect/Get

SECRET = "Un secret à ne jamais garder 42"


def _stage(env: Env, client: Any, where: str) -> None:
    """Bring ``client`` to the screen whose form is refused below."""
    if where in ("login", "recovery"):
        if where == "recovery":
            env.active_member()
        return
    if where == "profile":
        env.active_member()
        log_in(env, client, "100234567", GOOD_PASSWORD)
        return
    member = env.service.staff.provision("100234567", "Marie Dupont")
    log_in(env, client, "100234567", member.initial_password)
    if where == "email":
        return
    post(client, "/premiere-connexion", {"email": "marie@example.com",
                                         "confirmation": "marie@example.com"})
    if where == "mailbox":
        return
    link = env.last_link()
    post(client, env.path_of(link).split("?")[0], {"token": link.split("token=")[1]},
         token_from=env.path_of(link))
    if where == "question":
        post(client, "/mot-de-passe", {"password": GOOD_PASSWORD,
                                       "confirmation": GOOD_PASSWORD})


# (where, form path, posted fields, field shown in error, a typed value kept)
FORMS = [
    ("login", "/connexion", {"identifier": "100239999", "password": SECRET},
     "password", "100239999"),
    ("email", "/premiere-connexion", {"email": "a@example.com", "confirmation": "b@example.com"},
     "confirmation", "a@example.com"),
    ("mailbox", "/premiere-connexion/code", {"code": "AAAA-AAAA"}, "code", None),
    ("password", "/mot-de-passe", {"password": SECRET, "confirmation": SECRET + "!"},
     "confirmation", None),
    ("question", "/question-secrete", {"question": "nope", "answer": SECRET,
                                       "confirmation": SECRET}, "question", None),
    ("profile", "/profil/mot-de-passe", {"current_password": SECRET, "password": SECRET,
                                         "confirmation": SECRET}, "current_password", None),
    ("profile", "/profil/email", {"current_password": SECRET, "email": "n@example.com",
                                  "confirmation": "n@example.com"}, "current_password",
     "n@example.com"),
    ("recovery", "/identifiant-oublie", {"email": "pas une adresse"}, "email",
     "pas une adresse"),
]


@pytest.mark.parametrize(("where", "path", "data", "field", "typed"), FORMS,
                         ids=[f"{f[0]}:{f[1]}" for f in FORMS])
def test_a_refused_form_redirects_to_a_page_that_shows_the_error_once(
        where: str, path: str, data: dict[str, str], field: str, typed: str | None) -> None:
    env = Env()
    client = env.client()
    _stage(env, client, where)
    r = post(client, path, data)
    assert r.status_code == 303 and r.location == path, (r.status_code, r.location)
    page = client.get(path)
    shown = text_of(page)
    assert page.status_code == 200
    assert f'id="{field}-error"' in shown or 'id="form-error"' in shown
    if f'id="{field}-error"' in shown:
        assert f'aria-describedby="{field}-error"' in shown or (
            f'aria-describedby="{field}-hint {field}-error"' in shown)
    if typed is not None:
        assert f'value="{typed}"' in shown
    # Secrets are typed again: never on the page, never in the cookie.
    assert SECRET not in shown
    cookie = client.get_cookie("cegema_session")
    assert cookie is not None and SECRET.encode() not in _decoded(cookie.value)
    # Shown once: a reload (or Back, then Forward) shows the clean form.
    again = text_of(client.get(path))
    assert f'id="{field}-error"' not in again and 'id="form-error"' not in again


def _decoded(value: str) -> bytes:
    import base64
    import zlib

    payload = value.split(".")[0].lstrip(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    try:
        return zlib.decompress(raw)
    except zlib.error:
        return raw


def test_a_refused_reset_keeps_the_link_for_the_form_shown_again() -> None:
    env = Env()
    client = env.client()
    env.active_member()
    post(client, "/mot-de-passe-oublie", {"identifier": "100234567"})
    env.service.deliver_due()
    link = env.link_to("/mot-de-passe/reinitialiser")
    path, token = env.path_of(link).split("?")[0], link.split("token=")[1]
    r = post(client, path, {"token": token, "answer": "faux", "password": SECRET,
                            "confirmation": SECRET}, token_from=env.path_of(link))
    assert r.status_code == 303 and r.location == path
    page = text_of(client.get(path))
    assert 'id="answer-error"' in page and f'value="{token}"' in page
    r = post(client, path, {"token": token, "answer": "Rex le chien", "password": SECRET,
                            "confirmation": SECRET})
    assert r.location == "/connexion"
    # The spent link's page, after its POST: why, with no form.
    r = post(client, path, {"token": token, "answer": "Rex le chien", "password": SECRET,
                            "confirmation": SECRET}, token_from="/connexion")
    assert r.status_code == 303 and fr("reason.link_used") in text_of(client.get(path))


# ---------------------------------------------------------------------- the pop-up of step 4


def test_the_link_sent_confirmation_is_a_dialog_that_needs_no_script() -> None:
    env = Env()
    client = at_mailbox(env)
    page = text_of(client.get("/premiere-connexion/boite-mail"))
    dialog = re.search(r'<dialog open class="popup"[^>]*aria-labelledby="sent-message">(.*?)'
                       r"</dialog>", page, re.S)
    assert dialog is not None
    assert fr("notice.link_sent") in dialog.group(1)
    assert '<form method="dialog">' in dialog.group(1) and "autofocus" in dialog.group(1)
    assert 'id="notice"' not in page  # not the banner as well
    assert "<script" not in page
    assert "<dialog" not in text_of(client.get("/premiere-connexion/boite-mail"))  # once


@pytest.mark.parametrize(("phone", "channel"), [(None, "Courrier"), ("+33 4 93 00 00 00",
                                                                      "Téléphone")])
def test_staff_see_the_address_and_the_channel_before_they_activate(
        tmp_path: Path, phone: str | None, channel: str) -> None:
    app, service = demo_app(tmp_path)
    member = service.staff.provision("100234567", "Jean Martin", phone=phone,
                                     postal_address="12 rue des Lilas\n06000 Nice")
    session = service.login("100234567", member.initial_password).session  # type: ignore[union-attr]
    assert session is not None
    service.declare_no_email(session)
    client = app.test_client()
    post(client, "/staff", {"password": STAFF_PASSWORD})
    page = text_of(client.get("/staff"))
    row = re.search(r"<tr>\s*<td>100234567</td>(.*?)</tr>", page, re.S)
    assert row is not None
    assert f"<td>{channel}</td>" in row.group(1)
    # Where the notice goes: the number to call, or the address on the letter.
    assert (phone or "12 rue des Lilas\n06000 Nice") in row.group(1)


def test_long_typed_values_never_cost_the_member_the_session() -> None:
    # Non-ASCII is stored escaped in the cookie: kept values are bounded by their size
    # there, so that the cookie (and the session in it) stays under what browsers keep.
    env = Env()
    client = env.client()
    _stage(env, client, "email")
    long = "é" * 5000
    r = post(client, "/premiere-connexion", {"email": long, "confirmation": long})
    assert r.location == "/premiere-connexion"
    cookie = client.get_cookie("cegema_session")
    assert cookie is not None and len(cookie.value) < 4000
    page = client.get("/premiere-connexion")
    assert page.status_code == 200 and fr("label.email_confirm") in text_of(page)
