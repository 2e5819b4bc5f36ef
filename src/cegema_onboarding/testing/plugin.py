"""pytest fixtures for hosts that test their use of the library.

Enable it in the host's top ``conftest.py``::

    pytest_plugins = ["cegema_onboarding.testing.plugin"]

It is not registered through a ``pytest11`` entry point: the library is a run-time
dependency, installed wherever the host runs, and an entry point would add its fixtures to
every pytest session of every project that has it installed, wanted or not (Celery dropped
its auto-loaded plugin for that reason). Every fixture's name starts with ``onboarding_``
so that it never replaces a host fixture of its own.

- ``onboarding_clock``: a :class:`~cegema_onboarding.testing.ManualClock`;
- ``onboarding_settings``: :func:`~cegema_onboarding.testing.fast_settings` (throw-away
  keys, fast Argon2); override the fixture to change them;
- ``onboarding_storage``, ``onboarding_mailer``, ``onboarding_notifier``,
  ``onboarding_rate_limiter``: fresh in-memory fakes;
- ``onboarding_service``: an ``OnboardingService`` on all of the above.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ..config import Settings
    from ..ports import Storage
    from ..service import OnboardingService
    from . import ManualClock, MemoryMailer, MemoryNotifier, MemoryRateLimiter

# The library is imported inside the fixtures: loading the plugin costs nothing to a
# session that uses none of them.


@pytest.fixture
def onboarding_clock() -> ManualClock:
    """A clock that moves only when told: ``onboarding_clock.advance(hours=24)``."""
    from . import ManualClock
    from .records import T0

    return ManualClock(T0)


@pytest.fixture
def onboarding_settings() -> Settings:
    """Settings with throw-away keys and fast, weak password hashing: for tests only."""
    from .support import fast_settings

    return fast_settings()


@pytest.fixture
def onboarding_storage() -> Storage:
    """A fresh, empty in-memory storage."""
    from . import MemoryStorage

    return MemoryStorage()


@pytest.fixture
def onboarding_mailer() -> MemoryMailer:
    """A mailer that keeps what it is given in ``sent`` (set ``fail`` to make it refuse)."""
    from . import MemoryMailer

    return MemoryMailer()


@pytest.fixture
def onboarding_notifier() -> MemoryNotifier:
    """A post/SMS/phone notifier that keeps its notices in ``sent``."""
    from . import MemoryNotifier

    return MemoryNotifier()


@pytest.fixture
def onboarding_rate_limiter() -> MemoryRateLimiter:
    """A fresh in-memory rate limiter."""
    from . import MemoryRateLimiter

    return MemoryRateLimiter()


@pytest.fixture
def onboarding_service(onboarding_storage: Storage, onboarding_mailer: MemoryMailer,
                       onboarding_notifier: MemoryNotifier, onboarding_clock: ManualClock,
                       onboarding_rate_limiter: MemoryRateLimiter,
                       onboarding_settings: Settings) -> OnboardingService:
    """The service on the fixtures above, delivering mail at once."""
    from ..service import OnboardingService

    return OnboardingService(onboarding_storage, onboarding_mailer,
                             settings=onboarding_settings, clock=onboarding_clock,
                             notifier=onboarding_notifier,
                             rate_limiter=onboarding_rate_limiter)
