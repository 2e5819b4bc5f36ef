"""A hypothesis state machine over the whole first-connection journey, through the service.

Several members go through the journey at once, with interleaved actions, wrong inputs,
re-clicked and superseded links, clock jumps (including the 24 h edge of a link), a mailer
that fails for a while, and staff actions. A small model of what the guide and
SECURITY.md promise predicts every result; after every rule the invariants are checked:

- no step is skipped;
- a link never works twice, or after a newer one;
- no effect is emitted twice;
- nothing is stored in clear;
- an account always resumes where it stopped;
- the mail queue loses nothing.

Every shrunk failure found here is pinned in ``tests/regressions/``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter
from datetime import datetime, timedelta
from email.message import EmailMessage

import attrs
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from cegema_onboarding import codec, flow, normalize
from cegema_onboarding.adapters.mailbox import text_part
from cegema_onboarding.adapters.memory import ManualClock, MemoryNotifier, MemoryStorage
from cegema_onboarding.config import Settings
from cegema_onboarding.credentials import format_for_print
from cegema_onboarding.errors import BadToken, MailError
from cegema_onboarding.flow import Env, Reason, Refused
from cegema_onboarding.mail import Mail
from cegema_onboarding.mail.assemble import assemble
from cegema_onboarding.model import Channel, Session, Stage, Step
from cegema_onboarding.ports import OutboxStatus
from cegema_onboarding.ratelimit import Limit, RateLimits
from cegema_onboarding.service import LinkCheck, Ok, OnboardingService

from ..conftest import START, make_settings

# --------------------------------------------------------------------------- test doubles


class CountingRandom:
    """Deterministic CSPRNG stand-in (SHA-256 in counter mode), so runs replay exactly."""

    def __init__(self, seed: bytes = b"journey") -> None:
        self._seed = seed
        self._n = 0

    def token_bytes(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            self._n += 1
            out += hashlib.sha256(self._seed + self._n.to_bytes(8, "big")).digest()
        return out[:n]


class FlakyMailer:
    """A mailer that refuses the next ``fail_next`` messages, then recovers."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.fail_next = 0
        self.failures = 0

    def send(self, mail: Mail) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            self.failures += 1
            raise MailError("mail server unavailable (simulated)")
        self.sent.append(assemble(mail))


# --------------------------------------------------------------------------- the model

LIVE, USED, SUPERSEDED, REVOKED = "live", "used", "superseded", "revoked"
INITIAL_STAGES = frozenset({Stage.PROVISIONED, Stage.EMAIL_REQUIRED, Stage.EMAIL_PENDING,
                            Stage.AWAITING_ACTIVATION, Stage.PASSWORD_REQUIRED})
# Each rule's budget of simulated mail failures stays under the service's parking limit
# (8 attempts), so every queued message must end up SENT.
MAIL_FAILURE_BUDGET = 6

NAMES = ("Marie Dupont", "Jean Lefèvre", "Aïcha Benali")
PASSWORDS = ("Tournesol violet au jardin 42", "Quatre bateaux sur la Loire !",
             "Un hibou gris dans le grenier")
ANSWERS = ("Zénobie Quartz", "Ophélie Kerbrat", "Ursule Vandamme")


@attrs.define
class LinkModel:
    """One validation link the model knows was issued."""

    seq: int
    issued_at: datetime
    address_key: str
    message_id: str
    status: str = LIVE
    token: str | None = None
    code: str | None = None
    code_failures: int = 0
    successes: int = 0


@attrs.define
class MemberModel:
    """What the model expects of one member."""

    key: int
    account_id: str
    number: str
    initial: str
    name: str
    password: str
    answer: str
    provisioned_at: datetime = START
    stage: Stage = Stage.PROVISIONED
    epoch: int = 0
    sessions: list[Session] = attrs.Factory(list)
    password_set: bool = False
    answer_set: bool = False
    links: list[LinkModel] = attrs.Factory(list)
    verified_by: str | None = None
    password_changes: int = 0
    staff_notices: int = 0

    def live_link(self) -> LinkModel | None:
        for link in reversed(self.links):
            if link.status == LIVE:
                return link
        return None

    def retire_links(self, status: str) -> None:
        for link in self.links:
            if link.status == LIVE:
                link.status = status


@attrs.define
class ThrottleModel:
    failures: int = 0
    last: datetime | None = None


# Forms of the member number and of the initial password as members type them.
NUMBER_FORMS = ("exact", "lower", "spaces", "fullwidth")
INITIAL_FORMS = ("exact", "lower", "printed", "spaced", "lookalike", "fullwidth")
EMAILS = (
    # (as typed, its normalised and casefolded form)
    ("marie.dupont@example.com", "marie.dupont@example.com"),
    ("Marie.Dupont@EXAMPLE.com", "marie.dupont@example.com"),
    ("  marie.dupont@example.com ", "marie.dupont@example.com"),
    ("ｍａｒｉｅ.dupont@example.com", "marie.dupont@example.com"),
    ("famille.benali@example.org", "famille.benali@example.org"),
    ("jean.lefevre@example.net", "jean.lefevre@example.net"),
)
WRONG_PASSWORDS = {
    "empty": "",
    "another initial": "ABCD2345EFGH6789",
    "a word": "motdepasse",
    "huge": "x" * 2000,
    "nul byte": "ABCD\x00EFGH",
}
BAD_EMAILS = ("", "pas-une-adresse", "a@", "@example.com", "x@@example.com", "a b@example.com")

_FULLWIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


def number_form(number: str, form: str) -> str:
    if form == "lower":
        return number.lower()
    if form == "spaces":
        return f"  {number[:2]} {number[2:]} "
    if form == "fullwidth":
        return number.translate(_FULLWIDTH)
    return number


def initial_form(initial: str, form: str) -> str:
    if form == "lower":
        return initial.lower()
    if form == "printed":
        return format_for_print(initial)
    if form == "spaced":
        return " ".join(initial[i:i + 4] for i in range(0, len(initial), 4))
    if form == "lookalike":
        return initial.replace("0", "O").replace("1", "l")
    if form == "fullwidth":
        return initial.translate(_FULLWIDTH)
    return initial


def code_form(code: str, form: str) -> str:
    if form == "lower":
        return code.lower()
    if form == "dash":
        return f"{code[:4]}-{code[4:]}"
    if form == "spaces":
        return f" {code[:4]} {code[4:]} "
    return code


_TOKEN = re.compile(r"token=([A-Za-z0-9_.\-]+)")
_CODE = re.compile(r"\b([0-9A-HJKMNP-TV-Z]{4}-?[0-9A-HJKMNP-TV-Z]{4})\b")


def token_nonce(token: str) -> str:
    """The secret nonce carried in a token's payload (what must never be stored)."""
    payload = token.split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(data["n"])


def tamper(token: str) -> str:
    payload, _, sig = token.rpartition(".")
    mid = len(sig) // 2
    flipped = "B" if sig[mid] != "B" else "C"
    return f"{payload}.{sig[:mid]}{flipped}{sig[mid + 1:]}"


def note(text: str) -> None:
    """Count an outcome in hypothesis' statistics (a no-op in a plain replay)."""
    if currently_in_test_context():
        event(text)


# --------------------------------------------------------------------------- the machine


class JourneyMachine(RuleBasedStateMachine):
    """The whole journey, many members, interleaved; a model predicts every result."""

    QUESTIONS = True
    DELIVER_INLINE = True
    MAX_MEMBERS = 3

    members = Bundle("members")

    def __init__(self) -> None:
        super().__init__()
        # Rate limits have their own tests; here they would only hide the journey's rules.
        self.settings: Settings = make_settings(
            secret_questions=self.QUESTIONS,
            rate_limits=RateLimits(link_identifier=Limit(10_000, timedelta(minutes=5))))
        self.clock = ManualClock(START)
        self.storage = MemoryStorage()
        self.mailer = FlakyMailer()
        self.notifier = MemoryNotifier()
        self.service = OnboardingService(self.storage, self.mailer, settings=self.settings,
                                         clock=self.clock, random=CountingRandom(),
                                         notifier=self.notifier,
                                         deliver_inline=self.DELIVER_INLINE)
        self.model: dict[int, MemberModel] = {}
        self.throttles: dict[str, ThrottleModel] = {}
        self.by_message: dict[str, tuple[MemberModel, LinkModel | None]] = {}
        self.seen_mails = 0
        self.failure_budget = MAIL_FAILURE_BUDGET
        self.link_seq = 0
        self.secrets: set[str] = set()

    # ------------------------------------------------------------------ helpers

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def _outbox_ids(self) -> set[str]:
        return {m.message_id for m in self.storage.list_messages(limit=10_000)}

    def _new_messages(self, before: set[str], account_id: str, kind: str) -> list[str]:
        return [m.message_id for m in self.storage.list_messages(limit=10_000)
                if m.message_id not in before and m.account_id == account_id
                and m.kind == kind]

    def _collect_mail(self) -> None:
        """Read newly delivered mail: the member now knows the link's token and code."""
        for message in self.mailer.sent[self.seen_mails:]:
            message_id = str(message["Message-ID"])
            member, link = self.by_message.get(message_id, (None, None))
            if link is None:
                continue
            body = text_part(message)
            token_match = _TOKEN.search(body)
            assert token_match is not None, "no link in the validation mail"
            token = token_match.group(1)
            # The token itself may hold eight capitals in a row: look for the code elsewhere.
            code_match = _CODE.search(body.replace(token, " "))
            assert code_match is not None, "no code in the validation mail"
            claims = self.service.env.crypto.signer.parse(token, "verify_email")
            assert member is not None and claims.account_id == member.account_id
            assert link.address_key in str(message["To"]).casefold()
            link.token = token
            link.code = code_match.group(1).replace("-", "")
            self.secrets.update({token, token_nonce(token), link.code})
        self.seen_mails = len(self.mailer.sent)

    def _session(self, m: MemberModel, stale: bool) -> Session | None:
        if not m.sessions:
            return None
        return m.sessions[0] if stale else m.sessions[-1]

    def _expected_step(self, m: MemberModel) -> Step:
        if m.stage in (Stage.PROVISIONED, Stage.EMAIL_REQUIRED):
            return Step.EMAIL
        if m.stage is Stage.EMAIL_PENDING:
            live = m.live_link()
            fresh = live is not None and self.now <= live.issued_at + self.settings.link_lifetime
            return Step.CHECK_MAILBOX if fresh else Step.EMAIL
        if m.stage is Stage.AWAITING_ACTIVATION:
            return Step.AWAITING_ACTIVATION
        if m.stage is Stage.PASSWORD_REQUIRED:
            return Step.PASSWORD
        if m.stage is Stage.QUESTION_REQUIRED:
            return Step.QUESTION
        return Step.PROFILE

    def _locked(self, key: str) -> bool:
        t = self.throttles.setdefault(key, ThrottleModel())
        policy = self.settings.lockout
        if t.failures >= policy.hard_limit:
            return True
        if t.failures < policy.free_attempts or t.last is None:
            return False
        delay = min(policy.base_delay * 2 ** (t.failures - policy.free_attempts),
                    policy.max_delay)
        return self.now < t.last + delay

    def _version(self, m: MemberModel) -> int:
        account = self.storage.get(m.account_id)
        assert account is not None
        return account.version

    @staticmethod
    def _refused(result: object, *reasons: Reason) -> None:
        assert isinstance(result, Refused), f"expected a refusal {reasons}, got {result!r}"
        note(f"refused: {result.reason.value}")
        assert result.reason in reasons, f"expected {reasons}, got {result.reason}"

    def _ok(self, result: object, step: Step, *, session: bool) -> Ok:
        assert isinstance(result, Ok), f"expected Ok({step}), got {result!r}"
        note(f"ok: {step.value}")
        assert result.step is step, f"expected {step}, got {result.step}"
        assert (result.session is not None) is session
        return result

    def _grant(self, m: MemberModel, result: Ok) -> None:
        assert result.session is not None
        assert result.session.account_id == m.account_id
        assert result.session.epoch == m.epoch
        m.sessions.append(result.session)

    # ------------------------------------------------------------------ members

    def _provision(self) -> int:
        key = len(self.model)
        number = f"CG{key + 1:07d}"
        provisioned = self.service.staff.provision(number, NAMES[key])
        assert provisioned.member_number == number
        m = MemberModel(key=key, account_id=provisioned.account_id, number=number,
                        initial=provisioned.initial_password, name=NAMES[key],
                        password=PASSWORDS[key], answer=ANSWERS[key],
                        provisioned_at=self.now)
        self.model[key] = m
        self.secrets.update({m.initial, format_for_print(m.initial), m.password, m.answer,
                             normalize.normalize_answer(m.answer)})
        return key

    @initialize(target=members)
    def first_member(self) -> int:
        return self._provision()

    @precondition(lambda self: len(self.model) < self.MAX_MEMBERS)
    @rule(target=members)
    def another_member(self) -> int:
        return self._provision()

    # ------------------------------------------------------------------ login

    def _login(self, m: MemberModel | None, number: str, typed: str, correct: bool) -> None:
        key = m.number if m is not None else "ZZ0000000"
        t = self.throttles.setdefault(key, ThrottleModel())
        locked = self._locked(key)
        result = self.service.login(number, typed)
        if locked:
            self._refused(result, Reason.LOCKED)
            return
        if m is not None and correct and m.stage in INITIAL_STAGES:
            lifetime = self.settings.initial_password_lifetime
            if lifetime is not None and self.now > m.provisioned_at + lifetime:
                self._refused(result, Reason.INITIAL_CREDENTIALS_EXPIRED)
                # The right password: not a failed attempt, though it no longer opens.
                t.failures, t.last = 0, None
                return
        if m is None or not correct:
            self._refused(result, Reason.BAD_CREDENTIALS)
            t.failures, t.last = t.failures + 1, self.now
            return
        if m.stage is Stage.PROVISIONED:
            m.stage = Stage.EMAIL_REQUIRED
        ok = self._ok(result, self._expected_step(m), session=True)
        self._grant(m, ok)
        t.failures, t.last = 0, None

    @rule(m=members, nform=st.sampled_from(NUMBER_FORMS),
          pform=st.sampled_from(INITIAL_FORMS))
    def login_initial(self, m: int, nform: str, pform: str) -> None:
        member = self.model[m]
        correct = member.stage in INITIAL_STAGES
        self._login(member, number_form(member.number, nform),
                    initial_form(member.initial, pform), correct)

    @rule(m=members)
    def login_chosen(self, m: int) -> None:
        member = self.model[m]
        correct = member.password_set and member.stage not in INITIAL_STAGES
        self._login(member, member.number, member.password, correct)

    @rule(m=members, wrong=st.sampled_from(tuple(WRONG_PASSWORDS)))
    def login_wrong(self, m: int, wrong: str) -> None:
        member = self.model[m]
        self._login(member, member.number, WRONG_PASSWORDS[wrong], correct=False)

    @rule(m=members)
    def login_unknown_number(self, m: int) -> None:
        # An unknown member number typed with someone's real initial password.
        self._login(None, "ZZ0000000", self.model[m].initial, correct=False)

    # ------------------------------------------------------------------ email step

    def _check_session(self, m: MemberModel, session: Session, result: object) -> bool:
        if session.epoch != m.epoch:
            self._refused(result, Reason.SESSION_EXPIRED)
            return False
        return True

    def _issue(self, m: MemberModel, before: set[str], address_key: str) -> None:
        m.retire_links(SUPERSEDED)
        new = self._new_messages(before, m.account_id, "validation")
        assert len(new) == 1, f"one link issued, {len(new)} validation mails queued"
        self.link_seq += 1
        link = LinkModel(self.link_seq, self.now, address_key, new[0])
        m.links.append(link)
        self.by_message[new[0]] = (m, link)
        m.stage = Stage.EMAIL_PENDING

    @rule(m=members, stale=st.booleans(), typed=st.sampled_from(EMAILS),
          confirm=st.sampled_from(EMAILS), kind=st.sampled_from(("match", "differ", "bad")))
    def submit_email(self, m: int, stale: bool, typed: tuple[str, str],
                     confirm: tuple[str, str], kind: str) -> None:
        member = self.model[m]
        session = self._session(member, stale)
        if session is None:
            return
        email, confirmation = typed[0], confirm[0]
        if kind == "match":
            confirmation = confirm[0] if confirm[1] == typed[1] else typed[0].upper()
        elif kind == "bad":
            email = BAD_EMAILS[len(confirm[0]) % len(BAD_EMAILS)]
        before, version = self._outbox_ids(), self._version(member)
        result = self.service.submit_email(session, email, confirmation)
        if not self._check_session(member, session, result):
            return
        key = typed[1].casefold()
        same = kind == "match" or typed[1] == confirm[1]
        live = member.live_link()
        if member.stage not in (Stage.EMAIL_REQUIRED, Stage.EMAIL_PENDING,
                                Stage.AWAITING_ACTIVATION):
            self._refused(result, Reason.INVALID_STEP)
        elif kind == "bad":
            self._refused(result, Reason.EMAIL_INVALID)
        elif not same:
            self._refused(result, Reason.EMAILS_DIFFER)
        elif (live is not None and live.address_key == key
              and self.now < live.issued_at + self.settings.resend_cooldown):
            self._refused(result, Reason.RATE_LIMITED)
        else:
            self._ok(result, Step.CHECK_MAILBOX, session=False)
            self._issue(member, before, key)
            return
        assert self._version(member) == version, "a refused email step changed the account"

    @rule(m=members, stale=st.booleans())
    def resend(self, m: int, stale: bool) -> None:
        member = self.model[m]
        session = self._session(member, stale)
        if session is None:
            return
        before, version = self._outbox_ids(), self._version(member)
        result = self.service.resend_link(session)
        if not self._check_session(member, session, result):
            return
        live = member.live_link()
        if member.stage is not Stage.EMAIL_PENDING:
            self._refused(result, Reason.INVALID_STEP)
        elif live is not None and self.now < live.issued_at + self.settings.resend_cooldown:
            self._refused(result, Reason.RATE_LIMITED)
        else:
            assert live is not None
            self._ok(result, Step.CHECK_MAILBOX, session=False)
            self._issue(member, before, live.address_key)
            return
        assert self._version(member) == version

    @rule(m=members, stale=st.booleans())
    def change_email(self, m: int, stale: bool) -> None:
        member = self.model[m]
        session = self._session(member, stale)
        if session is None:
            return
        result = self.service.change_email(session)
        if not self._check_session(member, session, result):
            return
        if member.stage is Stage.EMAIL_PENDING:
            self._ok(result, Step.EMAIL, session=False)
            member.retire_links(SUPERSEDED)
            member.stage = Stage.EMAIL_REQUIRED
        else:
            self._refused(result, Reason.INVALID_STEP)

    @rule(m=members, stale=st.booleans())
    def declare_no_email(self, m: int, stale: bool) -> None:
        member = self.model[m]
        session = self._session(member, stale)
        if session is None:
            return
        result = self.service.declare_no_email(session)
        if not self._check_session(member, session, result):
            return
        if member.stage in (Stage.EMAIL_REQUIRED, Stage.EMAIL_PENDING):
            self._ok(result, Step.AWAITING_ACTIVATION, session=False)
            member.retire_links(REVOKED)
            member.stage = Stage.AWAITING_ACTIVATION
        else:
            self._refused(result, Reason.INVALID_STEP)

    # ------------------------------------------------------------------ staff

    @rule(m=members)
    def staff_activate(self, m: int) -> None:
        member = self.model[m]
        before = self._outbox_ids()
        result = self.service.staff.activate(member.account_id, staff_id="agent-7")
        if member.stage is Stage.AWAITING_ACTIVATION:
            self._ok(result, Step.PASSWORD, session=False)
            member.stage = Stage.PASSWORD_REQUIRED
            member.verified_by = "staff"
            member.staff_notices += 1
            assert len(self._new_messages(before, member.account_id, "activated")) == 1
        else:
            self._refused(result, Reason.INVALID_STEP)

    @rule(m=members)
    def staff_reject(self, m: int) -> None:
        member = self.model[m]
        before = self._outbox_ids()
        result = self.service.staff.reject(member.account_id, "Pièce d'identité illisible",
                                           staff_id="agent-7")
        if member.stage is Stage.AWAITING_ACTIVATION:
            self._ok(result, Step.EMAIL, session=False)
            member.stage = Stage.EMAIL_REQUIRED
            member.staff_notices += 1
            assert len(self._new_messages(before, member.account_id,
                                          "activation_rejected")) == 1
        else:
            self._refused(result, Reason.INVALID_STEP)

    # ------------------------------------------------------------------ links and codes

    def _link_expectation(self, m: MemberModel, link: LinkModel) -> tuple[Reason, ...]:
        """The reasons a link may be refused with; empty when it must work."""
        extra = (Reason.LINK_INVALID,) if len(m.links) > self.settings.link_history else ()
        if link.status == USED:
            return (Reason.LINK_USED, *extra)
        if link.status == SUPERSEDED:
            return (Reason.LINK_SUPERSEDED, *extra)
        if link.status == REVOKED:
            return (Reason.LINK_INVALID,)
        if self.now > link.issued_at + self.settings.link_lifetime:
            return (Reason.LINK_EXPIRED,)
        assert m.stage is Stage.EMAIL_PENDING and link is m.live_link()
        return ()

    def _known_links(self, m: MemberModel) -> list[LinkModel]:
        return [lk for lk in m.links if lk.token is not None]

    @rule(m=members, pick=st.integers(0, 20), forged=st.booleans())
    def open_link(self, m: int, pick: int, forged: bool) -> None:
        member = self.model[m]
        known = self._known_links(member)
        if not known:
            return
        link = known[-1 - pick % len(known)]
        assert link.token is not None
        version, outbox = self._version(member), self._outbox_ids()
        check = self.service.open_link(tamper(link.token) if forged else link.token)
        assert isinstance(check, LinkCheck)
        expected = (Reason.LINK_INVALID,) if forged else self._link_expectation(member, link)
        if expected:
            assert not check.valid and check.reason in expected, (check, expected)
        else:
            assert check.valid and check.reason is None, check
        # GET never spends a link and changes nothing at all.
        assert self._version(member) == version
        assert self._outbox_ids() == outbox

    @rule(m=members, pick=st.integers(0, 20), forged=st.booleans(), own_browser=st.booleans())
    def confirm_link(self, m: int, pick: int, forged: bool, own_browser: bool = True) -> None:
        member = self.model[m]
        known = self._known_links(member)
        if not known:
            return
        link = known[-1 - pick % len(known)]
        assert link.token is not None
        version = self._version(member)
        # The member's own browser carries their newest session; any other carries none.
        session = self._session(member, False) if own_browser else None
        result = self.service.confirm_link(tamper(link.token) if forged else link.token,
                                           session=session)
        expected = (Reason.LINK_INVALID,) if forged else self._link_expectation(member, link)
        if expected:
            self._refused(result, *expected)
            assert self._version(member) == version, "a refused link changed the account"
            return
        link.successes += 1
        link.status = USED
        member.stage = Stage.PASSWORD_REQUIRED
        member.verified_by = "link"
        if session is not None and session.epoch == member.epoch:
            self._grant(member, self._ok(result, Step.PASSWORD, session=True))
        else:
            # Confirmed elsewhere: the address is verified, and nothing more.
            self._ok(result, Step.LOGIN, session=False)

    @rule(m=members, stale=st.booleans(), which=st.sampled_from(("live", "old", "wrong")),
          form=st.sampled_from(("exact", "lower", "dash", "spaces")))
    def submit_code(self, m: int, stale: bool, which: str, form: str) -> None:
        member = self.model[m]
        session = self._session(member, stale)
        if session is None:
            return
        live = member.live_link()
        if which == "live" and live is not None and live.code is not None:
            typed = live.code
        elif which == "old" and any(lk.code for lk in member.links if lk is not live):
            typed = next(lk.code for lk in member.links if lk is not live and lk.code)
        else:
            typed = "0000-0000"
        correct = live is not None and typed == live.code
        version = self._version(member)
        result = self.service.submit_code(session, code_form(typed, form))
        if not self._check_session(member, session, result):
            return
        if member.stage is not Stage.EMAIL_PENDING:
            self._refused(result, Reason.INVALID_STEP)
            assert self._version(member) == version
            return
        assert live is not None
        if self.now > live.issued_at + self.settings.link_lifetime:
            self._refused(result, Reason.LINK_EXPIRED)
        elif live.code_failures >= self.settings.code_max_attempts:
            self._refused(result, Reason.CODE_ATTEMPTS_EXCEEDED)
        elif correct:
            ok = self._ok(result, Step.PASSWORD, session=True)
            live.successes += 1
            live.status = USED
            member.stage = Stage.PASSWORD_REQUIRED
            member.verified_by = "code"
            self._grant(member, ok)
            return
        else:
            live.code_failures += 1
            exceeded = live.code_failures >= self.settings.code_max_attempts
            self._refused(result, Reason.CODE_ATTEMPTS_EXCEEDED if exceeded
                          else Reason.CODE_INVALID)
            return
        assert self._version(member) == version

    # ------------------------------------------------------------------ password, question

    @rule(m=members, stale=st.booleans(),
          kind=st.sampled_from(("good", "good", "differ", "short", "initial", "common")))
    def set_password(self, m: int, stale: bool, kind: str) -> None:
        member = self.model[m]
        session = self._session(member, stale)
        if session is None:
            return
        password, confirmation = {
            "good": (member.password, member.password),
            "differ": (member.password, member.password + "!"),
            "short": ("court", "court"),
            "initial": (member.initial, member.initial),
            "common": ("qwerty123456", "qwerty123456"),
        }[kind]
        before, version = self._outbox_ids(), self._version(member)
        result = self.service.set_password(session, password, confirmation)
        if not self._check_session(member, session, result):
            return
        if member.stage is not Stage.PASSWORD_REQUIRED:
            self._refused(result, Reason.INVALID_STEP)
        elif kind != "good":
            expected = {
                "differ": (Reason.PASSWORDS_DIFFER,),
                "short": (Reason.PASSWORD_TOO_SHORT,),
                "initial": (Reason.PASSWORD_SAME_AS_INITIAL,),
                "common": (Reason.PASSWORD_COMMON,),
            }[kind]
            self._refused(result, *expected)
        else:
            member.stage = (Stage.QUESTION_REQUIRED if self.QUESTIONS else Stage.ACTIVE)
            member.epoch += 1
            member.password_set = True
            member.password_changes += 1
            member.retire_links(REVOKED)
            ok = self._ok(result, self._expected_step(member), session=True)
            self._grant(member, ok)
            notices = self._new_messages(before, member.account_id, "password_changed")
            assert len(notices) == 1, "one password change, one notice"
            for message_id in notices:
                self.by_message[message_id] = (member, None)
            return
        assert self._version(member) == version

    @rule(m=members, stale=st.booleans(),
          kind=st.sampled_from(("good", "good", "differ", "empty", "number")))
    def set_secret_answer(self, m: int, stale: bool, kind: str) -> None:
        member = self.model[m]
        session = self._session(member, stale)
        if session is None:
            return
        question = next(iter(self.settings.questions)).id
        answer, confirmation = {
            "good": (member.answer, member.answer.upper()),
            "differ": (member.answer, "Autre réponse"),
            "empty": ("   ", "   "),
            "number": (member.number, member.number),
        }[kind]
        version = self._version(member)
        result = self.service.set_secret_answer(session, question, answer, confirmation)
        if not self._check_session(member, session, result):
            return
        if member.stage is not Stage.QUESTION_REQUIRED:
            self._refused(result, Reason.INVALID_STEP, Reason.QUESTIONS_DISABLED)
        elif kind == "good":
            self._ok(result, Step.PROFILE, session=False)
            member.stage = Stage.ACTIVE
            member.answer_set = True
            return
        else:
            expected = {
                "differ": (Reason.ANSWERS_DIFFER,),
                "empty": (Reason.ANSWER_EMPTY, Reason.INPUT_INVALID),
                "number": (Reason.ANSWER_SAME_AS_MEMBER_NUMBER,),
            }[kind]
            self._refused(result, *expected)
        assert self._version(member) == version

    # ------------------------------------------------------------------ the right next thing

    def _progress(self, m: int) -> None:
        """Do what a diligent member (or staff) does next, so runs reach the journey's end."""
        member = self.model[m]
        if not member.sessions or member.stage is Stage.PROVISIONED:
            self.login_initial(m, "exact", "exact")
        elif member.stage is Stage.EMAIL_REQUIRED:
            self.submit_email(m, False, EMAILS[m], EMAILS[m], "match")
        elif member.stage is Stage.EMAIL_PENDING:
            live = member.live_link()
            assert live is not None
            if self.now > live.issued_at + self.settings.link_lifetime:
                self.submit_email(m, False, EMAILS[m + 1], EMAILS[m + 1], "match")
            elif live.token is None:
                self.service.deliver_due()
            else:
                self.confirm_link(m, len(self._known_links(member)) - 1 - self._known_links(
                    member).index(live), False)
        elif member.stage is Stage.AWAITING_ACTIVATION:
            self.staff_activate(m)
        elif member.stage is Stage.PASSWORD_REQUIRED:
            self.set_password(m, False, "good")
        elif member.stage is Stage.QUESTION_REQUIRED:
            self.set_secret_answer(m, False, "good")
        else:
            self.login_chosen(m)

    # Several identical rules weight "the right next thing" against the many detours.
    @rule(m=members)
    def progress(self, m: int) -> None:
        self._progress(m)

    @rule(m=members)
    def progress_again(self, m: int) -> None:
        self._progress(m)

    @rule(m=members)
    def progress_once_more(self, m: int) -> None:
        self._progress(m)

    # ------------------------------------------------------------------ persistence

    @rule(m=members)
    def guess_codes(self, m: int) -> None:
        """Wrong codes until the link's attempts run out; then even the right one fails."""
        for _ in range(self.settings.code_max_attempts + 1):
            self.submit_code(m, False, "wrong", "exact")
        self.submit_code(m, False, "live", "exact")

    @rule(m=members)
    def resend_many_times(self, m: int) -> None:
        """More links than the account keeps in its history: old ones must stay dead."""
        for _ in range(self.settings.link_history + 2):
            self.clock.advance(self.settings.resend_cooldown)
            self.resend(m, False)
        self.service.deliver_due()
        self._collect_mail()
        for link in self._known_links(self.model[m])[:-1]:
            check = self.service.open_link(link.token or "")
            assert not check.valid, "an old link came back to life"

    @rule(m=members, to_the_limit=st.integers(0, 9))
    def hammer_login(self, m: int, to_the_limit: int) -> None:
        """Wrong passwords with pauses past each delay; now and then up to the hard limit."""
        member = self.model[m]
        policy = self.settings.lockout
        tries = policy.hard_limit + 2 if to_the_limit == 0 else policy.free_attempts + 2
        for _ in range(tries):
            self.clock.advance(policy.max_delay)
            self._login(member, member.number, "wrong password 123", correct=False)

    @rule(pause=st.sampled_from(("a day", "a day", "a week", "half a year")))
    def long_pause(self, pause: str) -> None:
        # Half a year is past the initial passwords' lifetime (180 days by default).
        self.clock.advance(days={"a day": 1, "a week": 7, "half a year": 181}[pause])

    # ------------------------------------------------------------------ clock and mail

    @rule(seconds=st.sampled_from((1, 30, 59, 61, 600, 3600, 5 * 3600)))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(seconds=seconds)

    @rule(m=members, past=st.booleans())
    def jump_to_link_edge(self, m: int, past: bool) -> None:
        """Jump to exactly 24 h after the member's newest link, or one second later."""
        member = self.model[m]
        if not member.links:
            return
        link = member.links[-1]
        target = link.issued_at + self.settings.link_lifetime + timedelta(seconds=int(past))
        if target < self.now:
            return
        self.clock.set(target)
        if link.token is not None:
            check = self.service.open_link(link.token)
            expected = self._link_expectation(member, link)
            if link.status == LIVE:
                # Still valid at exactly 24 h, expired one second later.
                assert check.valid is (not past), check
            assert check.valid is (not expected)

    @rule(n=st.integers(1, 3))
    def mailer_breaks(self, n: int) -> None:
        n = min(n, self.failure_budget)
        self.failure_budget -= n
        self.mailer.fail_next += n

    @rule()
    def deliver_due(self) -> None:
        self.service.deliver_due()

    @rule()
    def mailer_recovers_and_queue_drains(self) -> None:
        self._drain()

    def _drain(self) -> None:
        self.mailer.fail_next = 0
        for _ in range(12):
            # Past every backoff the service may have set (at most one hour).
            self.clock.advance(hours=1, seconds=1)
            self.service.deliver_due(limit=1000)
        self._collect_mail()
        waiting = [m for m in self.storage.list_messages(limit=10_000)
                   if m.status is not OutboxStatus.SENT]
        assert not waiting, f"messages left behind: {waiting}"

    # ------------------------------------------------------------------ invariants

    @invariant()
    def mail_is_read(self) -> None:
        # Runs first (alphabetical order is not guaranteed, so every invariant is
        # self-contained); collecting here keeps the known tokens current.
        self._collect_mail()

    @invariant()
    def no_step_is_skipped(self) -> None:
        for m in self.model.values():
            account = self.storage.get(m.account_id)
            assert account is not None
            assert account.stage is m.stage, (m.key, account.stage, m.stage)
            if account.stage in (Stage.PASSWORD_REQUIRED, Stage.QUESTION_REQUIRED,
                                 Stage.ACTIVE):
                assert m.verified_by in ("link", "code", "staff"), "password step unearned"
            if account.stage in (Stage.QUESTION_REQUIRED, Stage.ACTIVE):
                assert account.password_hash is not None
                assert account.initial_digest is None, "initial password still alive"
            if account.stage is Stage.ACTIVE and self.QUESTIONS:
                assert account.answer_hash is not None and account.question_id is not None

    @invariant()
    def links_never_work_twice(self) -> None:
        for m in self.model.values():
            assert all(lk.successes <= 1 for lk in m.links)
            assert sum(lk.successes for lk in m.links) <= 1, "email verified twice"
            assert sum(1 for lk in m.links if lk.status == LIVE) <= 1

    @invariant()
    def no_effect_twice(self) -> None:
        sent_ids = Counter(str(msg["Message-ID"]) for msg in self.mailer.sent)
        assert all(n == 1 for n in sent_ids.values()), "a mail was sent twice"
        messages = self.storage.list_messages(limit=10_000)
        kinds = Counter((msg.account_id, msg.kind) for msg in messages)
        for m in self.model.values():
            assert kinds[(m.account_id, "validation")] == len(m.links)
            assert kinds[(m.account_id, "password_changed")] == m.password_changes
            staff = kinds[(m.account_id, "activated")] + kinds[(m.account_id,
                                                                 "activation_rejected")]
            assert staff == m.staff_notices
        for msg in messages:
            assert msg.status in (OutboxStatus.PENDING, OutboxStatus.SENT), msg
            if msg.status is OutboxStatus.SENT and msg.channel is Channel.EMAIL:
                assert sent_ids[msg.message_id] == 1
                assert msg.payload == b"", "a sent message kept its payload"
        offline_sent = sum(1 for msg in messages if msg.channel is not Channel.EMAIL
                           and msg.status is OutboxStatus.SENT)
        assert offline_sent == len(self.notifier.sent)

    @invariant()
    def nothing_stored_in_clear(self) -> None:
        dumps: list[str] = []
        for m in self.model.values():
            account = self.storage.get(m.account_id)
            dumps.append(repr(account))
            dumps.append(json.dumps(codec.to_data(account), ensure_ascii=False))
        dumps.extend(repr(r) for r in self.storage.audit_records(limit=100_000))
        payloads = [msg.payload for msg in self.storage.list_messages(limit=10_000)]
        dumps.extend(repr(msg) for msg in self.storage.list_messages(limit=10_000))
        text = "\n".join(dumps)
        folded = text.casefold()
        for secret in self.secrets:
            assert secret not in text, "a secret is stored in clear"
            assert secret.casefold() not in folded, "a secret is stored in clear"
            raw = secret.encode()
            assert not any(raw in p for p in payloads), "an outbox payload is not encrypted"

    @invariant()
    def resumes_where_it_stopped(self) -> None:
        for m in self.model.values():
            account = self.storage.get(m.account_id)
            assert account is not None
            expected = self._expected_step(m)
            assert flow.next_step(account, self.now, self.settings) is expected
            for session in {*m.sessions[:1], *m.sessions[-1:]}:
                screen = self.service.resume(session)
                if session.epoch == m.epoch:
                    assert not isinstance(screen, Refused), screen
                    assert screen.step is expected, (screen.step, expected)
                else:
                    assert isinstance(screen, Refused)
                    assert screen.reason is Reason.SESSION_EXPIRED

    def teardown(self) -> None:
        # The mail queue loses nothing: once the mailer is back, everything goes, once.
        self._drain()
        self.no_effect_twice()


class JourneyWithoutQuestions(JourneyMachine):
    """The host turned secret questions off: the journey ends at the password."""

    QUESTIONS = False


_FAST = settings(max_examples=100, stateful_step_count=50, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])
_SLOW = settings(max_examples=400, stateful_step_count=60, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])


class JourneyThroughARelay(JourneyMachine):
    """Nothing is delivered inline: every mail waits for ``deliver_due``, as if each
    request's process died right after its commit."""

    DELIVER_INLINE = False


class SlowJourney(JourneyMachine):
    """The same machine, many more runs."""


class SlowJourneyWithoutQuestions(JourneyWithoutQuestions):
    """The same machine without questions, many more runs."""


JourneyMachine.TestCase.settings = _FAST
JourneyWithoutQuestions.TestCase.settings = settings(_FAST, max_examples=40)
JourneyThroughARelay.TestCase.settings = settings(_FAST, max_examples=40)
SlowJourney.TestCase.settings = _SLOW
SlowJourneyWithoutQuestions.TestCase.settings = settings(_SLOW, max_examples=150)

TestJourney = JourneyMachine.TestCase
TestJourneyWithoutQuestions = JourneyWithoutQuestions.TestCase
TestJourneyThroughARelay = JourneyThroughARelay.TestCase
TestSlowJourney = pytest.mark.slow(SlowJourney.TestCase)
TestSlowJourneyWithoutQuestions = pytest.mark.slow(SlowJourneyWithoutQuestions.TestCase)


def test_model_helpers_spell_inputs_as_members_type_them() -> None:
    """The forms the machine types really are variants, not copies."""
    assert number_form("CG0000001", "fullwidth") != "CG0000001"
    assert initial_form("AB01CDEFGHJKMNPQ", "lookalike") == "ABOlCDEFGHJKMNPQ"
    assert code_form("ABCD2345", "dash") == "ABCD-2345"
    assert tamper("abc.defghij") != "abc.defghij"
    signer = Env.from_settings(make_settings()).crypto.signer
    token = signer.issue("acc", "verify_email", b"\x01" * 32)
    assert signer.parse(token, "verify_email").account_id == "acc"
    with pytest.raises(BadToken):
        signer.parse(tamper(token), "verify_email")
