"""A rate-limit refusal in Chromium: the 429 page, then Back, with no browser error.

The refused POST answers 303 and the page it leads to answers 429 with Retry-After: the
history holds GETs only, so Back never shows "Confirm Form Resubmission" (ERR_CACHE_MISS)
and never posts the form again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flask")

from cegema_onboarding.ratelimit import Limit, RateLimits

from .browser_support import Portal, serve_portal
from .test_browser import log_in, new_page

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def limited_portal(tmp_path: Path) -> Iterator[Portal]:
    running = serve_portal(tmp_path,
                           rate_limits=RateLimits(login_ip=Limit(2, timedelta(minutes=1))))
    yield running
    running.shutdown()


def test_a_limited_login_shows_the_wait_and_back_stays_sane(browser: Any,
                                                            limited_portal: Portal) -> None:
    portal = limited_portal
    page = new_page(browser)
    statuses: dict[str, int] = {}
    page.on("response", lambda r: statuses.__setitem__(r.request.method, r.status)
            if r.request.resource_type == "document" else None)
    for _ in range(3):
        log_in(page, portal, "100234567", "not the password")
        page.wait_for_load_state("load")
    assert statuses == {"POST": 303, "GET": 429}
    assert "Merci de patienter une minute avant de réessayer." in page.locator(
        "main").inner_text()
    assert page.get_by_label("Identifiant", exact=True).input_value() == "100234567"
    assert page.get_by_label("Mot de passe", exact=True).input_value() == ""
    page.goto(f"{portal.url}/mot-de-passe-oublie")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    for _ in range(4):
        if page.go_back(wait_until="load") is None:
            break
        content = page.content()
        assert "ERR_CACHE_MISS" not in content and "Confirm Form Resubmission" not in content
        assert page.url.startswith(portal.url) and page.locator("h1").count() >= 1
    assert posts == []
