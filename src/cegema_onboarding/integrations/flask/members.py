"""Who is logged in, for the host's own views: ``current_member``, ``member_required``,
the ``journey_completed`` signal and the opt-in Flask-Login loaders.

A browser is logged in from the initial-password login on, long before the journey is
done; a host page must not take such a member for a finished one. So :class:`Member`
says ``onboarded`` (the journey reached the profile), :func:`member_required` admits only
onboarded members, and the Flask-Login loaders give Flask-Login only those.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Final, ParamSpec, TypeVar

import attrs
from blinker import Namespace
from flask import current_app, g, has_request_context, redirect, request, url_for
from werkzeug.local import LocalProxy
from werkzeug.wrappers import Response as WerkzeugResponse

from ...flow import Refused
from ...model import Step
from ...service import Screen
from .._web import safe_next
from ._context import BLUEPRINT, EXTENSION_KEY, current_screen, go_step, service, state

P = ParamSpec("P")
R = TypeVar("R")

_signals: Final = Namespace()

#: Sent once when a member's journey reaches the profile (the secret question, or the
#: password when no question is asked, was just accepted), with the app as sender and
#: ``member=`` the now onboarded :class:`Member`. A member whose credentials staff re-issue
#: goes through the journey again, and so sends it again.
journey_completed: Final = _signals.signal("cegema-onboarding-journey-completed")


@attrs.frozen
class Member:
    """The logged-in member, as a host page shows them.

    Also a Flask-Login user (``is_authenticated``, ``is_active``, ``is_anonymous``,
    ``get_id``): authenticated only once ``onboarded``.
    """

    account_id: str
    member_number: str
    display_name: str
    #: The journey is done: the member reached the profile.
    onboarded: bool

    @property
    def is_authenticated(self) -> bool:
        """Flask-Login: a member still in the journey is not logged in for host pages."""
        return self.onboarded

    @property
    def is_active(self) -> bool:
        """Flask-Login: as ``is_authenticated`` (a locked account has no session)."""
        return self.onboarded

    @property
    def is_anonymous(self) -> bool:
        """Flask-Login: never; anonymity is ``current_member() is None``."""
        return False

    def get_id(self) -> str:
        """Flask-Login: the account id."""
        return self.account_id


def current_member() -> Member | None:
    """The logged-in member of this request, or ``None`` (also outside a request)."""
    if not has_request_context() or EXTENSION_KEY not in current_app.extensions:
        return None
    session = state().session
    if session is None:
        return None
    cached = g.get("cegema_member")
    # Cached per session: a login or logout during the request reads again.
    if isinstance(cached, tuple) and cached[0] == session:
        member: Member | None = cached[1]
        return member
    view = service().profile(session)
    found = None if isinstance(view, Refused) else Member(
        account_id=session.account_id, member_number=view.member_number,
        display_name=view.name, onboarded=view.step is Step.PROFILE)
    g.cegema_member = (session, found)
    return found


def member_required(view: Callable[P, R]) -> Callable[P, R | WerkzeugResponse]:
    """Admit onboarded members only; send the others to log in or to finish the journey.

    Either way the page asked for is kept (a path on this site only) and shown once the
    member is logged in and onboarded.
    """

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | WerkzeugResponse:
        member = current_member()
        if member is not None and member.onboarded:
            return view(*args, **kwargs)
        wanted = safe_next(request.script_root + request.full_path.rstrip("?"))
        if member is None:
            return redirect(url_for(f"{BLUEPRINT}.login", next=wanted), code=303)
        state().next_url = wanted
        screen = current_screen(None)
        return go_step(screen.step) if isinstance(screen, Screen) else screen

    return wrapper


def announce_completed() -> None:
    """Send :data:`journey_completed` for the member of this request, if logged in."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not journey_completed.has_receivers_for(app):
        # Nobody listens: the Member it would carry costs a storage read.
        return
    member = current_member()
    if member is not None and member.onboarded:
        journey_completed.send(app, member=member)


def template_context() -> dict[str, Any]:
    """What every template of the app gets: ``current_member`` (a context processor).

    A proxy, read only when a template uses it: most pages never ask, and reading it costs
    a storage read. Test it with ``{% if current_member %}`` (a proxy is never ``none``).
    """
    return {"current_member": _LAZY_MEMBER}


_LAZY_MEMBER: Final = LocalProxy(current_member)


def use_flask_login(login_manager: Any) -> None:
    """Let Flask-Login's ``current_user`` and ``login_required`` see onboarded members.

    Sets a request loader (and a user loader, for hosts that also call ``login_user``)
    that give the onboarded :class:`Member`, and the login view when none is set. They
    replace the manager's own loaders: an app with users of its own keeps its loaders and
    returns :func:`current_member` from them instead.
    """

    def by_id(user_id: str) -> Member | None:
        member = current_member()
        if member is None or not member.onboarded or member.account_id != user_id:
            return None
        return member

    def by_request(_request: object) -> Member | None:
        member = current_member()
        return member if member is not None and member.onboarded else None

    login_manager.user_loader(by_id)
    login_manager.request_loader(by_request)
    if not getattr(login_manager, "login_view", None):
        login_manager.login_view = f"{BLUEPRINT}.login"
