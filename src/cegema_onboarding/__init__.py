"""cegema_onboarding: the first-connection journey of a member portal, as a pure state machine.

This root is what a host needs: the service, its settings and policies, its results, the
error tree and the port Protocols an adapter implements. Users of the pure core import
``cegema_onboarding.flow`` instead.

The names resolve lazily (PEP 562): ``import cegema_onboarding.flow`` runs this module
first, and the pure core must not pay for (nor load) the service, the mail renderer or the
storage adapters. ``tests/test_layers.py`` holds that line.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Crypto, LockoutPolicy, RecoveryPolicy, Settings
    from .errors import (
        BadToken,
        ConcurrentUpdate,
        ConfigurationError,
        DuplicateAccount,
        InvalidInput,
        MailError,
        OnboardingError,
        SmtpError,
        StorageError,
        UnknownAccount,
        UnknownMessage,
    )
    from .flow import TABLE as TABLE
    from .flow import Accepted as Accepted
    from .flow import Audit as Audit
    from .flow import Entropy as Entropy
    from .flow import Env as Env
    from .flow import Notice as Notice
    from .flow import Origin as Origin
    from .flow import Reason, Refused
    from .flow import SendNotice as SendNotice
    from .flow import next_step as next_step
    from .flow import step as step
    from .mail.settings import MailSettings
    from .model import (
        Account,
        Adviser,
        Channel,
        Link,
        LinkPurpose,
        LinkStatus,
        Session,
        Stage,
        Step,
        Throttle,
    )
    from .password_policy import PasswordPolicy
    from .ports import (
        AccountStore,
        AuditLog,
        AuditRecord,
        Changes,
        Clock,
        Mailer,
        Notifier,
        OutboxMessage,
        OutboxStatus,
        OutboxStore,
        Random,
        RateLimiter,
        Storage,
        ThrottleStore,
    )
    from .profile import ProfileWeights
    from .ratelimit import RateLimits
    from .service import (
        DeliveryReport,
        LinkCheck,
        Ok,
        OnboardingService,
        ProfileView,
        Provisioned,
        RememberedDevice,
        Screen,
        describe,
    )

# name -> the module that defines it (relative to this package).
_HOST_API: dict[str, str] = {
    # The service and its results.
    "OnboardingService": ".service",
    "Ok": ".service",
    "Screen": ".service",
    "LinkCheck": ".service",
    "Provisioned": ".service",
    "RememberedDevice": ".service",
    "ProfileView": ".service",
    "DeliveryReport": ".service",
    "describe": ".service",
    # A refusal is a result hosts branch on.
    "Refused": ".flow",
    "Reason": ".flow",
    # Settings and policies.
    "Settings": ".config",
    "Crypto": ".config",
    "LockoutPolicy": ".config",
    "RecoveryPolicy": ".config",
    "MailSettings": ".mail.settings",
    "RateLimits": ".ratelimit",
    "PasswordPolicy": ".password_policy",
    "ProfileWeights": ".profile",
    # The values a host reads.
    "Account": ".model",
    "Adviser": ".model",
    "Channel": ".model",
    "Link": ".model",
    "LinkPurpose": ".model",
    "LinkStatus": ".model",
    "Session": ".model",
    "Stage": ".model",
    "Step": ".model",
    "Throttle": ".model",
    # The error tree.
    "OnboardingError": ".errors",
    "ConfigurationError": ".errors",
    "InvalidInput": ".errors",
    "BadToken": ".errors",
    "StorageError": ".errors",
    "ConcurrentUpdate": ".errors",
    "DuplicateAccount": ".errors",
    "UnknownAccount": ".errors",
    "UnknownMessage": ".errors",
    "MailError": ".errors",
    "SmtpError": ".errors",
    # The ports an adapter implements.
    "Storage": ".ports",
    "AccountStore": ".ports",
    "ThrottleStore": ".ports",
    "OutboxStore": ".ports",
    "AuditLog": ".ports",
    "Mailer": ".ports",
    "Notifier": ".ports",
    "RateLimiter": ".ports",
    "Clock": ".ports",
    "Random": ".ports",
    "Changes": ".ports",
    "OutboxMessage": ".ports",
    "OutboxStatus": ".ports",
    "AuditRecord": ".ports",
}

# The pure core's names, re-exported here until 0.2: flow users import cegema_onboarding.flow.
_MOVED_TO_FLOW = frozenset({
    "TABLE", "Accepted", "Audit", "Entropy", "Env", "Notice", "Origin", "SendNotice",
    "next_step", "step",
})

# Written out for type checkers; tests/test_layers.py checks it matches _HOST_API.
__all__ = [
    "Account",
    "AccountStore",
    "Adviser",
    "AuditLog",
    "AuditRecord",
    "BadToken",
    "Changes",
    "Channel",
    "Clock",
    "ConcurrentUpdate",
    "ConfigurationError",
    "Crypto",
    "DeliveryReport",
    "DuplicateAccount",
    "InvalidInput",
    "Link",
    "LinkCheck",
    "LinkPurpose",
    "LinkStatus",
    "LockoutPolicy",
    "MailError",
    "MailSettings",
    "Mailer",
    "Notifier",
    "Ok",
    "OnboardingError",
    "OnboardingService",
    "OutboxMessage",
    "OutboxStatus",
    "OutboxStore",
    "PasswordPolicy",
    "ProfileView",
    "ProfileWeights",
    "Provisioned",
    "Random",
    "RateLimiter",
    "RateLimits",
    "Reason",
    "RecoveryPolicy",
    "Refused",
    "RememberedDevice",
    "Screen",
    "Session",
    "Settings",
    "SmtpError",
    "Stage",
    "Step",
    "Storage",
    "StorageError",
    "Throttle",
    "ThrottleStore",
    "UnknownAccount",
    "UnknownMessage",
    "describe",
]


def __getattr__(name: str) -> Any:
    module = _HOST_API.get(name)
    if module is None and name in _MOVED_TO_FLOW:
        warnings.warn(
            f"cegema_onboarding.{name} is deprecated and goes in 0.2: import it from "
            "cegema_onboarding.flow", DeprecationWarning, stacklevel=2)
        module = ".flow"
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOST_API))


__version__ = "0.1.0.dev0"
