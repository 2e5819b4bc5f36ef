"""``cegema-onboarding demo``: screens named in the reader's language, and each mail printed
under the heading of the step that sent it."""

from __future__ import annotations

import io
import re

import pytest

from cegema_onboarding import cli
from cegema_onboarding.cli import run_demo
from cegema_onboarding.cli.demo import screen_name
from cegema_onboarding.model import Step

RULE = "-" * 72


def _demo(lang: str = "fr") -> str:
    out = io.StringIO()
    assert run_demo(out, lang=lang) == 0
    return out.getvalue()


def _sections(text: str) -> list[tuple[str, str]]:
    """(heading, what follows it) for each ``=== heading``, in order."""
    parts = text.split("\n=== ")
    return [(part.split("\n", 1)[0], part.split("\n", 1)[1]) for part in parts[1:]]


def _mails(body: str) -> list[str]:
    """The mails printed in ``body``: what lies between a pair of rules."""
    chunks = body.split(RULE + "\n")
    return chunks[1::2]


def _narration(text: str) -> list[str]:
    """The lines of ``text`` outside the mails."""
    chunks = text.split(RULE + "\n")
    return [line for chunk in chunks[::2] for line in chunk.splitlines()]


def _subjects(body: str) -> list[str]:
    return [re.search(r"^Subject: (.*)$", mail, re.M).group(1)  # type: ignore[union-attr]
            for mail in _mails(body)]


def test_each_mail_is_printed_under_the_step_that_sent_it() -> None:
    sections = _sections(_demo())
    where = {heading: _subjects(body) for heading, body in sections}
    assert where["Étape 3 — Le lien de validation est envoyé"] == [
        "CEGEMA : Vérification de l'adresse mail"]
    assert where["Étape 6 — Choisissez votre nouveau mot de passe"] == [
        "CEGEMA : Votre mot de passe a été changé"]
    assert where["Mot de passe oublié ?"] == [
        "CEGEMA : Réinitialisation de votre mot de passe",
        "CEGEMA : Votre mot de passe a été changé"]
    # No other step prints a mail, and none is printed before the first heading.
    assert sum(map(len, where.values())) == 4
    assert RULE not in _demo().split("\n=== ")[0]


def test_a_mail_follows_the_outcome_of_the_action_that_sent_it() -> None:
    body = dict(_sections(_demo()))["Étape 3 — Le lien de validation est envoyé"]
    outcome = body.index("→ écran suivant : Connectez-vous à votre boîte mail")
    assert outcome < body.index(RULE)


def test_step_8_names_the_step_where_its_mail_is_printed() -> None:
    text = _demo()
    sections = dict(_sections(text))
    step_8 = sections["Étape 8 — CEGEMA : Votre mot de passe a été changé"]
    assert _mails(step_8) == []
    assert "l'étape 6" in step_8
    assert "ci-dessus" not in step_8


def test_every_mail_said_to_be_above_is_just_above() -> None:
    text = _demo()
    lines = text.splitlines()
    narration = set(_narration(text))
    for index, line in enumerate(lines):
        if "ci-dessus" in line and line in narration:
            before = [previous for previous in lines[:index] if previous.strip()]
            assert before[-1] == RULE, line


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_screens_are_named_never_by_their_identifier(lang: str) -> None:
    text = _demo(lang)
    named = re.findall(r"^→ (?:écran suivant :|next screen:) (.*)$", text, re.M)
    names = {screen_name(step, lang) for step in Step}
    assert len(names) == len(Step)
    assert set(named) <= names
    assert len(set(named)) >= 5
    identifiers = {step.value for step in Step}
    for line in _narration(text):
        words = set(re.findall(r"[a-z_]+", line))
        assert not words & identifiers - {"profile", "password", "email", "question",
                                          "login"}, line
        assert not re.search(rf"[:→] ({'|'.join(identifiers)})$", line), line


def test_the_english_demo_is_english_throughout() -> None:
    text = _demo("en")
    assert "Step 1 — LOG IN TO YOUR ACCOUNT" in text
    assert "→ next screen: Check your mailbox" in text
    assert "Subject: CEGEMA: Verify your email address" in text
    narration = "\n".join(_narration(text))
    for french in ("Étape", "écran", "refusé", "adhérent", "Courriels", "«"):
        assert french not in narration
    assert text.rstrip().endswith("Mails sent: 4")


def test_the_command_takes_the_language(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "--lang", "en"]) == 0
    assert "→ next screen: First connection: your email address" in capsys.readouterr().out
    assert cli.main(["demo"]) == 0
    assert "→ écran suivant : Première connexion : votre adresse mail" in \
        capsys.readouterr().out
