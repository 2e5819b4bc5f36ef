"""``cegema-onboarding demo``: the first-connection journey walked in the terminal."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import timedelta
from typing import Any, TextIO

from .. import texts
from ..adapters.mailbox import ConsoleMailer, text_part
from ..adapters.memory import ManualClock, MemoryNotifier, MemoryStorage
from ..bootstrap import build_service, throwaway_settings
from ..config import Settings
from ..model import Session
from ..service import Ok, describe


def add_subcommand(sub: Any) -> None:
    """Add ``demo`` to the ``cegema-onboarding`` command line."""
    parser = sub.add_parser("demo", help="walk the first-connection journey in the terminal")
    parser.set_defaults(handler=run_demo_command)


def run_demo_command(args: argparse.Namespace) -> int:
    """``cegema-onboarding demo``."""
    return run_demo()


def demo_settings() -> Settings:
    """Settings for a throw-away demo: fresh random keys, production hash parameters."""
    return throwaway_settings()


def _link_token(body: str) -> str:
    match = re.search(r"token=([A-Za-z0-9_.\-]+)", body)
    if match is None:
        raise RuntimeError("the validation mail carries no link")
    return match.group(1)


def run_demo(out: TextIO | None = None) -> int:
    """Walk the guide's steps 1 to 8 against the in-memory adapters, printing each screen."""
    out = out or sys.stdout
    mailer = ConsoleMailer(out)
    clock = ManualClock()
    service = build_service(demo_settings(), MemoryStorage(), mailer, clock=clock,
                            notifier=MemoryNotifier())

    def screen(number: int, title: str) -> None:
        print(f"\n=== Étape {number} — {title}", file=out)

    def show(result: object) -> None:
        if isinstance(result, Ok):
            line = f"→ écran suivant : {result.step.value}"
            if result.notice:
                line += f"\n  « {texts.text(result.notice, brand='CEGEMA')} »"
            print(line, file=out)
        else:
            print(f"→ refusé : {describe(result)}", file=out)  # type: ignore[arg-type]

    member = service.staff.provision("100234567", "Marie Dupont")
    print("Un adhérent vient d'être créé (ses identifiants figurent sur ses Conditions "
          "Particulières) :", file=out)
    print(f"  numéro d'adhérent : {member.member_number}", file=out)
    print(f"  mot de passe initial : {member.initial_password}", file=out)

    screen(1, texts.text("screen.login.title"))
    print("L'adhérent tape son mot de passe en minuscules : la casse ne compte pas.", file=out)
    result = service.login(" 100234567 ", member.initial_password.lower(), ip="172.17.0.14")
    show(result)
    assert isinstance(result, Ok) and result.session is not None
    session: Session = result.session

    screen(2, f"{texts.text('screen.email.title')} – {texts.text('screen.email.subtitle')}")
    print("Deux adresses différentes :", file=out)
    show(service.submit_email(session, "marie.dupont@example.com", "marie.dupond@example.com"))
    print("Les deux adresses concordent :", file=out)
    result = service.submit_email(session, "marie.dupont@example.com",
                                  "Marie.Dupont@example.com", ip="172.17.0.14")

    screen(3, "Le lien de validation est envoyé")
    show(result)

    screen(4, "Interruption : l'adhérent revient plus tard et se reconnecte")
    clock.advance(hours=3)
    result = service.login("100234567", member.initial_password, ip="172.17.0.14")
    show(result)
    assert isinstance(result, Ok) and result.session is not None
    session = result.session

    screen(5, texts.text("mail.validation.subject", brand="CEGEMA"))
    token = _link_token(text_part(mailer.sent[-1]))
    check = service.open_link(token)
    print(f"Ouverture du lien (GET) : valide = {check.valid}; le lien n'est pas consommé.",
          file=out)
    result = service.confirm_link(token, ip="172.17.0.14", session=session)
    show(result)
    print("Le même lien cliqué une seconde fois :", file=out)
    show(service.confirm_link(token, ip="172.17.0.14"))
    assert isinstance(result, Ok) and result.session is not None
    session = result.session

    screen(6, texts.text("label.new_password"))
    print("Un mot de passe trop courant :", file=out)
    show(service.set_password(session, "qwerty123456", "qwerty123456"))
    clock.advance(minutes=2)
    chosen = "Le chat de ma voisine 1987"
    result = service.set_password(session, chosen, chosen, ip="172.17.0.14")
    show(result)
    assert isinstance(result, Ok) and result.session is not None
    session = result.session

    screen(7, texts.text("screen.question.title"))
    question = next(iter(service.settings.questions))
    print(f"Question choisie : {question.label('fr')}", file=out)
    show(service.set_secret_answer(session, question.id, "Martin", "Martin"))

    screen(8, texts.text("mail.password_changed.subject", brand="CEGEMA"))
    print("(le courriel ci-dessus, envoyé à l'enregistrement du mot de passe)", file=out)

    print(f"\n=== {texts.text('screen.connected.title')}", file=out)
    print("L'ancien mot de passe initial ne fonctionne plus :", file=out)
    clock.advance(minutes=1)
    show(service.login("100234567", member.initial_password))
    result = service.login("100234567", "Le chat de ma voisine 1987")
    show(result)

    print(f"\n=== {texts.text('button.forgotten_password')}", file=out)
    clock.advance(days=2)
    show(service.forgot_password("100234567", ip="172.17.0.14"))
    service.deliver_due()
    reset = _link_token(text_part(mailer.sent[-1]))
    print("Réponse à la question secrète et nouveau mot de passe :", file=out)
    fresh = "Trois tortues sur un toit 2026"
    show(service.complete_reset(reset, fresh, fresh, answer="martin", ip="172.17.0.14"))
    print("Le lien ne sert qu'une fois ; l'ancien mot de passe ne fonctionne plus :", file=out)
    show(service.complete_reset(reset, fresh, fresh, answer="martin"))
    show(service.login("100234567", "Le chat de ma voisine 1987"))
    show(service.login("100234567", fresh))
    print(f"\nCourriels envoyés : {len(mailer.sent)}", file=out)
    clock.advance(timedelta(0))
    return 0
