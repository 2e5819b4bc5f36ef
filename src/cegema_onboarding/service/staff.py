"""The staff desk: what staff (and the host, for its own data) do to members' accounts.

Reached as ``service.staff`` (:attr:`OnboardingService.staff`). Staff callers are trusted
to name an account: an unknown account id raises
:class:`~cegema_onboarding.errors.UnknownAccount` instead of a member-facing refusal.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from .. import flow, normalize
from ..credentials import new_initial_password
from ..flow import Accepted, Origin, Refused
from ..journey.provision import build_account, provisioned_audit
from ..journey.screens import notice_channel
from ..model import Account, Adviser, Channel, Stage
from ..ports import Changes
from .guards import Guards
from .results import ActivationRequest, Ok, Provisioned, Result
from .unit import UnitOfWork

__all__ = ["StaffDesk"]


class StaffDesk:
    """One method per staff action, over the service's unit of work and guards."""

    def __init__(self, unit: UnitOfWork, guards: Guards) -> None:
        self._unit = unit
        self._guards = guards

    def provision(self, member_number: str, name: str, *, email: str | None = None,
                  postal_address: str | None = None, phone: str | None = None,
                  lang: str = "fr", staff_id: str = "system") -> Provisioned:
        """Create one account and its initial password, to print on the contract.

        Raises :class:`~cegema_onboarding.errors.InvalidInput` for bad data and
        :class:`~cegema_onboarding.errors.DuplicateAccount` for a known member number.
        """
        unit = self._unit
        number = normalize.normalize_member_number(member_number)
        clean_name = normalize.normalize_name(name)
        prefill = normalize.normalize_email(email) if email else None
        normalize.check_text(staff_id, "staff_id", 64)
        if postal_address is not None:
            postal_address = normalize.check_text(postal_address, "postal_address", 500,
                                                  allow_newlines=True)
        if phone is not None:
            phone = normalize.check_text(phone, "phone", 32)
        initial = new_initial_password()
        now = unit.clock.now()
        account = build_account(
            account_id=uuid.UUID(bytes=unit.random.token_bytes(16), version=4).hex,
            member_number=number, name=clean_name, now=now,
            initial_digest=unit.env.crypto.pepper.digest(initial), email=prefill,
            postal_address=postal_address, phone=phone, lang=lang)
        audit = provisioned_audit(account, now, staff_id)
        unit.commit(Changes(accounts=((account, None),), audit=(audit,)))
        return Provisioned(account.account_id, number, initial)

    def activation_queue(self, *, limit: int = 100, offset: int = 0) -> Sequence[Account]:
        """Members who asked to be activated without an email address, oldest first."""
        return self._unit.storage.list_by_stage(Stage.AWAITING_ACTIVATION, limit=limit,
                                                offset=offset)

    def activation_requests(self, *, limit: int = 100, offset: int = 0
                            ) -> Sequence[ActivationRequest]:
        """The activation queue as staff need it: channel, address or phone, and since when."""
        return [activation_request(a) for a in self.activation_queue(limit=limit,
                                                                     offset=offset)]

    def activation_request(self, account_id: str) -> ActivationRequest:
        """How the activation notice reaches one member (any stage): to say what happened."""
        return activation_request(self._unit.require(account_id))

    def activate(self, account_id: str, *, staff_id: str, ip: str | None = None) -> Result:
        """Staff activate a no-email member: they continue at the password step."""
        return self._unit.apply_to(account_id, None, flow.StaffActivate(staff_id),
                                   Origin(ip=ip, actor=f"staff:{staff_id}"))

    def reject(self, account_id: str, reason: str, *, staff_id: str,
               ip: str | None = None) -> Result:
        """Staff turn down a no-email request; the member sees ``reason`` at the email step."""
        return self._unit.apply_to(account_id, None, flow.StaffReject(staff_id, reason),
                                   Origin(ip=ip, actor=f"staff:{staff_id}"))

    def unlock(self, account_id: str, *, staff_id: str, ip: str | None = None) -> Result:
        """Staff clear the failure counters of a member number.

        A "this wasn't me" lock stays: the password may be a thief's, so it is lifted by
        a reset through the emailed link or by :meth:`reissue_credentials`.
        """
        account = self._unit.require(account_id)
        event = flow.StaffUnlock(staff_id)
        result = self._staff(account_id, event, staff_id, ip)
        if isinstance(result, Ok):
            self._guards.clear_after(event, account)
        return result

    def disable(self, account_id: str, *, staff_id: str, ip: str | None = None) -> Result:
        """Staff disable an account; its sessions and remembered browsers end."""
        self._unit.require(account_id)
        return self._staff(account_id, flow.StaffDisable(staff_id), staff_id, ip)

    def enable(self, account_id: str, *, staff_id: str, ip: str | None = None) -> Result:
        """Staff enable a disabled account again."""
        self._unit.require(account_id)
        return self._staff(account_id, flow.StaffEnable(staff_id), staff_id, ip)

    def mark_email_verified(self, account_id: str, *, staff_id: str,
                            email: str | None = None, ip: str | None = None) -> Result:
        """Staff vouch for an address (the pending one when ``email`` is None)."""
        self._unit.require(account_id)
        return self._staff(account_id, flow.StaffVerifyEmail(staff_id, email), staff_id, ip)

    def reissue_credentials(self, account_id: str, *, staff_id: str,
                            ip: str | None = None) -> Provisioned | Refused:
        """New initial credentials, in clear this one time, for printing.

        The old ones, every link, session and remembered browser die; a member who had
        set a password continues at the password step.
        """
        account = self._unit.require(account_id)
        event = flow.StaffReissue(staff_id)
        result, outcome = self._unit.run(account_id, None, event,
                                         Origin(ip=ip, actor=f"staff:{staff_id}"))
        if isinstance(result, Refused):
            return result
        assert isinstance(outcome, Accepted) and outcome.secret is not None
        self._guards.clear_after(event, account)
        return Provisioned(account_id, account.member_number, outcome.secret)

    def staff_assisted_reset(self, account_id: str, answer: str, password: str,
                             confirmation: str, *, staff_id: str,
                             ip: str | None = None) -> Result:
        """For members with no email (explicit policy): staff confirmed who is calling;
        the member gives the secret answer and a new password. Wrong answers count."""
        account = self._unit.require(account_id)
        event = flow.StaffAssistedReset(staff_id, answer, password, confirmation)
        return self._guards.guarded(account, event, Origin(ip=ip, actor=f"staff:{staff_id}"),
                                    "notice.password_reset_done", reserve=True)

    def set_adviser(self, account_id: str, adviser: Adviser | None, *,
                    actor: str = "host") -> Result:
        """Record the member's adviser or agency (host data, shown on the profile)."""
        self._unit.require(account_id)
        return self._unit.apply_to(account_id, None, flow.SetAdviser(adviser),
                                   Origin(actor=f"host:{actor}"[:80]))

    def _staff(self, account_id: str, event: flow.Event, staff_id: str,
               ip: str | None) -> Result:
        return self._unit.apply_to(account_id, None, event,
                                   Origin(ip=ip, actor=f"staff:{str(staff_id)[:64]}"))


def activation_request(account: Account) -> ActivationRequest:
    """The channel and recipient that :meth:`StaffDesk.activate` notifies ``account`` by."""
    # The same choice as the flow's staff activation, so that staff read what will happen.
    channel = notice_channel(account)
    recipient = {Channel.EMAIL: account.email, Channel.POST: account.postal_address}.get(
        channel, account.phone)
    return ActivationRequest(account_id=account.account_id,
                             member_number=account.member_number, name=account.name,
                             channel=channel, recipient=recipient,
                             requested_at=account.activation_requested_at)
