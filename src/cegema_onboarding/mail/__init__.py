"""The mails a member receives: settings, checked drafts, their writing and their assembly.

- :mod:`.settings`: :class:`MailSettings`, how mails look and who they come from;
- :mod:`.draft`: :class:`Mail`, one mail checked at construction, and :func:`make_message_id`;
- :mod:`.compose`: the builders, each returning a :class:`Mail` (:mod:`.layout` is their look);
- :mod:`.notices`: which mail a journey notice becomes, and the post/SMS texts;
- :mod:`.assemble`: ``assemble.assemble``, ``Mail -> EmailMessage``, the one place MIME is
  built (not re-exported here: the function would be shadowed by its module of the same name).

The names below are loaded on first use (PEP 562): :mod:`cegema_onboarding.config` imports
``mail.settings``, and that must not load the renderer or the stdlib ``email`` package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .draft import Mail as Mail
    from .draft import make_message_id as make_message_id
    from .settings import MailSettings as MailSettings

__all__ = ["Mail", "MailSettings", "make_message_id"]

_HOMES = {
    "Mail": ".draft",
    "MailSettings": ".settings",
    "make_message_id": ".draft",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
