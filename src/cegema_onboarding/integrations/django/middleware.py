"""Ends a member's Django login when their account's session epoch moved on.

A password change (or staff disabling the account) raises the account's session epoch;
every other session that still carries the old epoch is logged out at its next request.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import BACKEND_SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse

from .conf import get_service
from .session import BACKEND_PATH, load_session


class SessionEpochMiddleware:
    """Place it after ``AuthenticationMiddleware``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Log out a member whose session is stale, then carry on."""
        session = getattr(request, "session", None)
        if session is not None and session.get(BACKEND_SESSION_KEY) == BACKEND_PATH:
            member = load_session(request)
            if member is None or not get_service().check_session(member):
                logout(request)
        return self.get_response(request)
