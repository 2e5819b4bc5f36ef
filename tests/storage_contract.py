"""The storage contract now ships in the wheel (cegema_onboarding.testing); kept importable
from here for the project's tests."""

from cegema_onboarding.testing import StorageContract
from cegema_onboarding.testing.records import T0, account, insert, message, record

__all__ = ["T0", "StorageContract", "account", "insert", "message", "record"]
