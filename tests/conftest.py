"""Shared fixtures: fast hash parameters, a manual clock, and in-memory ports."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import settings as hsettings

from cegema_onboarding.adapters.mailbox import text_part
from cegema_onboarding.adapters.memory import (
    ManualClock,
    MemoryMailer,
    MemoryNotifier,
    MemoryStorage,
)
from cegema_onboarding.config import Settings
from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.hashing import FAST_TEST_PARAMS
from cegema_onboarding.model import Session
from cegema_onboarding.service import Ok, OnboardingService

hsettings.register_profile("ci", deadline=None, print_blob=True)
hsettings.load_profile("ci")

# The throw-away PostgreSQL server (fixtures pg_server_url and pg_url), and the shipped
# plugin's onboarding_* fixtures, used as a host would.
pytest_plugins = ["tests.pg", "cegema_onboarding.testing.plugin"]

SECRET = "test-secret-key-0123456789-abcdefghijklmnop"
PEPPER = "test-pepper-key-0123456789-abcdefghijklmnop"
START = datetime(2026, 3, 2, 9, 39, tzinfo=UTC)
GOOD_PASSWORD = "Le chat de ma voisine 1987"


def make_settings(**overrides: object) -> Settings:
    """Test settings: fast Argon2 parameters, fixed keys, a configured base URL."""
    values: dict[str, object] = {
        "secret_keys": (SECRET,),
        "pepper_keys": (("t1", PEPPER),),
        "base_url": "https://portail.example",
        "argon2": FAST_TEST_PARAMS,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture
def mailer() -> MemoryMailer:
    return MemoryMailer()


@pytest.fixture
def notifier() -> MemoryNotifier:
    return MemoryNotifier()


@pytest.fixture
def service(storage: MemoryStorage, mailer: MemoryMailer, notifier: MemoryNotifier,
            clock: ManualClock, settings: Settings) -> Iterator[OnboardingService]:
    yield OnboardingService(storage, mailer, settings=settings, clock=clock, notifier=notifier)


def link_token(mailer: MemoryMailer, index: int = -1) -> str:
    """The token of the link in a sent mail."""
    match = re.search(r"token=([A-Za-z0-9_.\-]+)", text_part(mailer.sent[index]))
    assert match is not None, "no link in the mail"
    return match.group(1)


def mail_code(mailer: MemoryMailer, index: int = -1) -> str:
    """The short code printed in a validation mail."""
    body = text_part(mailer.sent[index])
    # The link's token may hold eight capitals between two dashes: search without it.
    body = re.sub(r"token=[A-Za-z0-9_.\-]+", "token=", body)
    match = re.search(r"\b([0-9A-HJKMNP-TV-Z]{4}-?[0-9A-HJKMNP-TV-Z]{4})\b", body)
    assert match is not None, "no code in the mail"
    return match.group(1)


def ok(result: object) -> Ok:
    """The result as an Ok, or the test fails showing what came instead."""
    assert isinstance(result, Ok), result
    return result


def session_of(result: object) -> Session:
    """The session an Ok result grants."""
    session = ok(result).session
    assert session is not None
    return session


def refused(result: object, reason: Reason) -> Refused:
    """The result as a refusal for ``reason``."""
    assert isinstance(result, Refused), result
    assert result.reason is reason, result.reason
    return result


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that takes Chromium is a browser test, marked or not.

    The lowest-versions run leaves out ``-m browser`` (no playwright there): a browser test
    that forgot its marker broke that run once. Marking by the fixture, before pytest
    selects by marker, makes the mistake impossible.
    """
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
