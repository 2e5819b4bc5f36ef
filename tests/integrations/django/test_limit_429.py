"""A rate-limit refusal answers 429 Too Many Requests with Retry-After (issues #15, #16).

The refused POST still answers 303 (Post/Redirect/Get); the GET it leads to shows the
refusal, with the actual wait, as a 429 with ``Retry-After``. Reloading that page is an
ordinary GET of the clean form.
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import override_settings

from cegema_onboarding.adapters.memory import ManualClock
from cegema_onboarding.integrations.django.conf import get_service
from cegema_onboarding.ratelimit import Limit, RateLimits
from cegema_onboarding.service import OnboardingService

from .conftest import onboarding_config
from .helpers import body, csrf_client, shown, without_csrf
from .test_views import LOGIN, log_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def limited(clock: ManualClock) -> Iterator[OnboardingService]:
    limits = RateLimits(login_ip=Limit(2, timedelta(minutes=1)))
    with override_settings(CEGEMA_ONBOARDING=onboarding_config(CLOCK=clock,
                                                               RATE_LIMITS=limits)):
        mail.outbox = []
        yield get_service()


def text(response: Any) -> str:
    return html_lib.unescape(body(response))


def test_a_limited_login_answers_429_with_the_wait_and_keeps_the_number(
        limited: OnboardingService, clock: ManualClock) -> None:
    client = csrf_client()
    for _ in range(2):
        shown(client, log_in(client, "100234567", "not the password"), LOGIN)
    clock.advance(seconds=15)
    page = shown(client, log_in(client, "100234567", "not the password"), LOGIN)
    assert page.status_code == 429 and page["Retry-After"] == "45"
    assert "Trop de demandes. Merci de patienter 45 secondes avant de réessayer." in text(page)
    assert 'value="100234567"' in text(page) and "not the password" not in text(page)
    again = client.get(LOGIN)
    assert again.status_code == 200 and not again.has_header("Retry-After")


def test_english_says_the_wait_too(limited: OnboardingService) -> None:
    client = csrf_client()
    client.get(f"{LOGIN}?lang=en")
    for _ in range(2):
        log_in(client, "100234567", "not the password")
    page = shown(client, log_in(client, "100234567", "not the password"))
    assert page.status_code == 429 and page["Retry-After"] == "60"
    assert "Too many requests. Please wait one minute before trying again." in text(page)


def test_known_and_unknown_numbers_get_the_same_429(limited: OnboardingService,
                                                    clock: ManualClock) -> None:
    limited.staff.provision("100234567", "Marie Dupont")
    pages = []
    for number in ("100234567", "100239999"):
        client = csrf_client()
        for _ in range(2):
            log_in(client, number, "not the password")
        page = shown(client, log_in(client, number, "not the password"))
        pages.append((page.status_code, page["Retry-After"],
                      without_csrf(body(page)).replace(number, "NUMBER")))
        clock.advance(minutes=1)
    assert pages[0] == pages[1]
