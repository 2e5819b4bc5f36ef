"""Every text a member sees, in French (the printed guide's wording) and English.

The wording lives in gettext catalogues shipped inside the package, one per language:
``locale/<lang>/LC_MESSAGES/cegema_onboarding.po``, compiled to ``.mo`` files that are read
at run time with the standard library's :mod:`gettext` (Babel is only needed to extract and
compile them; see docs/translations.md). This module names the keys and looks them up.

Each message id is a stable key such as ``"reason.bad_credentials"``, never the French
sentence, so rewording a text never orphans its translations. Templates use ``str.format``
named placeholders only (``{brand}``; no positional fields, attribute access, conversions or
format specs), and every language of a key uses the same placeholders.
``unit.hours.one``/``unit.hours.other`` is the only plural pair: the caller picks ``.one``
for a count of 1 and ``.other`` otherwise.

Key prefixes: ``reason.*`` (why something was refused, one per refusal value), ``screen.*``
(titles and paragraphs of each screen), ``label.*`` (field labels), ``button.*`` (buttons and
action links), ``notice.*`` (confirmations and banners), ``mail.*`` (mail subjects and
bodies), ``offline.*`` (notices sent by post, SMS or phone to members with no email),
``unit.*`` (quantities with their unit) and ``ui.*`` (the page furniture of the web
integrations: navigation, form errors, footer).

Texts that answer a stranger's request (login, forgotten identifier or password, email
already in use) are worded so that they never tell whether an account exists.

A host may reword any text with :func:`set_overrides`, for instance from its own compiled
catalogues read by :func:`catalog_overrides`.
"""

from __future__ import annotations

import gettext
import logging
import os
import re
import string
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Final, NoReturn

from .errors import ConfigurationError

__all__ = [
    "CATALOG",
    "DEFAULT_LANG",
    "DOMAIN",
    "KEYS",
    "LANGS",
    "LOCALE_DIR",
    "REASONS",
    "catalog_overrides",
    "placeholders",
    "resolve_lang",
    "set_overrides",
    "template",
    "text",
]

LANGS: Final = ("fr", "en")
DEFAULT_LANG: Final = "fr"

#: The gettext domain: the catalogues are ``<LOCALE_DIR>/<lang>/LC_MESSAGES/<DOMAIN>.mo``.
DOMAIN: Final = "cegema_onboarding"
#: The packaged catalogues, inside the installed package.
LOCALE_DIR: Final = Path(__file__).with_name("locale")

_log = logging.getLogger(__name__)


def N_(key: str) -> str:
    """Mark ``key`` for ``pybabel extract -k N_`` and return it unchanged."""
    return key


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

#: Every key, in catalogue order. ``pybabel extract -k N_`` builds the template from this
#: tuple; ``TRANSLATORS:`` comments become notes in every language's catalogue.
KEYS: Final[tuple[str, ...]] = (
    # --- Refusals -----------------------------------------------------------------------------
    # TRANSLATORS: Same words whether the identifier is unknown or the password is wrong: no
    # enumeration.
    N_("reason.bad_credentials"),
    # TRANSLATORS: Shown for unknown identifiers too (they are throttled alike), so it reveals
    # nothing.
    N_("reason.locked"),
    N_("reason.disabled"),
    N_("reason.initial_credentials_expired"),
    N_("reason.invalid_step"),
    N_("reason.input_invalid"),
    N_("reason.rate_limited"),
    N_("reason.session_expired"),
    N_("reason.email_invalid"),
    N_("reason.emails_differ"),
    # TRANSLATORS: Must not confirm that another member uses this address.
    N_("reason.email_in_use"),
    N_("reason.link_invalid"),
    # TRANSLATORS: No hour count here: the lifetime is configurable and the mail already stated
    # it.
    N_("reason.link_expired"),
    N_("reason.link_used"),
    N_("reason.link_superseded"),
    N_("reason.code_invalid"),
    N_("reason.code_attempts_exceeded"),
    N_("reason.passwords_differ"),
    N_("reason.password_empty"),
    N_("reason.password_too_short"),
    N_("reason.password_too_long"),
    N_("reason.password_common"),
    N_("reason.password_contains_member_number"),
    N_("reason.password_contains_email"),
    N_("reason.password_contains_name"),
    N_("reason.password_contains_site_name"),
    # TRANSLATORS: The password is long enough and on no list, but made of guessable parts
    # (words, names, keyboard rows, dates). Suggest a longer sentence of unrelated words.
    N_("reason.password_too_guessable"),
    N_("reason.password_same_as_initial"),
    N_("reason.answers_differ"),
    N_("reason.answer_empty"),
    N_("reason.answer_too_long"),
    N_("reason.answer_trivial"),
    N_("reason.answer_same_as_member_number"),
    N_("reason.answer_same_as_email"),
    N_("reason.answer_same_as_password"),
    N_("reason.question_unknown"),
    N_("reason.questions_disabled"),
    # TRANSLATORS: Worded so that it does not tell whether the account has an email or an answer.
    N_("reason.reset_not_available"),
    # TRANSLATORS: Only reached with a valid reset link in hand: the account is already known to
    # them.
    N_("reason.answer_wrong"),
    N_("reason.email_unchanged"),
    N_("reason.not_found_generic"),
    # --- Login --------------------------------------------------------------------------------
    N_("screen.login.title"),
    N_("screen.login.subtitle"),
    # TRANSLATORS: The guide adds "à saisir en MAJUSCULES": dropped, because input case is
    # normalised.
    N_("screen.login.hint"),
    N_("label.identifier"),
    N_("label.password"),
    N_("label.remember_me"),
    N_("button.login"),
    N_("button.forgotten_identifier"),
    N_("button.forgotten_password"),
    # --- First connection: email --------------------------------------------------------------
    N_("screen.email.title"),
    N_("screen.email.subtitle"),
    N_("screen.email.hint"),
    N_("label.email"),
    N_("label.email_confirm"),
    N_("button.validate"),
    N_("button.no_email"),
    N_("notice.no_email"),
    N_("button.confirm_no_email"),
    N_("notice.link_sent"),
    N_("notice.email_verified_login"),
    # --- Check your mailbox -------------------------------------------------------------------
    N_("screen.check_mailbox.title"),
    N_("screen.check_mailbox.body"),
    N_("button.resend_link"),
    N_("button.change_address"),
    N_("button.enter_code"),
    N_("notice.link_resent"),
    N_("screen.code.title"),
    N_("screen.code.body"),
    N_("label.code"),
    # --- No email: awaiting activation by staff -----------------------------------------------
    N_("screen.awaiting_activation.title"),
    N_("screen.awaiting_activation.body"),
    N_("screen.activation_rejected.title"),
    N_("screen.activation_rejected.body"),
    # --- Link landing pages: a GET only shows this, the button (POST) spends the link ---------
    N_("screen.confirm_link.title"),
    N_("screen.confirm_link.body"),
    N_("button.confirm_link"),
    N_("screen.confirm_reset.title"),
    N_("screen.confirm_reset.body"),
    N_("button.confirm_reset"),
    # --- New password -------------------------------------------------------------------------
    N_("label.new_password"),
    N_("label.new_password_confirm"),
    N_("notice.password_rules"),
    N_("button.save"),
    # --- Secret question ----------------------------------------------------------------------
    N_("screen.question.title"),
    N_("screen.question.intro"),
    N_("label.question"),
    N_("label.answer"),
    N_("label.answer_confirm"),
    # --- Connected and profile ----------------------------------------------------------------
    N_("screen.connected.title"),
    N_("screen.connected.body"),
    N_("screen.connected.farewell"),
    N_("screen.profile.title"),
    N_("screen.profile.section"),
    N_("label.profile_completion"),
    N_("label.communication_preferences"),
    N_("label.channel.phone"),
    N_("label.channel.email"),
    N_("label.channel.sms"),
    N_("label.channel.post"),
    N_("label.pets"),
    N_("label.yes"),
    N_("label.no"),
    N_("label.interests"),
    N_("label.comments"),
    N_("label.adviser"),
    N_("label.adviser.agency_name"),
    N_("label.adviser.address"),
    N_("label.adviser.orias"),
    N_("label.adviser.more_info"),
    # --- Forgotten identifier and password: same answer whether an account matches ------------
    N_("screen.forgotten_identifier.title"),
    N_("screen.forgotten_identifier.intro"),
    N_("notice.forgotten_identifier_sent"),
    N_("screen.forgotten_password.title"),
    N_("screen.forgotten_password.intro"),
    N_("notice.forgotten_password_sent"),
    N_("notice.forgotten_password_no_email"),
    N_("screen.reset.title"),
    N_("label.reset_answer"),
    N_("notice.password_changed"),
    N_("notice.password_changed_mail_sent"),
    # --- "This wasn't me": GET shows this page, the button (POST) locks the account -----------
    N_("screen.not_me.title"),
    N_("screen.not_me.body"),
    N_("button.not_me"),
    N_("notice.password_reset_done"),
    N_("notice.email_change_sent"),
    N_("notice.email_changed"),
    N_("notice.profile_saved"),
    N_("notice.not_me_done"),
    # --- Mails --------------------------------------------------------------------------------
    N_("mail.greeting"),
    N_("mail.greeting_no_name"),
    N_("mail.footer.auto"),
    N_("mail.footer.legal_intro"),
    N_("mail.footer.legal_label"),
    N_("mail.footer.legal_copy"),
    N_("mail.footer.legal_text"),
    N_("mail.copy_link"),
    N_("mail.code_hint"),
    N_("mail.code"),
    N_("mail.validity"),
    N_("mail.contact_if_not_you"),
    N_("mail.contact_if_not_you_no_link"),
    N_("mail.validation.subject"),
    N_("mail.validation.intro"),
    N_("mail.validation.link_intro"),
    N_("mail.password_changed.subject"),
    N_("mail.password_changed.intro"),
    N_("mail.password_changed.when"),
    N_("mail.password_changed.ip"),
    N_("mail.password_changed.unknown_ip"),
    N_("mail.not_me.intro"),
    N_("mail.not_me.label"),
    N_("mail.reset.subject"),
    N_("mail.reset.intro"),
    N_("mail.reset.link_intro"),
    N_("mail.reset.ignore"),
    N_("mail.identifier.subject"),
    N_("mail.identifier.intro"),
    N_("mail.identifier.value"),
    N_("mail.identifier.ignore"),
    N_("mail.email_change.subject"),
    N_("mail.email_change.intro"),
    N_("mail.email_change.old_address"),
    N_("mail.activation.subject"),
    N_("mail.activation.intro"),
    N_("mail.activation.next"),
    N_("mail.remember_theft.subject"),
    N_("mail.remember_theft.intro"),
    N_("mail.remember_theft.advice"),
    # --- Notices by post, SMS or phone, for members with no email address ---------------------
    # TRANSLATORS: Filled in with name, brand and detail (the staff's reason, for a rejection).
    N_("offline.validation"),
    N_("offline.password_changed"),
    N_("offline.activated"),
    N_("offline.activation_rejected"),
    N_("offline.reset"),
    N_("offline.identifier"),
    N_("offline.email_change"),
    N_("offline.email_change_notice"),
    N_("offline.remember_theft"),
    # --- Units: the caller picks .one for a count of 1, .other otherwise ----------------------
    N_("unit.hours.one"),
    N_("unit.hours.other"),
    # --- Web page furniture around the journey (Flask and Django integrations) ---------------
    # TRANSLATORS: Shown when a form's anti-forgery token has expired; the member just resends it.
    N_("ui.csrf"),
    N_("ui.logout"),
    N_("ui.login_again"),
    # TRANSLATORS: Accessibility link at the very top of each page, for keyboard users.
    N_("ui.skip"),
    N_("ui.language"),
    # TRANSLATORS: Marker after the label of a required field.
    N_("ui.required"),
    N_("ui.errors"),
    # TRANSLATORS: Separates two alternative actions, lower case.
    N_("ui.or"),
    N_("ui.not_found"),
    N_("ui.saved"),
    # TRANSLATORS: Page footer; {brand} is the insurer's name.
    N_("ui.copyright"),
    N_("ui.main_nav"),
    N_("ui.change_password"),
    N_("ui.current_password"),
    N_("ui.change_email"),
    N_("ui.change_email.intro"),
    N_("ui.confirm_email_change"),
    N_("ui.devices"),
    N_("ui.devices.none"),
    N_("ui.devices.forget_all"),
    N_("ui.devices.last_used"),
    N_("ui.security"),
    N_("ui.interests.hint"),
)

_KNOWN: Final = frozenset(KEYS)

# "fr-FR", "en_GB.UTF-8", "EN", "fr;q=0.9": the primary subtag is all we need.
_PRIMARY = re.compile(r"\s*([A-Za-z]{2,3})(?:[-_.;,@\s]|$)")
_FORMATTER = string.Formatter()
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NO_OVERRIDES: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType({})
_NO_TEXTS: Final[Mapping[str, str]] = MappingProxyType({})

# Replaced whole by set_overrides, never mutated: readers on other threads see the old or
# the new mapping, never a half-built one.
_overrides: Mapping[str, Mapping[str, str]] = _NO_OVERRIDES
# (lang, key) pairs already logged as missing, so a hot screen does not flood the log.
_reported: set[tuple[str, str]] = set()


def resolve_lang(lang: str | None) -> str:
    """The supported language for a tag such as "fr-FR" or "en_GB"; French when unknown."""
    if not isinstance(lang, str):
        return DEFAULT_LANG
    # Bound the work on host-supplied headers before matching.
    match = _PRIMARY.match(lang[:64])
    if match is None:
        return DEFAULT_LANG
    primary = match.group(1).lower()
    return primary if primary in LANGS else DEFAULT_LANG


def text(key: str, lang: str | None = None, /, **params: object) -> str:
    """The text of ``key`` in ``lang`` (French by default), with ``params`` filled in."""
    # str.format raises KeyError naming the first missing placeholder.
    return _template(key, resolve_lang(lang)).format(**params)


def template(key: str, lang: str | None = None) -> str:
    """The unfilled template of ``key`` in ``lang`` (French by default); KeyError if unknown."""
    return _template(key, resolve_lang(lang))


@cache
def placeholders(key: str) -> frozenset[str]:
    """The placeholder names the text of ``key`` may use; KeyError if unknown."""
    # The packaged French text defines them: overrides may only use a subset, and the
    # tests hold every packaged language to the same set.
    return _names(_packaged_french(key))


def set_overrides(
    overrides: Mapping[str, Mapping[str, str]] | None,
) -> Mapping[str, Mapping[str, str]]:
    """Replace the host's rewordings, ``{lang: {key: template}}``; return the previous ones.

    ``None`` or an empty mapping restores the packaged wording. The overrides apply to the
    whole process, so set them once at start-up. Raises ConfigurationError, and changes
    nothing, for an unsupported language, an unknown key, an empty template or a
    placeholder the key does not provide.
    """
    global _overrides
    checked: dict[str, Mapping[str, str]] = {}
    for lang, entries in (overrides or {}).items():
        if lang not in LANGS:
            raise ConfigurationError(f"text overrides: unsupported language {_short(lang)}")
        if not isinstance(entries, Mapping):
            raise ConfigurationError(f"text overrides: {lang} must map keys to texts")
        checked[lang] = MappingProxyType(
            {key: _checked_override(lang, key, value) for key, value in entries.items()}
        )
    previous, _overrides = _overrides, MappingProxyType(checked)
    return previous


def catalog_overrides(
    localedir: str | os.PathLike[str], domain: str = DOMAIN
) -> dict[str, dict[str, str]]:
    """Overrides read from a host's ``<localedir>/<lang>/LC_MESSAGES/<domain>.mo`` files.

    Languages without a file are skipped, and so are message ids that are not keys of
    :data:`KEYS` and empty translations. Pass the result to :func:`set_overrides`.
    """
    found: dict[str, dict[str, str]] = {}
    for lang in LANGS:
        path = Path(localedir) / lang / "LC_MESSAGES" / f"{domain}.mo"
        if not path.is_file():
            continue
        with path.open("rb") as stream:
            entries = _entries(gettext.GNUTranslations(stream))
        if entries:
            found[lang] = entries
    return found


class _CatalogView(Mapping[str, Mapping[str, str]]):
    """``key -> {lang: template}`` over the compiled catalogues, overrides included."""

    def __getitem__(self, key: str) -> Mapping[str, str]:
        return MappingProxyType({lang: _template(key, lang) for lang in LANGS})

    def __iter__(self) -> Iterator[str]:
        return iter(KEYS)

    def __len__(self) -> int:
        return len(KEYS)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in _KNOWN

    def __repr__(self) -> str:
        return f"<texts.CATALOG: {len(KEYS)} keys in {', '.join(LANGS)}>"


#: Read-only ``key -> {lang: template}`` view, kept for code written before the gettext
#: catalogues; prefer :func:`text` and :func:`template`.
CATALOG: Final[Mapping[str, Mapping[str, str]]] = _CatalogView()


class _Missing(Exception):
    """A key has no entry in a catalogue."""


class _Sentinel(gettext.NullTranslations):
    # Installed as the last fallback so that a missing entry raises instead of returning
    # the msgid, which would put a key such as "screen.login.title" on a member's screen.
    def gettext(self, message: str) -> NoReturn:
        raise _Missing(message)


def _entries(translations: gettext.NullTranslations) -> dict[str, str]:
    translations.add_fallback(_Sentinel())
    found: dict[str, str] = {}
    for key in KEYS:
        try:
            value = translations.gettext(key)
        except _Missing:
            continue
        if value:
            found[key] = value
    return found


@cache
def _packaged(lang: str) -> Mapping[str, str]:
    # Loaded once per language and process: the .mo files do not change under a running
    # process (restart it after `make i18n`).
    try:
        translations = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[lang])
    except OSError:
        _log.error("the compiled %r catalogue of %s is missing; run `make i18n`", lang, DOMAIN)
        return _NO_TEXTS
    return MappingProxyType(_entries(translations))


def _template(key: str, lang: str) -> str:
    if key not in _KNOWN:
        raise KeyError(key)
    override = _overrides.get(lang, _NO_TEXTS).get(key)
    if override is not None:
        return override
    found = _packaged(lang).get(key)
    if found is not None:
        return found
    if lang != DEFAULT_LANG:
        # Through _template again, so that a French override beats the packaged French.
        _report(lang, key, logging.WARNING, "showing the French text instead")
        return _template(key, DEFAULT_LANG)
    return _missing_french(key)


def _packaged_french(key: str) -> str:
    if key not in _KNOWN:
        raise KeyError(key)
    found = _packaged(DEFAULT_LANG).get(key)
    return found if found is not None else _missing_french(key)


def _missing_french(key: str) -> str:
    # A packaging bug the tests catch; the key at least tells support what is missing.
    _report(DEFAULT_LANG, key, logging.ERROR, "showing the key instead")
    return key


def _report(lang: str, key: str, level: int, consequence: str) -> None:
    if (lang, key) not in _reported:
        _reported.add((lang, key))
        _log.log(level, "no %r text for %r in the %s catalogues; %s", lang, key, DOMAIN,
                 consequence)


def _names(template_: str) -> frozenset[str]:
    return frozenset(field for _, field, _, _ in _FORMATTER.parse(template_) if field)


def _checked_override(lang: str, key: object, value: object) -> str:
    if not isinstance(key, str) or key not in _KNOWN:
        raise ConfigurationError(f"text overrides: unknown key {_short(key)}")
    where = f"text override {lang}/{key}"
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{where}: the text must be a non-empty string")
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in _FORMATTER.parse(value)
                  if name is not None]
    except ValueError:
        _bad_override(where, "unbalanced braces (write {{ and }} for literal braces)")
    for name, spec, conv in fields:
        if not _IDENTIFIER.fullmatch(name) or spec or conv is not None:
            _bad_override(where, f"only plain {{name}} placeholders are allowed, not {{{name}}}")
    extra = {name for name, _, _ in fields} - placeholders(key)
    if extra:
        allowed = ", ".join(sorted(placeholders(key))) or "none"
        _bad_override(where, f"unknown placeholder(s) {', '.join(sorted(extra))} "
                             f"(allowed: {allowed})")
    return value


def _bad_override(where: str, problem: str) -> NoReturn:
    raise ConfigurationError(f"{where}: {problem}")


def _short(value: object) -> str:
    # Host-supplied: bound it before it goes into a message.
    return repr(value)[:80]
