"""The member's screens as the guide shows them (issue #15), through Flask's test client:
local times, the language, the resend wait, the staff login and the completion meter."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flask")

from cegema_onboarding.adapters.mailbox import FileMailbox
from cegema_onboarding.adapters.memory import (
    ManualClock,
    MemoryNotifier,
    MemoryStorage,
)
from cegema_onboarding.integrations._web import local_time
from cegema_onboarding.service import OnboardingService

from ...conftest import GOOD_PASSWORD, make_settings
from .test_views import BASE_URL, SESSION_KEY, Env, fr, log_in, post, text_of

WINTER = datetime(2026, 12, 5, 7, 27, tzinfo=UTC)
SUMMER = datetime(2026, 7, 14, 6, 27, tzinfo=UTC)


def onboarded(env: Env) -> None:
    """A member who finished the journey, through the service."""
    member = env.service.staff.provision("100234567", "Marie Dupont")
    session = env.service.login("100234567", member.initial_password).session  # type: ignore[union-attr]
    assert session is not None
    env.service.submit_email(session, "marie@example.com", "marie@example.com")
    token = env.last_link().split("token=")[1]
    session = env.service.confirm_link(token, session=session).session  # type: ignore[union-attr]
    session = env.service.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD).session  # type: ignore[union-attr,arg-type]
    question = next(iter(env.service.settings.questions))
    env.service.set_secret_answer(session, question.id, "Martin", "Martin")  # type: ignore[arg-type]


@pytest.mark.parametrize(("instant", "french", "english"), [
    (WINTER, "05/12/2026 08:27 (CET)", "2026-12-05 08:27 (CET)"),
    (SUMMER, "14/07/2026 08:27 (CEST)", "2026-07-14 08:27 (CEST)"),
])
def test_local_time_says_the_zone_as_the_mail_does(instant: datetime, french: str,
                                                   english: str) -> None:
    assert local_time(instant, "Europe/Paris", "fr") == french
    assert local_time(instant, "Europe/Paris", "en") == english
    assert local_time(instant, "UTC", "fr").endswith("07:27 (UTC)" if instant == WINTER
                                                     else "06:27 (UTC)")


@pytest.mark.parametrize(("instant", "shown"), [
    (WINTER, "Dernière utilisation 05/12/2026 08:27 (CET)"),
    (SUMMER, "Dernière utilisation 14/07/2026 08:27 (CEST)"),
])
def test_the_profile_shows_last_use_in_paris_time(instant: datetime, shown: str) -> None:
    env = Env()
    env.clock.set(instant)
    onboarded(env)
    client = env.client()
    assert log_in(env, client, "100234567", GOOD_PASSWORD, remember="1").status_code == 303
    page = text_of(client.get("/profil"))
    assert shown in page
    assert instant.strftime("%d/%m/%Y %H:%M") not in page  # never the UTC time


STAFF_PASSWORD = "staff-pw-123"


def demo_app(tmp_path: Path, instant: datetime = WINTER) -> tuple[Any, OnboardingService]:
    from cegema_onboarding.integrations.flask.demo import create_app

    mailbox = FileMailbox(tmp_path / "mailbox")
    service = OnboardingService(MemoryStorage(), mailbox,
                                settings=make_settings(base_url=BASE_URL),
                                clock=ManualClock(instant), notifier=MemoryNotifier())
    return create_app(service, mailbox, secret_key=SESSION_KEY,
                      staff_password=STAFF_PASSWORD, testing=True), service


@pytest.mark.parametrize(("instant", "shown"), [
    (WINTER, "05/12/2026 08:27 (CET)"), (SUMMER, "14/07/2026 08:27 (CEST)")])
def test_the_staff_page_shows_the_request_time_in_paris_time(
        tmp_path: Path, instant: datetime, shown: str) -> None:
    app, service = demo_app(tmp_path, instant)
    member = service.staff.provision("100234567", "Marie Dupont")
    session = service.login("100234567", member.initial_password).session  # type: ignore[union-attr]
    assert session is not None
    service.declare_no_email(session)
    client = app.test_client()
    assert post(client, "/staff", {"password": STAFF_PASSWORD}).status_code == 303
    page = text_of(client.get("/staff"))
    assert shown in page and instant.strftime("%d/%m/%Y %H:%M") not in page


def test_french_is_kept_until_the_member_switches() -> None:
    env = Env()
    client = env.client()
    page = text_of(client.get("/connexion", headers={"Accept-Language": "en"}))
    assert fr("screen.login.title") in page
    assert 'hreflang="en"' in page
