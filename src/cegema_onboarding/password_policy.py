"""Rules for member-chosen passwords and secret answers (ASVS 6.2, NIST SP 800-63B).

No composition rules. A password is refused only for a reason the member can act on, and every
applicable reason is returned, in the order of the enum, so the screen can list them all. The
last rule is a floor on the guessability estimate of :mod:`cegema_onboarding.strength`.

Raw input that is not text at all (wrong type, control characters, lone surrogates) is not a
"reason" but bad input, and raises :class:`~cegema_onboarding.errors.InvalidInput` like every
other normaliser.
"""

from __future__ import annotations

import enum
import functools
import gzip
import hmac
import re
from collections.abc import Iterable
from importlib import resources
from typing import Final

import attrs

from cegema_onboarding import normalize, strength
from cegema_onboarding.errors import ConfigurationError, InvalidInput

__all__ = [
    "ABSOLUTE_MAX_PASSWORD",
    "DEFAULT_MIN_STRENGTH_BITS",
    "MIN_CONTAINS_LENGTH",
    "TRIVIAL_ANSWERS",
    "AnswerRejection",
    "PasswordContext",
    "PasswordPolicy",
    "PasswordRejection",
    "check_answer",
    "common_passwords",
]

ABSOLUTE_MIN_PASSWORD: Final = 8
# Login, re-authentication and hashing all stop at normalize.MAX_PASSWORD: a longer cap
# would accept passwords that could never be typed in again.
ABSOLUTE_MAX_PASSWORD: Final = normalize.MAX_PASSWORD
# Shorter fragments (a two-letter name, a one-digit member number) would reject half of all
# passwords while protecting nothing.
MIN_CONTAINS_LENGTH: Final = 3
#: The default floor of :func:`cegema_onboarding.strength.estimate`, in bits (log2 of the
#: guesses). Why 40 and not 50: see docs/security.md ("Password strength").
DEFAULT_MIN_STRENGTH_BITS: Final = 40
# A higher floor would ask more than the estimator measures exactly (strength.CAP_BITS).
_MAX_STRENGTH_BITS: Final = 128
_COMMON_DIR: Final = "data"
_COMMON_FILE: Final = "common-passwords.txt.gz"
_NAME_SPLIT = re.compile(r"[\s\-'’‘ʼ.,]+")
_NON_ALNUM = re.compile(r"[\W_]+")


@functools.cache
def common_passwords() -> frozenset[str]:
    """Return the bundled list of common passwords (lowercase), loaded once."""
    # One joinpath step at a time: older Traversables accept a single segment only.
    resource = resources.files("cegema_onboarding").joinpath(_COMMON_DIR).joinpath(_COMMON_FILE)
    with resource.open("rb") as fh, gzip.open(fh, "rt", encoding="utf-8") as text:
        return frozenset(line.strip() for line in text if line.strip())


class PasswordRejection(enum.Enum):
    """Why a new password was refused."""

    EMPTY = "empty"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    MISMATCH = "mismatch"
    COMMON = "common"
    CONTAINS_MEMBER_NUMBER = "contains_member_number"
    CONTAINS_EMAIL = "contains_email"
    CONTAINS_NAME = "contains_name"
    CONTAINS_SITE_NAME = "contains_site_name"
    # The guessability estimate is under the policy's floor (not given with COMMON).
    TOO_GUESSABLE = "too_guessable"
    # Computed by the flow, which holds the pepper and the stored initial digest.
    SAME_AS_INITIAL = "same_as_initial"


def _str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    # A bare str is itself an iterable of str; take it as one item, not as its letters.
    return (value,) if isinstance(value, str) else tuple(value)


@attrs.frozen
class PasswordContext:
    """What a password must not contain: the member's own identifiers."""

    member_number: str = attrs.field(default="", repr=False)
    email: str = attrs.field(default="", repr=False)
    names: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple, repr=False)


def _fold(value: str) -> str:
    return normalize.fold_for_comparison(value)


def _squash(value: str) -> str:
    # Separators removed, so "AB-12/345" is also caught as "ab12345" inside a password.
    return _NON_ALNUM.sub("", value)


def _contains(folded_password: str, needle: str) -> bool:
    if len(needle) < MIN_CONTAINS_LENGTH:
        return False
    if needle in folded_password:
        return True
    squashed = _squash(needle)
    return len(squashed) >= MIN_CONTAINS_LENGTH and squashed in _squash(folded_password)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


@attrs.frozen
class PasswordPolicy:
    """Length bounds, the deny-lists and the guessability floor; :meth:`check` gives every reason.

    ``min_strength_bits`` is the least log2(guesses) that
    :func:`cegema_onboarding.strength.estimate` must find; 0 turns that check off.
    """

    min_length: int = 12
    max_length: int = 1024
    site_names: tuple[str, ...] = attrs.field(default=("cegema",), converter=_str_tuple)
    min_strength_bits: int = DEFAULT_MIN_STRENGTH_BITS

    def __attrs_post_init__(self) -> None:
        """Validate the configuration."""
        for name in ("min_length", "max_length", "min_strength_bits"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigurationError(f"PasswordPolicy.{name} must be an int")
        if self.min_length < ABSOLUTE_MIN_PASSWORD:
            raise ConfigurationError("PasswordPolicy.min_length must be at least 8 (ASVS 6.2.1)")
        if not 64 <= self.max_length <= ABSOLUTE_MAX_PASSWORD:
            # ASVS 6.2.9: at least 64 characters must be accepted; the cap bounds hashing work.
            raise ConfigurationError(
                f"PasswordPolicy.max_length must be in 64..{ABSOLUTE_MAX_PASSWORD}")
        if self.min_length > self.max_length:
            raise ConfigurationError("PasswordPolicy.min_length must not exceed max_length")
        if not all(isinstance(s, str) and s.strip() for s in self.site_names):
            raise ConfigurationError("PasswordPolicy.site_names must be non-empty strings")
        if not 0 <= self.min_strength_bits <= _MAX_STRENGTH_BITS:
            raise ConfigurationError(
                f"PasswordPolicy.min_strength_bits must be in 0..{_MAX_STRENGTH_BITS}")

    def check(
        self, password: str, confirmation: str, context: PasswordContext
    ) -> tuple[PasswordRejection, ...]:
        """Return every reason to refuse ``password`` (empty tuple: accepted)."""
        R = PasswordRejection
        if not isinstance(password, str):
            raise InvalidInput("password", "type")
        # The raw length bounds everything below; refuse before any other work.
        if len(password) > self.max_length:
            return (R.TOO_LONG,)
        if not password.strip():
            return (R.EMPTY,)
        try:
            value = normalize.normalize_password(password, max_len=self.max_length)
        except InvalidInput as exc:
            if exc.reason != "too_long":
                raise
            # NFKC expanded it past the cap.
            return (R.TOO_LONG,)
        reasons: set[PasswordRejection] = set()
        if len(value) < self.min_length:
            reasons.add(R.TOO_SHORT)
        if not self._confirms(value, confirmation):
            reasons.add(R.MISMATCH)
        folded = _fold(value)
        if folded.strip() in common_passwords() or value.casefold().strip() in common_passwords():
            reasons.add(R.COMMON)
        if context.member_number and _contains(folded, _fold(context.member_number)):
            reasons.add(R.CONTAINS_MEMBER_NUMBER)
        if context.email and self._contains_email(folded, context.email):
            reasons.add(R.CONTAINS_EMAIL)
        if any(
            _contains(folded, token)
            for name in context.names
            for token in _NAME_SPLIT.split(_fold(name))
        ):
            reasons.add(R.CONTAINS_NAME)
        if any(_contains(folded, _fold(site)) for site in self.site_names):
            reasons.add(R.CONTAINS_SITE_NAME)
        # Last, and not for a listed password: being on the list already says it is guessable.
        # Only "below the floor?" matters here: the search stops at the floor.
        if self.min_strength_bits and R.COMMON not in reasons and (
                self.estimate(value, context, cap=self.min_strength_bits).bits
                < self.min_strength_bits):
            reasons.add(R.TOO_GUESSABLE)
        return tuple(r for r in R if r in reasons)

    def estimate(self, password: str, context: PasswordContext, *,
                 cap: float = strength.CAP_BITS) -> strength.Estimate:
        """The guessability of ``password`` (NFKC) for this member and this site.

        ``cap``: as in :func:`cegema_onboarding.strength.estimate`, exact below it only.
        """
        local = context.email.rpartition("@")[0]
        inputs = (context.member_number, context.email, local, *context.names, *self.site_names)
        return strength.estimate(password, (value for value in inputs if value), cap=cap)

    def _confirms(self, value: str, confirmation: object) -> bool:
        if not isinstance(confirmation, str) or len(confirmation) > self.max_length:
            return False
        try:
            other = normalize.normalize_password(confirmation, max_len=self.max_length)
        except InvalidInput:
            return False
        return _same(value, other)

    @staticmethod
    def _contains_email(folded: str, email: str) -> bool:
        address = _fold(email.strip())
        local = address.rpartition("@")[0]
        return _contains(folded, address) or _contains(folded, local)


class AnswerRejection(enum.Enum):
    """Why a secret answer was refused."""

    EMPTY = "empty"
    TOO_LONG = "too_long"
    MISMATCH = "mismatch"
    TRIVIAL = "trivial"
    SAME_AS_MEMBER_NUMBER = "same_as_member_number"
    SAME_AS_EMAIL = "same_as_email"
    # Computed by the flow, which has the new password at hand.
    SAME_AS_PASSWORD = "same_as_password"  # noqa: S105 - a reason code, not a password


# Compared after normalize_answer, so they are written in that form (casefolded, no accents,
# no punctuation, single spaces).
TRIVIAL_ANSWERS: Final = frozenset(
    {
        "aucun",
        "aucune",
        "rien",
        "non",
        "oui",
        "none",
        "nothing",
        "no",
        "yes",
        "n a",
        "na",
        "nsp",
        "test",
        "azerty",
        "qwerty",
        "abc",
        "abcd",
        "123",
        "1234",
        "12345",
        "123456",
        "password",
        "motdepasse",
        "mot de passe",
        "secret",
        "reponse",
        "answer",
        "question",
        "je ne sais pas",
        "je sais pas",
        "sais pas",
        "jsp",
        "i don t know",
        "idk",
        "inconnu",
        "inconnue",
        "personne",
        "nom",
        "prenom",
        "cegema",
    }
)


def _answer_form(raw: str) -> str | AnswerRejection:
    if not isinstance(raw, str):
        raise InvalidInput("answer", "type")
    if len(raw) > normalize.MAX_ANSWER:
        return AnswerRejection.TOO_LONG
    try:
        return normalize.normalize_answer(raw)
    except InvalidInput as exc:
        if exc.reason == "too_long":
            return AnswerRejection.TOO_LONG
        if exc.reason != "empty":
            raise
    # Blank input is EMPTY; input that was only punctuation ("?", "...") is TRIVIAL.
    return AnswerRejection.EMPTY if not raw.strip() else AnswerRejection.TRIVIAL


def _comparable(raw: object) -> str | None:
    """Return the form two entries are compared in, or None if ``raw`` cannot match anything."""
    if not isinstance(raw, str) or len(raw) > normalize.MAX_ANSWER:
        return None
    try:
        return normalize.normalize_answer(raw)
    except InvalidInput as exc:
        if exc.reason != "empty":
            return None
    # Punctuation only: compare what was typed, so "?" confirmed by "?" is not also a mismatch.
    return raw.strip() or None


def _is_trivial(answer: str) -> bool:
    return len(answer) < 2 or len(set(answer.replace(" ", ""))) <= 1 or answer in TRIVIAL_ANSWERS


def _answer_key(value: str) -> str:
    # Spaces removed too, so an answer "AB 12 345" equals the member number "AB-12/345".
    try:
        return normalize.normalize_answer(value).replace(" ", "")
    except InvalidInput:
        return ""


def check_answer(
    answer: str, confirmation: str, *, member_number: str = "", email: str = ""
) -> tuple[AnswerRejection, ...]:
    """Return every reason to refuse a secret ``answer`` (empty tuple: accepted)."""
    A = AnswerRejection
    form = _answer_form(answer)
    if form is A.EMPTY or form is A.TOO_LONG:
        return (form,)
    reasons: set[AnswerRejection] = set()
    if isinstance(form, AnswerRejection) or _is_trivial(form):
        reasons.add(A.TRIVIAL)
    mine, theirs = _comparable(answer), _comparable(confirmation)
    if mine is None or theirs is None or not _same(mine, theirs):
        reasons.add(A.MISMATCH)
    key = _answer_key(answer)
    if key:
        if member_number and _same(key, _answer_key(member_number)):
            reasons.add(A.SAME_AS_MEMBER_NUMBER)
        if email:
            local = _answer_key(email.strip().rpartition("@")[0])
            if _same(key, _answer_key(email)) or (local and _same(key, local)):
                reasons.add(A.SAME_AS_EMAIL)
    return tuple(r for r in A if r in reasons)
