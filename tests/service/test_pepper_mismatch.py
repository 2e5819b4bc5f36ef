"""A print-shop file made under other pepper key ids than the portal's: every initial
password is refused as a plain wrong one, so the operators' log says why (the member's
refusal says nothing more)."""

from __future__ import annotations

import logging

import pytest

from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer, MemoryStorage
from cegema_onboarding.errors import ConcurrentUpdate
from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.ports import Changes
from cegema_onboarding.service import Ok, OnboardingService

from ..conftest import PEPPER, START, make_settings


def _pair(provision_ids: str, portal_ids: str) -> tuple[OnboardingService, str, str]:
    """Provision under ``provision_ids``' pepper, log in through ``portal_ids``' service."""
    storage = MemoryStorage()
    provisioning = OnboardingService(storage, MemoryMailer(),
                                     settings=make_settings(pepper_keys=((provision_ids, PEPPER),)),
                                     clock=ManualClock(START))
    member = provisioning.staff.provision("100234567", "Marie Dupont")
    portal = OnboardingService(storage, MemoryMailer(),
                               settings=make_settings(pepper_keys=((portal_ids, PEPPER),)),
                               clock=ManualClock(START))
    return portal, member.initial_password, "100234567"


def test_a_digest_under_an_unknown_key_id_is_refused_and_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    portal, initial, number = _pair("k1", "p1")
    with caplog.at_level(logging.WARNING, logger="cegema_onboarding"):
        result = portal.login(number, initial)
    assert isinstance(result, Refused) and result.reason is Reason.BAD_CREDENTIALS
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "'k1'" in warnings[0] and "'p1'" in warnings[0]
    # Neither the key nor the password reaches the log.
    assert PEPPER not in warnings[0] and initial not in warnings[0]


@pytest.mark.parametrize("password", ["right", "wrong"])
def test_known_key_ids_log_nothing(caplog: pytest.LogCaptureFixture, password: str) -> None:
    portal, initial, number = _pair("p1", "p1")
    with caplog.at_level(logging.WARNING, logger="cegema_onboarding"):
        result = portal.login(number, initial if password == "right" else "ABCD2345EFGH6789")
    assert isinstance(result, Ok) == (password == "right")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_lost_race_does_not_repeat_the_warning(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    # The login's commit loses two races (other attempts moved the records): the flow is
    # applied three times, and the operators still read the warning once.
    portal, initial, number = _pair("k1", "p1")
    storage = portal.storage
    real = storage.commit
    lost: list[Changes] = []

    def commit(changes: Changes) -> None:
        if changes.audit and len(lost) < 2:
            lost.append(changes)
            raise ConcurrentUpdate("another attempt moved the counter")
        real(changes)

    monkeypatch.setattr(storage, "commit", commit)
    with caplog.at_level(logging.WARNING, logger="cegema_onboarding"):
        result = portal.login(number, initial)
    assert isinstance(result, Refused) and result.reason is Reason.BAD_CREDENTIALS
    assert len(lost) == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
