"""Review findings on account enumeration."""

from __future__ import annotations

import re

import pytest
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from cegema_onboarding.adapters.mailbox import text_part
from cegema_onboarding.adapters.memory import (
    ManualClock,
    MemoryMailer,
    MemoryNotifier,
    MemoryStorage,
)
from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.hashing import Argon2Params, PasswordHasher
from cegema_onboarding.service import Ok, OnboardingService

from ..conftest import GOOD_PASSWORD, make_settings

NUMBER = "100234567"


def _blocks(memory_kib: int, iterations: int, lanes: int) -> int:
    """Argon2's work: memory rounded down to 4 blocks per lane, filled once per pass."""
    return memory_kib // (4 * lanes) * 4 * lanes * iterations


def _build(storage: MemoryStorage | None = None, **overrides: object) -> OnboardingService:
    return OnboardingService(storage or MemoryStorage(), MemoryMailer(),
                             settings=make_settings(**overrides), clock=ManualClock(),
                             notifier=MemoryNotifier())


def test_review_forgot_identifier_same_answer_for_a_non_ascii_known_address() -> None:
    """R5: an address the mail adapters cannot write to is never stored, so asking for
    it answers like any unknown address instead of raising."""
    service = _build()
    member = service.staff.provision(NUMBER, "Élodie Petit")
    out = service.staff.mark_email_verified(member.account_id, staff_id="agent7",
                                            email="élodie@example.fr")
    assert isinstance(out, Refused) and out.reason is Reason.EMAIL_INVALID
    unknown = service.forgot_identifier("éloïse@example.fr")
    known = service.forgot_identifier("élodie@example.fr")
    assert known == unknown == Refused(Reason.EMAIL_INVALID, field="email")


def test_review_submit_email_refuses_an_address_mails_cannot_reach() -> None:
    service = _build()
    member = service.staff.provision(NUMBER, "Élodie Petit")
    out = service.login(NUMBER, member.initial_password)
    assert isinstance(out, Ok) and out.session is not None
    refused = service.submit_email(out.session, "élodie@example.fr", "élodie@example.fr")
    assert isinstance(refused, Refused) and refused.reason is Reason.EMAIL_INVALID


def test_review_login_work_does_not_depend_on_the_stored_hash_parameters(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """R10: after the Argon2 parameters are raised, a known account's hash still has the
    old, cheaper ones. A wrong password checked against it must cost what an unknown
    account's check (the current parameters) costs, or response time tells them apart:
    the known check is topped up with the missing work (Django's ``harden_runtime``)."""
    old = _build()
    member = old.staff.provision(NUMBER, "Marie Dupont")
    mailer = old.mailer
    assert isinstance(mailer, MemoryMailer)
    out = old.login(NUMBER, member.initial_password)
    assert isinstance(out, Ok) and out.session is not None
    assert isinstance(old.submit_email(out.session, "marie@example.com",
                                       "marie@example.com"), Ok)
    token = re.findall(r"token=([A-Za-z0-9_.\-]+)", text_part(mailer.sent[-1]))[-1]
    out = old.confirm_link(token, session=out.session)
    assert isinstance(out, Ok) and out.session is not None
    assert isinstance(old.set_password(out.session, GOOD_PASSWORD, GOOD_PASSWORD), Ok)
    # The host raises its parameters; the member has not logged in since.
    stronger = Argon2Params(memory_kib=128, iterations=2, lanes=1, allow_weak=True)
    assert isinstance(old.storage, MemoryStorage)
    new = _build(old.storage, argon2=stronger)
    costs: list[tuple[int, int, int]] = []
    real_kdf = PasswordHasher._kdf

    def spy(self: PasswordHasher, salt: bytes, memory: int, iterations: int, lanes: int,
            length: int) -> Argon2id:
        costs.append((memory, iterations, lanes))
        return real_kdf(self, salt, memory, iterations, lanes, length)

    monkeypatch.setattr(PasswordHasher, "_kdf", spy)
    hasher = new.env.crypto.hasher
    before = hasher.calls
    new.login(NUMBER, "pas le bon mot de passe")
    known = list(costs)
    known_calls = hasher.calls - before
    costs.clear()
    before = hasher.calls
    new.login("999999999", "pas le bon mot de passe")
    unknown_calls = hasher.calls - before
    # The known account's check really ran with its stored (old) parameters...
    assert known[0] == (64, 1, 1)
    # ...and the Argon2 work (blocks filled) of both logins is the current parameters'.
    work = _blocks(stronger.memory_kib, stronger.iterations, stronger.lanes)
    assert sum(_blocks(*c) for c in known) == sum(_blocks(*c) for c in costs) == work
    # One slow-hash check each, as Django's counting test counts them.
    assert known_calls == unknown_calls == 1
