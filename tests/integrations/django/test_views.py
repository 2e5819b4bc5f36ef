"""Every member-facing view through Django's test client, with CSRF enforced."""

from __future__ import annotations

import attrs
import pytest
from django.core import mail
from django.test import Client

from cegema_onboarding import texts
from cegema_onboarding.adapters.memory import ManualClock
from cegema_onboarding.integrations.django.session import SESSION_KEY
from cegema_onboarding.model import Stage
from cegema_onboarding.ports import Changes
from cegema_onboarding.service import OnboardingService

from ...conftest import GOOD_PASSWORD
from .conftest import BASE_URL
from .helpers import (
    body,
    csrf_client,
    html,
    last_link,
    path_of,
    post_form,
    shown,
    token_from,
    without_csrf,
)

pytestmark = pytest.mark.django_db

LOGIN = "/connexion/"
JOURNEY = "/premiere-connexion/"
EMAIL = "marie.dupont@example.org"
# Any page with a form, to get a CSRF token when the page under test has none.
FORM_PAGE = "/mot-de-passe-oublie/"


def log_in(client: Client, number: str, password: str, **extra: str) -> object:
    return post_form(client, LOGIN, LOGIN, {"identifier": number, "password": password},
                     **extra)


def start(client: Client, service: OnboardingService, number: str = "100234567") -> str:
    """Provision a member and log in with the printed password; returns the account id."""
    member = service.staff.provision(number, "Marie Dupont")
    response = log_in(client, number, member.initial_password.lower())
    assert response.status_code == 302 and response["Location"] == JOURNEY
    return member.account_id


def submit_email(client: Client, **extra: str) -> object:
    return post_form(client, JOURNEY, "/premiere-connexion/email/",
                     {"email": EMAIL, "confirmation": EMAIL.upper()}, **extra)


def test_the_whole_guide_through_the_views(dj_service: OnboardingService) -> None:
    client = csrf_client()
    page = client.get(LOGIN)
    assert html("screen.login.title") in body(page)
    account_id = start(client, dj_service)
    page = client.get(JOURNEY)
    assert html("screen.email.subtitle") in body(page)
    assert html("label.email_confirm") in body(page)

    response = submit_email(client)
    assert response.status_code == 302
    page = client.get(JOURNEY)
    assert html("notice.link_sent") in body(page)
    assert html("screen.check_mailbox.title") in body(page)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == texts.text("mail.validation.subject", "fr",
                                                brand="CEGEMA")
    assert mail.outbox[0].to == [f"Marie Dupont <{EMAIL}>"]

    link = last_link()
    assert link.startswith(f"{BASE_URL}/premiere-connexion/valider?token=")
    # Opening the link (a mail scanner would) shows a page and spends nothing.
    opened = client.get(path_of(link), follow=True)
    assert html("button.confirm_link") in body(opened)
    stored = dj_service.storage.get(account_id)
    assert stored is not None and stored.stage is Stage.EMAIL_PENDING
    response = post_form(client, path_of(link), "/premiere-connexion/valider",
                         {"token": link.split("token=")[1]})
    assert response.status_code == 302 and response["Location"] == JOURNEY

    page = client.get(JOURNEY)
    assert html("label.new_password_confirm") in body(page)
    response = post_form(client, JOURNEY, "/premiere-connexion/mot-de-passe/",
                         {"password": GOOD_PASSWORD, "confirmation": GOOD_PASSWORD})
    assert response.status_code == 302
    assert mail.outbox[-1].subject == texts.text("mail.password_changed.subject", "fr",
                                                 brand="CEGEMA")

    page = client.get(JOURNEY)
    assert html("screen.question.intro") in body(page)
    question = next(iter(dj_service.settings.questions))
    response = post_form(client, JOURNEY, "/premiere-connexion/question/",
                         {"question": question.id, "answer": "Martin",
                          "confirmation": "Martin"})
    assert response.status_code == 302
    response = client.get(JOURNEY)
    assert response.status_code == 302 and response["Location"] == "/profil/"
    profile = client.get("/profil/")
    assert html("screen.profile.title") in body(profile)
    assert "Profil complété à" in body(profile)
    # The member is now a logged-in Django user, linked to the account.
    assert client.session.get("_auth_user_id")
    stored = dj_service.storage.get(account_id)
    assert stored is not None and stored.stage is Stage.ACTIVE
    user_id = dj_service.storage.get_user_id(account_id)  # type: ignore[attr-defined]
    assert str(user_id) == client.session["_auth_user_id"]

    # A later login with the chosen password lands on the profile as the same user.
    other = csrf_client()
    response = log_in(other, "100234567", GOOD_PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/profil/"
    assert other.session["_auth_user_id"] == client.session["_auth_user_id"]


def test_the_journey_completed_signal_goes_once_per_account(
        dj_service: OnboardingService) -> None:
    from cegema_onboarding.integrations.django.signals import journey_completed

    heard: list[object] = []

    def receiver(sender: object, request: object, member: object, **kwargs: object) -> None:
        heard.append(member)

    journey_completed.connect(receiver)
    try:
        client = csrf_client()
        account_id = start(client, dj_service)
        submit_email(client)
        link = last_link()
        post_form(client, path_of(link), "/premiere-connexion/valider",
                  {"token": link.split("token=")[1]})
        post_form(client, JOURNEY, "/premiere-connexion/mot-de-passe/",
                  {"password": GOOD_PASSWORD, "confirmation": GOOD_PASSWORD})
        assert heard == []  # not before the last step
        question = next(iter(dj_service.settings.questions))
        post_form(client, JOURNEY, "/premiere-connexion/question/",
                  {"question": question.id, "answer": "Martin", "confirmation": "Martin"})
        # Coming back to the journey or the profile, or logging in again, sends nothing.
        client.get(JOURNEY)
        client.get("/profil/")
        log_in(csrf_client(), "100234567", GOOD_PASSWORD)
    finally:
        journey_completed.disconnect(receiver)
    assert len(heard) == 1
    member = heard[0]
    assert getattr(member, "account_id", None) == account_id
    assert getattr(member, "onboarded", None) is True


def test_completing_the_journey_reads_the_member_for_the_signal_only_when_it_is_heard(
        dj_service: OnboardingService, monkeypatch: pytest.MonkeyPatch) -> None:
    from cegema_onboarding.integrations.django.signals import journey_completed

    reads: list[str] = []
    get = dj_service.storage.get

    def counting_get(account_id: str) -> object:
        reads.append(account_id)
        return get(account_id)

    monkeypatch.setattr(dj_service.storage, "get", counting_get)

    def reads_of_the_last_step(number: str, address: str) -> int:
        client = csrf_client()
        start(client, dj_service, number)
        post_form(client, JOURNEY, "/premiere-connexion/email/",
                  {"email": address, "confirmation": address})
        link = last_link()
        post_form(client, path_of(link), "/premiere-connexion/valider",
                  {"token": link.split("token=")[1]})
        post_form(client, JOURNEY, "/premiere-connexion/mot-de-passe/",
                  {"password": GOOD_PASSWORD, "confirmation": GOOD_PASSWORD})
        question = next(iter(dj_service.settings.questions))
        token = token_from(client, JOURNEY)
        reads.clear()
        response = client.post("/premiere-connexion/question/", {
            "question": question.id, "answer": "Martin", "confirmation": "Martin",
            "csrfmiddlewaretoken": token})
        assert response.status_code == 302, response
        return len(reads)

    unheard = reads_of_the_last_step("100234567", "marie@example.org")
    heard: list[object] = []

    def receiver(sender: object, request: object, member: object, **kwargs: object) -> None:
        heard.append(member)

    journey_completed.connect(receiver)
    try:
        listened = reads_of_the_last_step("100234568", "paul@example.org")
    finally:
        journey_completed.disconnect(receiver)
    assert len(heard) == 1
    # The member the signal carries is read for it; nobody listening, it is not read.
    assert unheard < listened, (unheard, listened)


def test_every_form_refuses_a_post_without_the_csrf_token(
        dj_service: OnboardingService) -> None:
    client = csrf_client()
    member = dj_service.staff.provision("100234567", "Marie Dupont")
    refused = client.post(LOGIN, {"identifier": "100234567",
                                  "password": member.initial_password})
    assert refused.status_code == 403
    start(client, dj_service, "100234568")
    for url in ("/premiere-connexion/email/", "/premiere-connexion/sans-email/",
                "/premiere-connexion/renvoyer/", "/premiere-connexion/modifier-adresse/",
                "/premiere-connexion/code/", "/premiere-connexion/mot-de-passe/",
                "/premiere-connexion/question/", "/premiere-connexion/valider",
                "/mot-de-passe/reinitialiser", "/securite/ce-n-etait-pas-moi",
                "/profil/email/valider", "/mot-de-passe-oublie/", "/identifiant-oublie/",
                "/profil/", "/profil/mot-de-passe/", "/profil/email/",
                "/profil/appareils/oublier/", "/deconnexion/"):
        assert client.post(url, {"email": EMAIL}).status_code == 403, url
    assert mail.outbox == []


def test_a_poisoned_host_header_does_not_reach_the_mailed_link(
        dj_service: OnboardingService) -> None:
    client = csrf_client()
    start(client, dj_service)
    response = submit_email(client, HTTP_HOST="evil.example",
                            HTTP_X_FORWARDED_HOST="evil.example")
    assert response.status_code == 302
    link = last_link()
    assert link.startswith(f"{BASE_URL}/")
    assert "evil.example" not in mail.outbox[-1].body
    assert all("evil.example" not in str(alt[0]) for alt in mail.outbox[-1].alternatives)


def test_unknown_member_and_wrong_password_get_the_same_page(
        dj_service: OnboardingService) -> None:
    dj_service.staff.provision("100234567", "Marie Dupont")
    pages = []
    for number in ("100234567", "100999999"):
        client = csrf_client()
        response = shown(client, log_in(client, number, "WRONG-PASSWORD"), LOGIN)
        pages.append((response.status_code,
                      without_csrf(body(response)).replace(number, "NUMBER")))
    assert pages[0] == pages[1]
    assert pages[0][0] == 200
    assert html("reason.bad_credentials") in pages[0][1]


def test_an_expired_link_says_so_and_changes_nothing(
        dj_service: OnboardingService, clock: ManualClock) -> None:
    client = csrf_client()
    account_id = start(client, dj_service)
    submit_email(client)
    link = last_link()
    clock.advance(hours=24, seconds=1)
    page = client.get(path_of(link), follow=True)
    assert html("reason.link_expired") in body(page)
    assert html("button.confirm_link") not in body(page)
    response = post_form(client, FORM_PAGE, "/premiere-connexion/valider",
                         {"token": link.split("token=")[1]})
    assert html("reason.link_expired") in body(shown(client, response))
    stored = dj_service.storage.get(account_id)
    assert stored is not None and stored.stage is Stage.EMAIL_PENDING
    # The member starts again from the email step, the address filled in.
    page = client.get(JOURNEY)
    assert html("screen.email.subtitle") in body(page)
    assert EMAIL in body(page)


def test_a_link_clicked_again_or_superseded_says_so(dj_service: OnboardingService,
                                                    clock: ManualClock) -> None:
    client = csrf_client()
    start(client, dj_service)
    submit_email(client)
    first = last_link()
    clock.advance(minutes=2)
    response = post_form(client, JOURNEY, "/premiere-connexion/renvoyer/", {})
    assert response.status_code == 302
    assert len(mail.outbox) == 2
    second = last_link()
    assert html("reason.link_superseded") in body(client.get(path_of(first), follow=True))
    post_form(client, path_of(second), "/premiere-connexion/valider",
              {"token": second.split("token=")[1]})
    again = client.get(path_of(second), follow=True)
    assert html("reason.link_used") in body(again)
    replay = post_form(client, FORM_PAGE, "/premiere-connexion/valider",
                       {"token": second.split("token=")[1]})
    assert html("reason.link_used") in body(shown(client, replay))


def test_a_forged_token_is_invalid(dj_service: OnboardingService) -> None:
    client = csrf_client()
    page = client.get("/premiere-connexion/valider?token=not-a-token", follow=True)
    assert html("reason.link_invalid") in body(page)


def test_refusals_name_their_reason_on_the_screen(dj_service: OnboardingService) -> None:
    client = csrf_client()
    start(client, dj_service)
    response = post_form(client, JOURNEY, "/premiere-connexion/email/",
                         {"email": EMAIL, "confirmation": "other@example.org"})
    response = shown(client, response, JOURNEY)
    assert html("reason.emails_differ") in body(response)
    assert f'value="{EMAIL}"' in body(response)  # what the member typed stays
    assert mail.outbox == []


def test_the_short_code_verifies_the_address(dj_service: OnboardingService) -> None:
    import re

    client = csrf_client()
    start(client, dj_service)
    submit_email(client)
    code = re.search(r"\b([0-9A-HJKMNP-TV-Z]{4}-?[0-9A-HJKMNP-TV-Z]{4})\b",
                     mail.outbox[-1].body)
    assert code is not None
    wrong = post_form(client, "/premiere-connexion/code/", "/premiere-connexion/code/",
                      {"code": "AAAA-AAAA"})
    assert html("reason.code_invalid") in body(shown(client, wrong, "/premiere-connexion/code/"))
    response = post_form(client, "/premiere-connexion/code/", "/premiere-connexion/code/",
                         {"code": code.group(1)})
    assert response.status_code == 302
    assert html("label.new_password") in body(client.get(JOURNEY))


def test_change_address_goes_back_to_the_email_step(dj_service: OnboardingService) -> None:
    client = csrf_client()
    start(client, dj_service)
    submit_email(client)
    link = last_link()
    post_form(client, JOURNEY, "/premiere-connexion/modifier-adresse/", {})
    assert html("screen.email.subtitle") in body(client.get(JOURNEY))
    assert html("reason.link_used") not in body(client.get(path_of(link), follow=True))
    assert html("button.confirm_link") not in body(client.get(path_of(link), follow=True))


def test_no_email_path_waits_for_staff(dj_service: OnboardingService) -> None:
    client = csrf_client()
    account_id = start(client, dj_service)
    page = client.get("/premiere-connexion/sans-email/")
    assert html("notice.no_email") in body(page)
    response = post_form(client, "/premiere-connexion/sans-email/",
                         "/premiere-connexion/sans-email/", {})
    assert response.status_code == 302
    waiting = body(client.get(JOURNEY))
    assert html("screen.awaiting_activation.title") in waiting
    # How staff's answer will reach the member (no phone on file here: a letter).
    assert html("screen.awaiting_activation.channel.post") in waiting
    assert [a.account_id for a in dj_service.staff.activation_queue()] == [account_id]


def test_an_account_resumes_where_it_stopped(dj_service: OnboardingService) -> None:
    client = csrf_client()
    member = dj_service.staff.provision("100234567", "Marie Dupont")
    log_in(client, "100234567", member.initial_password)
    submit_email(client)
    later = csrf_client()
    response = log_in(later, "100234567", member.initial_password)
    assert response["Location"] == JOURNEY
    assert html("screen.check_mailbox.title") in body(later.get(JOURNEY))


def test_a_moved_session_epoch_logs_the_member_out(dj_service: OnboardingService) -> None:
    client = csrf_client()
    account_id = start(client, dj_service)
    account = dj_service.storage.get(account_id)
    assert account is not None
    # What a password change elsewhere does: the account's epoch moves on.
    dj_service.storage.commit(Changes(accounts=(
        (attrs.evolve(account, session_epoch=account.session_epoch + 1), account.version),)))
    response = client.get(JOURNEY)
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert SESSION_KEY not in client.session


def test_logout_ends_the_session(dj_service: OnboardingService) -> None:
    client = csrf_client()
    start(client, dj_service)
    response = post_form(client, JOURNEY, "/deconnexion/", {})
    assert response.status_code == 302
    assert client.get(JOURNEY)["Location"] == LOGIN


def test_english_is_available(dj_service: OnboardingService) -> None:
    page = Client().get(LOGIN + "?lang=en")
    assert html("screen.login.title", "en") in body(page)
    assert html("screen.login.title", "fr") not in body(page)


def test_pages_keep_tokens_out_of_referrers_and_caches(dj_service: OnboardingService) -> None:
    client = Client()
    # The link's redirect (its URL holds the token) and the page it leads to.
    for page, policy in ((client.get("/premiere-connexion/valider?token=x"), "no-referrer"),
                         (client.get("/premiere-connexion/valider"), "same-origin")):
        assert page["Referrer-Policy"] == policy
        assert "no-cache" in page["Cache-Control"] or "no-store" in page["Cache-Control"]


def test_pages_let_their_own_forms_carry_their_origin(dj_service: OnboardingService) -> None:
    # "no-referrer" makes browsers post "Origin: null", which Django's CSRF check refuses:
    # every form failed in a real browser (see the Chromium walk in test_browser.py).
    for path in (LOGIN, "/mot-de-passe-oublie/", "/premiere-connexion/valider"):
        page = Client().get(path)
        assert page["Referrer-Policy"] == "same-origin"
        assert '<meta name="referrer" content="same-origin">' in body(page)


# ---------------------------------------------------------------------------- language


def test_a_browser_asking_for_english_still_gets_french() -> None:
    client = Client()
    page = client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    assert html("screen.login.title") in body(page)
    assert html("screen.login.title", "en") not in body(page)
    assert page["Content-Language"] == "fr"


def test_the_switch_chooses_english_and_the_choice_is_remembered() -> None:
    client = Client()
    english = client.get(LOGIN + "?lang=en", HTTP_ACCEPT_LANGUAGE="fr")
    assert html("screen.login.title", "en") in body(english)
    assert english["Content-Language"] == "en"
    again = client.get(LOGIN)
    assert html("screen.login.title", "en") in body(again)
    # The switch on every page points at the other language.
    assert 'href="/connexion/?lang=fr"' in body(again)
    assert html("screen.login.title") in body(client.get(LOGIN + "?lang=fr"))
    assert html("screen.login.title") in body(client.get(LOGIN))
