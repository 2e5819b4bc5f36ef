"""The recovery actions of :class:`~.onboarding.OnboardingService`: forgotten identifier or
password, the reset link, "Ce n'était pas moi".

A mixin only to keep modules small: the service is one object for hosts. The two blind
requests (forgotten password, forgotten identifier) answer and work the same whether the
member exists or not (:class:`~.decoys.Decoys`).
"""

from __future__ import annotations

from datetime import datetime

from .. import flow, normalize
from ..config import Settings
from ..errors import InvalidInput
from ..flow import Origin, Reason, Refused
from ..model import Account, LinkPurpose, Step
from ..ports import Clock, Storage
from ..questions import SecretQuestion
from .decoys import Decoys
from .guards import Guards
from .results import Ok, Result
from .unit import UnitOfWork

__all__ = ["RecoveryActions"]


class RecoveryActions:
    """Forgotten identifier or password, reset links and "this wasn't me"."""

    # Set by OnboardingService.__init__.
    storage: Storage
    settings: Settings
    clock: Clock
    _unit: UnitOfWork
    _guards: Guards
    _decoys: Decoys

    def forgot_password(self, member_number: str, *, ip: str | None = None,
                        user_agent: str | None = None) -> Result:
        """"Mot de passe oublié ?": queue a reset link when the member can receive one.

        The answer is the same :class:`Ok` whether or not the member exists, has an email
        or was just sent a link; the mail is only queued here (never delivered inline), so
        the request does the same work and touches the mail port the same way (not at
        all) in every case. :meth:`deliver_due` sends it.
        """
        try:
            number = normalize.normalize_member_number(member_number)
        except InvalidInput as exc:
            return Refused(Reason.INPUT_INVALID, field=exc.field)
        if (limited := self._guards.limit("forgot_password", ip, number)) is not None:
            return limited
        origin = Origin(ip=ip, user_agent=user_agent)
        self._decoys.blind(lambda now: [(self.storage.find_by_member_number(number),
                                         flow.RequestReset())],
                           origin, "reset_requested", number)
        return Ok(Step.LOGIN, notice="notice.forgotten_password_sent")

    def forgot_identifier(self, email_: str, *, ip: str | None = None,
                          user_agent: str | None = None) -> Result:
        """"Identifiant oublié ?": mail each account at this verified address its number.

        One mail per account (a family may share an address): each greets its own member
        and names one number. Same answer, same work, no inline delivery, known or not.
        """
        try:
            key = normalize.email_key(normalize.normalize_email(email_))
        except InvalidInput:
            return Refused(Reason.EMAIL_INVALID, field="email")
        if (limited := self._guards.limit("forgot_identifier", ip, key)) is not None:
            return limited
        origin = Origin(ip=ip, user_agent=user_agent)
        cap = self.settings.identifier_max_accounts

        def targets(now: datetime) -> list[tuple[Account | None, flow.Event]]:
            found = list(self.storage.find_by_email(key))[:cap]
            return ([(a, flow.RemindIdentifier()) for a in found]
                    or [(None, flow.RemindIdentifier())])

        self._decoys.blind(targets, origin, "identifier_reminded", key)
        return Ok(Step.LOGIN, notice="notice.forgotten_identifier_sent")

    def complete_reset(self, token: str, password: str, confirmation: str, *,
                       answer: str | None = None, ip: str | None = None,
                       user_agent: str | None = None) -> Result:
        """POST on a reset link: check the answer (by policy), set the new password.

        Every session and remembered device ends, the password-changed mail goes out
        with a "this wasn't me" link, and the member is NOT logged in: they log in next.
        Wrong answers count towards the lockout of the reset link's account.
        """
        if (limited := self._guards.limit("complete_reset", ip)) is not None:
            return limited
        parsed = self._unit.parse(token, LinkPurpose.RESET_PASSWORD)
        if parsed is None:
            return Refused(Reason.LINK_INVALID)
        account, token_hash = parsed
        event = flow.CompleteReset(token_hash, answer, password, confirmation)
        origin = Origin(ip=ip, user_agent=user_agent)
        return self._guards.guarded(account, event, origin, "notice.password_reset_done",
                                    reserve=flow.reset_checks_answer(self.settings))

    def confirm_not_me(self, token: str, *, ip: str | None = None,
                       user_agent: str | None = None) -> Result:
        """POST on "Ce n'était pas moi": lock, end every session, send a reset link."""
        parsed = self._unit.parse(token, LinkPurpose.NOT_ME)
        if parsed is None:
            return Refused(Reason.LINK_INVALID)
        account, token_hash = parsed
        return self._unit.apply_to(account.account_id, None, flow.ConfirmNotMe(token_hash),
                                   Origin(ip=ip, user_agent=user_agent), "notice.not_me_done")

    def reset_question(self, token: str) -> SecretQuestion | None:
        """The member's own secret question, for the form behind a live reset link.

        ``None`` for a dead or forged link, or when the member has no question: the
        question is only ever shown to whoever holds a live reset link.
        """
        parsed = self._unit.parse(token, LinkPurpose.RESET_PASSWORD)
        if parsed is None:
            return None
        account, token_hash = parsed
        if flow.inspect_link(account, LinkPurpose.RESET_PASSWORD, token_hash,
                             self.clock.now()) is not None or account.question_id is None:
            return None
        return self.settings.questions.get(account.question_id)
