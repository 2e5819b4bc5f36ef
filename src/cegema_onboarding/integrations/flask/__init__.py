"""Flask integration: ``Onboarding(app, service=...)`` adds the guide's screens to an app.

Needs the ``flask`` extra. See docs/flask.md for the configuration keys and for
overriding the templates (the app's ``templates/cegema_onboarding/*.html`` win).
"""

from __future__ import annotations

from .extension import STEP_ENDPOINTS, Onboarding, WebConfig

__all__ = ["STEP_ENDPOINTS", "Onboarding", "WebConfig"]
