"""Review findings on the journey and on "this wasn't me" (strict xfail until fixed)."""

from __future__ import annotations

import re

from cegema_onboarding.adapters.mailbox import text_part
from cegema_onboarding.adapters.memory import (
    MemoryMailer,
)
from cegema_onboarding.model import LinkPurpose, Session, Step
from cegema_onboarding.service import Ok, OnboardingService, Provisioned

from ..conftest import GOOD_PASSWORD
from .test_recovery import make_service as _build

ANSWER = "Lefèvre"
NEW_PASSWORD = "Une toute autre phrase 2026"
ATTACKER_PASSWORD = "Phrase de l'attaquant 4242"


def _links(mailer: MemoryMailer, path: str, to: str | None = None) -> list[str]:
    found: list[str] = []
    for message in mailer.sent:
        if to is not None and to not in str(message["To"]):
            continue
        found += re.findall(re.escape(path) + r"\?token=([A-Za-z0-9_.\-]+)", text_part(message))
    return found


def _onboard(service: OnboardingService, mailer: MemoryMailer,
             number: str = "100234567") -> tuple[Provisioned, Session]:
    member = service.staff.provision(number, "Marie Dupont")
    out = service.login(number, member.initial_password)
    assert isinstance(out, Ok) and out.session is not None
    assert isinstance(service.submit_email(out.session, "marie@example.com",
                                           "marie@example.com"), Ok)
    out = service.confirm_link(_links(mailer, "/premiere-connexion/valider")[-1],
                               session=out.session)
    assert isinstance(out, Ok) and out.session is not None
    out = service.set_password(out.session, GOOD_PASSWORD, GOOD_PASSWORD)
    assert isinstance(out, Ok) and out.session is not None
    session = out.session
    qid = next(iter(service.settings.questions)).id
    out = service.set_secret_answer(session, qid, ANSWER, ANSWER)
    assert isinstance(out, Ok) and out.step is Step.PROFILE
    return member, session


def test_review_confirm_link_alone_does_not_open_a_session() -> None:
    service, _storage, mailer, _clock = _build()
    member = service.staff.provision("100234567", "Marie Dupont")
    out = service.login("100234567", member.initial_password)
    assert isinstance(out, Ok) and out.session is not None
    # The member mistypes her address: a stranger owns "marie@exemple.com".
    assert isinstance(service.submit_email(out.session, "marie@exemple.com",
                                           "marie@exemple.com"), Ok)
    stranger = service.confirm_link(_links(mailer, "/premiere-connexion/valider")[-1])
    # The address is verified, but the stranger, who never had the initial password,
    # must not hold a session that can set the account's password: they are sent to log in.
    assert isinstance(stranger, Ok) and stranger.step is Step.LOGIN
    assert stranger.session is None
    # The member, with the initial password, goes on at the password step.
    again = service.login("100234567", member.initial_password)
    assert isinstance(again, Ok) and again.step is Step.PASSWORD


def test_review_email_change_notice_to_old_address_offers_not_me() -> None:
    service, _storage, mailer, clock = _build()
    _member, _victim_session = _onboard(service, mailer)
    # The attacker has phished the password.
    out = service.login("100234567", GOOD_PASSWORD)
    assert isinstance(out, Ok) and out.session is not None
    out = service.change_password(out.session, GOOD_PASSWORD, ATTACKER_PASSWORD,
                                  ATTACKER_PASSWORD)
    assert isinstance(out, Ok) and out.session is not None
    attacker = out.session
    first_not_me = _links(mailer, "/securite/ce-n-etait-pas-moi", to="marie@example.com")[-1]
    clock.advance(minutes=2)
    assert isinstance(service.request_email_change(attacker, ATTACKER_PASSWORD,
                                                   "evil@attacker.example",
                                                   "evil@attacker.example"), Ok)
    token = _links(mailer, "/profil/email/valider", to="evil@attacker.example")[-1]
    assert isinstance(service.confirm_email_change(token), Ok)
    out = service.change_password(attacker, ATTACKER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert isinstance(out, Ok)
    # Every further notice goes to the attacker; the victim's first link is dead ...
    assert not service.open_link(first_not_me, LinkPurpose.NOT_ME).valid
    # ... so the notice the old address got about the change must carry a live action.
    to_old = _links(mailer, "/securite/ce-n-etait-pas-moi", to="marie@example.com")
    assert any(service.open_link(t, LinkPurpose.NOT_ME).valid for t in to_old)
