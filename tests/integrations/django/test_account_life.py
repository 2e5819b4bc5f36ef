"""The account-life routes through the test client: recovery, remember me, profile."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client, override_settings

from cegema_onboarding.adapters.memory import ManualClock
from cegema_onboarding.integrations.django.conf import get_service
from cegema_onboarding.integrations.django.views import REMEMBER_COOKIE
from cegema_onboarding.model import Channel
from cegema_onboarding.service import OnboardingService

from ...conftest import GOOD_PASSWORD
from .conftest import onboarding_config
from .helpers import body, csrf_client, html, path_of, post_form, shown, without_csrf

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Une toute autre phrase de passe 2026"
EMAIL = "marie.dupont@example.org"


def onboard(service: OnboardingService, number: str = "100234567") -> str:
    """A member who finished the journey (through the service), with a verified address."""
    member = service.staff.provision(number, "Marie Dupont")
    result = service.login(number, member.initial_password)
    assert result.session is not None  # type: ignore[union-attr]
    session = result.session  # type: ignore[union-attr]
    service.submit_email(session, EMAIL, EMAIL)
    token = re.search(r"token=([A-Za-z0-9_.\-]+)", mail.outbox[-1].body)
    assert token is not None
    result = service.confirm_link(token.group(1), session=session)
    session = result.session  # type: ignore[union-attr]
    result = service.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD)
    session = result.session  # type: ignore[union-attr]
    question = next(iter(service.settings.questions))
    service.set_secret_answer(session, question.id, "Martin", "Martin")
    mail.outbox.clear()
    return member.account_id


def log_in(client: Client, number: str, password: str, remember: bool = False) -> object:
    data = {"identifier": number, "password": password}
    if remember:
        data["remember"] = "1"
    return post_form(client, "/connexion/", "/connexion/", data)


def links_in(message: object) -> list[str]:
    return re.findall(r"https?://[^\s\"<>]+token=[A-Za-z0-9_.\-]+",
                      message.body)  # type: ignore[attr-defined]


def test_forgotten_password_answers_the_same_for_unknown_members(
        dj_service: OnboardingService) -> None:
    onboard(dj_service)
    pages = []
    for number in ("100234567", "100999999"):
        client = csrf_client()
        response = post_form(client, "/mot-de-passe-oublie/", "/mot-de-passe-oublie/",
                             {"identifier": number})
        response = shown(client, response, "/mot-de-passe-oublie/")
        pages.append((response.status_code, without_csrf(body(response))))
    assert pages[0] == pages[1]
    assert html("notice.forgotten_password_sent") in pages[0][1]
    # Nothing is delivered inline (same mail-port behaviour); the relay sends it.
    assert mail.outbox == []
    assert dj_service.deliver_due().sent == 1
    assert len(mail.outbox) == 1


def test_reset_link_sets_a_new_password_with_the_answer(
        dj_service: OnboardingService, clock: ManualClock) -> None:
    onboard(dj_service)
    post_form(csrf_client(), "/mot-de-passe-oublie/", "/mot-de-passe-oublie/",
              {"identifier": "100234567"})
    dj_service.deliver_due()
    (link,) = links_in(mail.outbox[-1])
    assert "/mot-de-passe/reinitialiser?token=" in link
    client = csrf_client()
    page = client.get(path_of(link), follow=True)
    assert html("label.reset_answer") in body(page)
    token = link.split("token=")[1]
    wrong = post_form(client, path_of(link), "/mot-de-passe/reinitialiser",
                      {"token": token, "answer": "Dupont", "password": NEW_PASSWORD,
                       "confirmation": NEW_PASSWORD})
    wrong = shown(client, wrong, "/mot-de-passe/reinitialiser")
    assert 'name="token"' in body(wrong)
    assert html("reason.answer_wrong") in body(wrong)
    clock.advance(minutes=2)
    done = post_form(client, path_of(link), "/mot-de-passe/reinitialiser",
                     {"token": token, "answer": "Martin", "password": NEW_PASSWORD,
                      "confirmation": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/connexion/"
    assert html("reason.link_used") in body(client.get(path_of(link), follow=True))
    clock.advance(minutes=2)
    assert log_in(csrf_client(), "100234567", NEW_PASSWORD)["Location"] == "/profil/"  # type: ignore[index]


def test_forgotten_identifier_mails_the_number_without_enumeration(
        dj_service: OnboardingService) -> None:
    onboard(dj_service)
    pages = []
    for address in (EMAIL, "nobody@example.org"):
        response = post_form(csrf_client(), "/identifiant-oublie/", "/identifiant-oublie/",
                             {"email": address})
        pages.append(without_csrf(body(response)))
    assert pages[0] == pages[1]
    dj_service.deliver_due()
    assert len(mail.outbox) == 1
    assert "100234567" in mail.outbox[0].body


def test_not_me_link_locks_the_account(dj_service: OnboardingService,
                                       clock: ManualClock) -> None:
    onboard(dj_service)
    client = csrf_client()
    log_in(client, "100234567", GOOD_PASSWORD)
    post_form(client, "/profil/", "/profil/mot-de-passe/",
              {"current_password": GOOD_PASSWORD, "password": NEW_PASSWORD,
               "confirmation": NEW_PASSWORD})
    changed = mail.outbox[-1]
    not_me = [u for u in links_in(changed) if "ce-n-etait-pas-moi" in u]
    assert not_me, "the password-changed mail carries a 'this wasn't me' link"
    other = csrf_client()
    assert html("button.not_me") in body(other.get(path_of(not_me[0]), follow=True))
    response = post_form(other, path_of(not_me[0]), "/securite/ce-n-etait-pas-moi",
                         {"token": not_me[0].split("token=")[1]})
    assert response.status_code == 302
    clock.advance(minutes=1)
    refused = log_in(csrf_client(), "100234567", NEW_PASSWORD)
    assert refused["Location"] == "/connexion/"  # type: ignore[index]
    # The first browser's session ended with the lock.
    assert client.get("/profil/")["Location"] == "/connexion/"


def test_a_password_change_logs_out_the_other_sessions(dj_service: OnboardingService) -> None:
    onboard(dj_service)
    first, second = csrf_client(), csrf_client()
    log_in(first, "100234567", GOOD_PASSWORD)
    log_in(second, "100234567", GOOD_PASSWORD)
    assert first.session.get("_auth_user_id") and second.session.get("_auth_user_id")
    response = post_form(first, "/profil/", "/profil/mot-de-passe/",
                         {"current_password": GOOD_PASSWORD, "password": NEW_PASSWORD,
                          "confirmation": NEW_PASSWORD})
    assert response.status_code == 302
    assert first.get("/profil/").status_code == 200
    assert second.get("/profil/")["Location"] == "/connexion/"
    assert not second.session.get("_auth_user_id")


def test_remember_me_logs_a_returning_browser_in_and_rotates(
        dj_service: OnboardingService) -> None:
    onboard(dj_service)
    client = csrf_client()
    response = log_in(client, "100234567", GOOD_PASSWORD, remember=True)
    cookie = response.cookies[REMEMBER_COOKIE]  # type: ignore[attr-defined]
    assert cookie["httponly"] and cookie["secure"]
    returning = csrf_client()
    returning.cookies[REMEMBER_COOKIE] = cookie.value
    page = returning.get("/profil/")
    assert page.status_code == 200
    assert html("screen.profile.title") in body(page)
    assert page.cookies[REMEMBER_COOKIE].value not in ("", cookie.value)
    # The old token was rotated away: replaying it fails and drops the cookie.
    thief = csrf_client()
    thief.cookies[REMEMBER_COOKIE] = cookie.value
    assert thief.get("/profil/")["Location"] == "/connexion/"


def test_the_remember_me_cookie_is_host_prefixed_as_flasks(
        dj_service: OnboardingService) -> None:
    onboard(dj_service)
    response = log_in(csrf_client(), "100234567", GOOD_PASSWORD, remember=True)
    cookies = response.cookies  # type: ignore[attr-defined]
    assert "cegema_remember" not in cookies
    cookie = cookies["__Host-cegema_remember"]
    # What the __Host- prefix requires: Secure, Path=/ and no Domain.
    assert cookie["secure"] and cookie["path"] == "/" and not cookie["domain"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["max-age"]


def test_on_plain_http_the_remember_me_cookie_has_no_prefix(clock: ManualClock) -> None:
    # Browsers drop Secure cookies on http, and refuse __Host- without Secure.
    with override_settings(CEGEMA_ONBOARDING=onboarding_config(CLOCK=clock,
                                                               COOKIE_SECURE=False)):
        onboard(get_service())
        response = log_in(csrf_client(), "100234567", GOOD_PASSWORD, remember=True)
    cookies = response.cookies  # type: ignore[attr-defined]
    assert "__Host-cegema_remember" not in cookies
    assert not cookies["cegema_remember"]["secure"] and cookies["cegema_remember"].value


def test_a_browser_remembered_under_the_old_name_stays_remembered(
        dj_service: OnboardingService) -> None:
    onboard(dj_service)
    response = log_in(csrf_client(), "100234567", GOOD_PASSWORD, remember=True)
    token = response.cookies["__Host-cegema_remember"].value  # type: ignore[attr-defined]
    returning = csrf_client()
    returning.cookies["cegema_remember"] = token  # as the previous release named it
    page = returning.get("/profil/")
    assert page.status_code == 200 and html("screen.profile.title") in body(page)
    # Rewritten under the new name (rotated, as every use does); the old one deleted.
    moved = page.cookies["__Host-cegema_remember"]
    assert moved.value not in ("", token) and moved["path"] == "/" and moved["secure"]
    assert page.cookies["cegema_remember"].value == ""
    assert page.cookies["cegema_remember"]["max-age"] == 0
    again = csrf_client()
    again.cookies["__Host-cegema_remember"] = moved.value
    assert again.get("/profil/").status_code == 200


def test_without_remember_me_the_session_ends_with_the_browser(
        dj_service: OnboardingService) -> None:
    onboard(dj_service)
    client = csrf_client()
    response = log_in(client, "100234567", GOOD_PASSWORD)
    assert REMEMBER_COOKIE not in response.cookies  # type: ignore[attr-defined]
    assert client.session.get_expire_at_browser_close()


def test_profile_is_saved(dj_service: OnboardingService) -> None:
    account_id = onboard(dj_service)
    client = csrf_client()
    log_in(client, "100234567", GOOD_PASSWORD)
    page = client.get("/profil/")
    assert html("label.pets") in body(page)
    response = post_form(client, "/profil/", "/profil/",
                         {"channels": ["email", "sms", "bogus"], "pets": "yes",
                          "interests": "jardinage, vélo", "comments": "Merci"})
    assert response.status_code == 302
    account = dj_service.storage.get(account_id)
    assert account is not None
    assert set(account.profile.channels) == {Channel.EMAIL, Channel.SMS}
    assert account.profile.pets is True
    assert account.profile.interests == ("jardinage", "vélo")


def test_email_change_goes_through_a_link_to_the_new_address(
        dj_service: OnboardingService) -> None:
    account_id = onboard(dj_service)
    client = csrf_client()
    log_in(client, "100234567", GOOD_PASSWORD)
    new = "marie.nouvelle@example.org"
    post_form(client, "/profil/", "/profil/email/",
              {"current_password": GOOD_PASSWORD, "email": new, "confirmation": new})
    dj_service.deliver_due()
    to_new = [m for m in mail.outbox if any(new in t for t in m.to)]
    assert to_new
    (link,) = [u for u in links_in(to_new[-1]) if "/profil/email/valider" in u]
    assert html("button.confirm_link") in body(client.get(path_of(link), follow=True))
    account = dj_service.storage.get(account_id)
    assert account is not None and account.email == EMAIL
    post_form(client, path_of(link), "/profil/email/valider",
              {"token": link.split("token=")[1]})
    account = dj_service.storage.get(account_id)
    assert account is not None and account.email == new
    # Confirmed in the member's own browser: a recovery channel at once.
    assert not account.email_unproven


def test_forgetting_devices_ends_remember_me(dj_service: OnboardingService) -> None:
    onboard(dj_service)
    client = csrf_client()
    response = log_in(client, "100234567", GOOD_PASSWORD, remember=True)
    token = response.cookies[REMEMBER_COOKIE].value  # type: ignore[attr-defined]
    page = client.get("/profil/")
    assert "Oublier ces navigateurs" in body(page)
    forgot = post_form(client, "/profil/", "/profil/appareils/oublier/", {})
    assert forgot.cookies[REMEMBER_COOKIE].value == ""
    returning = csrf_client()
    returning.cookies[REMEMBER_COOKIE] = token
    assert returning.get("/profil/")["Location"] == "/connexion/"
