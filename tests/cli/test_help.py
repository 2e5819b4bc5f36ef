"""The command line's help reads as plain text, and every option says what it does."""

from __future__ import annotations

import argparse
import re

import pytest

from cegema_onboarding import cli


def _parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    """Every parser of ``cegema-onboarding``, with its command path."""
    built: list[argparse.ArgumentParser] = []
    original = argparse.ArgumentParser.parse_args

    def capture(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> object:
        built.append(self)
        raise SystemExit(0)

    argparse.ArgumentParser.parse_args = capture  # type: ignore[method-assign,assignment]
    try:
        with pytest.raises(SystemExit):
            cli.main(["demo"])
    finally:
        argparse.ArgumentParser.parse_args = original  # type: ignore[method-assign]
    found: list[tuple[str, argparse.ArgumentParser]] = []
    todo = [("cegema-onboarding", built[0])]
    while todo:
        name, parser = todo.pop()
        found.append((name, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend((f"{name} {sub}", p) for sub, p in action.choices.items())
    return found


PARSERS = _parsers()


def test_every_command_is_found() -> None:
    names = {name for name, _ in PARSERS}
    for command in ("demo", "portal", "relay", "outbox", "outbox list", "outbox retry",
                    "provision"):
        assert f"cegema-onboarding {command}" in names


@pytest.mark.parametrize(("name", "parser"), PARSERS, ids=[name for name, _ in PARSERS])
def test_help_is_plain_text(name: str, parser: argparse.ArgumentParser) -> None:
    text = parser.format_help()
    assert "``" not in text, name
    assert not re.search(r":(?:func|class|meth|mod):`", text), name


@pytest.mark.parametrize(("name", "parser"), PARSERS, ids=[name for name, _ in PARSERS])
def test_every_option_has_a_help_line(name: str, parser: argparse.ArgumentParser) -> None:
    missing = [
        action.dest for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction | argparse._HelpAction)
        and not (action.help or "").strip()
    ]
    assert missing == [], f"{name}: options without help: {missing}"


def test_the_portal_offers_a_fresh_start() -> None:
    portal = dict(PARSERS)["cegema-onboarding portal"]
    assert "--fresh" in portal.format_help()
