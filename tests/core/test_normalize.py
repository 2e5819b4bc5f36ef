"""Tests for cegema_onboarding.normalize."""

from __future__ import annotations

import types
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cegema_onboarding import normalize
from cegema_onboarding.credentials import ALPHABET
from cegema_onboarding.errors import InvalidInput
from cegema_onboarding.normalize import (
    MAX_ANSWER,
    MAX_CODE,
    MAX_EMAIL,
    MAX_MEMBER_NUMBER,
    MAX_NAME,
    MAX_PASSWORD,
    MAX_TOKEN,
    check_text,
    email_key,
    normalize_answer,
    normalize_email,
    normalize_initial_password,
    normalize_member_number,
    normalize_name,
    normalize_password,
)

MEGABYTE = "a" * 1_000_000

NORMALIZERS: dict[str, Callable[[str], str]] = {
    "member_number": normalize_member_number,
    "initial_password": normalize_initial_password,
    "email": normalize_email,
    "password": normalize_password,
    "answer": normalize_answer,
    "name": normalize_name,
}

# Any code point at all, lone surrogates included (Hypothesis's text() leaves those out).
any_text = st.lists(st.integers(0, 0x10FFFF), max_size=40).map(lambda cps: "".join(map(chr, cps)))


def _reason(fn: Callable[[], object]) -> str:
    with pytest.raises(InvalidInput) as info:
        fn()
    return info.value.reason


def test_limits_have_the_agreed_values() -> None:
    assert (MAX_MEMBER_NUMBER, MAX_PASSWORD, MAX_EMAIL, MAX_ANSWER) == (64, 1024, 254, 256)
    assert (MAX_TOKEN, MAX_CODE, MAX_NAME) == (512, 32, 200)


# --- check_text --------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, b"abc", 12, 1.5, ["a"], object()])
def test_check_text_refuses_non_str(value: object) -> None:
    with pytest.raises(InvalidInput) as info:
        check_text(value, "field", 10)
    assert (info.value.field, info.value.reason) == ("field", "type")


def test_check_text_returns_value_unchanged() -> None:
    assert check_text("  Abc  ", "f", 10) == "  Abc  "


@pytest.mark.parametrize("value", ["", " ", "\u3000\u00a0 "])
def test_check_text_refuses_blank(value: str) -> None:
    assert _reason(lambda: check_text(value, "f", 10)) == "empty"


def test_check_text_allow_blank_only_refuses_the_empty_string() -> None:
    assert check_text("   ", "f", 10, allow_blank=True) == "   "
    assert _reason(lambda: check_text("", "f", 10, allow_blank=True)) == "empty"


@pytest.mark.parametrize("char", ["\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\x9f"])
def test_check_text_refuses_control_characters(char: str) -> None:
    assert _reason(lambda: check_text(f"ab{char}cd", "f", 10)) == "control_char"


def test_check_text_refuses_lone_surrogates() -> None:
    assert _reason(lambda: check_text("ab\udc80", "f", 10)) == "encoding"


def test_check_text_length_is_checked_before_content() -> None:
    # A NUL in an over-long value still reports the length: nothing was scanned.
    assert _reason(lambda: check_text("\x00" * 11, "f", 10)) == "too_long"
    assert check_text("a" * 10, "f", 10) == "a" * 10


def test_error_message_never_contains_the_value() -> None:
    with pytest.raises(InvalidInput) as info:
        check_text("hunter2\x00", "password", 100)
    assert "hunter2" not in str(info.value)
    assert "hunter2" not in repr(info.value)


@given(value=st.one_of(any_text, st.binary(), st.integers(), st.none()))
def test_check_text_only_ever_raises_invalid_input(value: object) -> None:
    try:
        out = check_text(value, "f", 20)
    except InvalidInput as exc:
        assert exc.reason in {"type", "too_long", "control_char", "encoding", "empty"}
    else:
        assert out is value


@pytest.mark.parametrize("name", sorted(NORMALIZERS))
@given(value=any_text)
def test_normalizers_only_ever_raise_invalid_input(name: str, value: str) -> None:
    try:
        out = NORMALIZERS[name](value)
    except InvalidInput as exc:
        assert exc.field == name
    else:
        assert isinstance(out, str)
        assert out


# --- over-long input is refused before any work --------------------------------------------


@pytest.mark.parametrize("name", sorted(NORMALIZERS))
def test_megabyte_input_is_refused_before_unicode_work(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_normalize = unicodedata.normalize

    def guarded(form: Any, value: str) -> str:
        if len(value) > 10_000:
            raise AssertionError("NFKC ran on over-long input")
        return real_normalize(form, value)

    def no_validation(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("email validation ran on over-long input")

    # Patched in the module under test only: pytest itself uses unicodedata.normalize.
    fake = types.SimpleNamespace(
        normalize=guarded, combining=unicodedata.combining, category=unicodedata.category
    )
    monkeypatch.setattr(normalize, "unicodedata", fake)
    monkeypatch.setattr(normalize, "validate_email", no_validation)
    with pytest.raises(InvalidInput) as info:
        NORMALIZERS[name](MEGABYTE)
    assert (info.value.field, info.value.reason) == (name, "too_long")


@pytest.mark.parametrize("name", sorted(NORMALIZERS))
def test_normalizers_refuse_non_str(name: str) -> None:
    with pytest.raises(InvalidInput) as info:
        NORMALIZERS[name](b"AB123")  # type: ignore[arg-type]
    assert info.value.reason == "type"


@pytest.mark.parametrize("name", sorted(NORMALIZERS))
def test_normalizers_refuse_nul_bytes(name: str) -> None:
    assert _reason(lambda: NORMALIZERS[name]("AB\x00CD")) == "control_char"


@pytest.mark.parametrize("name", sorted(NORMALIZERS))
def test_normalizers_refuse_empty(name: str) -> None:
    assert _reason(lambda: NORMALIZERS[name]("")) == "empty"


@pytest.mark.parametrize(
    ("fn", "count"),
    [
        (normalize_member_number, 4),  # 4 * 18 = 72 > 64
        (normalize_name, 12),  # 12 * 18 = 216 > 200
        (normalize_answer, 15),  # 15 * 18 = 270 > 256
        (normalize_email, 15),
        (normalize_password, 57),  # 57 * 18 = 1026 > 1024
    ],
)
def test_nfkc_expansion_is_measured_again(fn: Callable[[str], str], count: int) -> None:
    # U+FDFA expands to 18 code points under NFKC.
    assert len(unicodedata.normalize("NFKC", "\ufdfa")) == 18
    assert _reason(lambda: fn("\ufdfa" * count)) == "too_long"


# --- member number -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ab123456", "AB123456"),
        ("  ab 12 34 56 ", "AB123456"),
        ("ＡＢ１２３４５６", "AB123456"),  # fullwidth
        ("ab\u00a012\u300034", "AB1234"),  # no-break and ideographic spaces
        ("ab-12.34/5", "AB-12.34/5"),
    ],
)
def test_member_number_normalisation(raw: str, expected: str) -> None:
    assert normalize_member_number(raw) == expected


@pytest.mark.parametrize("raw", ["AB_12", "AB#12", "straße1", "\u0131ab", "é123", "AB\u200b12"])
def test_member_number_malformed(raw: str) -> None:
    assert _reason(lambda: normalize_member_number(raw)) == "malformed"


def test_member_number_limit_is_inclusive() -> None:
    assert normalize_member_number("1" * MAX_MEMBER_NUMBER) == "1" * MAX_MEMBER_NUMBER
    assert _reason(lambda: normalize_member_number("1" * (MAX_MEMBER_NUMBER + 1))) == "too_long"


# --- initial password --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ABCD-EFGH-JKMN-PQRS", "ABCDEFGHJKMNPQRS"),
        ("abcd efgh jkmn pqrs", "ABCDEFGHJKMNPQRS"),
        ("oOiIlLuU", "001111VV"),
        ("ＡＢＣＤ－１２３４", "ABCD1234"),  # fullwidth letters, digits and hyphen
        ("ABCD\u2013EFGH\u2014JKMN\u2212PQRS", "ABCDEFGHJKMNPQRS"),  # en/em dash, minus
        (" 0123 4567 89ab ", "0123456789AB"),
    ],
)
def test_initial_password_lookalikes(raw: str, expected: str) -> None:
    assert normalize_initial_password(raw) == expected


def test_initial_password_output_alphabet() -> None:
    out = normalize_initial_password("o0 i1 l u v z")
    assert out == "00111VVZ"
    assert set(out) <= set(ALPHABET)


@pytest.mark.parametrize("raw", ["ABCD!EFG", "ABCDÉFGH", "AB_CD", "ABCD.EFGH"])
def test_initial_password_malformed(raw: str) -> None:
    assert _reason(lambda: normalize_initial_password(raw)) == "malformed"


def test_initial_password_only_dashes_is_empty() -> None:
    assert _reason(lambda: normalize_initial_password("- - -")) == "empty"


def test_initial_password_length_cap() -> None:
    assert _reason(lambda: normalize_initial_password("A" * 65)) == "too_long"
    assert normalize_initial_password("a" * 64) == "A" * 64


# --- email -------------------------------------------------------------------------------


def test_email_normalisation_lowercases_domain_only() -> None:
    assert normalize_email("  Jean.Dupont@Example.COM ") == "Jean.Dupont@example.com"


def test_email_fullwidth_forms() -> None:
    assert normalize_email("ｊｅａｎ＠ｅｘａｍｐｌｅ．ｃｏｍ") == "jean@example.com"


def test_email_key_casefolds() -> None:
    assert email_key(normalize_email("Jean.DUPONT@Example.com")) == "jean.dupont@example.com"
    assert email_key("STRASSE@x.fr") == email_key("straße@x.fr")


@pytest.mark.parametrize(
    "raw",
    [
        "no-at-sign",
        "a@b",
        "two@@example.com",
        "jean dupont@example.com",
        "Jean <jean@example.com>",
        "jean@exa mple.com",
        "@example.com",
    ],
)
def test_email_malformed_hides_library_message(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_email(raw)
    exc = info.value
    assert (exc.field, exc.reason) == ("email", "malformed")
    assert raw.strip() not in str(exc)
    assert exc.__context__ is None
    assert exc.__cause__ is None


def test_email_too_long_is_refused_before_validation() -> None:
    raw = "a" * 64 + "@" + "b" * 190 + ".com"
    assert len(raw) > MAX_EMAIL
    assert _reason(lambda: normalize_email(raw)) == "too_long"


def test_email_is_idempotent() -> None:
    once = normalize_email("Elodie.Martin@Exemple.FR")
    assert normalize_email(once) == once


def test_email_with_a_non_ascii_local_part_is_refused() -> None:
    # The mail adapters speak plain SMTP: an address they cannot write to is refused here.
    assert _reason(lambda: normalize_email("Élodie.Martin@Exemple.FR")) == "malformed"
    assert normalize_email("elodie@exemple-é.fr").endswith("@exemple-é.fr")


# --- password ------------------------------------------------------------------------------


def test_password_keeps_whitespace_and_applies_nfkc() -> None:
    assert normalize_password("  two  spaces ") == "  two  spaces "
    assert normalize_password("   ") == "   "
    assert normalize_password("ｐａｓｓ\u00a0word") == "pass word"
    # Composed and decomposed forms of é become the same password.
    assert normalize_password("e\u0301t\u00e9") == "\u00e9t\u00e9"


def test_password_is_never_truncated() -> None:
    long = "x" * (MAX_PASSWORD - 1) + "y"
    assert normalize_password(long) == long
    assert _reason(lambda: normalize_password(long + "z")) == "too_long"


def test_password_max_len_is_configurable() -> None:
    assert normalize_password("a" * 2000, max_len=4096) == "a" * 2000
    assert _reason(lambda: normalize_password("a" * 11, max_len=10)) == "too_long"


# --- answer --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Dupont", "dupont"),
        ("  DUPONT  ", "dupont"),
        ("Dupont ?", "dupont"),
        ("Dupont.", "dupont"),
        ("Dupont !!!", "dupont"),
        ("Éléonore", "eleonore"),
        ("E\u0301le\u0301onore", "eleonore"),  # combining accents
        ("O'Brien", "o brien"),
        ("O’Brien", "o brien"),
        ("Jean-Pierre", "jean pierre"),
        ("jean   pierre", "jean pierre"),
        ("St.Louis", "st louis"),
        ("ＭＡＲＴＩＮ", "martin"),
        ("Straße", "strasse"),
    ],
)
def test_answer_normalisation(raw: str, expected: str) -> None:
    assert normalize_answer(raw) == expected


@pytest.mark.parametrize("raw", ["?", " ... ", "!?", "- '"])
def test_answer_of_only_punctuation_is_empty(raw: str) -> None:
    assert _reason(lambda: normalize_answer(raw)) == "empty"


@given(value=st.text(max_size=50))
def test_answer_normalisation_is_idempotent(value: str) -> None:
    try:
        once = normalize_answer(value)
    except InvalidInput:
        return
    assert normalize_answer(once) == once


# --- name ----------------------------------------------------------------------------------


def test_name_collapses_whitespace_and_applies_nfkc() -> None:
    assert normalize_name("  Jean   Dupont\u00a0 ") == "Jean Dupont"
    assert normalize_name("Ｊｅａｎ") == "Jean"
    # Case and accents are kept: this is for display.
    assert normalize_name("Élodie") == "Élodie"
