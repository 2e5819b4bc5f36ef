"""A provisioned account: the one pure step before the journey starts.

The bulk import (:mod:`cegema_onboarding.provisioning`) and the service's single
provisioning both build accounts here, from values they have already normalised.
"""

from __future__ import annotations

from datetime import datetime

from .. import texts
from ..model import Account, Adviser, AuditRecord, Profile


def build_account(*, account_id: str, member_number: str, name: str, now: datetime,
                  initial_digest: str, email: str | None = None,
                  postal_address: str | None = None, phone: str | None = None,
                  lang: str = texts.DEFAULT_LANG, adviser: Adviser | None = None) -> Account:
    """A freshly provisioned account from already normalised values (pure).

    ``adviser`` is the host's data shown under MON CONSEILLER, as ``SetAdviser`` records it.
    """
    return Account(
        account_id=account_id,
        member_number=member_number,
        name=name,
        created_at=now,
        lang=texts.resolve_lang(lang),
        # The address on file is only a suggestion: the member still confirms it by link.
        pending_email=email,
        initial_digest=initial_digest,
        initial_issued_at=now,
        postal_address=postal_address,
        phone=phone,
        profile=Profile(adviser=adviser),
    )


def provisioned_audit(account: Account, now: datetime, staff_id: str) -> AuditRecord:
    """The audit record of one provisioning."""
    return AuditRecord(now, "provisioned", "ok", f"staff:{staff_id}", account.account_id)
