"""Notices for members without email wait in the admin (the default NOTIFIER), and the
admin names its tables in the staff's language (issue #14)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.utils import translation

from cegema_onboarding.integrations.django.models import (
    OnboardingAccount,
    OnboardingNotice,
    OnboardingOutbox,
)
from cegema_onboarding.integrations.django.notices import AdminNotifier
from cegema_onboarding.service import OnboardingService

from .conftest import onboarding_config
from .test_admin import act, waiting

pytestmark = pytest.mark.django_db

NOTICES = "/admin/cegema_onboarding/onboardingnotice/"


@pytest.fixture
def staff() -> Client:
    get_user_model().objects.create_superuser("agnes", "agnes@cegema.example", "x" * 20)
    client = Client()
    client.login(username="agnes", password="x" * 20)
    return client


def activated(service: OnboardingService) -> str:
    account_id = waiting(service, "100234568")
    service.staff.activate(account_id, staff_id="agnes")
    return account_id


def test_without_a_notifier_the_activated_notice_waits_in_the_admin(
        dj_service: OnboardingService) -> None:
    assert isinstance(dj_service.notifier, AdminNotifier)
    account_id = activated(dj_service)
    (notice,) = OnboardingNotice.objects.filter(account_id=account_id)
    assert notice.kind == "activated" and notice.member_number == "100234568"
    assert notice.name == "Jean Martin" and "Jean Martin" in notice.text
    assert notice.handled_at is None
    # Delivered to the admin, so never left pending with MailError.
    rows = OnboardingOutbox.objects.filter(account_id=account_id, kind="activated")
    assert [(r.status, r.last_error) for r in rows] == [("sent", None)]


def test_a_hosts_notifier_still_wins(clock: object) -> None:
    from cegema_onboarding.adapters.memory import MemoryNotifier
    from cegema_onboarding.integrations.django.conf import get_service

    with override_settings(CEGEMA_ONBOARDING=onboarding_config(
            CLOCK=clock, NOTIFIER=MemoryNotifier())):
        service = get_service()
        activated(service)
        assert isinstance(service.notifier, MemoryNotifier) and service.notifier.sent
    assert not OnboardingNotice.objects.exists()


def test_staff_see_pending_notices_and_mark_them_handled(
        dj_service: OnboardingService, staff: Client) -> None:
    activated(dj_service)
    notice = OnboardingNotice.objects.get()
    page = staff.get(f"{NOTICES}?pending=yes").content.decode()
    assert "100234568" in page
    act(staff, NOTICES, "mark_handled", [str(notice.pk)])
    notice.refresh_from_db()
    assert notice.handled_at is not None and notice.handled_by == "staff:agnes"
    assert "100234568" not in staff.get(f"{NOTICES}?pending=yes").content.decode()
    assert "100234568" in staff.get(f"{NOTICES}?pending=no").content.decode()


def test_notices_are_not_added_or_deleted_by_hand(staff: Client) -> None:
    assert staff.get(f"{NOTICES}add/").status_code == 403


def test_the_admin_names_its_tables_in_french_in_a_french_admin(staff: Client) -> None:
    with override_settings(LANGUAGE_CODE="fr"):
        page = staff.get("/admin/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    for name in ("Comptes adhérents", "Demandes d&#x27;activation sans email",
                 "Avis à transmettre (courrier, SMS, téléphone)", "Journal d&#x27;audit"):
        assert name in page, name
    assert "Member accounts" not in page


def test_and_in_english_in_an_english_admin(staff: Client) -> None:
    with override_settings(LANGUAGE_CODE="en"):
        page = staff.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Member accounts" in page and "Comptes adhérents" not in page


def test_the_names_follow_the_active_language() -> None:
    meta = OnboardingAccount._meta
    with translation.override("fr"):
        assert str(meta.verbose_name_plural) == "comptes adhérents"
    with translation.override("en"):
        assert str(meta.verbose_name_plural) == "member accounts"
    # Migrations are written with translations off: always the English names.
    with translation.override(None):
        assert str(meta.verbose_name) == "member account"
