"""The secret question catalogue."""

from __future__ import annotations

import re

import attrs
import pytest

from cegema_onboarding.errors import ConfigurationError
from cegema_onboarding.questions import DEFAULT_QUESTIONS, QuestionCatalog, SecretQuestion


def test_default_questions_include_the_guides_example() -> None:
    catalog = QuestionCatalog(DEFAULT_QUESTIONS)
    question = catalog.get("mother_maiden_name")
    assert question is not None
    assert question.label() == "Nom de jeune fille de votre mère ?"
    assert question.label("en") == "Your mother's maiden name?"


def test_default_questions_are_well_formed_and_distinct() -> None:
    assert 5 <= len(DEFAULT_QUESTIONS) <= 8
    ids = [q.id for q in DEFAULT_QUESTIONS]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z0-9_]+", i) for i in ids)
    for lang in ("fr", "en"):
        labels = [q.label(lang) for q in DEFAULT_QUESTIONS]
        assert len(set(labels)) == len(labels)
        assert all(label.endswith("?") for label in labels)
    # French typography: a space before the question mark.
    assert all(q.fr.endswith(" ?") for q in DEFAULT_QUESTIONS)


def test_no_default_question_asks_what_the_insurer_already_knows() -> None:
    # The member's own birth place or date is on file at the insurer and in many records.
    for question in DEFAULT_QUESTIONS:
        assert "votre naissance" not in question.fr
        assert "votre ville de naissance" not in question.fr.lower()


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (None, "fr"),
        ("fr", "fr"),
        ("fr-CA", "fr"),
        ("en", "en"),
        ("en_GB", "en"),
        ("es", "fr"),
    ],
)
def test_label_follows_the_language(lang: str | None, expected: str) -> None:
    question = SecretQuestion("q", "Question ?", "Question?")
    assert question.label(lang) == (question.fr if expected == "fr" else question.en)


def test_catalog_lookup_membership_iteration_and_length() -> None:
    first = SecretQuestion("a", "A ?", "A?")
    second = SecretQuestion("b_2", "B ?", "B?")
    catalog = QuestionCatalog([first, second])
    assert len(catalog) == 2
    assert list(catalog) == [first, second]
    assert catalog.get("b_2") is second
    assert catalog.get("c") is None
    assert catalog.get(None) is None  # type: ignore[arg-type]
    assert "a" in catalog
    assert "A" not in catalog
    assert 42 not in catalog  # a non-str id is simply absent


def test_catalog_accepts_any_iterable_and_an_empty_one() -> None:
    catalog = QuestionCatalog(q for q in DEFAULT_QUESTIONS)
    assert len(catalog) == len(DEFAULT_QUESTIONS)
    # Hosts that turn questions off may configure none; Settings checks the combination.
    assert len(QuestionCatalog([])) == 0


def test_catalogs_compare_by_content() -> None:
    assert QuestionCatalog(DEFAULT_QUESTIONS) == QuestionCatalog(list(DEFAULT_QUESTIONS))
    assert hash(QuestionCatalog(DEFAULT_QUESTIONS)) == hash(QuestionCatalog(DEFAULT_QUESTIONS))
    assert QuestionCatalog(DEFAULT_QUESTIONS) != QuestionCatalog(DEFAULT_QUESTIONS[:2])
    assert "mother_maiden_name" in repr(QuestionCatalog(DEFAULT_QUESTIONS))


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="twice"):
        QuestionCatalog([SecretQuestion("a", "A ?", "A?"), SecretQuestion("a", "B ?", "B?")])


@pytest.mark.parametrize("bad_id", ["", "Upper", "with space", "with-dash", "é", "a" * 65, "a\n"])
def test_malformed_ids_are_refused(bad_id: str) -> None:
    with pytest.raises(ConfigurationError):
        QuestionCatalog([SecretQuestion(bad_id, "A ?", "A?")])


@pytest.mark.parametrize(("fr", "en"), [("", "A?"), ("A ?", "  "), (None, "A?")])
def test_empty_labels_are_refused(fr: str, en: str) -> None:
    with pytest.raises(ConfigurationError):
        QuestionCatalog([SecretQuestion("a", fr, en)])


def test_non_questions_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        QuestionCatalog(["mother_maiden_name"])  # type: ignore[list-item]


def test_questions_are_immutable() -> None:
    question = DEFAULT_QUESTIONS[0]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        question.id = "other"  # type: ignore[misc]
