"""The imperative shell: load, call the flow, save atomically, deliver through the outbox.

:class:`OnboardingService` (member actions, :mod:`.onboarding`) is what a host builds;
its staff actions are on ``service.staff`` (:class:`StaffDesk`, :mod:`.staff`) and its
messages on ``service.outbox`` (:class:`Outbox`, :mod:`.outbox`). The unit of work
(:mod:`.unit`), the rate limits and lockout counters (:mod:`.guards`) and the
enumeration-safe requests (:mod:`.decoys`) are internal. The results are in
:mod:`.results`.
"""

from .onboarding import OnboardingService as OnboardingService
from .outbox import Outbox as Outbox
from .results import ActivationRequest as ActivationRequest
from .results import DeliveryReport as DeliveryReport
from .results import LinkCheck as LinkCheck
from .results import Ok as Ok
from .results import ProfileView as ProfileView
from .results import Provisioned as Provisioned
from .results import RememberedDevice as RememberedDevice
from .results import Result as Result
from .results import Screen as Screen
from .results import describe as describe
from .results import refusal_text as refusal_text
from .results import retry_after as retry_after
from .staff import StaffDesk as StaffDesk

__all__ = [
    "DeliveryReport",
    "LinkCheck",
    "Ok",
    "OnboardingService",
    "Outbox",
    "ProfileView",
    "Provisioned",
    "RememberedDevice",
    "Result",
    "Screen",
    "StaffDesk",
    "describe",
    "refusal_text",
    "retry_after",
]
