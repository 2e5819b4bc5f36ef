"""The gettext catalogues: complete, not fuzzy, compiled, in step with the code, overridable."""

from __future__ import annotations

import io
import logging
import re
import shutil
import string
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from cegema_onboarding import texts
from cegema_onboarding.errors import ConfigurationError
from cegema_onboarding.texts import CATALOG, DOMAIN, KEYS, LANGS, LOCALE_DIR, text

ROOT = Path(__file__).resolve().parents[2]
# The message ids a piece of code or a template may name: 'screen.login.title' and the like.
_KEY_LITERAL = re.compile(
    r"""["']((?:reason|screen|label|button|notice|mail|offline|unit|ui|demo)(?:\.[a-z0-9_]+)+)["']"""
)
_FORMATTER = string.Formatter()


def _po(lang: str) -> Catalog:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as stream:
        return read_po(stream, locale=lang)


def _strings(catalog: Catalog) -> dict[str, str]:
    return {str(m.id): str(m.string) for m in catalog if m.id}


def _notes(comments: list[str]) -> str:
    # Line wrapping depends on the width given to pybabel; the words do not.
    return " ".join(" ".join(comments).split())


def _fields(template: str) -> list[tuple[str, str | None, str | None]]:
    return [(f, spec, conv) for _, f, spec, conv in _FORMATTER.parse(template) if f is not None]


@pytest.fixture
def fresh_catalogues() -> Iterator[None]:
    """Reload the compiled catalogues around a test that points LOCALE_DIR elsewhere."""
    texts._forget_loaded()
    yield
    texts._forget_loaded()


@pytest.fixture
def no_overrides() -> Iterator[None]:
    """Start and end with the packaged wording, whatever the test set."""
    previous = texts.set_overrides(None)
    yield
    texts.set_overrides(previous)


# --- The catalogues themselves ------------------------------------------------------------


def test_keys_are_unique_and_match_the_catalogue_view() -> None:
    assert len(set(KEYS)) == len(KEYS)
    assert list(CATALOG) == list(KEYS)
    assert len(CATALOG) == len(KEYS)
    assert "screen.login.title" in CATALOG
    assert "screen.nowhere" not in CATALOG
    assert 42 not in CATALOG


@pytest.mark.parametrize("lang", LANGS)
def test_every_key_has_a_non_empty_translation(lang: str) -> None:
    found = _strings(_po(lang))
    missing = [key for key in KEYS if not found.get(key, "").strip()]
    assert missing == [], f"untranslated in {lang}: run `make i18n`, then fill in msgstr"


@pytest.mark.parametrize("lang", LANGS)
def test_no_entry_is_fuzzy_obsolete_stray_or_left_as_its_key(lang: str) -> None:
    catalog = _po(lang)
    # A fuzzy header makes `pybabel compile` skip the whole catalogue.
    assert not catalog.fuzzy
    assert [m.id for m in catalog if m.id and m.fuzzy] == []
    assert list(catalog.obsolete) == []
    assert sorted(set(_strings(catalog)) - set(KEYS)) == []
    assert [m.id for m in catalog if m.id and m.string == m.id] == []
    assert str(catalog.locale) == lang


@pytest.mark.parametrize("key", KEYS)
def test_placeholders_are_simple_and_identical_in_every_language(key: str) -> None:
    per_lang = {lang: _fields(_strings(_po(lang))[key]) for lang in LANGS}
    for lang, fields in per_lang.items():
        for field, spec, conv in fields:
            assert re.fullmatch(r"[a-z_][a-z0-9_]*", field), (lang, key, field)
            assert not spec, (lang, key, field)
            assert conv is None, (lang, key, field)
    names = {lang: {f for f, _, _ in fields} for lang, fields in per_lang.items()}
    assert names["en"] == names["fr"], key
    assert texts.placeholders(key) == frozenset(names["fr"])


@pytest.mark.parametrize("lang", LANGS)
def test_compiled_catalogues_are_up_to_date(lang: str) -> None:
    fresh = io.BytesIO()
    write_mo(fresh, _po(lang))
    fresh.seek(0)
    with (LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as stream:
        committed = read_mo(stream)
    assert _strings(committed) == _strings(read_mo(fresh)), (
        f"{lang} .mo is stale: run `make i18n`"
    )


def test_the_template_matches_the_keys_in_the_code(tmp_path: Path) -> None:
    out = tmp_path / f"{DOMAIN}.pot"
    CommandLineInterface().run([
        "pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-k", "N_",
        "--no-default-keywords", "-c", "TRANSLATORS:", "--strip-comment-tags",
        "--no-location", "-o", str(out), str(ROOT / "src"),
    ])
    with out.open("rb") as stream:
        extracted = read_po(stream)
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("rb") as stream:
        committed = read_po(stream)
    assert [m.id for m in extracted if m.id] == list(KEYS)
    assert [(m.id, _notes(m.auto_comments)) for m in committed if m.id] == [
        (m.id, _notes(m.auto_comments)) for m in extracted if m.id
    ], "the committed .pot is stale: run `make i18n`"


@pytest.mark.parametrize("lang", LANGS)
def test_the_po_files_carry_the_template_notes(lang: str) -> None:
    # pybabel update copies the extracted notes into each language; a hand-made entry
    # would lack them.
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("rb") as stream:
        template = {m.id: m.auto_comments for m in read_po(stream) if m.id}
    assert {m.id: m.auto_comments for m in _po(lang) if m.id} == template


def _i18n_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, str(ROOT / "scripts" / "i18n.py"), "--check", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )


def test_the_i18n_script_finds_nothing_to_change() -> None:
    result = _i18n_check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


@pytest.fixture
def locale_copy(tmp_path: Path) -> Path:
    """A copy of the committed catalogues that a test may alter."""
    copy = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, copy)
    return copy


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def test_the_i18n_check_ignores_what_tools_write_for_themselves(locale_copy: Path) -> None:
    # A newer Babel writes another Generated-By header, dates and line wrapping, and a .mo
    # whose header differs: none of that is a change of meaning.
    pot = locale_copy / f"{DOMAIN}.pot"
    for path in (pot, *locale_copy.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r'"Generated-By: [^"]*"', r'"Generated-By: Babel 99.0.0\\n"', text)
        text = re.sub(r'"POT-Creation-Date: [^"]*"',
                      r'"POT-Creation-Date: 2031-01-01 00:00+0000\\n"', text)
        path.write_text(text, encoding="utf-8")
    for po in locale_copy.glob(f"*/LC_MESSAGES/{DOMAIN}.po"):
        with po.open("rb") as stream:
            catalog = read_po(stream)
        catalog.project = "another-project-name"
        with po.with_suffix(".mo").open("wb") as stream:
            write_mo(stream, catalog)
    assert "Babel 99.0.0" in pot.read_text(encoding="utf-8")
    result = _i18n_check("--locale-dir", str(locale_copy))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_i18n_check_finds_a_changed_translation(locale_copy: Path) -> None:
    po = locale_copy / "fr" / "LC_MESSAGES" / f"{DOMAIN}.po"
    _edit(po, 'msgstr "SE CONNECTER À VOTRE COMPTE"', 'msgstr "SE CONNECTER"')
    result = _i18n_check("--locale-dir", str(locale_copy))
    assert result.returncode == 1
    assert "fr/LC_MESSAGES/cegema_onboarding.mo is out of date" in result.stderr


def test_the_i18n_check_finds_a_template_out_of_step_with_the_code(locale_copy: Path) -> None:
    pot = locale_copy / f"{DOMAIN}.pot"
    text = pot.read_text(encoding="utf-8")
    first = text.index('msgid "screen.')
    pot.write_text(text[:first] + '#, fuzzy\n' + text[first:], encoding="utf-8")
    result = _i18n_check("--locale-dir", str(locale_copy))
    assert result.returncode == 1
    assert "cegema_onboarding.pot is out of date with texts.KEYS" in result.stderr


def test_the_i18n_check_finds_an_untranslated_new_key(locale_copy: Path) -> None:
    en = locale_copy / "en" / "LC_MESSAGES" / f"{DOMAIN}.po"
    text = en.read_text(encoding="utf-8")
    start = text.index('msgid "screen.login.title"')
    end = text.index("\n\n", start)
    en.write_text(text[:start] + text[end + 2:], encoding="utf-8")
    result = _i18n_check("--locale-dir", str(locale_copy))
    assert result.returncode == 1
    assert "en/LC_MESSAGES/cegema_onboarding.po is out of date" in result.stderr


def test_every_key_named_in_code_or_templates_exists() -> None:
    unknown: list[str] = []
    package = ROOT / "src" / "cegema_onboarding"
    for path in sorted(package.rglob("*")):
        # The key registry itself is where CATALOG's keys come from.
        registry = path.parent.name == "texts" and path.name.startswith("keys")
        if path.suffix not in {".py", ".html", ".txt"} or registry:
            continue
        for key in _KEY_LITERAL.findall(path.read_text(encoding="utf-8")):
            if key not in CATALOG:
                unknown.append(f"{path.relative_to(package)}: {key}")
    assert unknown == []


# --- What members see ---------------------------------------------------------------------

SCREENS = [
    ("screen.login.title", {}, "SE CONNECTER À VOTRE COMPTE", "LOG IN TO YOUR ACCOUNT"),
    ("screen.email.title", {}, "PREMIÈRE CONNEXION", "FIRST CONNECTION"),
    (
        "notice.link_sent",
        {"brand": "Cegema"},
        "Un lien de validation vient de vous être envoyé sur votre adresse e-mail. Pour "
        "valider votre compte, il vous suffit de cliquer sur le lien que vous avez reçu dans "
        "l'e-mail de validation Cegema.",
        "A validation link has just been sent to your email address. To validate your "
        "account, simply click the link in the Cegema validation email.",
    ),
    (
        "mail.validation.subject",
        {"brand": "CEGEMA"},
        "CEGEMA : Vérification de l'adresse mail",
        "CEGEMA: Verify your email address",
    ),
    (
        "mail.password_changed.subject",
        {"brand": "CEGEMA"},
        "CEGEMA : Votre mot de passe a été changé",
        "CEGEMA: Your password has been changed",
    ),
    ("reason.bad_credentials", {}, "Identifiant ou mot de passe incorrect.",
     "Incorrect identifier or password."),
]


@pytest.mark.parametrize(("key", "params", "french", "english"), SCREENS)
def test_key_screens_in_french_by_default_and_in_english(
    key: str, params: dict[str, str], french: str, english: str, no_overrides: None
) -> None:
    assert text(key, **params) == french
    assert text(key, "fr-FR", **params) == french
    assert text(key, "en", **params) == english
    assert texts.template(key, "en").format(**params) == english


def test_unknown_key_is_a_key_error_everywhere() -> None:
    for call in (
        lambda: text("screen.nowhere"),
        lambda: texts.template("screen.nowhere", "en"),
        lambda: CATALOG["screen.nowhere"],
        lambda: texts.placeholders("screen.nowhere"),
    ):
        with pytest.raises(KeyError) as info:
            call()
        assert info.value.args == ("screen.nowhere",)
    assert CATALOG.get("screen.nowhere") is None


# --- Missing entries at run time ----------------------------------------------------------


def _compile(localedir: Path, lang: str, entries: dict[str, str]) -> None:
    catalog = Catalog(locale=lang, domain=DOMAIN)
    for key, value in entries.items():
        catalog.add(key, value)
    target = localedir / lang / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / f"{DOMAIN}.mo").open("wb") as stream:
        write_mo(stream, catalog)


def test_a_missing_english_entry_shows_french_and_is_logged_once(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fresh_catalogues: None,
    no_overrides: None,
) -> None:
    french = {key: CATALOG[key]["fr"] for key in KEYS}
    english = {key: CATALOG[key]["en"] for key in KEYS if key != "button.save"}
    _compile(tmp_path, "fr", french)
    _compile(tmp_path, "en", english)
    monkeypatch.setattr(texts, "LOCALE_DIR", tmp_path)
    monkeypatch.setattr(texts, "_reported", set())
    texts._forget_loaded()
    with caplog.at_level(logging.WARNING, logger="cegema_onboarding.texts"):
        assert text("button.save", "en") == "Enregistrer"
        assert text("button.save", "en") == "Enregistrer"
        assert text("button.validate", "en") == "Submit"
    records = [r for r in caplog.records if r.name == "cegema_onboarding.texts"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert "button.save" in records[0].getMessage()
    # The French fallback is the effective French, host overrides included.
    texts.set_overrides({"fr": {"button.save": "Sauvegarder"}})
    assert text("button.save", "en") == "Sauvegarder"


def test_a_missing_french_catalogue_shows_the_key_and_logs_an_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fresh_catalogues: None,
    no_overrides: None,
) -> None:
    monkeypatch.setattr(texts, "LOCALE_DIR", tmp_path)
    monkeypatch.setattr(texts, "_reported", set())
    texts._forget_loaded()
    with caplog.at_level(logging.WARNING, logger="cegema_onboarding.texts"):
        assert text("screen.login.title") == "screen.login.title"
    assert any(r.levelno == logging.ERROR for r in caplog.records)


def test_the_packaged_catalogues_load_through_stdlib_gettext() -> None:
    import gettext

    for lang in LANGS:
        translation = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[lang])
        assert translation.gettext("label.password") == CATALOG["label.password"][lang]


# --- Host overrides -----------------------------------------------------------------------


def test_overrides_reword_one_language_and_can_be_undone(no_overrides: None) -> None:
    previous = texts.set_overrides(
        {"fr": {"screen.login.title": "CONNEXION", "mail.validation.subject": "Votre adresse"}}
    )
    assert previous == {}
    assert text("screen.login.title") == "CONNEXION"
    assert CATALOG["screen.login.title"]["fr"] == "CONNEXION"
    assert text("screen.login.title", "en") == "LOG IN TO YOUR ACCOUNT"
    # An override may leave out a placeholder; callers still pass it.
    assert text("mail.validation.subject", brand="CEGEMA") == "Votre adresse"
    assert texts.placeholders("mail.validation.subject") == frozenset({"brand"})
    replaced = texts.set_overrides(None)
    assert replaced["fr"]["screen.login.title"] == "CONNEXION"
    assert text("screen.login.title") == "SE CONNECTER À VOTRE COMPTE"


def test_a_text_already_shown_changes_with_the_overrides(no_overrides: None) -> None:
    # texts.text keeps the texts without parameters it has made: overrides set later must
    # still show, and the packaged wording come back when they go.
    assert text("button.save") == "Enregistrer"
    texts.set_overrides({"fr": {"button.save": "Sauvegarder"}})
    assert text("button.save") == "Sauvegarder"
    texts.set_overrides(None)
    assert text("button.save") == "Enregistrer"


def test_texts_kept_for_languages_asked_by_requests_are_bounded(no_overrides: None) -> None:
    for n in range(texts._PLAIN_MAX + 50):
        assert text("button.save", f"en-x{n}") == "Save"
    assert len(texts._plain) <= texts._PLAIN_MAX


def test_overrides_fill_placeholders_like_the_packaged_text(no_overrides: None) -> None:
    texts.set_overrides({"en": {"notice.link_sent": "Check your {brand} mailbox."}})
    assert text("notice.link_sent", "en", brand="Acme") == "Check your Acme mailbox."
    assert text("notice.link_sent", "fr", brand="Acme").startswith("Un lien de validation")


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"de": {"screen.login.title": "ANMELDEN"}}, "unsupported language"),
        ({"fr": {"screen.nowhere": "x"}}, "unknown key"),
        ({"fr": "SE CONNECTER"}, "must map keys to texts"),
        ({"fr": {"screen.login.title": "  "}}, "non-empty"),
        ({"fr": {"screen.login.title": 3}}, "non-empty"),
        ({"fr": {"mail.validation.subject": "{brand} {member_number}"}}, "member_number"),
        ({"fr": {"mail.validation.subject": "{brand!r}"}}, "plain"),
        ({"fr": {"mail.validation.subject": "{brand:>10}"}}, "plain"),
        ({"fr": {"mail.validation.subject": "{0}"}}, "plain"),
        ({"fr": {"mail.validation.subject": "{brand"}}, "braces"),
    ],
)
def test_bad_overrides_are_refused_and_change_nothing(
    overrides: dict[str, dict[str, object]], problem: str, no_overrides: None
) -> None:
    texts.set_overrides({"fr": {"button.save": "Sauver"}})
    with pytest.raises(ConfigurationError, match=re.escape(problem)):
        texts.set_overrides(overrides)  # type: ignore[arg-type]
    assert text("button.save") == "Sauver"
    assert text("screen.login.title") == "SE CONNECTER À VOTRE COMPTE"


def test_literal_braces_in_an_override_are_escaped_like_str_format(no_overrides: None) -> None:
    texts.set_overrides({"fr": {"button.save": "Enregistrer {{ok}}"}})
    assert text("button.save") == "Enregistrer {ok}"


def test_overrides_from_a_host_catalogue_directory(tmp_path: Path, no_overrides: None) -> None:
    host = Catalog(locale="fr", domain=DOMAIN)
    host.add("screen.login.title", "ESPACE ADHÉRENT")
    host.add("not.a.key", "ignored")
    host.add("button.save", "")
    target = tmp_path / "fr" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / f"{DOMAIN}.mo").open("wb") as stream:
        write_mo(stream, host)
    found = texts.catalog_overrides(tmp_path)
    assert found == {"fr": {"screen.login.title": "ESPACE ADHÉRENT"}}
    texts.set_overrides(found)
    assert text("screen.login.title") == "ESPACE ADHÉRENT"
    assert text("button.save") == "Enregistrer"
    assert texts.catalog_overrides(tmp_path / "nowhere") == {}
