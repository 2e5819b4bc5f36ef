"""Chromium walks the no-email path of the demo as ``make demo`` builds it, to the letter.

The member declares no email and reads how they will be told; staff read the channel and
the postal address, activate, and read what happened; the letter, with the address of its
envelope, is under the mailbox's "Courrier" tab, reached with the keyboard. axe-core finds
no serious or critical violation on the new pages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flask")

from .browser_support import Shots, serve_demo
from .test_browser import DESKTOP, browser, fr, heading, log_in, new_page

__all__ = ["browser"]  # the module-scoped Chromium fixture, shared

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _serious(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [v["id"] for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")]


def test_the_no_email_member_is_told_by_letter_in_the_demo_mailbox(
        browser: Any, tmp_path: Path) -> None:
    from cegema_onboarding.integrations.flask.demo import DEMO_NO_EMAIL_MEMBER

    shots = Shots("test_the_no_email_member_is_told_by_letter")
    portal, members = serve_demo(tmp_path / ".demo")
    try:
        password = members[DEMO_NO_EMAIL_MEMBER]
        assert password is not None
        page = new_page(browser)
        log_in(page, portal, DEMO_NO_EMAIL_MEMBER, password)
        page.get_by_role("link", name="Vous n'avez pas d'adresse email ?").click()
        page.get_by_role("button", name=fr("button.confirm_no_email")).click()
        assert heading(page) == fr("screen.awaiting_activation.title")
        assert fr("screen.awaiting_activation.channel.post") in page.locator("main").inner_text()
        shots(page, "awaiting-by-post")

        staff = new_page(browser, DESKTOP)
        staff.goto(f"{portal.url}/staff")
        staff.get_by_label("Mot de passe").fill(_staff_password(tmp_path))
        staff.get_by_role("button").filter(has_text="Ouvrir une session").click()
        row = staff.locator("tr", has_text=DEMO_NO_EMAIL_MEMBER)
        text = row.inner_text()
        assert "Courrier" in text and "12 rue des Lilas" in text and "06270" in text
        assert _serious(staff) == []
        shots(staff, "staff-queue-with-address")
        row.get_by_role("button", name=f"Activer {DEMO_NO_EMAIL_MEMBER}").click()
        status = staff.get_by_role("status").first.inner_text()
        assert status == ("Compte activé ; le membre sera informé par courrier à "
                          "12 rue des Lilas, 06270 Villeneuve-Loubet.")
        shots(staff, "staff-activated-by-post")

        # The tabs are links: Tab reaches "Courrier", Enter opens it.
        staff.goto(f"{portal.url}/mailbox")
        for _ in range(40):
            staff.keyboard.press("Tab")
            if staff.evaluate("document.activeElement.textContent") == "Courrier":
                break
        staff.keyboard.press("Enter")
        staff.wait_for_url(f"{portal.url}/mailbox/courrier")
        assert staff.locator("a[aria-current=page]").inner_text() == "Courrier"
        letter = staff.locator(".letter").first.inner_text()
        assert letter.startswith("Jean Martin\n12 rue des Lilas\n06270 Villeneuve-Loubet\n")
        assert "a été activé" in letter
        assert _serious(staff) == []
        shots(staff, "mailbox-letter")
    finally:
        portal.shutdown()


def _staff_password(tmp: Path) -> str:
    import json

    keys = json.loads((tmp / ".demo" / "keys.json").read_text(encoding="utf-8"))
    return str(keys["staff_password"])
