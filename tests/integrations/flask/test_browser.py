"""A real headless Chromium walks the guide's other paths through the demo portal.

The guide itself, step by step, is test_guide_walk.py (shared with Django).

Each step saves a screenshot (when ``CEGEMA_TEST_ARTEFACTS`` names a folder, see
docs/development.md) and asserts what the page shows: titles, labels, messages next to
their fields, the mail in the mailbox.
Runs only with Debian's Chromium (scripts/ensure-chromium installs it); skipped without
it, except in CI (env CI set), where a missing browser fails the run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flask")

from cegema_onboarding import texts

from ...conftest import GOOD_PASSWORD
from .browser_support import (
    STAFF_PASSWORD,
    Portal,
    Shots,
    serve_portal,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1200, "height": 900}


def fr(key: str, **params: object) -> str:
    """The French text of a catalogue key, with the demo brand."""
    if "brand" in texts.placeholders(key):
        params.setdefault("brand", "CEGEMA")
    return texts.text(key, "fr", **params)


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    running = serve_portal(tmp_path)
    yield running
    running.shutdown()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)


def new_page(browser: Any, viewport: dict[str, int] = PHONE) -> Any:
    context = browser.new_context(locale="fr-FR", viewport=viewport)
    context.set_default_timeout(15_000)
    return context.new_page()


def heading(page: Any) -> str:
    return str(page.locator("h1").first.inner_text()).strip()


def field_error(page: Any, field_id: str) -> str:
    """The message shown next to a field, checked to be linked with aria-describedby."""
    described = page.locator(f"#{field_id}").get_attribute("aria-describedby") or ""
    assert f"{field_id}-error" in described.split()
    return str(page.locator(f"#{field_id}-error").inner_text()).strip()


def log_in(page: Any, portal: Portal, number: str, password: str) -> None:
    page.goto(f"{portal.url}/connexion")
    page.get_by_label("Identifiant", exact=True).fill(number)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_role("button", name=re.compile("Ouvrir une session")).click()


def open_mail(page: Any, portal: Portal, subject: str) -> None:
    page.goto(f"{portal.url}/mailbox")
    page.get_by_role("link", name=subject).first.click()
    assert heading(page) == subject


# ---------------------------------------------------------------------- the other paths


def test_re_clicked_link_says_it_was_used(browser: Any, portal: Portal, shots: Shots) -> None:
    member = portal.provision("100234570")
    page = new_page(browser)
    log_in(page, portal, "100234570", member.initial_password)
    page.get_by_label("Email", exact=True).fill("re.click@example.com")
    page.get_by_label("Confirmer votre email").fill("re.click@example.com")
    page.get_by_role("button", name="Valider").click()
    open_mail(page, portal, fr("mail.validation.subject"))
    link = page.locator("#mail-text a[href*='/premiere-connexion/valider']").get_attribute("href")
    page.goto(link)
    page.get_by_role("button", name=fr("button.confirm_link")).click()
    assert heading(page) == "Choisissez votre nouveau mot de passe"
    page.goto(link)
    assert page.locator("#form-error").inner_text().strip() == fr("reason.link_used")
    assert page.get_by_role("button", name=fr("button.confirm_link")).count() == 0
    shots(page, "link-used")


def test_a_link_opened_from_a_webmail_on_another_site(browser: Any, portal: Portal,
                                                     shots: Shots) -> None:
    """The token leaves the address bar at once, and no later request carries it."""
    member = portal.provision("100234574")
    page = new_page(browser)
    log_in(page, portal, "100234574", member.initial_password)
    page.get_by_label("Email", exact=True).fill("webmail@example.com")
    page.get_by_label("Confirmer votre email").fill("webmail@example.com")
    page.get_by_role("button", name="Valider").click()
    token = portal.last_token()
    sent: list[tuple[str, str]] = []
    page.on("request", lambda request: sent.append(
        (request.url, request.headers.get("referer", ""))))
    # The demo's mailbox served under "localhost" is another site than the portal's
    # 127.0.0.1, as a webmail is: the click is a cross-site navigation, which withholds
    # SameSite=Strict cookies all along its redirects.
    webmail = portal.url.replace("127.0.0.1", "localhost")
    page.goto(f"{webmail}/mailbox")
    page.get_by_role("link", name=fr("mail.validation.subject")).first.click()
    page.locator("#mail-text a[href*='/premiere-connexion/valider']").click()
    assert heading(page) == "Vérification de l'adresse mail"
    assert page.url == f"{portal.url}/premiere-connexion/valider"  # no token to copy or log
    shots(page, "link-page-without-token")
    page.get_by_role("button", name=fr("button.confirm_link")).click()
    assert heading(page) == "Choisissez votre nouveau mot de passe"
    carried = [i for i, (url, _) in enumerate(sent) if token in url]
    assert len(carried) == 1, sent  # the click on the mailed link, and nothing after it
    for url, referer in sent[carried[0] + 1:]:
        assert token not in url and token not in referer, (url, referer)


def test_expired_link_and_email_step_again(browser: Any, portal: Portal, shots: Shots) -> None:
    member = portal.provision("100234571")
    page = new_page(browser, DESKTOP)
    log_in(page, portal, "100234571", member.initial_password)
    page.get_by_label("Email", exact=True).fill("late@example.com")
    page.get_by_label("Confirmer votre email").fill("late@example.com")
    page.get_by_role("button", name="Valider").click()
    portal.clock.advance(hours=24, seconds=1)
    open_mail(page, portal, fr("mail.validation.subject"))
    page.locator("#mail-text a[href*='/premiere-connexion/valider']").click()
    assert page.locator("#form-error").inner_text().strip() == fr("reason.link_expired")
    shots(page, "link-expired")
    # Back on the site later, the member starts again from the email step, address filled in.
    page = new_page(browser, DESKTOP)
    log_in(page, portal, "100234571", member.initial_password)
    assert heading(page) == "PREMIÈRE CONNEXION"
    assert page.get_by_label("Email", exact=True).input_value() == "late@example.com"
    shots(page, "email-again")


def test_forgotten_password(browser: Any, portal: Portal, shots: Shots) -> None:
    portal.activate("100234572", "oubli@example.com", answer="Rex le chien")
    page = new_page(browser)
    page.goto(f"{portal.url}/connexion")
    page.get_by_role("link", name="Mot de passe oublié ?").click()
    assert heading(page) == fr("screen.forgotten_password.title")
    page.get_by_label("Identifiant", exact=True).fill("100234572")
    shots(page, "forgotten-password")
    page.get_by_role("button", name="Valider").click()
    assert page.locator("#notice").inner_text().strip() == fr("notice.forgotten_password_sent")
    assert heading(page) == "SE CONNECTER À VOTRE COMPTE"
    shots(page, "forgotten-password-sent")
    open_mail(page, portal, fr("mail.reset.subject"))
    shots(page, "reset-mail")
    page.locator("#mail-text a[href*='/mot-de-passe/reinitialiser']").click()
    assert heading(page) == fr("screen.reset.title")
    new_password = "Une autre phrase de passe 2026"
    page.get_by_label(fr("label.reset_answer")).fill("Mauvaise réponse")
    page.get_by_label("Choisissez votre nouveau mot de passe").fill(new_password)
    page.get_by_label("Merci de confirmer votre nouveau mot de passe").fill(new_password)
    page.get_by_role("button", name="Enregistrer").click()
    assert field_error(page, "answer") == fr("reason.answer_wrong")
    shots(page, "reset-wrong-answer")
    page.get_by_label(fr("label.reset_answer")).fill("rex  LE chien")
    page.get_by_label("Choisissez votre nouveau mot de passe").fill(new_password)
    page.get_by_label("Merci de confirmer votre nouveau mot de passe").fill(new_password)
    page.get_by_role("button", name="Enregistrer").click()
    assert page.locator("#notice").inner_text().strip() == fr("notice.password_reset_done")
    shots(page, "reset-done")
    log_in(page, portal, "100234572", new_password)
    assert "Mon profil et mes informations" in page.locator("main").inner_text()


def test_forgotten_identifier(browser: Any, portal: Portal, shots: Shots) -> None:
    portal.activate("100234573", "numero@example.com")
    page = new_page(browser)
    page.goto(f"{portal.url}/connexion")
    page.get_by_role("link", name="Identifiant oublié ?").click()
    assert heading(page) == fr("screen.forgotten_identifier.title")
    page.get_by_label("Email", exact=True).fill("Numero@Example.com")
    shots(page, "forgotten-identifier")
    page.get_by_role("button", name="Valider").click()
    assert page.locator("#notice").inner_text().strip() == fr("notice.forgotten_identifier_sent")
    open_mail(page, portal, fr("mail.identifier.subject"))
    assert "100234573" in page.locator("#mail-text").inner_text()
    shots(page, "identifier-mail")


def test_no_email_path_with_staff_activation(browser: Any, portal: Portal,
                                             shots: Shots) -> None:
    member = portal.provision("100234574", "Jean Martin")
    page = new_page(browser)
    log_in(page, portal, "100234574", member.initial_password)
    page.get_by_role("link", name="Vous n'avez pas d'adresse email ?").click()
    assert "dans les plus brefs délais" in page.locator("main").inner_text()
    shots(page, "no-email")
    page.get_by_role("button", name=fr("button.confirm_no_email")).click()
    assert heading(page) == fr("screen.awaiting_activation.title")
    shots(page, "awaiting")

    staff = new_page(browser, DESKTOP)
    staff.goto(f"{portal.url}/staff")
    staff.get_by_label("Mot de passe").fill("wrong password")
    staff.get_by_role("button", name=re.compile("Ouvrir une session")).click()
    assert field_error(staff, "password") == fr("ui.staff_login_failed")
    staff.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
    staff.get_by_role("button", name=re.compile("Ouvrir une session")).click()
    row = staff.locator("tr", has_text="100234574")
    assert "Jean Martin" in row.inner_text()
    shots(staff, "staff-queue")
    row.get_by_role("button", name="Activer 100234574").click()
    assert "100234574" not in staff.locator("main").inner_text()
    shots(staff, "staff-activated")

    # The member, at their next visit, continues at the password step.
    page.goto(f"{portal.url}/")
    assert heading(page) == "Choisissez votre nouveau mot de passe"
    shots(page, "activated-password-step")


def test_remember_me_keeps_the_member_logged_in(browser: Any, portal: Portal,
                                                shots: Shots) -> None:
    portal.activate("100234575", "souvenir@example.com")
    page = new_page(browser)
    page.goto(f"{portal.url}/connexion")
    page.get_by_label("Identifiant", exact=True).fill("100234575")
    page.get_by_label("Mot de passe", exact=True).fill(GOOD_PASSWORD)
    page.get_by_label("Se souvenir de moi").check()
    page.get_by_role("button", name=re.compile("Ouvrir une session")).click()
    assert "Mon profil et mes informations" in page.locator("main").inner_text()
    # The browser session ends (its cookie is gone); the remembered device logs back in.
    page.context.clear_cookies(name="cegema_session")
    page.goto(f"{portal.url}/")
    assert "Mon profil et mes informations" in page.locator("main").inner_text()
    assert "100234575" in page.locator(".member-details").inner_text()
    shots(page, "remembered")
    page.get_by_role("button", name="Se déconnecter").click()
    assert heading(page) == "SE CONNECTER À VOTRE COMPTE"
    page.context.clear_cookies(name="cegema_session")
    page.goto(f"{portal.url}/")
    assert heading(page) == "SE CONNECTER À VOTRE COMPTE"


def test_back_after_a_refused_form_and_the_finished_journey(browser: Any, portal: Portal,
                                                            shots: Shots) -> None:
    """Post/Redirect/Get: Back walks the journey's pages, never a POST's answer."""
    member = portal.provision("100234576")
    page = new_page(browser)
    log_in(page, portal, "100234576", member.initial_password)
    page.get_by_label("Email", exact=True).fill("back@example.com")
    page.get_by_label("Confirmer votre email").fill("autre@example.com")
    page.get_by_role("button", name="Valider").click()
    assert field_error(page, "confirmation") == fr("reason.emails_differ")
    assert page.url == f"{portal.url}/premiere-connexion"  # the form's page, not its POST
    page.get_by_label("Confirmer votre email").fill("back@example.com")
    page.get_by_role("button", name="Valider").click()
    page.get_by_role("button", name=fr("button.close")).click()  # the pop-up of step 4
    # "Renvoyer le lien" at once: the wait, said on the mailbox screen it came from.
    page.get_by_role("button", name=fr("button.resend_link")).click()
    assert page.url == f"{portal.url}/premiere-connexion/boite-mail"
    assert "Merci de patienter une minute avant de demander un nouveau lien." in (
        page.locator("#form-error").inner_text())
    open_mail(page, portal, fr("mail.validation.subject"))
    page.locator("#mail-text a[href*='/premiere-connexion/valider']").click()
    page.get_by_role("button", name=fr("button.confirm_link")).click()
    page.get_by_label("Choisissez votre nouveau mot de passe").fill(GOOD_PASSWORD)
    page.get_by_label("Merci de confirmer votre nouveau mot de passe").fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_label("Choisissez votre réponse").fill("Lefebvre")
    page.get_by_label("Merci de confirmer votre réponse").fill("Lefebvre")
    page.get_by_role("button", name="Enregistrer").click()
    assert "Ça y est ! Vous êtes connecté !" in page.locator("main").inner_text()

    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url)
            if request.method == "POST" else None)
    for step in range(10):
        if page.go_back(wait_until="load") is None:
            break  # the start of the history
        content = page.content()
        assert "ERR_CACHE_MISS" not in content and "Confirm Form Resubmission" not in content
        assert page.url.startswith(portal.url), page.url
        assert page.locator("h1").count() >= 1, page.url  # one of the portal's pages
        shots(page, f"back-{step}")
    assert step >= 5
    assert posts == []  # Back never sent a form again
