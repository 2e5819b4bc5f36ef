"""The admin: staff actions go through the service and are audited with the staff user."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from cegema_onboarding.integrations.django.models import OnboardingAccount
from cegema_onboarding.model import Stage
from cegema_onboarding.service import OnboardingService

pytestmark = pytest.mark.django_db

ACCOUNTS = "/admin/cegema_onboarding/onboardingaccount/"
QUEUE = "/admin/cegema_onboarding/noemailqueue/"


@pytest.fixture
def staff() -> Client:
    get_user_model().objects.create_superuser("agnes", "agnes@cegema.example", "x" * 20)
    client = Client()
    client.login(username="agnes", password="x" * 20)
    return client


def waiting(service: OnboardingService, number: str) -> str:
    """A member who asked to be activated without an email address."""
    member = service.staff.provision(number, "Jean Martin", postal_address="1 rue de la Paix")
    result = service.login(number, member.initial_password)
    assert result.session is not None  # type: ignore[union-attr]
    service.declare_no_email(result.session)  # type: ignore[union-attr]
    return member.account_id


def act(client: Client, url: str, action: str, ids: list[str],
        data: dict[str, str] | None = None, **meta: str) -> object:
    return client.post(url, {"action": action, "_selected_action": ids, **(data or {})},
                       **meta)


def test_the_lists_show_members_and_the_queue(dj_service: OnboardingService,
                                              staff: Client) -> None:
    dj_service.staff.provision("100234567", "Marie Dupont")
    waiting(dj_service, "100234568")
    page = staff.get(ACCOUNTS).content.decode()
    assert "100234567" in page and "100234568" in page
    assert "awaiting activation" in page
    queue = staff.get(QUEUE).content.decode()
    assert "100234568" in queue and "100234567" not in queue
    detail = staff.get(f"{ACCOUNTS}{OnboardingAccount.objects.first().pk}/change/")
    assert detail.status_code == 200
    assert "initial_digest" not in detail.content.decode()


def test_the_queue_shows_how_the_member_will_be_told_before_activation(
        dj_service: OnboardingService, staff: Client) -> None:
    member = dj_service.staff.provision("100234569", "Paul Durand",
                                        postal_address="3 rue des Lilas\n75011 Paris")
    result = dj_service.login("100234569", member.initial_password)
    dj_service.declare_no_email(result.session)  # type: ignore[union-attr]
    waiting(dj_service, "100234568")
    queue = staff.get(QUEUE, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Informé par" in queue and "Adresse ou téléphone" in queue
    assert queue.count("<td class=\"field-channel\">Courrier</td>") == 2
    assert "3 rue des Lilas, 75011 Paris" in queue
    assert "1 rue de la Paix" in queue
    detail = staff.get(f"{QUEUE}{member.account_id}/change/").content.decode()
    assert "3 rue des Lilas, 75011 Paris" in detail


def test_activate_from_the_queue_is_audited_with_the_staff_user(
        dj_service: OnboardingService, staff: Client) -> None:
    account_id = waiting(dj_service, "100234568")
    response = act(staff, QUEUE, "activate", [account_id], REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 302  # type: ignore[attr-defined]
    account = dj_service.storage.get(account_id)
    assert account is not None and account.stage is Stage.PASSWORD_REQUIRED
    (record,) = [r for r in dj_service.storage.audit_records(account_id=account_id)
                 if r.action == "activation_approved"]
    assert record.actor == "staff:agnes"
    assert record.ip == "198.51.100.4"


def test_reject_asks_for_a_reason_then_sends_the_member_back(
        dj_service: OnboardingService, staff: Client) -> None:
    account_id = waiting(dj_service, "100234568")
    form = act(staff, QUEUE, "reject", [account_id])
    assert form.status_code == 200  # type: ignore[attr-defined]
    assert 'name="reason"' in form.content.decode()  # type: ignore[attr-defined]
    account = dj_service.storage.get(account_id)
    assert account is not None and account.stage is Stage.AWAITING_ACTIVATION
    act(staff, QUEUE, "reject", [account_id],
        {"apply": "1", "reason": "Adresse postale inconnue"})
    account = dj_service.storage.get(account_id)
    assert account is not None and account.stage is Stage.EMAIL_REQUIRED
    assert account.activation_rejection == "Adresse postale inconnue"
    (record,) = [r for r in dj_service.storage.audit_records(account_id=account_id)
                 if r.action == "activation_rejected"]
    assert record.actor == "staff:agnes"


def test_disable_unlock_and_reissue(dj_service: OnboardingService, staff: Client) -> None:
    member = dj_service.staff.provision("100234567", "Marie Dupont")
    act(staff, ACCOUNTS, "disable", [member.account_id])
    account = dj_service.storage.get(member.account_id)
    assert account is not None and account.disabled
    assert not hasattr(dj_service.login("100234567", member.initial_password), "session")
    act(staff, ACCOUNTS, "enable", [member.account_id])
    for _ in range(6):
        dj_service.login("100234567", "WRONG-PASSWORD")
    act(staff, ACCOUNTS, "unlock", [member.account_id])
    assert dj_service.storage.get_throttle("login:100234567").failures == 0
    page = act(staff, ACCOUNTS, "reissue", [member.account_id])
    assert "no-store" in page["Cache-Control"]  # type: ignore[index]
    found = re.search(r"<code>([^<]+)</code>", page.content.decode())  # type: ignore[attr-defined]
    assert found is not None
    new_password = found.group(1)
    assert new_password != member.initial_password
    assert not hasattr(dj_service.login("100234567", member.initial_password), "session")
    assert dj_service.login("100234567", new_password).session is not None  # type: ignore[union-attr]
    by_staff = [(r.action, r.actor) for r in
                dj_service.storage.audit_records(account_id=member.account_id)
                if r.actor.startswith("staff:") and r.action != "provisioned"]
    assert len(by_staff) >= 4
    assert {actor for _, actor in by_staff} == {"staff:agnes"}
    assert mail.outbox == []


def test_no_staff_action_without_change_permission(dj_service: OnboardingService) -> None:
    get_user_model().objects.create_user("viewer", password="y" * 20, is_staff=True)
    client = Client()
    client.login(username="viewer", password="y" * 20)
    account_id = waiting(dj_service, "100234568")
    act(client, QUEUE, "activate", [account_id])
    account = dj_service.storage.get(account_id)
    assert account is not None and account.stage is Stage.AWAITING_ACTIVATION


def test_a_stale_admin_action_is_refused_not_forced(dj_service: OnboardingService,
                                                    staff: Client) -> None:
    # A member who is not in the queue cannot be "activated" from a stale page.
    member = dj_service.staff.provision("100234567", "Marie Dupont")
    response = act(staff, ACCOUNTS, "activate", [member.account_id])
    assert response.status_code == 302  # type: ignore[attr-defined]
    account = dj_service.storage.get(member.account_id)
    assert account is not None and account.stage is Stage.PROVISIONED


@pytest.mark.parametrize(("lang", "expected", "absent"), [
    ("fr", ["Débloquer (efface les tentatives échouées)", "Motif montré à l'adhérent",
            "Un motif est requis.", 'value="Refuser"', "mot de passe initial",
            "Imprimez-les maintenant", "Débloqués : 1"],
     ["Unlock (clear failed attempts)", "A reason is required.", "initial password"]),
    ("en", ["Unlock (clear failed attempts)", "Reason shown to the member",
            "A reason is required.", 'value="Reject"', "initial password",
            "Print them for the members now", "Unlocked: 1"],
     ["Débloquer", "Un motif est requis."]),
])
def test_the_staff_actions_and_their_pages_speak_the_staff_language(
        dj_service: OnboardingService, staff: Client, lang: str, expected: list[str],
        absent: list[str]) -> None:
    """Every staff-facing text of the admin comes from the catalogues, in French or English."""
    meta = {"HTTP_ACCEPT_LANGUAGE": lang}
    member = dj_service.staff.provision("100234567", "Marie Dupont")
    account_id = waiting(dj_service, "100234568")
    pages = [staff.get(ACCOUNTS, **meta).content.decode()]
    pages.append(act(staff, QUEUE, "reject", [account_id], {"apply": "1"},  # no reason
                     **meta).content.decode())  # type: ignore[attr-defined]
    pages.append(act(staff, ACCOUNTS, "reissue", [member.account_id],
                     **meta).content.decode())  # type: ignore[attr-defined]
    act(staff, ACCOUNTS, "unlock", [member.account_id], **meta)
    pages.append(staff.get(ACCOUNTS, **meta).content.decode())  # the outcome message
    text = html.unescape("\n".join(pages))
    for wanted in expected:
        assert wanted in text, (wanted, re.findall(r'<li class="\w+">[^<]*', text))
    for unwanted in absent:
        assert unwanted not in text, unwanted
