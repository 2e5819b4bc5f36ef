"""Where two recovery paths meet, an address the member no longer controls never wins.

Each test is one seam of the account-takeover review (issue #12), run through the service on
memory, SQLite and PostgreSQL storage: a staff email change leaving a reset link alive at
the old address, "ce n'était pas moi" from a left address, a mistyped address confirmed
outside the member's session, and remember-me theft detection.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cegema_onboarding.adapters.mailbox import text_part
from cegema_onboarding.adapters.memory import (
    ManualClock,
    MemoryMailer,
    MemoryNotifier,
    MemoryStorage,
)
from cegema_onboarding.config import RecoveryPolicy
from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.model import Session
from cegema_onboarding.ports import Storage
from cegema_onboarding.service import Ok, OnboardingService, Provisioned

from ..conftest import GOOD_PASSWORD, START, make_settings
from ..pg import sql_adapter

IP = "203.0.113.9"
NEW_PASSWORD = "Trois tortues sur un toit 2026"
NUMBER = "100234567"
VALIDATE = "/premiere-connexion/valider"
RESET = "/mot-de-passe/reinitialiser"
CHANGE = "/profil/email/valider"
NOT_ME = "/securite/ce-n-etait-pas-moi"


@pytest.fixture(params=["memory", "sqlite",
                        pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param == "memory":
        yield MemoryStorage()
        return
    sql = sql_adapter()
    url = (f"sqlite:///{tmp_path / 'seams.db'}" if request.param == "sqlite"
           else str(request.getfixturevalue("pg_url")))
    engine = sql.create_engine_from_url(url)
    sql.create_schema(engine)
    yield sql.SqlStorage(engine)
    engine.dispose()


class World:
    """The service, its mail and a clock; and what each mailbox received."""

    def __init__(self, storage: Storage, **settings: Any) -> None:
        self.storage = storage
        self.mailer = MemoryMailer()
        self.clock = ManualClock(START)
        self.service = OnboardingService(storage, self.mailer,
                                         settings=make_settings(**settings),
                                         clock=self.clock, notifier=MemoryNotifier())

    def to(self, address: str) -> list[Any]:
        return [m for m in self.mailer.sent if m["To"].addresses[0].addr_spec == address]

    def tokens(self, address: str, path: str) -> list[str]:
        found: list[str] = []
        for message in self.to(address):
            found += re.findall(re.escape(path) + r"\?token=([A-Za-z0-9_.\-]+)",
                                text_part(message))
        return found

    def numbers_sent_to(self, address: str) -> bool:
        return any(NUMBER in text_part(m) for m in self.to(address))

    def onboard(self, email: str = "marie@example.com") -> tuple[str, Session]:
        """A member through the whole journey, confirming in their own session."""
        member = self.service.staff.provision(NUMBER, "Marie Dupont")
        out = self.service.login(NUMBER, member.initial_password, ip=IP)
        assert isinstance(out, Ok) and out.session is not None
        assert isinstance(self.service.submit_email(out.session, email, email, ip=IP), Ok)
        out = self.service.confirm_link(self.tokens(email, VALIDATE)[-1], ip=IP,
                                        session=out.session)
        assert isinstance(out, Ok) and out.session is not None
        out = self.service.set_password(out.session, GOOD_PASSWORD, GOOD_PASSWORD, ip=IP)
        assert isinstance(out, Ok) and out.session is not None
        qid = next(iter(self.service.settings.questions)).id
        session = out.session
        out = self.service.set_secret_answer(session, qid, "Martin", "Martin", ip=IP)
        assert isinstance(out, Ok)
        return member.account_id, session

    def reset_with(self, token: str) -> object:
        return self.service.complete_reset(token, NEW_PASSWORD, NEW_PASSWORD,
                                           answer="Martin", ip=IP)


# ------------------------------------------------- 2. a staff change of address, reset link


def test_a_staff_change_of_address_kills_the_reset_link_at_the_old_one(
        storage: Storage) -> None:
    world = World(storage)
    account_id, _ = world.onboard("old@example.com")
    assert isinstance(world.service.forgot_password(NUMBER, ip=IP), Ok)
    world.service.deliver_due()
    (reset,) = world.tokens("old@example.com", RESET)
    assert isinstance(world.service.staff.mark_email_verified(account_id, staff_id="s1",
                                                              email="new@example.com"), Ok)
    out = world.reset_with(reset)
    assert isinstance(out, Refused) and out.reason is Reason.LINK_INVALID, out
    assert world.service.login(NUMBER, GOOD_PASSWORD).__class__ is Ok


def test_every_change_of_address_kills_links_and_codes_sent_elsewhere(
        storage: Storage) -> None:
    # The member's own change: a pending change-of-address link to a third address, and a
    # reset link at the old one, both die when another change wins.
    world = World(storage)
    account_id, session = world.onboard("old@example.com")
    assert isinstance(world.service.request_email_change(
        session, GOOD_PASSWORD, "third@example.com", "third@example.com"), Ok)
    (pending,) = world.tokens("third@example.com", CHANGE)
    assert isinstance(world.service.staff.mark_email_verified(account_id, staff_id="s1",
                                                              email="new@example.com"), Ok)
    out = world.service.confirm_email_change(pending)
    assert isinstance(out, Refused) and out.reason is Reason.LINK_INVALID, out
    account = storage.get(account_id)
    assert account is not None and account.email == "new@example.com"


# -------------------------------------------- 3. "ce n'était pas moi" from a left address


@pytest.mark.parametrize("policy", [RecoveryPolicy.LINK_ONLY, RecoveryPolicy.LINK_AND_ANSWER])
@pytest.mark.parametrize("mover", ["member", "staff"])
def test_not_me_from_a_left_address_never_moves_the_account_back(
        storage: Storage, policy: RecoveryPolicy, mover: str) -> None:
    world = World(storage, recovery=policy)
    account_id, session = world.onboard("old@example.com")
    # A password change sends a not-me link to the current address, old@.
    out = world.service.change_password(session, GOOD_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert isinstance(out, Ok) and out.session is not None
    session = out.session
    # The member leaves old@ (compromised) for new@.
    if mover == "member":
        assert isinstance(world.service.request_email_change(
            session, NEW_PASSWORD, "new@example.com", "new@example.com"), Ok)
        assert isinstance(world.service.confirm_email_change(
            world.tokens("new@example.com", CHANGE)[-1], session=session), Ok)
    else:
        assert isinstance(world.service.staff.mark_email_verified(account_id, staff_id="s1",
                                                                  email="new@example.com"), Ok)
    # The newest not-me link at old@ (the change notice's, or the password change's).
    not_me = world.tokens("old@example.com", NOT_ME)[-1]
    sent_to_old = len(world.to("old@example.com"))
    # Whoever reads old@ now clicks it.
    out = world.service.confirm_not_me(not_me, ip="198.51.100.66")
    assert isinstance(out, Ok) and out.session is None
    world.service.deliver_due()
    account = storage.get(account_id)
    assert account is not None
    assert account.email == "new@example.com"          # never moved back
    assert account.locked_at is not None                # locked, as asked
    assert not world.service.check_session(session)    # every session ended
    assert world.to("old@example.com")[sent_to_old:] == []   # nothing more to old@
    assert world.tokens("new@example.com", RESET) == []      # recovery goes through staff
    assert isinstance(world.service.forgot_password(NUMBER, ip=IP), Ok)
    world.service.deliver_due()
    assert world.tokens("old@example.com", RESET) == []
    records = [(r.action, r.detail) for r in storage.audit_records(account_id=account_id)]
    assert ("not_me_locked", "staff_recovery") in records
    # Staff recover the member: re-issued credentials lift the lock.
    reissued = world.service.staff.reissue_credentials(account_id, staff_id="s1")
    assert isinstance(reissued, Provisioned)
    assert isinstance(world.service.login(NUMBER, reissued.initial_password), Ok)


def test_not_me_at_the_current_address_still_starts_recovery_there(storage: Storage) -> None:
    world = World(storage)
    _, session = world.onboard("marie@example.com")
    out = world.service.change_password(session, GOOD_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert isinstance(out, Ok)
    not_me = world.tokens("marie@example.com", NOT_ME)[-1]
    assert isinstance(world.service.confirm_not_me(not_me), Ok)
    world.service.deliver_due()
    (reset,) = world.tokens("marie@example.com", RESET)
    assert isinstance(world.reset_with(reset), Ok)


def test_a_not_me_link_that_predates_a_return_to_the_same_address_sends_no_recovery(
        storage: Storage) -> None:
    # old@ → new@ → old@ again, by staff: a link sent to old@ before those changes is from
    # a time the address was not trusted any more, even if it is current again.
    world = World(storage)
    account_id, session = world.onboard("old@example.com")
    assert isinstance(world.service.change_password(session, GOOD_PASSWORD, NEW_PASSWORD,
                                                    NEW_PASSWORD), Ok)
    not_me = world.tokens("old@example.com", NOT_ME)[-1]
    world.clock.advance(timedelta(minutes=1))
    for address in ("new@example.com", "old@example.com"):
        assert isinstance(world.service.staff.mark_email_verified(account_id, staff_id="s1",
                                                                  email=address), Ok)
        world.clock.advance(timedelta(minutes=1))
    assert isinstance(world.service.confirm_not_me(not_me), Ok)
    world.service.deliver_due()
    assert world.tokens("old@example.com", RESET) == []


# ------------------------------------------- 4. a mistyped address confirmed by its owner


@pytest.mark.parametrize("policy", [RecoveryPolicy.LINK_ONLY, RecoveryPolicy.LINK_AND_ANSWER])
def test_the_owner_of_a_mistyped_address_cannot_recover_the_account(
        storage: Storage, policy: RecoveryPolicy) -> None:
    world = World(storage, recovery=policy)
    member = world.service.staff.provision(NUMBER, "Marie Dupont")
    out = world.service.login(NUMBER, member.initial_password, ip=IP)
    assert isinstance(out, Ok) and out.session is not None
    typo = "marie@exemple.com"
    assert isinstance(world.service.submit_email(out.session, typo, typo), Ok)
    # The stranger who owns the mistyped address confirms the link, with no session.
    confirmed = world.service.confirm_link(world.tokens(typo, VALIDATE)[-1], ip="198.51.100.7")
    assert isinstance(confirmed, Ok) and confirmed.session is None
    # ... then asks for the member number and a reset link: nothing reaches them.
    assert isinstance(world.service.forgot_identifier(typo, ip="198.51.100.7"), Ok)
    assert isinstance(world.service.forgot_password(NUMBER, ip="198.51.100.7"), Ok)
    world.service.deliver_due()
    assert not world.numbers_sent_to(typo)
    assert world.tokens(typo, RESET) == []
    # The member is unaffected: the initial credentials still lead to the password step.
    out = world.service.login(NUMBER, member.initial_password, ip=IP)
    assert isinstance(out, Ok) and out.session is not None


def test_only_a_confirmation_in_the_members_session_makes_it_a_recovery_channel(
        storage: Storage) -> None:
    world = World(storage)
    member = world.service.staff.provision(NUMBER, "Marie Dupont")
    out = world.service.login(NUMBER, member.initial_password)
    assert isinstance(out, Ok) and out.session is not None
    address = "marie@example.com"
    assert isinstance(world.service.submit_email(out.session, address, address), Ok)
    # Confirmed on the phone, where the member is not logged in.
    assert isinstance(world.service.confirm_link(world.tokens(address, VALIDATE)[-1]), Ok)
    account = storage.get(member.account_id)
    assert account is not None and account.email_unproven
    # A login is no proof: the member may never have noticed a typo.
    out = world.service.login(NUMBER, member.initial_password)
    assert isinstance(out, Ok) and out.session is not None
    out = world.service.set_password(out.session, GOOD_PASSWORD, GOOD_PASSWORD)
    assert isinstance(out, Ok) and out.session is not None
    session = out.session
    qid = next(iter(world.service.settings.questions)).id
    assert isinstance(world.service.set_secret_answer(session, qid, "Martin", "Martin"), Ok)
    assert isinstance(world.service.forgot_identifier(address), Ok)
    world.service.deliver_due()
    assert not world.numbers_sent_to(address)
    view = world.service.profile(session)
    assert not isinstance(view, Refused) and view.email_unproven
    # The member confirms the address from the profile, in session.
    assert isinstance(world.service.request_email_change(session, GOOD_PASSWORD, address,
                                                         address), Ok)
    token = world.tokens(address, CHANGE)[-1]
    assert isinstance(world.service.confirm_email_change(token, session=session), Ok)
    account = storage.get(member.account_id)
    assert account is not None and not account.email_unproven
    assert isinstance(world.service.forgot_identifier(address), Ok)
    world.service.deliver_due()
    assert world.numbers_sent_to(address)


def test_a_new_address_confirmed_outside_the_session_is_no_recovery_channel(
        storage: Storage) -> None:
    world = World(storage, recovery=RecoveryPolicy.LINK_ONLY)
    account_id, session = world.onboard("marie@example.com")
    typo = "marie@exemple.com"
    assert isinstance(world.service.request_email_change(session, GOOD_PASSWORD, typo, typo),
                      Ok)
    assert isinstance(world.service.confirm_email_change(world.tokens(typo, CHANGE)[-1]), Ok)
    assert isinstance(world.service.login(NUMBER, GOOD_PASSWORD), Ok)
    assert isinstance(world.service.forgot_password(NUMBER), Ok)
    assert isinstance(world.service.forgot_identifier(typo), Ok)
    world.service.deliver_due()
    assert world.tokens(typo, RESET) == [] and not world.numbers_sent_to(typo)
    account = storage.get(account_id)
    assert account is not None and account.email_unproven
    # Confirmed in the member's session, the same change makes it one.
    world.clock.advance(timedelta(minutes=5))
    assert isinstance(world.service.request_email_change(session, GOOD_PASSWORD, typo, typo),
                      Ok)
    assert isinstance(world.service.confirm_email_change(world.tokens(typo, CHANGE)[-1],
                                                         session=session), Ok)
    assert isinstance(world.service.forgot_password(NUMBER), Ok)
    world.service.deliver_due()
    assert len(world.tokens(typo, RESET)) == 1


# ------------------------------------------------------- 5. remember-me theft detection


def test_theft_detection_forgets_every_remembered_device_and_says_so(
        storage: Storage) -> None:
    world = World(storage)
    account_id, _ = world.onboard("marie@example.com")
    tokens = []
    for agent in ("laptop", "phone", "tablet"):
        out = world.service.login(NUMBER, GOOD_PASSWORD, remember=True, user_agent=agent)
        assert isinstance(out, Ok) and out.remember_token
        tokens.append(out.remember_token)
    stolen = tokens[0]
    rotated = world.service.login_with_token(stolen)          # the thief uses it first
    assert isinstance(rotated, Ok)
    world.clock.advance(timedelta(minutes=5))
    replay = world.service.login_with_token(stolen)           # the member's browser
    assert isinstance(replay, Refused) and replay.reason is Reason.SESSION_EXPIRED
    for token in (rotated.remember_token, tokens[1], tokens[2]):
        assert token is not None
        out = world.service.login_with_token(token)
        assert isinstance(out, Refused) and out.reason is Reason.SESSION_EXPIRED, out
    account = storage.get(account_id)
    assert account is not None and account.remember == ()
    world.service.deliver_due()
    notice = world.to("marie@example.com")[-1]
    assert notice["Subject"] == "CEGEMA : Vos appareils mémorisés ont été déconnectés"
    assert "tous vos appareils mémorisés" in text_part(notice)
