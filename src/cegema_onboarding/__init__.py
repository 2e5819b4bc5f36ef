"""cegema_onboarding: the first-connection journey of a member portal, as a pure state machine.

The public API is re-exported here; see ``docs/`` for the guide.
"""

from .config import Crypto, LockoutPolicy, Settings
from .errors import (
    BadToken,
    ConcurrentUpdate,
    ConfigurationError,
    DuplicateAccount,
    InvalidInput,
    MailError,
    OnboardingError,
    StorageError,
    UnknownAccount,
)
from .flow import (
    TABLE,
    Accepted,
    Audit,
    Entropy,
    Env,
    Notice,
    Origin,
    Reason,
    Refused,
    SendNotice,
    next_step,
    step,
)
from .model import Account, Channel, Link, LinkPurpose, LinkStatus, Session, Stage, Step, Throttle
from .service import (
    DeliveryReport,
    LinkCheck,
    Ok,
    OnboardingService,
    Provisioned,
    Screen,
    describe,
)

__all__ = [
    "TABLE",
    "Accepted",
    "Account",
    "Audit",
    "BadToken",
    "Channel",
    "ConcurrentUpdate",
    "ConfigurationError",
    "Crypto",
    "DeliveryReport",
    "DuplicateAccount",
    "Entropy",
    "Env",
    "InvalidInput",
    "Link",
    "LinkCheck",
    "LinkPurpose",
    "LinkStatus",
    "LockoutPolicy",
    "MailError",
    "Notice",
    "Ok",
    "OnboardingError",
    "OnboardingService",
    "Origin",
    "Provisioned",
    "Reason",
    "Refused",
    "Screen",
    "SendNotice",
    "Session",
    "Settings",
    "Stage",
    "Step",
    "StorageError",
    "Throttle",
    "UnknownAccount",
    "describe",
    "next_step",
    "step",
]

__version__ = "0.1.0.dev0"
