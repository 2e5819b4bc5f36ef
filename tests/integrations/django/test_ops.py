"""Health, metrics and request ids through the Django integration."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from cegema_onboarding.adapters.memory import ManualClock
from cegema_onboarding.integrations.django.conf import get_service
from cegema_onboarding.service import OnboardingService

from ...conftest import GOOD_PASSWORD
from .conftest import onboarding_config

pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families

OPS = "tests.integrations.django.ops_urls"
MIDDLEWARE = ["cegema_onboarding.integrations.django.health.RequestIdMiddleware",
              "django.contrib.sessions.middleware.SessionMiddleware",
              "django.middleware.common.CommonMiddleware",
              "django.middleware.csrf.CsrfViewMiddleware"]


@pytest.fixture
def ops(clock: ManualClock) -> Iterator[OnboardingService]:
    with override_settings(ROOT_URLCONF=OPS, MIDDLEWARE=MIDDLEWARE,
                           CEGEMA_ONBOARDING=onboarding_config(CLOCK=clock, METRICS=True)):
        yield get_service()


@pytest.mark.django_db
def test_live_and_ready_on_a_migrated_database(ops: OnboardingService) -> None:
    client = Client()
    r = client.get("/_ops/live")
    assert r.status_code == 200 and json.loads(r.content) == {"status": "ok", "checks": {}}
    assert r["Cache-Control"] == "no-store"
    r = client.get("/_ops/ready")
    assert r.status_code == 200
    assert json.loads(r.content)["checks"] == {
        "database": {"ok": True, "detail": "reachable"},
        "migrations": {"ok": True, "detail": "current"}}


@pytest.mark.django_db(transaction=True)
def test_unmigrated_is_not_ready(ops: OnboardingService) -> None:
    call_command("migrate", "cegema_onboarding", "zero", verbosity=0)
    try:
        r = Client().get("/_ops/ready")
        assert r.status_code == 503
        body = json.loads(r.content)
        assert body["status"] == "unavailable"
        assert body["checks"]["migrations"]["ok"] is False
        assert body["checks"]["database"]["ok"] is True
    finally:
        call_command("migrate", "cegema_onboarding", verbosity=0)
    assert Client().get("/_ops/ready").status_code == 200


@pytest.mark.django_db
def test_not_claimed_unless_included() -> None:
    for path in ("/_ops/ready", "/live", "/metrics"):
        assert Client().get(path).status_code == 404


@pytest.mark.django_db
def test_metrics_are_off_unless_asked(clock: ManualClock) -> None:
    with override_settings(ROOT_URLCONF=OPS, CEGEMA_ONBOARDING=onboarding_config(CLOCK=clock)):
        assert get_service().observer is None
        assert Client().get("/_ops/metrics").status_code == 404


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.mark.django_db
def test_metrics_after_a_journey(ops: OnboardingService) -> None:
    from django.core import mail

    member = ops.staff.provision("100234567", "Marie Dupont")
    ops.staff.provision("100234568", "Paul Durand")
    session = ops.login("100234567", member.initial_password).session  # type: ignore[union-attr]
    assert session is not None
    ops.login("100234568", "wrong-password")
    ops.submit_email(session, "marie@example.com", "marie@example.com")
    body = mail.outbox[-1].body
    token = body.split("token=")[1].split()[0]
    r: Any = ops.confirm_link(token, session=session)
    r = ops.set_password(r.session, GOOD_PASSWORD, GOOD_PASSWORD)
    assert r.session is not None

    response = Client().get("/_ops/metrics")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    found = _samples(response.content.decode())
    assert found[("cegema_onboarding_logins_total", (("outcome", "ok"),))] == 1
    assert found[("cegema_onboarding_logins_total", (("outcome", "bad_credentials"),))] == 1
    assert found[("cegema_onboarding_steps_total", (("step", "email_verified"),))] == 1
    assert found[("cegema_onboarding_steps_total", (("step", "password_set"),))] == 1
    assert found[("cegema_onboarding_deliveries_total",
                  (("channel", "email"), ("outcome", "sent")))] == 2
    assert found[("cegema_onboarding_members", (("stage", "question_required"),))] == 1
    assert found[("cegema_onboarding_members", (("stage", "provisioned"),))] == 1
    assert found[("cegema_onboarding_outbox_waiting", ())] == 0


@pytest.mark.django_db
def test_each_request_gets_an_id(ops: OnboardingService) -> None:
    client = Client()
    first = client.get("/_ops/live")["X-Request-ID"]
    second = client.get("/_ops/live")["X-Request-ID"]
    assert len(first) == 32 and first != second
    kept = client.get("/_ops/live", headers={"X-Request-ID": "proxy-id-0001"})
    assert kept["X-Request-ID"] == "proxy-id-0001"
    replaced = client.get("/_ops/live", headers={"X-Request-ID": "<script>"})
    assert replaced["X-Request-ID"] != "<script>"
