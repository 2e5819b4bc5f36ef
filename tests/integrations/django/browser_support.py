"""Django's side of the browser walks: a module-scoped Chromium, and the app served by
Django's live server thread on a free port (sharing the in-memory test database)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core import mail
from django.db import connections
from django.test import override_settings
from django.test.testcases import LiveServerThread, _StaticFilesHandler

from cegema_onboarding.integrations.django.conf import get_service
from cegema_onboarding.service import OnboardingService

from ..flask.browser_support import launch_chromium
from .conftest import onboarding_config


def django_chromium() -> Iterator[Any]:
    """The browser of a module's walks."""
    # Playwright's sync API keeps an event loop running in this thread, which Django takes
    # for an async context: its database calls from the test itself would be refused.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield from launch_chromium()


@contextmanager
def live_app(**config: Any) -> Iterator[tuple[str, OnboardingService]]:
    """The app on a live server thread, its address and service, with plain-http cookies;
    ``config`` adds to the tests' ``CEGEMA_ONBOARDING``. Needs a transactional database."""
    shared = {c.alias: c for c in connections.all() if c.vendor == "sqlite" and c.is_in_memory_db()}
    # The test project serves no static files: give the live server's handlers the URLs
    # they expect, on paths no screen uses.
    with override_settings(STATIC_URL="/static/", MEDIA_URL="/media/", ALLOWED_HOSTS=["127.0.0.1"]):
        thread = LiveServerThread("127.0.0.1", _StaticFilesHandler, shared)
        for connection in shared.values():
            connection.inc_thread_sharing()
        thread.daemon = True
        thread.start()
        thread.is_ready.wait()
        if thread.error:
            raise thread.error
        base = f"http://127.0.0.1:{thread.port}"
        settings = onboarding_config(COOKIE_SECURE=False, BASE_URL=base, **config)
        try:
            with override_settings(CEGEMA_ONBOARDING=settings):
                mail.outbox = []
                yield base, get_service()
        finally:
            thread.terminate()
            for connection in shared.values():
                connection.dec_thread_sharing()
