"""The testing kit: the contract suites, the in-memory fakes and a manual clock.

A host that writes its own adapter proves it with the library's own tests::

    import pytest
    from cegema_onboarding.testing import StorageContract

    class TestMyStorage(StorageContract):
        @pytest.fixture
        def storage(self):
            yield MyStorage(...)

- :class:`StorageContract` and :class:`RateLimiterContract`: every guarantee of the
  ``Storage`` and ``RateLimiter`` ports, as pytest classes to subclass;
- the fakes: :class:`MemoryStorage`, :class:`MemoryMailer`, :class:`MemoryNotifier`,
  :class:`MemoryRateLimiter`, :class:`ManualClock` (``advance(minutes=5)``) and
  :class:`CallbackRandom`;
- :func:`fast_settings`: settings with throw-away keys and fast Argon2, for tests only;
- the pytest plugin :mod:`cegema_onboarding.testing.plugin` (fixtures), enabled with
  ``pytest_plugins = ["cegema_onboarding.testing.plugin"]`` in a ``conftest.py``.

pytest is a test-time dependency: importing this package does not import it; the contract
classes import it when first asked for. ``import cegema_onboarding`` never imports this
package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..adapters.memory import (
    CallbackRandom,
    ManualClock,
    MemoryMailer,
    MemoryNotifier,
    MemoryStorage,
)
from ..ratelimit import MemoryRateLimiter
from .support import GOOD_PASSWORD, fast_settings, link_token

if TYPE_CHECKING:
    from .ratelimit_contract import RateLimiterContract
    from .storage_contract import StorageContract

__all__ = [
    "GOOD_PASSWORD",
    "CallbackRandom",
    "ManualClock",
    "MemoryMailer",
    "MemoryNotifier",
    "MemoryRateLimiter",
    "MemoryStorage",
    "RateLimiterContract",
    "StorageContract",
    "fast_settings",
    "link_token",
]

# The contract classes import pytest: loaded on first use, so that the fakes alone do not.
_LAZY = {
    "RateLimiterContract": "ratelimit_contract",
    "StorageContract": "storage_contract",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)
