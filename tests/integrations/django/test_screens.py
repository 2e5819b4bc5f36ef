"""The member's screens as the guide shows them (issue #15), through Django's test client:
local times, the resend wait, the completion meter and Post/Redirect/Get."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cegema_onboarding.adapters.memory import ManualClock
from cegema_onboarding.service import OnboardingService

from ...conftest import GOOD_PASSWORD
from .helpers import body, csrf_client
from .test_account_life import log_in, onboard

pytestmark = pytest.mark.django_db

WINTER = datetime(2026, 12, 5, 7, 27, tzinfo=UTC)
SUMMER = datetime(2026, 7, 14, 6, 27, tzinfo=UTC)


@pytest.mark.parametrize(("instant", "shown"), [
    (WINTER, "05/12/2026 08:27 (CET)"), (SUMMER, "14/07/2026 08:27 (CEST)")])
def test_the_profile_shows_last_use_in_paris_time(
        dj_service: OnboardingService, clock: ManualClock, instant: datetime,
        shown: str) -> None:
    clock.set(instant)
    onboard(dj_service)
    client = csrf_client()
    log_in(client, "100234567", GOOD_PASSWORD, remember=True)
    page = body(client.get("/profil/"))
    assert f"Dernière utilisation {shown}" in page
