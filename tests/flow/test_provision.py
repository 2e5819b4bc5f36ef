"""Provisioning, the one pure step before the journey: what a new account holds."""

from __future__ import annotations

from datetime import UTC, datetime

from cegema_onboarding.journey.provision import build_account, provisioned_audit
from cegema_onboarding.model import Account, Adviser, Profile, Stage

NOW = datetime(2026, 3, 2, 9, 39, tzinfo=UTC)


def _account(**extra: str) -> Account:
    return build_account(account_id="a1", member_number="100234567", name="Marie Dupont",
                         now=NOW, initial_digest="digest", **extra)


def test_a_provisioned_account_starts_the_journey_with_its_initial_password() -> None:
    account = _account()
    assert (account.account_id, account.member_number, account.name) == (
        "a1", "100234567", "Marie Dupont")
    assert account.created_at == NOW and account.initial_issued_at == NOW
    assert account.initial_digest == "digest"
    assert account.stage is Stage.PROVISIONED
    assert account.lang == "fr"
    assert account.pending_email is None and account.email is None
    assert account.postal_address is None and account.phone is None


def test_an_address_on_file_is_only_a_suggestion_the_member_still_confirms() -> None:
    account = _account(email="marie@example.org", postal_address="1 rue de la Paix, Paris",
                       phone="+33612345678")
    assert account.pending_email == "marie@example.org"
    assert account.email is None
    assert account.postal_address == "1 rue de la Paix, Paris"
    assert account.phone == "+33612345678"


def test_the_language_is_one_the_portal_speaks() -> None:
    assert _account(lang="en").lang == "en"
    assert _account(lang="de").lang == "fr"


def test_the_provisioning_audit_names_the_staff_member_and_the_account() -> None:
    record = provisioned_audit(_account(), NOW, "agent-7")
    assert record.at == NOW
    assert record.action == "provisioned"
    assert record.outcome == "ok"
    assert record.actor == "staff:agent-7"
    assert record.account_id == "a1"


def test_the_hosts_adviser_is_on_the_new_account_from_the_start() -> None:
    adviser = Adviser(name="Agence Nord", orias="07001234")
    account = build_account(account_id="a1", member_number="100234567", name="Marie Dupont",
                            now=NOW, initial_digest="digest", adviser=adviser)
    assert account.profile == Profile(adviser=adviser)
    assert _account().profile == Profile()
