"""The secret questions a member may choose from (step 7 of the guide).

Only a question's ``id`` is ever stored with an account, so labels can be reworded or
translated without touching stored data, and ids must stay stable once in use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Final

import attrs

from .errors import ConfigurationError
from .texts import resolve_lang

__all__ = ["DEFAULT_QUESTIONS", "QuestionCatalog", "SecretQuestion"]

# Ids end up in storage columns and form values: keep them short and boring.
_ID = re.compile(r"[a-z0-9_]{1,64}")


@attrs.frozen
class SecretQuestion:
    """One question, identified by a stable id, with its French and English labels."""

    id: str
    fr: str
    en: str

    def label(self, lang: str | None = None) -> str:
        """The question in ``lang`` (French when the language is unknown)."""
        return self.en if resolve_lang(lang) == "en" else self.fr


# Questions whose answers are neither on the member's contract nor in the insurer's records
# (so not the member's own birth city or date): the insurer's staff must not know them either.
DEFAULT_QUESTIONS: Final[tuple[SecretQuestion, ...]] = (
    SecretQuestion(
        "mother_maiden_name",
        "Nom de jeune fille de votre mère ?",
        "Your mother's maiden name?",
    ),
    SecretQuestion(
        "first_pet",
        "Nom de votre premier animal de compagnie ?",
        "Name of your first pet?",
    ),
    SecretQuestion(
        "father_birth_city",
        "Ville de naissance de votre père ?",
        "Your father's city of birth?",
    ),
    SecretQuestion(
        "first_school",
        "Nom de votre école primaire ?",
        "Name of your primary school?",
    ),
    SecretQuestion(
        "childhood_friend",
        "Prénom de votre meilleur ami ou meilleure amie d'enfance ?",
        "First name of your best childhood friend?",
    ),
    SecretQuestion(
        "first_car",
        "Modèle de votre première voiture ?",
        "Model of your first car?",
    ),
)


class QuestionCatalog:
    """An ordered, immutable set of questions with unique, well-formed ids."""

    __slots__ = ("_by_id", "_questions")

    def __init__(self, questions: Iterable[SecretQuestion]) -> None:
        items = tuple(questions)
        by_id: dict[str, SecretQuestion] = {}
        for question in items:
            if not isinstance(question, SecretQuestion):
                raise ConfigurationError("a question catalogue holds SecretQuestion values only")
            if not isinstance(question.id, str) or not _ID.fullmatch(question.id):
                raise ConfigurationError(
                    f"question id {question.id!r} must match [a-z0-9_]+ (64 characters at most)"
                )
            if question.id in by_id:
                raise ConfigurationError(f"question id {question.id!r} is used twice")
            for lang in ("fr", "en"):
                label = getattr(question, lang)
                if not isinstance(label, str) or not label.strip():
                    raise ConfigurationError(f"question {question.id!r} has no {lang} label")
            by_id[question.id] = question
        self._questions = items
        self._by_id = by_id

    def get(self, question_id: str) -> SecretQuestion | None:
        """The question with this id, or None."""
        if not isinstance(question_id, str):
            return None
        return self._by_id.get(question_id)

    def __contains__(self, question_id: object) -> bool:
        return isinstance(question_id, str) and question_id in self._by_id

    def __iter__(self) -> Iterator[SecretQuestion]:
        return iter(self._questions)

    def __len__(self) -> int:
        return len(self._questions)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuestionCatalog):
            return NotImplemented
        return self._questions == other._questions

    def __hash__(self) -> int:
        return hash(self._questions)

    def __repr__(self) -> str:
        return f"QuestionCatalog({[q.id for q in self._questions]!r})"
