"""``current_member(request)``: who this browser is, for host views and templates.

The journey session exists from the first login with the initial password, before the
journey is done; ``onboarded`` tells the two apart, so a host never has to know the
service's steps to gate its own pages.
"""

from __future__ import annotations

import attrs
from django.http import HttpRequest

from ...flow import Refused
from ...model import Step
from .conf import get_service
from .session import load_session


@attrs.frozen
class CurrentMember:
    """The member logged in on this browser: who, and whether the journey is complete."""

    account_id: str
    member_number: str
    name: str
    onboarded: bool


def current_member(request: HttpRequest) -> CurrentMember | None:
    """The member of this request's journey session, or ``None`` (none, stale, disabled)."""
    session = load_session(request)
    if session is None:
        return None
    service = get_service()
    screen = service.resume(session)
    account = service.storage.get(session.account_id)
    if isinstance(screen, Refused) or account is None:
        return None
    return CurrentMember(account_id=account.account_id, member_number=account.member_number,
                         name=account.name, onboarded=screen.step is Step.PROFILE)
