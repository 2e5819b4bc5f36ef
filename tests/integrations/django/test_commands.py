"""The management commands: provision from CSV, relay the outbox, purge old tokens."""

from __future__ import annotations

import csv
from io import StringIO
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import override_settings

from cegema_onboarding.adapters.memory import ManualClock
from cegema_onboarding.integrations.django.conf import get_service
from cegema_onboarding.model import LinkStatus
from cegema_onboarding.ports import OutboxStatus
from cegema_onboarding.service import OnboardingService

pytestmark = pytest.mark.django_db


def test_provision_from_csv_writes_the_print_shop_file(dj_service: OnboardingService,
                                                       tmp_path: Path) -> None:
    source = tmp_path / "members.csv"
    source.write_text("member_number;name;postal_address;email\n"
                      "100234567;Marie Dupont;1 rue de la Paix 75002 Paris;marie@example.org\n"
                      "100234568;Jean Martin;2 rue du Bac 75007 Paris;\n"
                      "100234569;;3 rue;\n", encoding="utf-8")
    out = tmp_path / "print-shop.csv"
    stdout, stderr = StringIO(), StringIO()
    with pytest.raises(CommandError):
        # One bad row: the good ones are imported, and the exit status says so.
        call_command("cegema_provision", str(source), str(out), "--staff", "agnes",
                     stdout=stdout, stderr=stderr)
    assert "line 4" in stderr.getvalue()
    assert "imported: 2" in stdout.getvalue()
    rows = list(csv.reader(out.open(encoding="utf-8"), delimiter=";"))
    assert [r[0] for r in rows[1:]] == ["100234567", "100234568"]
    password = rows[1][3]
    account = dj_service.storage.find_by_member_number("100234567")
    assert account is not None and account.pending_email == "marie@example.org"
    assert dj_service.login("100234567", password).session is not None  # type: ignore[union-attr]
    actors = {r.actor for r in dj_service.storage.audit_records(account_id=account.account_id)
              if r.action == "provisioned"}
    assert actors == {"staff:agnes"}


def test_relay_delivers_what_the_mail_backend_refused(dj_service: OnboardingService,
                                                      clock: ManualClock) -> None:
    member = dj_service.staff.provision("100234567", "Marie Dupont")
    session = dj_service.login("100234567", member.initial_password).session  # type: ignore[union-attr]
    with override_settings(EMAIL_BACKEND="tests.integrations.django.broken_backend.BrokenBackend"):
        # The settings change rebuilt the service: same clock, failing mail backend.
        get_service().submit_email(session, "marie@example.org", "marie@example.org")
    (queued,) = dj_service.storage.list_messages()
    assert queued.status is OutboxStatus.PENDING
    assert mail.outbox == []
    clock.advance(minutes=10)
    out = StringIO()
    call_command("cegema_relay", "--once", stdout=out)
    assert "sent: 1" in out.getvalue()
    assert len(mail.outbox) == 1
    (sent,) = dj_service.storage.list_messages()
    assert sent.status is OutboxStatus.SENT and sent.payload == b""


def test_purge_drops_old_dead_links_and_delivered_mail(dj_service: OnboardingService,
                                                       clock: ManualClock) -> None:
    member = dj_service.staff.provision("100234567", "Marie Dupont")
    session = dj_service.login("100234567", member.initial_password).session  # type: ignore[union-attr]
    dj_service.submit_email(session, "marie@example.org", "marie@example.org")
    clock.advance(minutes=2)
    dj_service.resend_link(session)
    account = dj_service.storage.get(member.account_id)
    assert account is not None
    assert [link.status for link in account.links] == [LinkStatus.SUPERSEDED, LinkStatus.LIVE]
    out = StringIO()
    call_command("cegema_purge_tokens", "--days", "30", stdout=out)
    assert "links purged: 0" in out.getvalue()
    clock.advance(days=40)
    call_command("cegema_purge_tokens", "--days", "30", stdout=out)
    account = dj_service.storage.get(member.account_id)
    assert account is not None
    # The live link stays (it expired, and says so); the superseded one is gone.
    assert [link.status for link in account.links] == [LinkStatus.LIVE]
    assert dj_service.storage.list_messages() == []
    assert "links purged: 1" in out.getvalue()
