"""The staff actions' old home on :class:`OnboardingService`, kept for one release.

``service.activate(...)`` and the like moved to ``service.staff.activate(...)``
(:class:`~.staff.StaffDesk`). Each old name still works, with the same signature, and
warns with :class:`DeprecationWarning` naming its new home.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from .staff import StaffDesk

__all__ = ["StaffShims"]

P = ParamSpec("P")
R = TypeVar("R")


def _moved(method: Callable[Concatenate[StaffDesk, P], R]
           ) -> Callable[Concatenate[StaffShims, P], R]:
    name = method.__name__

    @functools.wraps(method)
    def shim(self: StaffShims, /, *args: P.args, **kwargs: P.kwargs) -> R:
        warnings.warn(f"OnboardingService.{name}() is deprecated and will be removed in the "
                      f"next release; call service.staff.{name}() instead",
                      DeprecationWarning, stacklevel=2)
        return method(self.staff, *args, **kwargs)

    shim.__doc__ = f"Deprecated: use ``service.staff.{name}()`` (:meth:`.StaffDesk.{name}`)."
    return shim


class StaffShims:
    """The deprecated staff methods of :class:`OnboardingService`."""

    staff: StaffDesk

    provision = _moved(StaffDesk.provision)
    activation_queue = _moved(StaffDesk.activation_queue)
    activate = _moved(StaffDesk.activate)
    reject = _moved(StaffDesk.reject)
    unlock = _moved(StaffDesk.unlock)
    disable = _moved(StaffDesk.disable)
    enable = _moved(StaffDesk.enable)
    mark_email_verified = _moved(StaffDesk.mark_email_verified)
    reissue_credentials = _moved(StaffDesk.reissue_credentials)
    staff_assisted_reset = _moved(StaffDesk.staff_assisted_reset)
    set_adviser = _moved(StaffDesk.set_adviser)
