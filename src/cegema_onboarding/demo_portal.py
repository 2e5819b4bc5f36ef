"""Deprecated: the demo portal moved to :mod:`cegema_onboarding.integrations.flask.demo`.

Only ``RedactTokens`` is still reachable here, because the changelog promised it as a
re-export; its home is :mod:`cegema_onboarding.integrations.logfilter`. This module no
longer imports Flask (nothing outside ``integrations`` does).
"""

from __future__ import annotations

import warnings
from typing import Any

# Deprecated names stay out of __all__: a star import must not warn.
__all__: list[str] = []


def __getattr__(name: str) -> Any:
    if name == "RedactTokens":
        warnings.warn("cegema_onboarding.demo_portal.RedactTokens is deprecated: import it "
                      "from cegema_onboarding.integrations.logfilter",
                      DeprecationWarning, stacklevel=2)
        from .integrations.logfilter import RedactTokens

        return RedactTokens
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
