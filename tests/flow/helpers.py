"""What the behaviour tests of the flow share: one environment, accounts, and a step runner.

Only the public API of :mod:`cegema_onboarding.flow` is used (``step``, ``precheck``,
``login_unknown``, the events and outcomes, the model values), so these tests keep working
whichever module the handlers live in.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs

from cegema_onboarding import flow
from cegema_onboarding.flow import Accepted, Audit, Entropy, Env, Origin, Refused, SendNotice
from cegema_onboarding.model import Account, LinkPurpose, Stage
from cegema_onboarding.tokens import code_from_bytes, nonce_hash

from ..conftest import GOOD_PASSWORD, START, make_settings

ENV = Env.from_settings(make_settings())
IP = "172.17.0.14"
AGENT = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
ORIGIN = Origin(ip=IP, user_agent=AGENT)
INITIAL = "ABCD2345EFGH6789"
ANSWER = "Lefèvre"
EMAIL = "marie@example.com"
NEW_PASSWORD = "Une autre phrase de passe 2026"
QUESTION = next(iter(ENV.settings.questions)).id

# Slow hashes are computed once: the fast test parameters still cost a few milliseconds.
PASSWORD_HASH = ENV.crypto.hasher.hash(GOOD_PASSWORD, b"p" * 16)
ANSWER_HASH = ENV.crypto.hasher.hash("lefevre", b"a" * 16)


def entropy(n: int = 1) -> Entropy:
    """Distinct, recognisable bytes for each ``n``."""
    return Entropy(salt=bytes([n]) * 16, nonce=bytes([n]) * 32, code=bytes([n]) * 8,
                   series=bytes([n + 100]) * 16, extra=bytes([n + 200]) * 32)


ENTROPY = entropy()


def new_account(**kw: object) -> Account:
    """A provisioned account holding the initial credentials."""
    base = Account(account_id="acc-1", member_number="100234567", name="Marie Dupont",
                   created_at=START, initial_digest=ENV.crypto.pepper.digest(INITIAL),
                   initial_issued_at=START)
    return attrs.evolve(base, **kw)


def active(**kw: object) -> Account:
    """An onboarded member: password, secret answer, verified and proven address."""
    base = Account(account_id="acc-1", member_number="100234567", name="Marie Dupont",
                   created_at=START, stage=Stage.ACTIVE, email=EMAIL,
                   email_verified_at=START, password_hash=PASSWORD_HASH,
                   password_changed_at=START, question_id=QUESTION, answer_hash=ANSWER_HASH,
                   session_epoch=3)
    return attrs.evolve(base, **kw)


def run(account: Account, event: flow.Event, at: timedelta = timedelta(0), *,
        env: Env = ENV, origin: Origin = ORIGIN, fresh: Entropy | None = ENTROPY) -> flow.Outcome:
    return flow.step(account, event, START + at, env, entropy=fresh, origin=origin)


def accept(account: Account, event: flow.Event, at: timedelta = timedelta(0), *,
           env: Env = ENV, origin: Origin = ORIGIN, fresh: Entropy | None = ENTROPY) -> Accepted:
    outcome = run(account, event, at, env=env, origin=origin, fresh=fresh)
    assert isinstance(outcome, Accepted), outcome
    return outcome


def refuse(account: Account, event: flow.Event, at: timedelta = timedelta(0), *,
           env: Env = ENV, origin: Origin = ORIGIN, fresh: Entropy | None = ENTROPY) -> Refused:
    outcome = run(account, event, at, env=env, origin=origin, fresh=fresh)
    assert isinstance(outcome, Refused), outcome
    return outcome


def audit(action: str, outcome: str = "ok", detail: str | None = None, *,
          at: timedelta = timedelta(0), account_id: str | None = "acc-1",
          actor: str = "member", ip: str | None = IP) -> Audit:
    """The audit record a member's event at ``START + at`` should leave."""
    return Audit(action=action, outcome=outcome, at=START + at, account_id=account_id,
                 actor=actor, ip=ip, detail=detail)


def notices(outcome: Accepted | Refused) -> list[SendNotice]:
    return [e for e in outcome.effects if isinstance(e, SendNotice)]


def audits(outcome: Accepted | Refused) -> list[Audit]:
    return [e for e in outcome.effects if isinstance(e, Audit)]


def link_token(purpose: LinkPurpose, nonce: bytes = ENTROPY.nonce) -> str:
    """The signed token a link drawn from ``nonce`` carries (the signer is deterministic)."""
    return ENV.crypto.signer.issue("acc-1", purpose.value, nonce)


def link_code(fresh: Entropy = ENTROPY) -> str:
    return code_from_bytes(fresh.code)


def hash_of(nonce: bytes = ENTROPY.nonce) -> str:
    return nonce_hash(nonce)


def wrong_type(value: object) -> Any:
    """``value`` passed where an event wants another type, as a hostile form could."""
    return value
