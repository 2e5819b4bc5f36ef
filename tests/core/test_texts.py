"""The member-facing text catalogue: completeness, placeholders, languages, wording."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cegema_onboarding import texts
from cegema_onboarding.texts import CATALOG, DEFAULT_LANG, LANGS, REASONS, resolve_lang, text

_FORMATTER = string.Formatter()
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
_PREFIXES = (
    "reason.", "screen.", "label.", "button.", "notice.", "mail.", "offline.", "unit.", "ui.",
    "demo.",
)


def _fields(template: str) -> list[tuple[str, str | None, str | None]]:
    return [(f, spec, conv) for _, f, spec, conv in _FORMATTER.parse(template) if f is not None]


def test_languages_and_default() -> None:
    assert LANGS == ("fr", "en")
    assert DEFAULT_LANG == "fr"


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_every_key_has_both_languages_non_empty(key: str) -> None:
    entry = CATALOG[key]
    assert set(entry) == set(LANGS)
    for lang in LANGS:
        assert isinstance(entry[lang], str)
        assert entry[lang].strip() == entry[lang]
        assert entry[lang]


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_placeholders_are_named_simple_and_identical_in_both_languages(key: str) -> None:
    fr, en = (_fields(CATALOG[key][lang]) for lang in LANGS)
    # Only {name}: no positional fields, attribute/index access, format spec or conversion,
    # so that translators (and hosts' overrides) only ever deal with plain {name} fields.
    for field, spec, conv in fr + en:
        assert _IDENTIFIER.fullmatch(field), (key, field)
        assert not spec, (key, field)
        assert conv is None, (key, field)
    assert {f for f, _, _ in fr} == {f for f, _, _ in en}, key
    assert texts.placeholders(key) == frozenset(f for f, _, _ in fr)


def test_keys_use_the_documented_prefixes() -> None:
    stray = [key for key in CATALOG if not key.startswith(_PREFIXES)]
    assert stray == []


def test_every_reason_has_a_text_and_no_reason_text_is_orphaned() -> None:
    assert len(set(REASONS)) == len(REASONS)
    declared = {f"reason.{value}" for value in REASONS}
    present = {key for key in CATALOG if key.startswith("reason.")}
    assert declared == present


def test_the_flow_reasons_all_have_texts() -> None:
    flow = pytest.importorskip("cegema_onboarding.flow")
    missing = [r.value for r in flow.Reason if f"reason.{r.value}" not in CATALOG]
    assert missing == []


def test_the_offline_notices_all_have_texts() -> None:
    flow = pytest.importorskip("cegema_onboarding.flow")
    for notice in flow.Notice:
        rendered = text(f"offline.{notice.value}", "fr", name="Zoé", brand="CEGEMA", detail="x")
        assert "Zoé" in rendered


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        (None, "fr"),
        ("fr", "fr"),
        ("en", "en"),
        ("EN", "en"),
        ("fr-FR", "fr"),
        ("en-GB", "en"),
        ("en_GB", "en"),
        ("en_US.UTF-8", "en"),
        (" en-us ", "en"),
        ("en;q=0.8", "en"),
        ("de", "fr"),
        ("de-DE", "fr"),
        ("english", "fr"),
        ("", "fr"),
        ("e", "fr"),
    ],
)
def test_resolve_lang(tag: str | None, expected: str) -> None:
    assert resolve_lang(tag) == expected


@given(st.one_of(st.none(), st.text(max_size=200)))
def test_resolve_lang_always_returns_a_supported_language(tag: str | None) -> None:
    assert resolve_lang(tag) in LANGS


def test_text_defaults_to_french_and_resolves_tags() -> None:
    assert text("label.password") == "Mot de passe"
    assert text("label.password", None) == "Mot de passe"
    assert text("label.password", "en-GB") == "Password"
    assert text("label.password", "it") == "Mot de passe"


def test_text_fills_placeholders() -> None:
    assert text("reason.password_too_short", "fr", min_length=12) == (
        "Votre mot de passe doit contenir au moins 12 caractères."
    )
    assert text("reason.password_too_long", "en", max_length=1024) == (
        "Your password must not be longer than 1024 characters."
    )
    assert text("label.profile_completion", percent=90) == "Profil complété à 90%"


def test_values_are_not_reinterpreted_as_templates() -> None:
    assert text("mail.greeting", "fr", name="{brand} {0}") == "Bonjour ! {brand} {0}"


def test_unknown_key_raises_key_error_naming_it() -> None:
    with pytest.raises(KeyError) as info:
        text("reason.no_such_thing")
    assert info.value.args == ("reason.no_such_thing",)
    with pytest.raises(KeyError):
        texts.placeholders("screen.nowhere")


def test_missing_placeholder_raises_key_error_naming_it() -> None:
    with pytest.raises(KeyError) as info:
        text("reason.password_too_short", "fr")
    assert info.value.args == ("min_length",)


def test_key_and_lang_are_positional_only_so_params_may_use_those_names() -> None:
    # A host's params dict may well contain "lang" or "key": they must not collide.
    assert text("label.email", "en", key="x", lang="y") == "Email"


# The printed guide's wording, character for character where the guide has it.
GUIDE = {
    "screen.login.title": "SE CONNECTER À VOTRE COMPTE",
    "screen.login.subtitle": "ENTREZ VOS IDENTIFIANTS CI-DESSOUS",
    "label.identifier": "Identifiant",
    "label.password": "Mot de passe",
    "label.remember_me": "Se souvenir de moi",
    "button.login": "Ouvrir une session",
    "button.forgotten_identifier": "Identifiant oublié ?",
    "button.forgotten_password": "Mot de passe oublié ?",
    "screen.email.title": "PREMIÈRE CONNEXION",
    "screen.email.subtitle": "ENTREZ VOTRE ADRESSE MAIL",
    "label.email": "Email",
    "label.email_confirm": "Confirmer votre email",
    "button.validate": "Valider",
    "button.no_email": "Vous n'avez pas d'adresse email ?",
    "label.new_password": "Choisissez votre nouveau mot de passe",
    "label.new_password_confirm": "Merci de confirmer votre nouveau mot de passe",
    "button.save": "Enregistrer",
    "screen.question.title": "Mon profil",
    "screen.question.intro": (
        "Pour des raisons de sécurité, nous vous invitons à répondre à une question secrète. "
        "La réponse vous permettra de réinitialiser votre mot de passe en cas de perte ou "
        "d'oubli"
    ),
    "label.question": "Choisissez votre question secrète",
    "label.answer": "Choisissez votre réponse",
    "label.answer_confirm": "Merci de confirmer votre réponse",
    "screen.connected.title": "Ça y est ! Vous êtes connecté !",
    "screen.profile.title": "Mon profil et mes informations",
    "label.communication_preferences": "Mes préférences de communication",
    "label.channel.phone": "Téléphone",
    "label.channel.email": "Email",
    "label.channel.sms": "SMS",
    "label.channel.post": "Courrier",
    "label.pets": "Avez-vous des animaux de compagnie ?",
    "label.interests": "Mes centres d'intérêt",
    "label.comments": "Commentaires",
    "label.adviser": "MON CONSEILLER",
}


@pytest.mark.parametrize(("key", "wording"), sorted(GUIDE.items()))
def test_guide_wording(key: str, wording: str) -> None:
    assert text(key) == wording


def test_guide_paragraphs_with_the_brand() -> None:
    assert text("notice.no_email", brand="CEGEMA") == (
        "En ne renseignant pas d'adresse e-mail, vous ne pourrez pas profiter de toutes les "
        "fonctionnalités du site. Votre compte sera activé dans les plus brefs délais par "
        "CEGEMA afin que vous puissiez vous connecter. Un conseiller vous tiendra informé du "
        "statut de votre demande."
    )
    assert text("notice.link_sent", brand="Cegema") == (
        "Un lien de validation vient de vous être envoyé sur votre adresse e-mail. Pour "
        "valider votre compte, il vous suffit de cliquer sur le lien que vous avez reçu dans "
        "l'e-mail de validation Cegema."
    )
    assert (
        text("screen.activation_rejected.body", reason="pièce manquante").count("pièce manquante")
        == 1
    )


def test_login_hint_names_the_contract_and_no_longer_demands_capitals() -> None:
    hint = text("screen.login.hint")
    assert hint.startswith(
        "Renseignez votre numéro d'adhérent et votre mot de passe (présent sur vos "
        "Conditions Particulières)"
    )
    # Input case is normalised, so telling members to type in capitals would mislead.
    assert "MAJUSCULES" not in hint


def test_mail_subjects_follow_the_guide() -> None:
    assert text("mail.validation.subject", brand="CEGEMA") == (
        "CEGEMA : Vérification de l'adresse mail"
    )
    assert text("mail.password_changed.subject", brand="CEGEMA") == (
        "CEGEMA : Votre mot de passe a été changé"
    )


@pytest.mark.parametrize("lang", LANGS)
def test_anti_enumeration_wording(lang: str) -> None:
    in_use = text("reason.email_in_use", lang).lower()
    for telltale in ("déjà", "already", "compte", "account", "existe", "exist", "autre adh"):
        assert telltale not in in_use
    locked = text("reason.locked", lang).lower()
    for telltale in ("compte", "account", "bloqué", "locked", "verrouill"):
        assert telltale not in locked
    for key in ("notice.forgotten_identifier_sent", "notice.forgotten_password_sent"):
        # Conditional wording: the same sentence whether or not an account matched.
        assert text(key, lang).lower().startswith(("si un compte", "if an account"))


def test_english_is_not_a_copy_of_french() -> None:
    same = [
        key
        for key, entry in CATALOG.items()
        if entry["fr"] == entry["en"] and not key.startswith("label.channel.")
    ]
    # Only words that are the same in both languages may be shared.
    # The funnel's minutes, seconds and hours are the same symbols (min, s, h) in both.
    assert set(same) <= {"label.email", "ui.copyright", "unit.minutes.other",
                         "ui.demo.staff.actions", "ui.admin.funnel.duration.minutes",
                         "ui.admin.funnel.duration.hours"}
