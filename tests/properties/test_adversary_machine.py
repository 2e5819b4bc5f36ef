"""An adversary who owns some mailboxes, against one member's whole account life.

The account-life machine (tests/properties/test_account_life_machine.py) checks that each path is
right on its own; this one looks where paths meet. The adversary owns:

- the **mistyped address** the member may type at the email step;
- every address the **member leaves** (changed by the member, or replaced by staff): the
  member moves away precisely because that mailbox is no longer theirs, so the adversary
  also holds every link already delivered there.

Every mail delivered to an address while the adversary owns it is theirs: they may click
every link in it (validation, reset, change of address, "ce n'était pas moi") at any later
time, with no session, and call every public recovery entry point (forgotten password with
the member number, which is not a secret; forgotten identifier with each of their
addresses) and log in with guesses. The member, meanwhile, does what members do: starts the
journey (perhaps with the typo, perhaps fixing it), logs in, remembers a browser, changes
the password or the address, forgets the password, and gets help from staff.

Invariant: the adversary never obtains a session or a remember-me token, never sets the
password or the secret answer, and never receives the member number, because they never
hold a secret the member gave them. It runs on memory and on SQLite storage. Each shrunk
counter-example becomes a pinned test in tests/regressions/test_pinned_adversary.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from cegema_onboarding.adapters.mailbox import text_part
from cegema_onboarding.adapters.memory import (
    ManualClock,
    MemoryMailer,
    MemoryNotifier,
    MemoryStorage,
)
from cegema_onboarding.config import DEFAULT_LINK_PATHS, LockoutPolicy, RecoveryPolicy
from cegema_onboarding.hashing import PasswordHasher
from cegema_onboarding.model import Account, LinkPurpose, Session, Stage
from cegema_onboarding.ports import Storage
from cegema_onboarding.ratelimit import Limit, RateLimits
from cegema_onboarding.service import Ok, OnboardingService

from ..conftest import START, make_settings
from ..pg import sql_adapter

NUMBER = "100234567"
NAME = "Marie Dupont"
ANSWER = "Zénobie Quartz"
ADV_PASSWORD = "Le pirate prend la main 2026"
ADV_ANSWER = "Réponse de l'intrus"
TYPO = "marie.dupont@exemple.com"
_BIG = Limit(1_000_000, timedelta(minutes=1))
_PURPOSE = {path: purpose for purpose, path in DEFAULT_LINK_PATHS.items()}
_LINK = re.compile(r"(/[a-z\-/]+)\?token=([A-Za-z0-9_.\-]+)")


@attrs.define
class Seen:
    """One link the adversary found in a mailbox of theirs."""

    purpose: LinkPurpose
    token: str
    address: str


class AdversaryMachine(RuleBasedStateMachine):
    """One member, one adversary, shared storage and mail."""

    POLICY = RecoveryPolicy.LINK_AND_ANSWER

    def make_storage(self) -> Storage:
        return MemoryStorage()

    def __init__(self) -> None:
        super().__init__()
        self.settings = make_settings(
            recovery=self.POLICY,
            secret_questions=self.POLICY is RecoveryPolicy.LINK_AND_ANSWER,
            # No delays: the adversary's wrong guesses must not make the member wait.
            lockout=LockoutPolicy(free_attempts=30, hard_limit=30),
            rate_limits=RateLimits(_BIG, _BIG, _BIG, _BIG, _BIG, _BIG, _BIG, _BIG),
        )
        self.clock = ManualClock(START)
        self.mailer = MemoryMailer()
        self.storage = self.make_storage()
        self.service = OnboardingService(self.storage, self.mailer, settings=self.settings,
                                         clock=self.clock, notifier=MemoryNotifier())
        self.hasher = PasswordHasher(self.settings.argon2)
        self.account_id = ""
        self.initial: str | None = None
        self.password: str | None = None
        self.session: Session | None = None
        self.member_address = "marie.dupont@example.com"
        self.fresh = 0
        self.adversary_owns: set[str] = {TYPO}
        self.read = 0
        self.seen: list[Seen] = []
        self.member_links: dict[LinkPurpose, str] = {}
        self.breaches: list[str] = []

    # ------------------------------------------------------------------ plumbing

    def _account(self) -> Account:
        account = self.storage.get(self.account_id)
        assert account is not None
        return account

    def _deliver(self) -> None:
        """Deliver the outbox, then hand every new mail to whoever owns its address."""
        self.service.deliver_due()
        for message in self.mailer.sent[self.read:]:
            to = message["To"].addresses[0].addr_spec
            body = text_part(message)
            links = [(_PURPOSE[path], token) for path, token in _LINK.findall(body)
                     if path in _PURPOSE]
            if to in self.adversary_owns:
                if NUMBER in body:
                    self.breaches.append(f"the member number reached {to}")
                self.seen += [Seen(purpose, token, to) for purpose, token in links]
            elif to == self.member_address:
                for purpose, token in links:
                    self.member_links[purpose] = token
        self.read = len(self.mailer.sent)

    def _adversary(self, what: str, result: object) -> object:
        """Every adversary call goes through here: any session or token is a breach."""
        if isinstance(result, Ok) and (result.session is not None
                                       or result.remember_token is not None):
            self.breaches.append(f"{what} gave the adversary a session")
        return result

    def _member_ok(self, result: object) -> Ok | None:
        return result if isinstance(result, Ok) else None

    def _new_member_address(self) -> str:
        self.fresh += 1
        return f"marie.{self.fresh}@example.org"

    def _password(self) -> str:
        self.fresh += 1
        return f"Un mot de passe bien long numéro {self.fresh}"

    # ------------------------------------------------------------------ the member

    @initialize(typo=st.booleans())
    def provision(self, typo: bool) -> None:
        member = self.service.staff.provision(NUMBER, NAME)
        self.account_id, self.initial = member.account_id, member.initial_password
        self.member_starts(typo)

    def _finish_journey(self, session: Session) -> None:
        """Password and answer, as the member does once at the password step."""
        password = self._password()
        out = self._member_ok(self.service.set_password(session, password, password))
        if out is None or out.session is None:
            return
        self.password, self.initial, self.session = password, None, out.session
        if self.settings.secret_questions:
            qid = next(iter(self.settings.questions)).id
            self.service.set_secret_answer(out.session, qid, ANSWER, ANSWER)
        self._deliver()

    def _log_in(self, remember: bool = False) -> Session | None:
        secret = self.password or self.initial
        if secret is None:
            return None
        out = self._member_ok(self.service.login(NUMBER, secret, remember=remember))
        self.session = out.session if out is not None else None
        return self.session

    @rule(typo=st.booleans())
    def member_starts(self, typo: bool) -> None:
        """The email step, with the right address or the typo, confirmed in session."""
        if self._account().stage not in (Stage.EMAIL_REQUIRED, Stage.PROVISIONED,
                                         Stage.EMAIL_PENDING):
            return
        session = self._log_in()
        if session is None:
            return
        address = TYPO if typo else self.member_address
        self.service.change_email(session)
        self.service.submit_email(session, address, address)
        self._deliver()
        token = self.member_links.pop(LinkPurpose.VERIFY_EMAIL, None)
        if typo or token is None:
            return  # the mail went to the typo: the member waits in vain
        out = self._member_ok(self.service.confirm_link(token, session=session))
        if out is not None and out.session is not None:
            self._finish_journey(out.session)

    @rule()
    def member_at_password_step(self) -> None:
        """Staff activation, re-issued credentials or a link confirmed elsewhere."""
        if self._account().stage is not Stage.PASSWORD_REQUIRED:
            return
        session = self._log_in()
        if session is not None:
            self._finish_journey(session)

    @rule(remember=st.booleans())
    def member_logs_in(self, remember: bool) -> None:
        self._log_in(remember)

    @rule(by_staff=st.booleans())
    def member_moves_address(self, by_staff: bool) -> None:
        """The member leaves the current address: from now on the adversary owns it."""
        account = self._account()
        if account.stage is not Stage.ACTIVE or account.email is None:
            return
        old, new = account.email, self._new_member_address()
        if by_staff:
            if not isinstance(self.service.staff.mark_email_verified(
                    self.account_id, staff_id="agent-7", email=new), Ok):
                return
        else:
            session = self._log_in()
            if session is None or self.password is None:
                return
            self.member_address = new
            if not isinstance(self.service.request_email_change(
                    session, self.password, new, new), Ok):
                return
            self._deliver()
            token = self.member_links.pop(LinkPurpose.CHANGE_EMAIL, None)
            if token is None or not isinstance(
                    self.service.confirm_email_change(token, session=session), Ok):
                return
        self.member_address = new
        if old != TYPO:
            self.adversary_owns.add(old)
            # The member leaves because the mailbox was compromised: the adversary has
            # read the links already there too (not-me links among them).
            for message in self.mailer.sent[:self.read]:
                if message["To"].addresses[0].addr_spec == old:
                    self.seen += [Seen(_PURPOSE[path], token, old) for path, token
                                  in _LINK.findall(text_part(message)) if path in _PURPOSE]
        self._deliver()

    @rule()
    def member_changes_password(self) -> None:
        session = self._log_in()
        if session is None or self.password is None:
            return
        password = self._password()
        out = self._member_ok(self.service.change_password(session, self.password, password,
                                                           password))
        if out is not None:
            self.password, self.session = password, out.session
        self._deliver()

    @rule()
    def member_forgets_password(self) -> None:
        self.service.forgot_password(NUMBER)
        self._deliver()
        token = self.member_links.pop(LinkPurpose.RESET_PASSWORD, None)
        if token is None:
            return
        password = self._password()
        if isinstance(self.service.complete_reset(token, password, password, answer=ANSWER),
                      Ok):
            self.password = password
        self._deliver()

    @rule()
    def staff_help(self) -> None:
        """The member calls the insurer: re-issued credentials, then a new password."""
        out = self.service.staff.reissue_credentials(self.account_id, staff_id="agent-7")
        if isinstance(out, Ok) or not hasattr(out, "initial_password"):
            return
        self.initial, self.password = out.initial_password, None
        self.member_at_password_step()

    @rule(minutes=st.sampled_from((1, 61, 60 * 24 + 1)))
    def time_passes(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    # ------------------------------------------------------------------ the adversary

    @rule(pick=st.integers(0, 30), wrong_answer=st.booleans())
    def adversary_clicks(self, pick: int, wrong_answer: bool) -> None:
        if not self.seen:
            return
        seen = self.seen[pick % len(self.seen)]
        self._adversary("GET", self.service.open_link(seen.token, seen.purpose))
        if seen.purpose is LinkPurpose.VERIFY_EMAIL:
            result = self.service.confirm_link(seen.token)
        elif seen.purpose is LinkPurpose.RESET_PASSWORD:
            answer = ADV_ANSWER if wrong_answer else None
            result = self.service.complete_reset(seen.token, ADV_PASSWORD, ADV_PASSWORD,
                                                 answer=answer)
            if isinstance(result, Ok):
                self.breaches.append(f"a reset link at {seen.address} set the password")
        elif seen.purpose is LinkPurpose.CHANGE_EMAIL:
            result = self.service.confirm_email_change(seen.token)
        else:
            result = self.service.confirm_not_me(seen.token)
        self._adversary(seen.purpose.value, result)
        self._deliver()

    @rule()
    def adversary_forgot_password(self) -> None:
        self._adversary("forgot_password", self.service.forgot_password(NUMBER))
        self._deliver()

    @rule(pick=st.integers(0, 10))
    def adversary_forgot_identifier(self, pick: int) -> None:
        owned = sorted(self.adversary_owns)
        address = owned[pick % len(owned)]
        self._adversary("forgot_identifier", self.service.forgot_identifier(address))
        self._deliver()

    @rule()
    def adversary_logs_in(self) -> None:
        self._adversary("login", self.service.login(NUMBER, ADV_PASSWORD, remember=True))

    # ------------------------------------------------------------------ invariants

    @invariant()
    def the_adversary_gets_nothing(self) -> None:
        assert self.breaches == [], self.breaches
        account = self._account()
        if account.password_hash is not None:
            assert not self.hasher.verify(ADV_PASSWORD, account.password_hash), \
                "the adversary's password is the account's"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'adversary.db'}"


def _run(machine: type[AdversaryMachine], examples: int) -> None:
    test = machine.TestCase
    test.settings = settings(max_examples=examples, stateful_step_count=30, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow,
                                                    HealthCheck.filter_too_much])
    test().runTest()


class _LinkOnly(AdversaryMachine):
    POLICY = RecoveryPolicy.LINK_ONLY


def test_the_adversary_gets_nothing_in_memory() -> None:
    _run(AdversaryMachine, 150)


def test_the_adversary_gets_nothing_with_link_only_recovery() -> None:
    _run(_LinkOnly, 150)


def test_the_adversary_gets_nothing_on_sqlite(tmp_path: Path) -> None:
    sql = sql_adapter()
    counter = iter(range(1_000_000))

    class OnSqlite(_LinkOnly):
        def make_storage(self) -> Storage:
            engine = sql.sqlite_engine(tmp_path / f"adversary-{next(counter)}.db")
            sql.create_schema(engine)
            return sql.SqlStorage(engine)

    _run(OnSqlite, 40)


def replay(steps: Callable[[AdversaryMachine], None], *, typo: bool = False,
           policy: RecoveryPolicy = RecoveryPolicy.LINK_ONLY) -> AdversaryMachine:
    """Run a fixed sequence of rules (for pinned counter-examples); return the machine."""
    machine: Any = AdversaryMachine if policy is RecoveryPolicy.LINK_AND_ANSWER else _LinkOnly
    instance: AdversaryMachine = machine()
    instance.provision(typo)
    steps(instance)
    instance.the_adversary_gets_nothing()
    return instance
