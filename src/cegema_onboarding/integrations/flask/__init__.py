"""Flask integration: ``Onboarding(app, service=...)`` adds the guide's screens to an app.

Needs the ``flask`` extra. See docs/flask.md for the configuration keys and for
overriding the templates (the app's ``templates/cegema_onboarding/*.html`` win).
"""

from __future__ import annotations

from .csp import DEFAULT_CSP
from .extension import STEP_ENDPOINTS, Onboarding, WebConfig
from .members import Member, current_member, journey_completed, member_required

__all__ = ["DEFAULT_CSP", "STEP_ENDPOINTS", "Member", "Onboarding", "WebConfig",
           "current_member", "journey_completed", "member_required"]
