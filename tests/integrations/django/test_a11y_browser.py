"""Accessibility of every Django screen (RGAA / WCAG 2.1 AA), in French and in English.

The same walk as tests/integrations/flask/test_a11y_browser.py, against the app served by
pytest-django's live server: the first connection with the keyboard alone, a visible focus
in page order, refusals tied to their fields, and axe-core with no serious or critical
violation on any screen. Screenshots when ``CEGEMA_TEST_ARTEFACTS`` is set.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("axe_playwright_python")

from django.core import mail

from cegema_onboarding.adapters.memory import ManualClock
from cegema_onboarding.model import LinkPurpose
from cegema_onboarding.service import OnboardingService

from ...a11y import Artefacts, assert_tied_error, check_axe, press, tab_back, tab_to, type_into
from ...conftest import GOOD_PASSWORD
from .browser_support import live_app

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def served(transactional_db: None, clock: ManualClock) -> Iterator[tuple[str, OnboardingService]]:
    """The live server's address and the app's service."""
    with live_app(CLOCK=clock) as served:
        yield served


@pytest.fixture
def page(browser: Any, served: tuple[str, OnboardingService]) -> Iterator[Any]:
    """A French browser's page, closed before the server stops (Chromium keeps its
    connections open, and the server's threads share the test's database connection)."""
    context = browser.new_context(locale="fr-FR", viewport={"width": 1000, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def link(base: str, service: OnboardingService, purpose: LinkPurpose,
         token: str | None = None) -> str:
    """The link of ``purpose``: with ``token``, or as the sent mails carry it."""
    path = service.settings.link_paths[purpose]
    if token is not None:
        return f"{base}{path}?token={token}"
    service.deliver_due()
    pattern = re.compile(re.escape(path) + r"\?token=[A-Za-z0-9_.\-]+")
    found = [m.group(0) for message in mail.outbox for m in pattern.finditer(message.body)]
    assert found, f"no mail carries a {purpose.value} link"
    return base + found[-1]


def submit(page: Any) -> None:
    with page.expect_navigation():
        page.keyboard.press("Enter")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_screen_by_keyboard_with_axe(page: Any, served: tuple[str, OnboardingService],
                                          lang: str) -> None:
    base, service = served
    shots = Artefacts(f"django-{lang}")
    member = service.staff.provision("100234590", "Marie Dupont")

    def screen(label: str) -> None:
        assert page.locator("html").get_attribute("lang") == lang
        check_axe(page, f"django {lang} {label}")
        shots(page, label)

    # The language is chosen once with ?lang= and remembered.
    page.goto(f"{base}/connexion/?lang={lang}")
    screen("login")
    type_into(page, "id_member_number", "100234590")
    type_into(page, "id_password", member.initial_password)
    assert tab_back(page).id == "id_member_number"  # Shift+Tab goes back up the page
    tab_to(page, "id_password")
    submit(page)

    screen("email")
    type_into(page, "id_email", "marie@example.com")
    type_into(page, "id_email_confirm", "marie@example.org")
    submit(page)
    assert_tied_error(page, "id_email_confirm")
    screen("email-refused")
    type_into(page, "id_email_confirm", "marie@example.com")
    submit(page)
    screen("check-mailbox")

    press(page, "text:" + page.locator("a[href$='/premiere-connexion/code/']").inner_text())
    screen("code")
    page.goto(link(base, service, LinkPurpose.VERIFY_EMAIL))
    screen("link-page")
    press(page, "text:" + page.locator("main form button[type=submit]").inner_text())

    screen("password")
    type_into(page, "id_password", "qwerty123456")
    type_into(page, "id_password_confirm", "qwerty123456")
    submit(page)
    assert_tied_error(page, "id_password")
    screen("password-refused")
    type_into(page, "id_password", GOOD_PASSWORD)
    type_into(page, "id_password_confirm", GOOD_PASSWORD)
    submit(page)

    screen("question")
    type_into(page, "id_answer", "Lefebvre")
    type_into(page, "id_answer_confirm", "Lefebvre")
    submit(page)

    screen("profile")
    channel = page.locator("main input[type=checkbox]").first
    tab_to(page, channel.get_attribute("id") or "")
    page.keyboard.press("Space")
    press(page, "text:" + page.locator("main form button[type=submit]").first.inner_text())
    screen("profile-saved")

    # The change-password and change-email forms are on the profile page.
    assert page.locator("main #id_new_password, main #id_new_email").count() == 2

    page.context.clear_cookies(name="sessionid")  # logged out; the language stays
    for path, label in (("/identifiant-oublie/", "forgotten-identifier"),
                        ("/mot-de-passe-oublie/", "forgotten-password")):
        page.goto(base + path)
        screen(label)
    type_into(page, page.locator("main form input:not([type=hidden])").first.get_attribute("id"),
              "100234590")
    submit(page)
    screen("forgotten-password-sent")
    page.goto(link(base, service, LinkPurpose.RESET_PASSWORD))
    assert page.locator("main form input[type=password]").count() >= 2
    screen("reset-link")
    page.goto(link(base, service, LinkPurpose.NOT_ME))
    assert page.locator("main form button[type=submit]").count() == 1
    screen("not-me")
    page.goto(link(base, service, LinkPurpose.VERIFY_EMAIL, "not-a-real-token"))
    screen("bad-link")

    other = service.staff.provision("100234591", "Jean Martin")
    page.goto(f"{base}/connexion/")
    type_into(page, "id_member_number", "100234591")
    type_into(page, "id_password", other.initial_password)
    submit(page)
    press(page, "text:" + page.locator("a[href$='/premiere-connexion/sans-email/']").inner_text())
    screen("no-email")
    press(page, "text:" + page.locator("main form button[type=submit]").first.inner_text())
    screen("awaiting")


def test_the_admins_staff_pages_with_axe(page: Any,
                                         served: tuple[str, OnboardingService]) -> None:
    """The no-email queue and the library's own admin page (the reason for a rejection)."""
    from django.contrib.auth import get_user_model

    base, service = served
    shots = Artefacts("django-admin")
    get_user_model().objects.create_superuser("staff", "staff@example.org", "staff-pass-2026")
    member = service.staff.provision("100234592", "Jean Martin")
    result = service.login("100234592", member.initial_password)
    assert result.session is not None
    service.declare_no_email(result.session)

    page.goto(f"{base}/admin/login/?next=/admin/cegema_onboarding/noemailqueue/")
    page.get_by_label("Nom d’utilisateur").fill("staff")
    page.get_by_label("Mot de passe").fill("staff-pass-2026")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    check_axe(page, "django admin no-email queue")
    shots(page, "queue")
    page.locator("input.action-select").first.check()
    page.locator("select[name=action]").select_option("reject")
    with page.expect_navigation():
        page.locator("button[name=index]").click()
    check_axe(page, "django admin reject")
    shots(page, "reject")
    # Sent with blanks for a reason: the field is refused, tied to its message, announced.
    page.locator("#id_reason").fill("   ")
    with page.expect_navigation():
        page.locator("main input[type=submit], #content input[type=submit]").last.click()
    assert_tied_error(page, "id_reason")
    check_axe(page, "django admin reject refused")
    shots(page, "reject-refused")
