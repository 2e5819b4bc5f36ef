"""Helpers for the browser walk-throughs: a live demo portal and a headless Chromium.

The portal runs in a background thread on 127.0.0.1 with a free port, built from the demo
app (:func:`cegema_onboarding.integrations.flask.demo.create_app`) with fast hash
parameters, a :class:`ManualClock` the tests can move, and a mailbox folder under a
temporary path.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from cegema_onboarding.adapters.mailbox import FileMailbox, text_part
from cegema_onboarding.adapters.memory import ManualClock, MemoryNotifier, MemoryStorage
from cegema_onboarding.service import Ok, OnboardingService, Provisioned

from ...a11y import Artefacts
from ...conftest import GOOD_PASSWORD, START, make_settings

CHROMIUM = os.environ.get("CEGEMA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STAFF_PASSWORD = "staff-demo-password-123"
SESSION_KEY = "browser-tests-session-key-0123456789abcdef"


@attrs.define
class Portal:
    """A running demo portal and its handles."""

    url: str
    service: OnboardingService
    mailbox: FileMailbox
    clock: ManualClock
    shutdown: Callable[[], None]

    def provision(self, number: str, name: str = "Marie Dupont") -> Provisioned:
        """A new member, as staff would create one."""
        return self.service.staff.provision(number, name, phone="+33 4 93 00 00 00")

    def activate(self, number: str, address: str, name: str = "Marie Dupont",
                 answer: str = "Rex le chien") -> Provisioned:
        """A member who went through the whole journey (through the service, fast)."""
        member = self.provision(number, name)
        service = self.service
        result = service.login(number, member.initial_password)
        assert isinstance(result, Ok) and result.session is not None
        session = result.session
        result = service.submit_email(session, address, address)
        assert isinstance(result, Ok)
        token = self.last_token()
        result = service.confirm_link(token, session=session)
        assert isinstance(result, Ok) and result.session is not None
        result = service.set_password(result.session, GOOD_PASSWORD, GOOD_PASSWORD)
        assert isinstance(result, Ok) and result.session is not None
        question = next(iter(service.settings.questions)).id
        result = service.set_secret_answer(result.session, question, answer, answer)
        assert isinstance(result, Ok), result
        return member

    def last_token(self) -> str:
        """The token of the link in the newest mail."""
        _, message = self.mailbox.messages()[-1]
        match = re.search(r"token=([A-Za-z0-9_.\-]+)", text_part(message))
        assert match is not None, "no link in the newest mail"
        return match.group(1)


def serve_portal(tmp: Path, **settings: Any) -> Portal:
    """Start the demo portal on a free port; call ``shutdown()`` when done."""
    from werkzeug.serving import make_server

    from cegema_onboarding.integrations.flask.demo import create_app

    holder: dict[str, Any] = {}

    def app(environ: Any, start_response: Any) -> Any:
        return holder["app"](environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    clock = ManualClock(START)
    mailbox = FileMailbox(tmp / "mailbox")
    service = OnboardingService(MemoryStorage(), mailbox,
                                settings=make_settings(base_url=url, **settings),
                                clock=clock, notifier=MemoryNotifier())
    holder["app"] = create_app(service, mailbox, secret_key=SESSION_KEY,
                               staff_password=STAFF_PASSWORD, testing=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def shutdown() -> None:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()

    return Portal(url, service, mailbox, clock, shutdown)


def serve_demo(data_dir: Path) -> tuple[Portal, dict[str, str | None]]:
    """The demo exactly as ``make demo`` builds it (SQLite, production hashes), on a free
    port, with its provisioned members' initial passwords."""
    from werkzeug.serving import make_server

    from cegema_onboarding.integrations.flask.demo import (
        build_demo,
        create_app,
        provision_demo_members,
    )

    holder: dict[str, Any] = {}

    def app(environ: Any, start_response: Any) -> Any:
        return holder["app"](environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    clock = ManualClock(START)
    service, mailbox, keys, _ = build_demo(data_dir, server.server_port, clock=clock)
    members = provision_demo_members(service, data_dir)
    holder["app"] = create_app(service, mailbox, secret_key=keys["session_key"],
                               staff_password=keys["staff_password"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def shutdown() -> None:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()

    portal = Portal(f"http://127.0.0.1:{server.server_port}", service, mailbox, clock, shutdown)
    return portal, members


def launch_chromium() -> Iterator[Any]:
    """A headless Debian Chromium driven by Playwright; skip (or fail in CI) without one."""
    in_ci = bool(os.environ.get("CI"))
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        if in_ci:
            pytest.fail("playwright is not installed")
        pytest.skip("playwright is not installed")
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        if in_ci:
            pytest.fail(f"no Chromium at {CHROMIUM}: run scripts/ensure-chromium")
        pytest.skip("Chromium is not installed (scripts/ensure-chromium installs it)")
    executable = CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                                 args=CHROMIUM_FLAGS)
        except PlaywrightError as exc:
            if in_ci:
                pytest.fail(f"Chromium did not start: {exc}")
            pytest.skip(f"Chromium did not start: {exc}")
        try:
            yield browser
        finally:
            browser.close()


class Shots(Artefacts):
    """Numbered full-page screenshots of one test, under
    ``$CEGEMA_TEST_ARTEFACTS/screenshots/<test>/``; none when the variable is unset."""

    def __init__(self, test_name: str) -> None:
        super().__init__(test_name, group="screenshots")
