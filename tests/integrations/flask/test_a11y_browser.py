"""Accessibility of every Flask screen (RGAA / WCAG 2.1 AA), in French and in English.

One walk per language in a real headless Chromium: the first connection is done with the
keyboard alone (Tab, Enter, Space and typed text; no clicks, no ``fill``), every element
Tab reaches shows a visible focus and comes later in the page than the one before, and
axe-core finds no serious or critical violation on any screen, refusals included.
Screenshots are saved when ``CEGEMA_TEST_ARTEFACTS`` is set (docs/development.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flask")
pytest.importorskip("axe_playwright_python")

from cegema_onboarding.adapters.mailbox import text_part
from cegema_onboarding.model import LinkPurpose

from ...a11y import Artefacts, assert_tied_error, check_axe, press, tab_back, tab_to, type_into
from ...conftest import GOOD_PASSWORD
from .browser_support import STAFF_PASSWORD, Portal, serve_portal

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    running = serve_portal(tmp_path)
    yield running
    running.shutdown()


def link(portal: Portal, purpose: LinkPurpose, token: str | None = None) -> str:
    """The link of ``purpose``: with ``token``, or as the mailbox's mails carry it."""
    path = portal.service.settings.link_paths[purpose]
    if token is None:
        pattern = re.compile(re.escape(path) + r"\?token=[A-Za-z0-9_.\-]+")
        portal.service.deliver_due()  # what the demo's mailbox page does
        found = [m.group(0) for _, message in portal.mailbox.messages()
                 for m in pattern.finditer(text_part(message))]
        assert found, f"no mail carries a {purpose.value} link"
        return portal.url + found[0]
    return f"{portal.url}{path}?token={token}"


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_screen_by_keyboard_with_axe(browser: Any, portal: Portal, lang: str) -> None:
    shots = Artefacts(f"flask-{lang}")
    member = portal.provision("100234580")
    context = browser.new_context(locale="fr-FR", viewport={"width": 1000, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()

    def screen(label: str) -> None:
        check_axe(page, f"flask {lang} {label}")
        shots(page, label)

    # Login, by keyboard; the language is chosen once with ?lang= and remembered.
    page.goto(f"{portal.url}/connexion?lang={lang}")
    screen("login")
    type_into(page, "identifier", "100234580")
    type_into(page, "password", member.initial_password)
    assert tab_back(page).id == "identifier"  # Shift+Tab goes back up the page
    tab_to(page, "password")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # First connection: a refused address, tied to its field and announced.
    screen("email")
    type_into(page, "email", "marie@example.com")
    type_into(page, "confirmation", "marie@example.org")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert_tied_error(page, "confirmation")
    screen("email-refused")
    type_into(page, "confirmation", "marie@example.com")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    screen("check-mailbox")

    # The code page, then back to the mailed link (opened as a mail client would).
    press(page, "text:" + page.locator("a[href$='/premiere-connexion/code']").inner_text())
    screen("code")
    page.goto(link(portal, LinkPurpose.VERIFY_EMAIL))
    screen("link-page")
    press(page, "text:" + page.locator("main form button[type=submit]").inner_text())
    assert page.url.endswith("/mot-de-passe")

    # New password, one refusal first.
    screen("password")
    type_into(page, "password", "qwerty123456")
    type_into(page, "confirmation", "qwerty123456")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert_tied_error(page, "password")
    screen("password-refused")
    type_into(page, "password", GOOD_PASSWORD)
    type_into(page, "confirmation", GOOD_PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # The secret question: the first question stays chosen.
    screen("question")
    type_into(page, "answer", "Lefebvre")
    type_into(page, "confirmation", "Lefebvre")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # The profile: a channel ticked with Space, saved with Enter on the button.
    screen("profile")
    channel = page.locator("main input[type=checkbox]").first
    tab_to(page, channel.get_attribute("id") or "")
    page.keyboard.press("Space")
    save = page.locator("main form button[type=submit]").first.inner_text()
    press(page, "text:" + save)
    screen("profile-saved")

    # The account's other pages.
    for path, label in (("/profil/mot-de-passe", "change-password"),
                        ("/profil/email", "change-email")):
        page.goto(portal.url + path)
        screen(label)

    # Logged out: forgotten identifier and password, the reset and "not me" links, a dead link.
    context.clear_cookies(name="cegema_session")
    for path, label in (("/identifiant-oublie", "forgotten-identifier"),
                        ("/mot-de-passe-oublie", "forgotten-password")):
        page.goto(portal.url + path)
        screen(label)
    type_into(page, "identifier", "100234580")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    screen("forgotten-password-sent")
    page.goto(link(portal, LinkPurpose.RESET_PASSWORD))
    assert page.locator("main form #answer").count() == 1
    screen("reset-link")
    page.goto(link(portal, LinkPurpose.NOT_ME))
    assert page.locator("main form button[type=submit]").count() == 1
    screen("not-me")
    page.goto(link(portal, LinkPurpose.VERIFY_EMAIL, "not-a-real-token"))
    screen("bad-link")

    # The no-email path and the waiting page, with a second member.
    other = portal.provision("100234581", "Jean Martin")
    page.goto(f"{portal.url}/connexion")
    type_into(page, "identifier", "100234581")
    type_into(page, "password", other.initial_password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    press(page, "text:" + page.locator("a[href$='/premiere-connexion/sans-email']").inner_text())
    screen("no-email")
    press(page, "text:" + page.locator("main form button[type=submit]").first.inner_text())
    screen("awaiting")

    # The demo's staff pages and local mailbox.
    page.goto(f"{portal.url}/staff")
    screen("staff-login")
    type_into(page, "password", STAFF_PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    screen("staff-queue")
    page.goto(f"{portal.url}/mailbox")
    screen("mailbox")
    page.locator("main a").first.click()
    screen("mailbox-message")
    context.close()


def test_the_checks_catch_what_they_look_for(browser: Any) -> None:
    """axe's failure names rule, impact, target and help URL; an invisible focus fails."""
    page = browser.new_page()
    page.set_content('<html lang="fr"><head><title>t</title><style>*:focus{outline:none}</style>'
                     '</head><body><main><h1>t</h1><input id="nameless"></main></body></html>')
    with pytest.raises(AssertionError) as failed:
        check_axe(page, "bad page")
    assert "label (critical) at #nameless" in str(failed.value)
    assert "dequeuniversity.com/rules/axe/" in str(failed.value)
    with pytest.raises(AssertionError, match="no visible focus"):
        tab_to(page, "nameless")
    page.close()
