"""Where the member's journey session lives in the Django session, and the client's IP."""

from __future__ import annotations

from django.http import HttpRequest

from ...model import Session

SESSION_KEY = "cegema_onboarding.session"
BACKEND_PATH = "cegema_onboarding.integrations.django.backends.OnboardingBackend"


def store_session(request: HttpRequest, session: Session) -> None:
    """Keep the journey session granted by the service."""
    request.session[SESSION_KEY] = {"account_id": session.account_id, "epoch": session.epoch}


def load_session(request: HttpRequest) -> Session | None:
    """The journey session in this request, or None."""
    raw = request.session.get(SESSION_KEY)
    if not isinstance(raw, dict):
        return None
    account_id, epoch = raw.get("account_id"), raw.get("epoch")
    if not isinstance(account_id, str) or not isinstance(epoch, int):
        return None
    return Session(account_id, epoch)


def clear_session(request: HttpRequest) -> None:
    """Forget the journey session."""
    request.session.pop(SESSION_KEY, None)


def client_ip(request: HttpRequest) -> str | None:
    """The peer address. Behind a proxy, set REMOTE_ADDR from a header you trust upstream."""
    value = request.META.get("REMOTE_ADDR")
    return str(value)[:64] if value else None


def user_agent(request: HttpRequest) -> str | None:
    """The User-Agent header, bounded."""
    value = request.META.get("HTTP_USER_AGENT")
    return str(value)[:300] if value else None
