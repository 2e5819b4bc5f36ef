"""Admin names in the admin's language, from the package's own catalogue.

Model names read in the staff's language (French in a French admin), like Django's own
``gettext_lazy``, but from the library's catalogue (``ui.admin.*`` keys), so there is one
set of translations and ``scripts/i18n.py`` keeps it complete.
"""

from __future__ import annotations

from django.utils.functional import lazy
from django.utils.translation import get_language

from ... import texts


def admin_lang() -> str:
    """The active language, for the texts of the admin's pages."""
    lang = get_language()
    # Translations are off while makemigrations and migrate run: the migrations keep the
    # English names, the same on every site whatever its LANGUAGE_CODE, so no site ever
    # sees a change to migrate.
    return texts.resolve_lang("en" if lang is None else lang)


def admin_message(key: str, **params: object) -> str:
    """The text of ``key`` in the active language, with ``params`` filled in."""
    return texts.text(key, admin_lang(), **params)


def _admin_text(key: str) -> str:
    return admin_message(key)


#: ``admin_text("ui.admin.account")``: evaluated when shown, in the active language.
admin_text = lazy(_admin_text, str)
