"""A headless Chromium walks the Django app's journey: Post/Redirect/Get and the Back button.

Runs only with Debian's Chromium, as the Flask walk-throughs (see
tests/integrations/flask/browser_support.py); screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from cegema_onboarding import texts
from cegema_onboarding.service import OnboardingService

from ...conftest import GOOD_PASSWORD
from ..flask.browser_support import Shots
from .helpers import last_link, path_of

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fr(key: str, **params: object) -> str:
    if "brand" in texts.placeholders(key):
        params.setdefault("brand", "CEGEMA")
    return texts.text(key, "fr", **params)


def test_back_after_a_refused_form_and_the_finished_journey(
        browser: Any, live_server: Any, dj_service: OnboardingService,
        request: pytest.FixtureRequest) -> None:
    shots = Shots(f"django-{request.node.name}")
    url = live_server.url
    member = dj_service.staff.provision("100234577", "Marie Dupont")
    # An English browser: the portal still speaks French until the member switches.
    context = browser.new_context(locale="en-GB", viewport={"width": 375, "height": 812})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{url}/connexion/")
    assert page.locator("h1").inner_text().strip() == fr("screen.login.title")
    page.get_by_label(fr("label.identifier"), exact=True).fill("100234577")
    page.get_by_label(fr("label.password"), exact=True).fill(member.initial_password)
    page.get_by_role("button", name=fr("button.login")).click()

    # A refused form: the error on the form's page, after a redirect, the address kept.
    page.get_by_label(fr("label.email"), exact=True).fill("back@example.com")
    page.get_by_label(fr("label.email_confirm"), exact=True).fill("autre@example.com")
    page.get_by_role("button", name=fr("button.validate")).click()
    assert page.url == f"{url}/premiere-connexion/"
    assert page.get_by_role("alert").inner_text().strip() == fr("reason.emails_differ")
    assert page.get_by_label(fr("label.email"), exact=True).input_value() == "back@example.com"
    shots(page, "email-refused")
    page.get_by_label(fr("label.email_confirm"), exact=True).fill("back@example.com")
    page.get_by_role("button", name=fr("button.validate")).click()
    dialog = page.get_by_role("dialog")
    assert dialog.inner_text().startswith(fr("notice.link_sent")[:40])
    page.get_by_role("button", name=fr("button.close")).click()  # no script needed
    assert not dialog.is_visible()
    # "Renvoyer le lien" at once: the wait, on the mailbox screen.
    page.get_by_role("button", name=fr("button.resend_link")).click()
    assert page.url == f"{url}/premiere-connexion/"
    assert "Merci de patienter une minute avant de demander un nouveau lien." in (
        page.get_by_role("alert").inner_text())
    shots(page, "resend-wait")
    assert len(mail.outbox) == 1
    page.goto(url + path_of(last_link()))
    page.get_by_role("button", name=fr("button.confirm_link")).click()
    page.get_by_label(fr("label.new_password"), exact=True).fill(GOOD_PASSWORD)
    page.get_by_label(fr("label.new_password_confirm"), exact=True).fill(GOOD_PASSWORD)
    page.get_by_role("button", name=fr("button.save")).click()
    page.get_by_label(fr("label.answer"), exact=True).fill("Lefebvre")
    page.get_by_label(fr("label.answer_confirm"), exact=True).fill("Lefebvre")
    page.get_by_role("button", name=fr("button.save")).click()
    assert fr("screen.connected.title") in page.locator("main").inner_text()
    shots(page, "connected")

    posts: list[str] = []
    page.on("request", lambda req: posts.append(req.url) if req.method == "POST" else None)
    step = 0
    for step in range(10):
        if page.go_back(wait_until="load") is None:
            break  # the start of the history
        content = page.content()
        assert "ERR_CACHE_MISS" not in content and "Confirm Form Resubmission" not in content
        assert page.url.startswith(url), page.url
        shots(page, f"back-{step}")
    assert step >= 5
    assert posts == []  # Back never sent a form again
    context.close()
