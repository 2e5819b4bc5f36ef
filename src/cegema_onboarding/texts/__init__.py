"""Every text a member sees, in French (the printed guide's wording) and English.

The wording lives in gettext catalogues shipped inside the package, one per language:
``locale/<lang>/LC_MESSAGES/cegema_onboarding.po``, compiled to ``.mo`` files that are read
at run time with the standard library's :mod:`gettext` (Babel is only needed to extract and
compile them; see docs/translations.md). The keys are listed in :mod:`.keys` (the file the
catalogue template is extracted from); this module looks them up, fills them in and applies
a host's rewordings.

Each message id is a stable key such as ``"reason.bad_credentials"``, never the French
sentence, so rewording a text never orphans its translations. Templates use ``str.format``
named placeholders only (``{brand}``; no positional fields, attribute access, conversions or
format specs), and every language of a key uses the same placeholders.
The ``unit.*`` keys are the only plural pairs (``.one`` for a count of 1, ``.other``
otherwise); :func:`duration` picks the unit and the form, so callers never do. French "que"
is elided before a value that starts with a vowel (:func:`.wording.elide`): a template says
"que {duration}", the member reads "qu'une heure".

Texts that answer a stranger's request (login, forgotten identifier or password, email
already in use) are worded so that they never tell whether an account exists.

A host may reword any text with :func:`set_overrides`, for instance from its own compiled
catalogues read by :func:`catalog_overrides`.
"""

from __future__ import annotations

import gettext
import os
import re
import string
from collections.abc import Iterator, Mapping
from datetime import timedelta
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, NoReturn

if TYPE_CHECKING:
    import logging

from ..errors import ConfigurationError
from .keys import KEYS as KEYS
from .keys import N_ as N_
from .keys import REASONS as REASONS
from .wording import elide, express

__all__ = [
    "CATALOG",
    "DEFAULT_LANG",
    "DOMAIN",
    "KEYS",
    "LANGS",
    "LOCALE_DIR",
    "REASONS",
    "catalog_overrides",
    "duration",
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
#: The packaged catalogues, inside the installed package (beside this folder, not in it).
LOCALE_DIR: Final = Path(__file__).parent.with_name("locale")

# The standard levels, by value: importing logging is left to the first report, so that
# the pure core (flow imports texts through config) loads no logging machinery.
_WARNING, _ERROR = 30, 40


def _log() -> logging.Logger:
    import logging

    return logging.getLogger(__name__)

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
# The texts without parameters, as text() returned them: a screen asks for a dozen on
# every render. Keyed by the language as given; replaced whole by set_overrides, and
# bounded, since the language may come from a request.
_plain: dict[tuple[str, str | None], str] = {}
_PLAIN_MAX: Final = 4096


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
    if params:
        return _filled(key, lang, params)
    plain = _plain
    found = plain.get((key, lang))
    if found is None:
        found = _filled(key, lang, params)
        if len(plain) < _PLAIN_MAX:
            plain[key, lang] = found
    return found


def _forget_loaded() -> None:
    """Forget the catalogues read and the texts made from them (tests that swap them)."""
    _packaged.cache_clear()
    _plain.clear()


def _filled(key: str, lang: str | None, params: Mapping[str, object]) -> str:
    # str.format raises KeyError naming the first missing placeholder.
    resolved = resolve_lang(lang)
    return elide(_template(key, resolved), resolved, params).format(**params)


def duration(delta: timedelta, lang: str | None = None, /, *, round_up: bool = False) -> str:
    """``delta`` as a member reads it: "une heure", "24 heures", "90 minutes", "3 jours".

    Rounded down (a link's life), or up with ``round_up`` (a wait); see
    :func:`.wording.express`. Raises ValueError for a duration under one second.
    """
    expressed = express(delta, round_up=round_up)
    return text(expressed.key, lang, count=expressed.count)


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
    global _overrides, _plain
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
    _plain = {}
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
        _log().error("the compiled %r catalogue of %s is missing; run `make i18n`", lang, DOMAIN)
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
        _report(lang, key, _WARNING, "showing the French text instead")
        return _template(key, DEFAULT_LANG)
    return _missing_french(key)


def _packaged_french(key: str) -> str:
    if key not in _KNOWN:
        raise KeyError(key)
    found = _packaged(DEFAULT_LANG).get(key)
    return found if found is not None else _missing_french(key)


def _missing_french(key: str) -> str:
    # A packaging bug the tests catch; the key at least tells support what is missing.
    _report(DEFAULT_LANG, key, _ERROR, "showing the key instead")
    return key


def _report(lang: str, key: str, level: int, consequence: str) -> None:
    if (lang, key) not in _reported:
        _reported.add((lang, key))
        _log().log(level, "no %r text for %r in the %s catalogues; %s", lang, key, DOMAIN,
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
