"""Tests for cegema_onboarding.password_policy."""

from __future__ import annotations

import hmac
import types
import unicodedata
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cegema_onboarding import normalize, password_policy
from cegema_onboarding.errors import ConfigurationError, InvalidInput
from cegema_onboarding.password_policy import (
    TRIVIAL_ANSWERS,
    AnswerRejection,
    PasswordContext,
    PasswordPolicy,
    PasswordRejection,
    check_answer,
    common_passwords,
)

R = PasswordRejection
A = AnswerRejection
GOOD = "violet tramway sings at dawn"
POLICY = PasswordPolicy()
# The guessability floor off, for the tests of the other rules: each is then alone.
CONTENT = PasswordPolicy(min_strength_bits=0)
NOBODY = PasswordContext()
MEMBER = PasswordContext(
    member_number="AB-123456",
    email="jean.dupont@exemple.fr",
    names=("Jean-Édouard Dupont", "Li"),
)


def check(password: str, confirmation: str | None = None, context: PasswordContext = NOBODY,
          policy: PasswordPolicy = POLICY) -> Any:
    return policy.check(password, password if confirmation is None else confirmation, context)


# --- the common-password list --------------------------------------------------------------


def test_common_list_is_djangos_and_loaded_once() -> None:
    words = common_passwords()
    assert len(words) == 19640  # ASVS asks for at least 3,000
    assert {"password", "123456", "qwerty", "azerty", "motdepasse"} <= words
    assert all(w == w.lower() and w == w.strip() and w for w in words)
    assert common_passwords() is words


def test_common_list_entry_long_enough_to_isolate() -> None:
    long_common = sorted(w for w in common_passwords() if len(w) >= 12 and w.isalpha())
    assert long_common
    word = long_common[0]
    assert check(word) == (R.COMMON,)
    assert check(word.upper()) == (R.COMMON,)
    assert check(f" {word} ") == (R.COMMON,)


# --- configuration -------------------------------------------------------------------------


def test_defaults() -> None:
    assert (POLICY.min_length, POLICY.max_length, POLICY.site_names) == (12, 1024, ("cegema",))
    assert POLICY.min_strength_bits == password_policy.DEFAULT_MIN_STRENGTH_BITS == 40


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_length": 7},
        {"min_length": 0},
        {"max_length": 63},
        {"max_length": 4097},
        {"min_length": 100, "max_length": 64},
        {"min_length": 12.0},
        {"max_length": True},
        {"site_names": ("",)},
        {"site_names": (None,)},
        {"min_strength_bits": -1},
        {"min_strength_bits": 129},
        {"min_strength_bits": 40.0},
        {"min_strength_bits": True},
    ],
)
def test_bad_configuration(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        PasswordPolicy(**kwargs)


def test_single_str_is_one_item() -> None:
    assert PasswordPolicy(site_names="acme").site_names == ("acme",)
    assert PasswordContext(names="Jean Dupont").names == ("Jean Dupont",)
    assert PasswordContext(names=["a", "b"]).names == ("a", "b")


def test_limits_are_configurable() -> None:
    policy = PasswordPolicy(min_length=8, max_length=64, site_names=["acme"])
    assert policy.site_names == ("acme",)
    assert policy.check("x7#qP2vL", "x7#qP2vL", NOBODY) == ()
    assert policy.check("a" * 7 + "Z", "a" * 7 + "Z", NOBODY) == (R.TOO_GUESSABLE,)
    assert policy.check("a" * 65, "a" * 65, NOBODY) == (R.TOO_LONG,)
    assert policy.check("my acme pass 1", "my acme pass 1", NOBODY) == (
        R.CONTAINS_SITE_NAME, R.TOO_GUESSABLE)
    assert attrs.evolve(policy, min_strength_bits=0).check(
        "a" * 7 + "Z", "a" * 7 + "Z", NOBODY) == ()
    long = "Vingt-neuf girafes mauves jouent au tarot sous la pluie de Quimper, " * 14
    assert PasswordPolicy(max_length=1024).check(long, long, NOBODY) == ()


# --- each reason ---------------------------------------------------------------------------


def test_accepted() -> None:
    assert check(GOOD, context=MEMBER) == ()


def test_enum_values() -> None:
    assert [r.value for r in R] == [
        "empty",
        "too_short",
        "too_long",
        "mismatch",
        "common",
        "contains_member_number",
        "contains_email",
        "contains_name",
        "contains_site_name",
        "too_guessable",
        "same_as_initial",
    ]
    assert [a.value for a in A] == [
        "empty",
        "too_long",
        "mismatch",
        "trivial",
        "same_as_member_number",
        "same_as_email",
        "same_as_password",
    ]


@pytest.mark.parametrize("password", ["", " ", "    \u3000   "])
def test_empty(password: str) -> None:
    assert check(password) == (R.EMPTY,)


def test_too_short_counts_code_points_after_nfkc() -> None:
    assert check("x7#qP2vL!m9") == (R.TOO_SHORT,)  # 11
    assert check("x7#qP2vL!m9w") == ()  # 12
    # The ligature U+FB03 is one code point that NFKC turns into "ffi".
    assert check("x7#qP2vL!\ufb03") == ()
    assert check("x7#qP2vL!\ufb03"[:-1]) == (R.TOO_SHORT,)


def test_too_long_returns_immediately(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: object, **_kwargs: object) -> Any:
        raise AssertionError("worked on an over-long password")

    monkeypatch.setattr(password_policy, "common_passwords", boom)
    monkeypatch.setattr(normalize, "unicodedata", types.SimpleNamespace(normalize=boom))
    assert POLICY.check("a" * 1025, "", NOBODY) == (R.TOO_LONG,)
    assert POLICY.check("a" * 1_000_000, "a" * 1_000_000, MEMBER) == (R.TOO_LONG,)


def test_sixty_four_and_max_length_are_accepted() -> None:
    sixty_four = "Quatre hiboux verts lisent Proust dans un vieux phare breton ok!"
    assert len(sixty_four) == 64
    assert check(sixty_four) == ()
    # Not a run of consecutive code points, which the estimator would price as a sequence.
    long = "".join(chr(0x4E00 + i * 7919 % 20000) for i in range(1024))
    assert check(long) == ()
    assert check("q" * 63 + "z") == (R.TOO_GUESSABLE,)


def test_nfkc_expansion_past_the_cap_is_too_long() -> None:
    # 57 code points, 1026 after NFKC.
    assert check("\ufdfa" * 57) == (R.TOO_LONG,)


def test_mismatch() -> None:
    assert check(GOOD, GOOD + " ") == (R.MISMATCH,)
    assert check(GOOD, "") == (R.MISMATCH,)
    assert check(GOOD, "x" * 5000) == (R.MISMATCH,)
    assert check(GOOD, GOOD + "\x00") == (R.MISMATCH,)
    assert POLICY.check(GOOD, None, NOBODY) == (R.MISMATCH,)  # type: ignore[arg-type]


def test_confirmation_compared_after_nfkc() -> None:
    fullwidth = "ｖｉｏｌｅｔ tramway sings"
    assert check(fullwidth, "violet tramway sings") == ()
    assert check("café crème brûlée", "cafe\u0301 cre\u0300me bru\u0302le\u0301e") == ()


def test_mismatch_uses_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert check(GOOD) == ()
    assert calls == [(GOOD.encode(), GOOD.encode())]


def test_nothing_is_truncated() -> None:
    a = "z" * 1000 + "a"
    b = "z" * 1000 + "b"
    assert check(a, b, policy=CONTENT) == (R.MISMATCH,)


@pytest.mark.parametrize(
    "password",
    [
        "my number AB-123456!",
        "my number ab123456!",
        "my number ab 123 456",
        "ｍｙ ＡＢ１２３４５６ pass",
    ],
)
def test_contains_member_number(password: str) -> None:
    assert check(password, context=MEMBER, policy=CONTENT) == (R.CONTAINS_MEMBER_NUMBER,)
    assert check(password, context=MEMBER)[0] is R.CONTAINS_MEMBER_NUMBER


@pytest.mark.parametrize(
    "password",
    ["jean.dupont@exemple.fr rocks", "xx JEAN.DUPONT xx yy"],
)
def test_contains_email(password: str) -> None:
    assert R.CONTAINS_EMAIL in check(password, context=MEMBER)


def test_contains_email_local_part_only_when_long_enough() -> None:
    ctx = PasswordContext(email="jd@exemple.fr")
    assert check("my jd mail is long", context=ctx) == ()
    assert check("my jd@exemple.fr mail", context=ctx) == (R.CONTAINS_EMAIL,)
    assert check("zz JDPONT zz long", context=PasswordContext(email="jdpont@x.fr")) == (
        R.CONTAINS_EMAIL,
    )


@pytest.mark.parametrize(
    "password",
    [
        "i am dupont and proud",
        "I AM DUPONT AND PROUD",
        "edouard is my name",
        "Édouard is my name",
        "je suis jean le grand",
    ],
)
def test_contains_name(password: str) -> None:
    assert check(password, context=MEMBER, policy=CONTENT) == (R.CONTAINS_NAME,)
    assert check(password, context=MEMBER)[0] is R.CONTAINS_NAME


def test_short_name_tokens_are_ignored() -> None:
    # "Li" is two letters: it is not checked.
    assert check("a lightly salted tulip", context=MEMBER) == ()


def test_contains_site_name() -> None:
    assert check("I love CEGEMA portal", policy=CONTENT) == (R.CONTAINS_SITE_NAME,)
    assert check("ｃｅｇｅｍａ forever and ever", policy=CONTENT) == (R.CONTAINS_SITE_NAME,)
    # The site's name is also a word of the estimator, priced at almost nothing.
    assert check("ｃｅｇｅｍａ forever and ever") == (R.CONTAINS_SITE_NAME, R.TOO_GUESSABLE)


def test_several_reasons_in_enum_order() -> None:
    result = check("cegema dupont AB-123456", "other", context=MEMBER)
    assert result == (
        R.MISMATCH,
        R.CONTAINS_MEMBER_NUMBER,
        R.CONTAINS_NAME,
        R.CONTAINS_SITE_NAME,
        R.TOO_GUESSABLE,
    )
    # A listed password is guessable by definition: one reason says it.
    assert check("password", "x") == (R.TOO_SHORT, R.MISMATCH, R.COMMON)
    assert check("azertyuiop", "x") == (R.TOO_SHORT, R.MISMATCH, R.COMMON)
    assert check("azertyuiop1", "x") == (R.TOO_SHORT, R.MISMATCH, R.TOO_GUESSABLE)


def test_same_as_initial_exists_but_is_not_computed_here() -> None:
    assert R.SAME_AS_INITIAL.value == "same_as_initial"
    assert R.SAME_AS_INITIAL not in check("ABCDEFGHJKMNPQRS")


def test_bad_input_raises_typed_errors() -> None:
    with pytest.raises(InvalidInput) as info:
        POLICY.check(b"bytes password", "x", NOBODY)  # type: ignore[arg-type]
    assert info.value.reason == "type"
    with pytest.raises(InvalidInput) as info:
        POLICY.check("long enough s3cr3t\x00value", "x", NOBODY)
    assert info.value.reason == "control_char"
    assert "s3cr3t" not in str(info.value)


def test_context_repr_hides_identifiers() -> None:
    assert "dupont" not in repr(MEMBER).lower()
    assert "123456" not in repr(MEMBER)


@given(password=st.text(max_size=80), confirmation=st.text(max_size=80))
def test_check_property(password: str, confirmation: str) -> None:
    try:
        result = POLICY.check(password, confirmation, MEMBER)
    except InvalidInput as exc:
        assert exc.reason in {"control_char", "encoding"}
        return
    assert isinstance(result, tuple)
    order = list(R)
    assert list(result) == sorted(set(result), key=order.index)
    if password == confirmation:
        assert R.MISMATCH not in result


# --- secret answers ------------------------------------------------------------------------


def test_answer_accepted() -> None:
    assert check_answer("Martin-Durand", "martin durand") == ()
    assert check_answer("Éléonore", "eleonore !", member_number="AB1", email="x@y.fr") == ()


@pytest.mark.parametrize("answer", ["", "   ", "\u3000"])
def test_answer_empty(answer: str) -> None:
    assert check_answer(answer, answer) == (A.EMPTY,)


def test_answer_too_long_before_work(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: object, **_kwargs: object) -> Any:
        raise AssertionError("normalised an over-long answer")

    monkeypatch.setattr(normalize, "unicodedata", types.SimpleNamespace(normalize=boom))
    assert check_answer("a" * 257, "a" * 257) == (A.TOO_LONG,)
    assert check_answer("a" * 1_000_000, "") == (A.TOO_LONG,)


def test_answer_too_long_after_nfkc() -> None:
    assert check_answer("\ufdfa" * 15, "\ufdfa" * 15) == (A.TOO_LONG,)


def test_answer_mismatch() -> None:
    assert check_answer("Martin", "Martine") == (A.MISMATCH,)
    assert check_answer("Martin", "") == (A.MISMATCH,)
    assert check_answer("Martin", "a" * 300) == (A.MISMATCH,)
    assert check_answer("Martin", None) == (A.MISMATCH,)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "answer",
    [
        "a",
        "Oui",
        " NON ! ",
        "Aucune.",
        "aaaa",
        "1111",
        "a a a",
        "Je ne sais pas.",
        "je-ne-sais-pas",
        "?",
        "...",
        "AZERTY",
        "Mot de passe",
        "motdepasse",
        "I don't know",
        "Réponse",
    ],
)
def test_answer_trivial(answer: str) -> None:
    assert check_answer(answer, answer) == (A.TRIVIAL,)


def test_trivial_list_is_in_normalised_form() -> None:
    for word in TRIVIAL_ANSWERS:
        assert normalize.normalize_answer(word) == word


def test_answer_same_as_member_number() -> None:
    assert check_answer("ab 123 456", "AB 123-456", member_number="AB-123456") == (
        A.SAME_AS_MEMBER_NUMBER,
    )
    assert check_answer("ab123456", "AB123456", member_number="AB-123456") == (
        A.SAME_AS_MEMBER_NUMBER,
    )


def test_answer_same_as_email() -> None:
    email = "jean.dupont@exemple.fr"
    assert check_answer(email.upper(), email, email=email) == (A.SAME_AS_EMAIL,)
    assert check_answer("Jean Dupont", "jean.dupont", email=email) == (A.SAME_AS_EMAIL,)
    assert check_answer("Jean Dupont", "jean dupont", email="other@exemple.fr") == ()


def test_answer_several_reasons() -> None:
    result = check_answer("oui", "non", email="oui@x.fr")
    assert result == (A.MISMATCH, A.TRIVIAL, A.SAME_AS_EMAIL)


def test_answer_bad_input() -> None:
    with pytest.raises(InvalidInput):
        check_answer(None, "x")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as info:
        check_answer("Mar\x00tin", "Martin")
    assert info.value.reason == "control_char"
    assert "Mar" not in str(info.value)


def test_same_as_password_exists() -> None:
    assert A.SAME_AS_PASSWORD.value == "same_as_password"
    assert A.SAME_AS_PASSWORD not in check_answer("Martin", "Martin")


@given(answer=st.text(max_size=40), confirmation=st.text(max_size=40))
def test_check_answer_property(answer: str, confirmation: str) -> None:
    try:
        result = check_answer(answer, confirmation, member_number="AB1", email="a@b.fr")
    except InvalidInput as exc:
        assert exc.reason in {"control_char", "encoding"}
        return
    order = list(A)
    assert list(result) == sorted(set(result), key=order.index)
    if answer == confirmation:
        assert A.MISMATCH not in result


def test_unicode_functions_untouched() -> None:
    # Guard against a test leaking its monkeypatch into the module.
    assert vars(normalize)["unicodedata"] is unicodedata
