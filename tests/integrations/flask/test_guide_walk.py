"""The whole printed guide in Chromium, on the demo portal as ``make demo`` builds it.

The shared walk of tests/guide_walk.py (the guide's French labels, axe, a screenshot and
Back at every screen, the mails' sentences, local times), then the no-email member:
staff read the channel and the postal address, activate, and the letter, with the address
of its envelope, is under the demo mailbox's "Courrier" tab, reached with the keyboard.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flask")
pytest.importorskip("axe_playwright_python")

from cegema_onboarding.adapters.mailbox import text_part

from ...guide_walk import LOCAL_DATE, LOCAL_TIME, UTC_TIME, GuideWalk, Site, fr
from .browser_support import Portal, serve_demo

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Portal, dict[str, str | None], str]]:
    """The demo portal, its members' initial passwords and the staff password."""
    import json

    portal, members = serve_demo(tmp_path / ".demo")
    keys = json.loads((tmp_path / ".demo" / "keys.json").read_text(encoding="utf-8"))
    try:
        yield portal, members, str(keys["staff_password"])
    finally:
        portal.shutdown()


def demo_site(portal: Portal) -> Site:
    def mail_text(subject: str) -> str:
        portal.service.deliver_due()  # what the mailbox page does
        texts = [
            text_part(message)
            for _, message in portal.mailbox.messages()
            if str(message["Subject"]) == subject
        ]
        assert texts, f"no mail {subject!r}"
        return texts[-1]

    def show_mail(page: Any, subject: str) -> None:
        page.goto(f"{portal.url}/mailbox")
        page.get_by_role("link", name=subject).first.click()
        assert page.locator("h1").first.inner_text().strip() == subject
        # The mail's date, as a webmail shows it: local, never the UTC of its header.
        shown = page.locator("main").inner_text()
        assert LOCAL_TIME in shown and f" {UTC_TIME}" not in shown, shown
        # The mail's HTML part, in a sandboxed frame, greets the member by name too.
        page.get_by_text("Version HTML").click()
        assert "Marie Dupont" in page.frame_locator("iframe").locator("body").inner_text()

    return Site("flask", portal.url, "", mail_text, show_mail)


def new_page(browser: Any) -> Any:
    # An English browser: the portal still speaks French, the guide's language.
    context = browser.new_context(locale="en-GB", viewport={"width": 1000, "height": 900})
    context.set_default_timeout(15_000)
    return context.new_page()


def test_the_whole_guide(browser: Any, demo: tuple[Portal, dict[str, str | None], str]) -> None:
    from cegema_onboarding.integrations.flask.demo import DEMO_MEMBER

    portal, members, _ = demo
    password = members[DEMO_MEMBER]
    assert password is not None
    walk = GuideWalk(new_page(browser), demo_site(portal), "guide")
    walk.first_connection(
        DEMO_MEMBER,
        password,
        "Marie Dupont",
        "marie.dupont@example.com",
        adviser=("679 AVENUE DU DOCTEUR LEFEBVRE", "07001328"),
    )
    walk.remembered_device(DEMO_MEMBER)
    walk.forgotten_password(DEMO_MEMBER)
    walk.page.context.close()


def test_the_no_email_member_is_told_by_letter(
    browser: Any, demo: tuple[Portal, dict[str, str | None], str]
) -> None:
    from cegema_onboarding.integrations.flask.demo import DEMO_NO_EMAIL_MEMBER

    portal, members, staff_password = demo
    password = members[DEMO_NO_EMAIL_MEMBER]
    assert password is not None
    walk = GuideWalk(new_page(browser), demo_site(portal), "no-email")
    awaiting = walk.declare_no_email(DEMO_NO_EMAIL_MEMBER, password)
    assert fr("screen.awaiting_activation.channel.post") in awaiting

    # Staff, in the same browser: the channel, the address and the local time of the request.
    page = walk.page
    page.goto(f"{portal.url}/staff")
    walk.screen("staff-login")
    walk.fill("Mot de passe", staff_password)
    with page.expect_navigation():
        page.get_by_role("button").filter(has_text="Ouvrir une session").click()
    walk.back_after_form()
    walk.screen("staff-queue")
    row = page.locator("tr", has_text=DEMO_NO_EMAIL_MEMBER).inner_text()
    assert "Courrier" in row and "12 rue des Lilas" in row and "06270" in row
    assert f"{LOCAL_DATE} {LOCAL_TIME}" in row  # "Demandé le", local
    walk.submit(f"Activer {DEMO_NO_EMAIL_MEMBER}")
    assert page.get_by_role("status").first.inner_text() == (
        "Compte activé ; le membre sera informé par courrier à "
        "12 rue des Lilas, 06270 Villeneuve-Loubet."
    )
    walk.screen("staff-activated")
    walk.back_after_form()

    # The letter, under the "Courrier" tab: the tabs are links, Tab reaches it, Enter opens it.
    page.goto(f"{portal.url}/mailbox")
    main = walk.screen("mailbox", ("Courrier", "SMS"))
    assert f" {UTC_TIME}" not in main  # the mails' dates are local too
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Courrier":
            break
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{portal.url}/mailbox/courrier"
    assert page.locator("a[aria-current=page]").inner_text() == "Courrier"
    letter = page.locator(".letter").first.inner_text()
    assert letter.startswith("Jean Martin\n12 rue des Lilas\n06270 Villeneuve-Loubet\n")
    assert "a été activé" in letter
    walk.screen("mailbox-letter")

    # The member, at the next visit, continues at the password step.
    page.context.clear_cookies()
    walk.log_in(DEMO_NO_EMAIL_MEMBER, password)
    walk.screen("activated-password-step", ("Choisissez votre nouveau mot de passe",))
    page.context.close()
