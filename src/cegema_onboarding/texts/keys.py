"""The message ids: every key a member may see, in catalogue order, marked for extraction.

The keys live, by domain and in catalogue order, in three data modules that
``scripts/i18n.py`` extracts the template from (see ``babel.cfg``): ``keys_screens`` (what the
member's screens say), ``keys_sent`` (mails, offline notices, units) and ``keys_ui`` (staff
admin, web page furniture, the demos). Each ``N_("...")`` call there becomes a message id of
``locale/cegema_onboarding.pot``, and a ``TRANSLATORS:`` comment just above it becomes a note
in every language's catalogue. Babel reads the files in name order, which is the catalogue
order: ``keys.py`` itself marks no key. The keys are data only, so that the lookups in
:mod:`cegema_onboarding.texts` stay short enough to read, and so that adding a key touches
nothing but its data module and the ``.po`` files.

Key prefixes: ``reason.*`` (why something was refused, one per refusal value), ``screen.*``
(titles and paragraphs of each screen), ``label.*`` (field labels), ``button.*`` (buttons and
action links), ``notice.*`` (confirmations and banners), ``mail.*`` (mail subjects and
bodies), ``offline.*`` (notices sent by post, SMS or phone to members with no email),
``unit.*`` (quantities with their unit), ``ui.*`` (the page furniture of the web
integrations: navigation, form errors, footer) and ``demo.*`` (the narration of the
terminal demo, ``cegema-onboarding demo``).
"""

from __future__ import annotations

from typing import Final

from .keys_screens import SCREEN_KEYS
from .keys_sent import SENT_KEYS
from .keys_ui import UI_KEYS

# Kept importable from here, where it was defined first.
from .marker import N_ as N_

__all__ = ["KEYS", "N_", "REASONS"]




# The refusal values the flow may name; each has a ``reason.<value>`` text.
REASONS: Final = (
    "bad_credentials",
    "locked",
    "disabled",
    "initial_credentials_expired",
    "invalid_step",
    "input_invalid",
    "rate_limited",
    "session_expired",
    "email_invalid",
    "emails_differ",
    "email_in_use",
    "link_invalid",
    "link_expired",
    "link_used",
    "link_superseded",
    "code_invalid",
    "code_attempts_exceeded",
    "passwords_differ",
    "password_empty",
    "password_too_short",
    "password_too_long",
    "password_common",
    "password_contains_member_number",
    "password_contains_email",
    "password_contains_name",
    "password_contains_site_name",
    "password_too_guessable",
    "password_same_as_initial",
    "answers_differ",
    "answer_empty",
    "answer_too_long",
    "answer_trivial",
    "answer_same_as_member_number",
    "answer_same_as_email",
    "answer_same_as_password",
    "question_unknown",
    "questions_disabled",
    "reset_not_available",
    "not_found_generic",
    "answer_wrong",
    "email_unchanged",
)

#: Every key, in catalogue order: the three data modules one after the other. ``pybabel
#: extract -k N_`` builds the template from their ``N_`` markers.
KEYS: Final[tuple[str, ...]] = (*SCREEN_KEYS, *SENT_KEYS, *UI_KEYS)
