"""The no-email path in the demo portal, end to end: declared, activated by staff, told.

Before: the demo handed post, SMS and phone notices to an in-memory notifier nobody could
read, the staff page showed neither the channel nor the postal address, staff read only
"Vos informations ont été enregistrées." after activating, and the waiting page did not say
how the member would be told.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flask")

from cegema_onboarding import texts
from cegema_onboarding.adapters.mailbox import FileMailbox
from cegema_onboarding.adapters.memory import ManualClock, MemoryStorage
from cegema_onboarding.adapters.notices import FileNotifier
from cegema_onboarding.model import Channel, Stage
from cegema_onboarding.service import OnboardingService

from ...conftest import START, make_settings
from .test_views import SESSION_KEY, fr, log_in, post, raw_of, text_of

ENVELOPE = "Jean Martin\n12 rue des Lilas\n06270 Villeneuve-Loubet\n"


@pytest.fixture
def demo(tmp_path: Path) -> tuple[Any, OnboardingService, dict[str, str | None], str]:
    """The demo exactly as ``make demo`` builds it, with its provisioned members."""
    from cegema_onboarding.integrations.flask.demo import (
        build_demo,
        create_app,
        provision_demo_members,
    )

    settings = make_settings(base_url="http://127.0.0.1:8000")
    service, mailbox, keys, _ = build_demo(tmp_path, 8000, settings=settings,
                                           clock=ManualClock(START))
    members = provision_demo_members(service, tmp_path)
    app = create_app(service, mailbox, secret_key=keys["session_key"],
                     staff_password=keys["staff_password"], testing=True)
    return app, service, members, keys["staff_password"]


def _tabs(page: str) -> list[tuple[str, bool]]:
    """The mailbox tabs as (label, is the current one)."""
    return [(label, bool(current)) for current, label in
            re.findall(r'<li><a href="/mailbox[^"]*"( aria-current="page")?>([^<]+)</a></li>',
                       page)]


def test_a_member_without_email_is_activated_by_staff_and_gets_the_letter(demo: Any) -> None:
    from cegema_onboarding.integrations.flask.demo import DEMO_NO_EMAIL_MEMBER

    app, service, members, staff_password = demo
    member = app.test_client()
    log_in(None, member, DEMO_NO_EMAIL_MEMBER, members[DEMO_NO_EMAIL_MEMBER])  # type: ignore[arg-type]
    r = post(member, "/premiere-connexion/sans-email", {}, follow_redirects=True)
    # The waiting page says how the member will be told, after the guide's promise.
    waiting = text_of(r)
    assert fr("screen.awaiting_activation.title") in waiting
    assert fr("screen.awaiting_activation.channel.post") in waiting

    staff = app.test_client()
    post(staff, "/staff", {"password": staff_password})
    queue = text_of(staff.get("/staff"))
    row = queue[queue.index(DEMO_NO_EMAIL_MEMBER):]
    assert "Jean Martin" in row and ">Courrier<" in row
    assert "12 rue des Lilas\n06270 Villeneuve-Loubet" in row
    assert "02/03/2026 10:39 (CET)" in row  # in the portal's time zone, as mails write it
    [request] = service.staff.activation_requests()

    r = post(staff, f"/staff/activate/{request.account_id}", {}, token_from="/staff",
             follow_redirects=True)
    done = text_of(r)
    assert ("Compte activé ; le membre sera informé par courrier à 12 rue des Lilas, "
            "06270 Villeneuve-Loubet.") in done
    assert fr("ui.saved") not in done
    assert service.storage.get(request.account_id).stage is Stage.PASSWORD_REQUIRED  # type: ignore[union-attr]

    letters = staff.get("/mailbox/courrier")
    page = text_of(letters)
    assert _tabs(raw_of(letters)) == [("Courriels", False), ("Courrier", True), ("SMS", False)]
    activated = texts.text("offline.activated", "fr", name="Jean Martin", brand="CEGEMA",
                           detail="")
    assert f"{ENVELOPE}\n{activated}" in page
    # Nothing went by SMS, and no mail: the member has neither phone nor address.
    assert fr("ui.demo.mailbox.sms.none") in text_of(staff.get("/mailbox/sms"))
    assert "Jean Martin" not in text_of(staff.get("/mailbox"))


def test_the_mailbox_tabs_are_translated_through_the_catalogues(demo: Any) -> None:
    app = demo[0]
    client = app.test_client()
    assert _tabs(raw_of(client.get("/mailbox"))) == [
        ("Courriels", True), ("Courrier", False), ("SMS", False)]
    english = raw_of(client.get("/mailbox/sms?lang=en"))
    assert _tabs(english) == [("Emails", False), ("Post", False), ("SMS", True)]
    assert texts.text("ui.demo.mailbox.sms.none", "en") in english


def test_the_activation_message_needs_an_activated_account(demo: Any) -> None:
    from cegema_onboarding.integrations.flask.demo import DEMO_NO_EMAIL_MEMBER

    app, service, members, staff_password = demo
    member = app.test_client()
    log_in(None, member, DEMO_NO_EMAIL_MEMBER, members[DEMO_NO_EMAIL_MEMBER])  # type: ignore[arg-type]
    post(member, "/premiere-connexion/sans-email", {})
    [request] = service.staff.activation_requests()
    staff = app.test_client()
    post(staff, "/staff", {"password": staff_password})
    # The query alone activates nothing, and says nothing while the request waits.
    page = text_of(staff.get(f"/staff?activated={request.account_id}"))
    assert "Compte activé" not in page
    assert "Compte activé" not in text_of(staff.get(f"/staff?activated={'0' * 32}"))
    assert service.staff.activation_requests() == [request]
    # Not staff: not told either.
    assert "Compte activé" not in text_of(member.get(f"/staff?activated={request.account_id}"))


def test_sms_and_calls_have_their_tab_and_every_text_is_escaped(tmp_path: Path) -> None:
    from cegema_onboarding.integrations.flask.demo import create_app

    mailbox = FileMailbox(tmp_path)
    notifier = FileNotifier(tmp_path, clock=ManualClock(START))
    service = OnboardingService(MemoryStorage(), mailbox, settings=make_settings(),
                                clock=ManualClock(START), notifier=notifier)
    created = service.staff.provision("100234569", "Paul <b>Durand</b>",
                                      phone="+33 6 12 34 56 78",
                                      postal_address="1 place <i>X</i>\n75001 Paris")
    account = service.storage.get(created.account_id)
    assert account is not None
    notifier.notify(Channel.SMS, account, "activated", "Votre compte <script>est</script> actif")
    notifier.notify(Channel.PHONE, account, "activated", "Appeler pour dire : compte actif")
    app = create_app(service, mailbox, secret_key=SESSION_KEY, testing=True)
    client = app.test_client()
    sms = raw_of(client.get("/mailbox/sms"))
    assert "SMS au +33 6 12 34 56 78" in sms
    assert "Appel téléphonique au +33 6 12 34 56 78" in sms
    assert "<script>" not in sms and "&lt;script&gt;" in sms
    assert "Courrier" in sms and fr("ui.demo.mailbox.letters.none") in text_of(
        client.get("/mailbox/courrier"))


def test_the_staff_pages_keep_the_language_chosen_before_the_login(demo: Any) -> None:
    app, _, _, staff_password = demo
    staff = app.test_client()
    login = text_of(staff.get("/staff?lang=en"))
    assert texts.text("ui.demo.staff.title", "en") in login
    assert 'lang="en"' in login
    # The login form posts to /staff without ?lang=: the choice must outlive the query.
    r = post(staff, "/staff", {"password": staff_password}, follow_redirects=True)
    page = text_of(r)
    assert texts.text("ui.demo.staff.queue", "en") in page
    assert texts.text("ui.demo.staff.queue", "fr") not in page
    # The demo's other pages follow the same choice.
    assert _tabs(raw_of(staff.get("/mailbox")))[0] == ("Emails", True)
    # One cookie per choice, though both the blueprint's hooks and the demo's see a member
    # page.
    r = staff.get("/connexion?lang=fr")
    assert len([h for h in r.headers.getlist("Set-Cookie") if h.startswith("cegema_lang")]) == 1
