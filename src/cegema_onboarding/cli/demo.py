"""``cegema-onboarding demo``: the first-connection journey walked in the terminal.

Every sentence comes from the gettext catalogues (``demo.*`` for the narration,
``screen.*.name`` for the screens), in French by default or in English with ``--lang en``.
Mails are held back while a step runs and printed right after its outcome, so each one
sits under the heading of the step that sent it.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from typing import Any, TextIO

from .. import texts
from ..adapters.mailbox import ConsoleMailer, text_part
from ..adapters.memory import ManualClock, MemoryNotifier, MemoryStorage
from ..bootstrap import build_service, throwaway_settings
from ..config import Settings
from ..model import Session, Step
from ..service import Ok, describe

BRAND = "CEGEMA"
MEMBER = "100234567"
IP = "172.17.0.14"


def add_subcommand(sub: Any) -> None:
    """Add ``demo`` to the ``cegema-onboarding`` command line."""
    parser = sub.add_parser("demo", help="walk the first-connection journey in the terminal")
    parser.add_argument("--lang", choices=texts.LANGS, default=texts.DEFAULT_LANG,
                        help="language of the walk-through and of the mails "
                             f"(default {texts.DEFAULT_LANG})")
    parser.set_defaults(handler=run_demo_command)


def run_demo_command(args: argparse.Namespace) -> int:
    """``cegema-onboarding demo``."""
    return run_demo(lang=args.lang)


def demo_settings() -> Settings:
    """Settings for a throw-away demo: fresh random keys, production hash parameters."""
    return throwaway_settings()


def screen_name(step: Step, lang: str | None = None) -> str:
    """The name of the screen ``step`` leads to, as a member would call it."""
    return texts.text(f"screen.{step.value}.name", lang)


def _link_token(body: str) -> str:
    match = re.search(r"token=([A-Za-z0-9_.\-]+)", body)
    if match is None:
        raise RuntimeError("the validation mail carries no link")
    return match.group(1)


class _Narrator:
    """Prints the walk-through in one language, each mail under the step that sent it."""

    def __init__(self, out: TextIO, lang: str) -> None:
        self.out = out
        self.lang = lang
        # Mails wait here until the outcome of the action that sent them is printed.
        self._held = io.StringIO()
        self.mailer = ConsoleMailer(self._held)

    def say(self, key: str, *, indent: str = "", **params: object) -> None:
        print(indent + texts.text(key, self.lang, brand=BRAND, **params), file=self.out)

    def heading(self, title: str, number: int | None = None) -> None:
        if number is not None:
            title = texts.text("demo.step", self.lang, number=number, title=title)
        print(f"\n=== {title}", file=self.out)

    def show(self, result: object) -> None:
        if isinstance(result, Ok):
            self.say("demo.next_screen", screen=screen_name(result.step, self.lang))
            if result.notice:
                self.say("demo.notice", indent="  ",
                         notice=texts.text(result.notice, self.lang, brand=BRAND))
        else:
            self.say("demo.refused", reason=describe(result, self.lang))  # type: ignore[arg-type]
        self.mails()

    def mails(self) -> None:
        """Print the mails sent since the last call."""
        self.out.write(self._held.getvalue())
        self._held.seek(0)
        self._held.truncate()

    def last_token(self) -> str:
        return _link_token(text_part(self.mailer.sent[-1]))


def run_demo(out: TextIO | None = None, lang: str = texts.DEFAULT_LANG) -> int:
    """Walk the guide's steps 1 to 8 against the in-memory adapters, printing each screen."""
    lang = texts.resolve_lang(lang)
    say = _Narrator(out or sys.stdout, lang)
    clock = ManualClock()
    service = build_service(demo_settings(), MemoryStorage(), say.mailer, clock=clock,
                            notifier=MemoryNotifier())

    member = service.staff.provision(MEMBER, "Marie Dupont", lang=lang)
    say.say("demo.created")
    say.say("demo.member_number", indent="  ", number=member.member_number)
    say.say("demo.initial_password", indent="  ", password=member.initial_password)

    say.heading(texts.text("screen.login.title", lang), 1)
    say.say("demo.case_ignored")
    result = service.login(f" {MEMBER} ", member.initial_password.lower(), ip=IP)
    say.show(result)
    assert isinstance(result, Ok) and result.session is not None
    session: Session = result.session

    say.heading(f"{texts.text('screen.email.title', lang)} – "
                f"{texts.text('screen.email.subtitle', lang)}", 2)
    say.say("demo.emails_differ")
    say.show(service.submit_email(session, "marie.dupont@example.com",
                                  "marie.dupond@example.com"))

    say.heading(texts.text("demo.link_sent", lang), 3)
    say.say("demo.emails_match")
    say.show(service.submit_email(session, "marie.dupont@example.com",
                                  "Marie.Dupont@example.com", ip=IP))

    say.heading(texts.text("demo.interruption", lang), 4)
    clock.advance(hours=3)
    result = service.login(MEMBER, member.initial_password, ip=IP)
    say.show(result)
    assert isinstance(result, Ok) and result.session is not None
    session = result.session

    say.heading(texts.text("mail.validation.subject", lang, brand=BRAND), 5)
    token = say.last_token()
    check = service.open_link(token)
    say.say("demo.link_opened",
            valid=texts.text("label.yes" if check.valid else "label.no", lang))
    result = service.confirm_link(token, ip=IP, session=session)
    say.show(result)
    say.say("demo.link_again")
    say.show(service.confirm_link(token, ip=IP))
    assert isinstance(result, Ok) and result.session is not None
    session = result.session

    password_step = 6
    say.heading(texts.text("label.new_password", lang), password_step)
    say.say("demo.common_password")
    say.show(service.set_password(session, "qwerty123456", "qwerty123456"))
    clock.advance(minutes=2)
    chosen = "Le chat de ma voisine 1987"
    result = service.set_password(session, chosen, chosen, ip=IP)
    say.show(result)
    assert isinstance(result, Ok) and result.session is not None
    session = result.session

    say.heading(texts.text("screen.question.title", lang), 7)
    question = next(iter(service.settings.questions))
    say.say("demo.question_chosen", question=question.label(lang))
    say.show(service.set_secret_answer(session, question.id, "Martin", "Martin"))

    # The guide shows this mail as its step 8, but the service sends it when the password
    # is saved: it is printed there, and named here rather than printed twice.
    say.heading(texts.text("mail.password_changed.subject", lang, brand=BRAND), 8)
    say.say("demo.mail_of_step", step=password_step)

    say.heading(texts.text("screen.connected.title", lang))
    say.say("demo.initial_dead")
    clock.advance(minutes=1)
    say.show(service.login(MEMBER, member.initial_password))
    say.show(service.login(MEMBER, chosen))

    say.heading(texts.text("button.forgotten_password", lang))
    clock.advance(days=2)
    say.show(service.forgot_password(MEMBER, ip=IP))
    # The reset mail leaves with the outbox's next delivery, not within the request.
    service.deliver_due()
    say.mails()
    reset = say.last_token()
    say.say("demo.reset_answer")
    fresh = "Trois tortues sur un toit 2026"
    say.show(service.complete_reset(reset, fresh, fresh, answer="martin", ip=IP))
    say.say("demo.link_once")
    say.show(service.complete_reset(reset, fresh, fresh, answer="martin"))
    say.show(service.login(MEMBER, chosen))
    say.show(service.login(MEMBER, fresh))
    print(file=say.out)
    say.say("demo.mails_sent", count=len(say.mailer.sent))
    return 0
