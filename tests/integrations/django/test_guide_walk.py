"""The whole printed guide in Chromium, on the Django app served by a live server.

The shared walk of tests/guide_walk.py (the guide's French labels, axe, a screenshot and
Back at every screen, the mails' sentences with the guide's mail settings, local times),
then the no-email member: staff activate in the admin, and the notice that tells the
member stays visible in the admin until staff mark it handled.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("axe_playwright_python")

from django.contrib.auth import get_user_model
from django.core import mail

from cegema_onboarding.adapters.memory import ManualClock
from cegema_onboarding.bootstrap import DEMO_MAIL_SETTINGS
from cegema_onboarding.service import OnboardingService

from ...guide_walk import GuideWalk, Site
from .browser_support import live_app

pytestmark = [pytest.mark.slow, pytest.mark.browser]

QUEUE = "/admin/cegema_onboarding/noemailqueue/"
NOTICES = "/admin/cegema_onboarding/onboardingnotice/"


@pytest.fixture
def served(transactional_db: None, clock: ManualClock) -> Iterator[tuple[str, OnboardingService]]:
    """The app with the guide's mail settings (sender, contact and legal links, site)."""
    with live_app(CLOCK=clock, MAIL=DEMO_MAIL_SETTINGS) as served:
        yield served


@pytest.fixture
def walk(
    browser: Any, served: tuple[str, OnboardingService], request: pytest.FixtureRequest
) -> Iterator[GuideWalk]:
    base, service = served

    def mail_text(subject: str) -> str:
        service.deliver_due()
        bodies = [str(message.body) for message in mail.outbox if message.subject == subject]
        assert bodies, f"no mail {subject!r} in {[m.subject for m in mail.outbox]}"
        return bodies[-1]

    # An English browser: the portal still speaks French, the guide's language. The page
    # is closed before the server stops (the server's threads share the test's database).
    context = browser.new_context(locale="en-GB", viewport={"width": 1000, "height": 900})
    context.set_default_timeout(15_000)
    yield GuideWalk(
        context.new_page(),
        Site("django", base, "/", mail_text),
        request.node.name.removeprefix("test_"),
    )
    context.close()


def test_the_whole_guide(walk: GuideWalk, served: tuple[str, OnboardingService]) -> None:
    _, service = served
    member = service.staff.provision("100234567", "Marie Dupont", phone="+33 4 93 00 00 00")
    walk.first_connection(
        "100234567",
        member.initial_password,
        "Marie Dupont",
        "marie.dupont@example.com",
        adviser=("CEGEMA",),
    )
    walk.remembered_device("100234567")
    walk.forgotten_password("100234567")


def test_the_no_email_member_is_told_through_the_admin(
    walk: GuideWalk, served: tuple[str, OnboardingService]
) -> None:
    base, service = served
    member = service.staff.provision(
        "100234568", "Jean Martin", postal_address="12 rue des Lilas\n06270 Villeneuve-Loubet"
    )
    walk.declare_no_email("100234568", member.initial_password)

    # Staff, in the admin: the request in the queue, activated with the admin's action.
    get_user_model().objects.create_superuser("staff", "staff@example.org", "staff-pass-2026")
    page = walk.page
    page.goto(f"{base}/admin/login/?next={QUEUE}")
    page.locator("#id_username").fill("staff")
    page.locator("#id_password").fill("staff-pass-2026")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    walk.back_after_form()
    row = page.locator("#result_list tr", has_text="100234568")
    assert "Jean Martin" in row.inner_text()
    walk.screen("admin-queue", member=False)
    row.locator("input.action-select").check()
    page.locator("select[name=action]").select_option("activate")
    with page.expect_navigation():
        page.locator("button[name=index]").click()
    walk.back_after_form()

    # The notice that tells the member waits in the admin, unhandled, with its letter.
    page.goto(f"{base}{NOTICES}")
    notice = page.locator("#result_list tr", has_text="100234568").inner_text()
    assert "Jean Martin" in notice and "post" in notice and "activated" in notice
    assert "\t-\t-" in notice  # neither handled nor by whom, yet
    walk.screen("admin-notice", member=False)
    page.locator("#result_list tr", has_text="100234568").locator("input.action-select").check()
    page.locator("select[name=action]").select_option("mark_handled")
    with page.expect_navigation():
        page.locator("button[name=index]").click()
    walk.back_after_form()
    handled = page.locator("#result_list tr", has_text="100234568").inner_text()
    assert "staff:staff" in handled

    # The member, at the next visit, continues at the password step.
    page.context.clear_cookies()
    walk.log_in("100234568", member.initial_password)
    walk.screen("activated-password-step", ("Choisissez votre nouveau mot de passe",))
