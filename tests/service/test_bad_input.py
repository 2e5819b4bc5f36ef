"""Bad input on every entry point: a typed result, nothing changed, no slow hashing.

Every service entry point is fed empty strings, 1 MB strings, NUL bytes, odd Unicode (RTL
overrides, zero-width joiners, fullwidth digits, lone surrogates) and wrong types (None,
int, bytes). Member actions answer with a :class:`Refused` carrying a reason, staff
``provision`` raises :class:`InvalidInput`, and storage is the same afterwards.

What "the same" leaves out, on purpose: the audit log (a refused attempt is itself an
event worth recording) and the login attempt counters (every failed login counts, whatever
was typed, or garbage would be a free way round the lockout).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from cegema_onboarding import codec
from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer, MemoryStorage
from cegema_onboarding.errors import InvalidInput
from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.model import Session, Stage
from cegema_onboarding.service import LinkCheck, Ok, OnboardingService

from ..conftest import GOOD_PASSWORD, START, link_token, make_settings

ADDRESS = "marie.dupont@example.com"
NUMBER = "100234567"

BAD: dict[str, Any] = {
    "empty": "",
    "blank": "   ",
    "1 MB": "x" * 1_000_000,
    "NUL byte": "ab\x00cd",
    "RTL override": "\u202e1234\u202c",
    "zero-width joiner": "\u200d",
    "fullwidth digits": "１２３４",
    "lone surrogate": "ab\ud800cd",
    "None": None,
    "int": 12345,
    "bytes": b"abcd",
}
# Values no staff tool may store. Staff-written text (a name, a rejection reason) may hold
# any printable Unicode, so direction marks and fullwidth digits are its own business; an
# invisible-only text is tested apart (see test_invisible_only_staff_text_is_empty).
BAD_FOR_STAFF = {k: v for k, v in BAD.items()
                 if k not in ("RTL override", "fullwidth digits", "zero-width joiner")}


class World:
    """A service, its storage, and one member at the stage an entry point needs."""

    def __init__(self, stage: Stage) -> None:
        self.storage = MemoryStorage()
        self.mailer = MemoryMailer()
        self.clock = ManualClock(START)
        self.service = OnboardingService(self.storage, self.mailer, settings=make_settings(),
                                         clock=self.clock)
        member = self.service.staff.provision(NUMBER, "Marie Dupont")
        self.account_id = member.account_id
        self.initial = member.initial_password
        self.session = Session(member.account_id, 0)
        self.token = ""
        if stage is Stage.PROVISIONED:
            return
        self.session = self._session(self.service.login(NUMBER, self.initial))
        if stage is Stage.EMAIL_REQUIRED:
            return
        if stage is Stage.AWAITING_ACTIVATION:
            assert isinstance(self.service.declare_no_email(self.session), Ok)
            return
        assert isinstance(self.service.submit_email(self.session, ADDRESS, ADDRESS), Ok)
        self.token = link_token(self.mailer)
        if stage is Stage.EMAIL_PENDING:
            return
        self.session = self._session(self.service.confirm_link(self.token,
                                                               session=self.session))
        if stage is Stage.PASSWORD_REQUIRED:
            return
        self.session = self._session(self.service.set_password(self.session, GOOD_PASSWORD,
                                                                GOOD_PASSWORD))
        assert stage is Stage.QUESTION_REQUIRED

    @staticmethod
    def _session(result: object) -> Session:
        assert isinstance(result, Ok) and result.session is not None, result
        return result.session

    def snapshot(self) -> tuple[object, ...]:
        accounts = sorted(
            json.dumps(codec.to_data(a), sort_keys=True)
            for stage in Stage for a in self.storage.list_by_stage(stage, limit=10_000))
        outbox = sorted((m.message_id, m.status.value, m.attempts)
                        for m in self.storage.list_messages(limit=10_000))
        return tuple(accounts), tuple(outbox), len(self.mailer.sent)

    @property
    def hash_calls(self) -> int:
        return self.service.env.crypto.hasher.calls


def question(w: World) -> str:
    return next(iter(w.service.settings.questions)).id


# (name, stage the member is at, call with the bad value in one position)
MEMBER_ENTRY_POINTS: list[tuple[str, Stage, Callable[[World, Any], object]]] = [
    ("login member_number", Stage.PROVISIONED,
     lambda w, v: w.service.login(v, w.initial)),
    ("login password", Stage.PROVISIONED,
     lambda w, v: w.service.login(NUMBER, v)),
    ("submit_email email", Stage.EMAIL_REQUIRED,
     lambda w, v: w.service.submit_email(w.session, v, ADDRESS)),
    ("submit_email confirmation", Stage.EMAIL_REQUIRED,
     lambda w, v: w.service.submit_email(w.session, ADDRESS, v)),
    ("submit_email both", Stage.EMAIL_REQUIRED,
     lambda w, v: w.service.submit_email(w.session, v, v)),
    ("confirm_link token", Stage.EMAIL_PENDING,
     lambda w, v: w.service.confirm_link(v)),
    ("set_password password", Stage.PASSWORD_REQUIRED,
     lambda w, v: w.service.set_password(w.session, v, GOOD_PASSWORD)),
    ("set_password confirmation", Stage.PASSWORD_REQUIRED,
     lambda w, v: w.service.set_password(w.session, GOOD_PASSWORD, v)),
    ("set_password both", Stage.PASSWORD_REQUIRED,
     lambda w, v: w.service.set_password(w.session, v, v)),
    ("set_secret_answer question", Stage.QUESTION_REQUIRED,
     lambda w, v: w.service.set_secret_answer(w.session, v, "Zénobie", "Zénobie")),
    ("set_secret_answer answer", Stage.QUESTION_REQUIRED,
     lambda w, v: w.service.set_secret_answer(w.session, question(w), v, "Zénobie")),
    ("set_secret_answer confirmation", Stage.QUESTION_REQUIRED,
     lambda w, v: w.service.set_secret_answer(w.session, question(w), "Zénobie", v)),
    ("set_secret_answer both", Stage.QUESTION_REQUIRED,
     lambda w, v: w.service.set_secret_answer(w.session, question(w), v, v)),
    ("session account id", Stage.PASSWORD_REQUIRED,
     lambda w, v: w.service.set_password(Session(v, 0), GOOD_PASSWORD, GOOD_PASSWORD)),
    ("activate account id", Stage.AWAITING_ACTIVATION,
     lambda w, v: w.service.staff.activate(v, staff_id="agent-7")),
    ("reject account id", Stage.AWAITING_ACTIVATION,
     lambda w, v: w.service.staff.reject(v, "Pièce illisible", staff_id="agent-7")),
]


@pytest.mark.parametrize("value", list(BAD.values()), ids=list(BAD))
@pytest.mark.parametrize(("entry", "stage", "call"), MEMBER_ENTRY_POINTS,
                         ids=[e[0] for e in MEMBER_ENTRY_POINTS])
def test_bad_input_gets_a_typed_refusal_and_changes_nothing(
        entry: str, stage: Stage, call: Callable[[World, Any], object], value: Any) -> None:
    world = World(stage)
    before = world.snapshot()
    result = call(world, value)
    assert isinstance(result, Refused), f"{entry}: {result!r}"
    assert isinstance(result.reason, Reason)
    assert world.snapshot() == before, f"{entry} changed something"


@pytest.mark.parametrize("value", list(BAD_FOR_STAFF.values()), ids=list(BAD_FOR_STAFF))
def test_a_bad_rejection_reason_gets_a_typed_refusal_and_changes_nothing(value: Any) -> None:
    world = World(Stage.AWAITING_ACTIVATION)
    before = world.snapshot()
    result = world.service.staff.reject(world.account_id, value, staff_id="agent-7")
    assert isinstance(result, Refused) and result.reason is Reason.INPUT_INVALID
    assert world.snapshot() == before


@pytest.mark.parametrize("where", ["name", "reason"])
def test_invisible_only_staff_text_is_empty(where: str) -> None:
    """A name or a reason made only of zero-width characters is blank, not text."""
    world = World(Stage.AWAITING_ACTIVATION)
    before = world.snapshot()
    if where == "name":
        with pytest.raises(InvalidInput):
            world.service.staff.provision("100234568", "\u200d\u200b")
    else:
        result = world.service.staff.reject(world.account_id, "\u200d\u200b", staff_id="agent-7")
        assert isinstance(result, Refused)
    assert world.snapshot() == before


def test_format_characters_do_not_hide_a_trivial_secret_answer() -> None:
    """Direction marks around "1234" must not slip a trivial answer past the check."""
    world = World(Stage.QUESTION_REQUIRED)
    before = world.snapshot()
    hidden = "\u202e1234\u202c"
    result = world.service.set_secret_answer(world.session, question(world), hidden, hidden)
    assert isinstance(result, Refused) and result.reason is Reason.ANSWER_TRIVIAL
    assert world.snapshot() == before


@pytest.mark.parametrize("value", list(BAD.values()), ids=list(BAD))
def test_bad_input_when_opening_a_link_says_the_link_is_invalid(value: Any) -> None:
    world = World(Stage.EMAIL_PENDING)
    before = world.snapshot()
    check = world.service.open_link(value)
    assert check == LinkCheck(False, Reason.LINK_INVALID)
    assert world.snapshot() == before
    assert world.service.open_link(world.token).valid


@pytest.mark.parametrize("value", list(BAD.values()), ids=list(BAD))
def test_a_malformed_code_gets_a_typed_refusal_and_changes_nothing(value: Any) -> None:
    """A code that cannot even be a code is not counted as an attempt on the link."""
    world = World(Stage.EMAIL_PENDING)
    before = world.snapshot()
    calls = world.hash_calls
    result = world.service.submit_code(world.session, value)
    assert isinstance(result, Refused)
    assert result.reason in (Reason.CODE_INVALID, Reason.INPUT_INVALID)
    assert world.snapshot() == before
    assert world.hash_calls == calls


def test_a_wrong_but_well_formed_code_is_counted() -> None:
    world = World(Stage.EMAIL_PENDING)
    result = world.service.submit_code(world.session, "0000-0000")
    assert isinstance(result, Refused) and result.reason is Reason.CODE_INVALID
    account = world.storage.get(world.account_id)
    assert account is not None and account.links[-1].code_failures == 1


PROVISION_FIELDS: list[tuple[str, Callable[[OnboardingService, Any], object]]] = [
    ("member_number", lambda s, v: s.staff.provision(v, "Jean Martin")),
    ("name", lambda s, v: s.staff.provision("100234568", v)),
    ("email", lambda s, v: s.staff.provision("100234568", "Jean Martin", email=v)),
]


@pytest.mark.parametrize("value", list(BAD_FOR_STAFF.values()), ids=list(BAD_FOR_STAFF))
@pytest.mark.parametrize(("field", "call"), PROVISION_FIELDS,
                         ids=[f[0] for f in PROVISION_FIELDS])
def test_provision_raises_invalid_input_and_creates_nothing(
        field: str, call: Callable[[OnboardingService, Any], object], value: Any) -> None:
    if field == "email" and value in ("", None):
        pytest.skip("an empty email means 'no address known', which is allowed")
    world = World(Stage.PROVISIONED)
    before = world.snapshot()
    with pytest.raises(InvalidInput) as caught:
        call(world.service, value)
    assert caught.value.field in (field, "member_number", "name", "email")
    assert world.snapshot() == before
    if isinstance(value, str) and len(value) > 100:
        assert value not in str(caught.value)


@pytest.mark.parametrize("field", ["postal_address", "phone", "staff_id"])
def test_provision_checks_every_text_it_stores(field: str) -> None:
    """Postal address, phone and staff id are checked like every other text."""
    world = World(Stage.PROVISIONED)
    before = world.snapshot()
    with pytest.raises(InvalidInput):
        world.service.staff.provision("100234568", "Jean Martin", **{field: "ab\x00cd" * 200_000})
    assert world.snapshot() == before


@pytest.mark.parametrize("action", ["activate", "reject"])
def test_staff_actions_check_the_staff_id(action: str) -> None:
    """A staff id goes into the audit trail: it is checked before anything is saved."""
    world = World(Stage.AWAITING_ACTIVATION)
    before = world.snapshot()
    staff_id = "ab\x00cd" * 200_000
    if action == "activate":
        result = world.service.staff.activate(world.account_id, staff_id=staff_id)
    else:
        result = world.service.staff.reject(world.account_id, "Pièce illisible", staff_id=staff_id)
    assert isinstance(result, Refused)
    assert world.snapshot() == before


# --------------------------------------------------------------------------- no slow hashing


HUGE = "x" * 1_000_000
HASHING_ENTRY_POINTS: list[tuple[str, Stage, Callable[[World], object]]] = [
    ("login known number", Stage.PROVISIONED, lambda w: w.service.login(NUMBER, HUGE)),
    ("login unknown number", Stage.PROVISIONED, lambda w: w.service.login("ZZ9999999", HUGE)),
    ("login huge number", Stage.PROVISIONED, lambda w: w.service.login(HUGE, HUGE)),
    ("login active member", Stage.QUESTION_REQUIRED, lambda w: w.service.login(NUMBER, HUGE)),
    ("set_password", Stage.PASSWORD_REQUIRED,
     lambda w: w.service.set_password(w.session, HUGE, HUGE)),
    ("set_secret_answer", Stage.QUESTION_REQUIRED,
     lambda w: w.service.set_secret_answer(w.session, question(w), HUGE, HUGE)),
    ("submit_code", Stage.EMAIL_PENDING, lambda w: w.service.submit_code(w.session, HUGE)),
    ("confirm_link", Stage.EMAIL_PENDING, lambda w: w.service.confirm_link(HUGE)),
    ("open_link", Stage.EMAIL_PENDING, lambda w: w.service.open_link(HUGE)),
]


@pytest.mark.parametrize(("entry", "stage", "call"), HASHING_ENTRY_POINTS,
                         ids=[e[0] for e in HASHING_ENTRY_POINTS])
def test_over_long_input_is_refused_before_any_slow_hashing(
        entry: str, stage: Stage, call: Callable[[World], object]) -> None:
    world = World(stage)
    calls = world.hash_calls
    result = call(world)
    assert isinstance(result, Refused | LinkCheck), result
    assert world.hash_calls == calls, f"{entry} hashed a 1 MB input"


# --------------------------------------------------------------------------- the request's origin

BAD_IPS: dict[str, Any] = {
    "1 MB": "1" * 1_000_000,
    "NUL byte": "203.0.113.7\x00",
    "free text": "Host: evil.example",
    "int": 12345,
    "bytes": b"203.0.113.7",
}


@pytest.mark.parametrize("ip", list(BAD_IPS.values()), ids=list(BAD_IPS))
def test_a_bad_ip_never_reaches_the_audit_trail(ip: Any) -> None:
    import ipaddress

    world = World(Stage.PROVISIONED)
    result = world.service.login(NUMBER, world.initial, ip=ip)
    assert isinstance(result, Ok | Refused)
    session = result.session if isinstance(result, Ok) else world.session
    world.service.submit_email(session, ADDRESS, ADDRESS, ip=ip)
    for record in world.storage.audit_records(limit=100):
        if record.ip is not None:
            assert isinstance(record.ip, str) and len(record.ip) <= 45
            ipaddress.ip_address(record.ip)
