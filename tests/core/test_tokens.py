"""Tests for cegema_onboarding.tokens."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from cegema_onboarding import tokens
from cegema_onboarding.credentials import ALPHABET, Pepper
from cegema_onboarding.errors import BadToken, ConfigurationError
from cegema_onboarding.normalize import MAX_CODE, MAX_TOKEN
from cegema_onboarding.tokens import (
    CODE_LENGTH,
    LinkClaims,
    LinkSigner,
    code_digest,
    code_from_bytes,
    nonce_hash,
    normalize_code,
    verify_code,
)

OLD_KEY = "o" * 32
NEW_KEY = b"n" * 32
NONCE = bytes(range(16))
PURPOSE = "email_validation"


@pytest.fixture
def signer() -> LinkSigner:
    return LinkSigner([NEW_KEY, OLD_KEY])


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad_token(fn: Callable[[], object]) -> BadToken:
    with pytest.raises(BadToken) as info:
        fn()
    return info.value


def _assert_opaque(exc: BadToken) -> None:
    assert str(exc) == str(BadToken()) == "invalid or expired token"
    assert exc.args == BadToken().args
    assert exc.__cause__ is None
    assert exc.__context__ is None
    assert exc.__suppress_context__ is True


# --- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "keys",
    [[], ["short"], [b"x" * 31], ["x" * 31], [NEW_KEY, b"short"], [None], [12], "k" * 40],
)
def test_bad_keys(keys: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        LinkSigner(keys)
    assert "short" not in str(info.value)


@pytest.mark.parametrize("namespace", ["", "Has Space", "UPPER", "x" * 65, None])
def test_bad_namespace(namespace: Any) -> None:
    with pytest.raises(ConfigurationError):
        LinkSigner([NEW_KEY], namespace=namespace)


def test_repr_hides_keys(signer: LinkSigner) -> None:
    text = repr(signer)
    assert "nnnn" not in text
    assert "oooo" not in text
    assert "2 hidden" in text


# --- issue and parse -----------------------------------------------------------------------


def test_round_trip(signer: LinkSigner) -> None:
    token = signer.issue("account-42", PURPOSE, NONCE)
    assert isinstance(token, str)
    assert len(token) <= MAX_TOKEN
    claims = signer.parse(token, PURPOSE)
    assert claims == LinkClaims(account_id="account-42", nonce_hash=nonce_hash(NONCE))
    assert claims.nonce_hash == hashlib.sha256(NONCE).hexdigest()
    assert claims.nonce_hash not in repr(claims)


def test_token_is_url_safe(signer: LinkSigner) -> None:
    token = signer.issue("é-account/with?odd&chars", PURPOSE, b"\xff" * 32)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert signer.parse(token, PURPOSE).account_id == "é-account/with?odd&chars"


def test_issue_is_deterministic_from_its_arguments(signer: LinkSigner) -> None:
    assert signer.issue("a", PURPOSE, NONCE) == signer.issue("a", PURPOSE, NONCE)
    assert signer.issue("a", PURPOSE, NONCE) != signer.issue("a", PURPOSE, bytes(16))


def test_nonce_must_carry_128_bits(signer: LinkSigner) -> None:
    with pytest.raises(ValueError, match="128 bits"):
        signer.issue("a", PURPOSE, bytes(15))
    with pytest.raises(ValueError, match="128 bits"):
        signer.issue("a", PURPOSE, b"")
    with pytest.raises(ValueError, match="128 bits"):
        signer.issue("a", PURPOSE, bytes(65))
    with pytest.raises(TypeError):
        signer.issue("a", PURPOSE, "0123456789abcdef")  # type: ignore[arg-type]
    assert signer.parse(signer.issue("a", PURPOSE, bytes(16)), PURPOSE).account_id == "a"


@pytest.mark.parametrize("account_id", ["", "x" * 129, None, 42])
def test_bad_account_id_on_issue(signer: LinkSigner, account_id: Any) -> None:
    with pytest.raises(ValueError, match="account_id"):
        signer.issue(account_id, PURPOSE, NONCE)


@pytest.mark.parametrize("purpose", ["", "Has Space", "UPPER", "x" * 65, None, "a/b"])
def test_bad_purpose(signer: LinkSigner, purpose: Any) -> None:
    with pytest.raises(ValueError, match="purpose"):
        signer.issue("a", purpose, NONCE)
    with pytest.raises(ValueError, match="purpose"):
        signer.parse("token", purpose)


def test_largest_token_fits_the_limit(signer: LinkSigner) -> None:
    token = signer.issue("é" * 128, PURPOSE, bytes(64))
    assert len(token) <= MAX_TOKEN
    assert signer.parse(token, PURPOSE).account_id == "é" * 128


# --- rotation ------------------------------------------------------------------------------


def test_token_signed_with_older_listed_key_verifies() -> None:
    token = LinkSigner([OLD_KEY]).issue("a", PURPOSE, NONCE)
    assert LinkSigner([NEW_KEY, OLD_KEY]).parse(token, PURPOSE).account_id == "a"


def test_newest_key_signs() -> None:
    token = LinkSigner([NEW_KEY, OLD_KEY]).issue("a", PURPOSE, NONCE)
    assert LinkSigner([NEW_KEY]).parse(token, PURPOSE).account_id == "a"
    _assert_opaque(_bad_token(lambda: LinkSigner([OLD_KEY]).parse(token, PURPOSE)))


def test_str_and_bytes_keys_are_the_same_key() -> None:
    token = LinkSigner(["n" * 32]).issue("a", PURPOSE, NONCE)
    assert LinkSigner([NEW_KEY]).parse(token, PURPOSE).account_id == "a"


# --- every failure is the same BadToken ----------------------------------------------------


def _flip(token: str, index: int) -> str:
    char = token[index]
    return token[:index] + ("A" if char != "A" else "B") + token[index + 1 :]


def _bad_cases(signer: LinkSigner) -> dict[str, tuple[object, str, LinkSigner]]:
    good = signer.issue("account-42", PURPOSE, NONCE)
    ser = signer._serializer(PURPOSE)
    return {
        "tampered signature": (_flip(good, -1), PURPOSE, signer),
        "tampered payload": (_flip(good, 3), PURPOSE, signer),
        "truncated": (good[:-5], PURPOSE, signer),
        "no signature": (good.rsplit(".", 1)[0], PURPOSE, signer),
        "rotated out key": (
            LinkSigner([OLD_KEY]).issue("a", PURPOSE, NONCE),
            PURPOSE,
            LinkSigner([NEW_KEY]),
        ),
        "other purpose": (good, "password_reset", signer),
        "other namespace": (good, PURPOSE, LinkSigner([NEW_KEY, OLD_KEY], namespace="other")),
        "over-long": (good + "A" * (MAX_TOKEN - len(good) + 1), PURPOSE, signer),
        "megabyte": ("A" * 1_000_000, PURPOSE, signer),
        "empty": ("", PURPOSE, signer),
        "none": (None, PURPOSE, signer),
        "bytes": (good.encode(), PURPOSE, signer),
        "int": (42, PURPOSE, signer),
        "non-ascii": ("é" + good[1:], PURPOSE, signer),
        "nul": (good[:5] + "\x00" + good[6:], PURPOSE, signer),
        "surrogate": ("\udc80" + good, PURPOSE, signer),
        "signed list": (ser.dumps(["account-42", _b64url(NONCE)]), PURPOSE, signer),
        "signed missing nonce": (ser.dumps({"a": "x"}), PURPOSE, signer),
        "signed extra key": (ser.dumps({"a": "x", "n": _b64url(NONCE), "e": 1}), PURPOSE, signer),
        "signed int account": (ser.dumps({"a": 1, "n": _b64url(NONCE)}), PURPOSE, signer),
        "signed empty account": (ser.dumps({"a": "", "n": _b64url(NONCE)}), PURPOSE, signer),
        "signed short nonce": (ser.dumps({"a": "x", "n": _b64url(bytes(15))}), PURPOSE, signer),
        "signed padded nonce": (ser.dumps({"a": "x", "n": _b64url(NONCE) + "=="}), PURPOSE, signer),
        "signed std b64 nonce": (
            ser.dumps({"a": "x", "n": "+/" + _b64url(NONCE)[2:]}),
            PURPOSE,
            signer,
        ),
        "signed non-canonical nonce": (
            ser.dumps({"a": "x", "n": _b64url(NONCE)[:-1] + "B"}),
            PURPOSE,
            signer,
        ),
        "signed int nonce": (ser.dumps({"a": "x", "n": 12}), PURPOSE, signer),
        "signed null": (ser.dumps(None), PURPOSE, signer),
        "default itsdangerous signer": (
            URLSafeSerializer(
                list(reversed([NEW_KEY, OLD_KEY.encode()])),
                salt="cegema_onboarding.link." + PURPOSE,
            ).dumps({"a": "x", "n": _b64url(NONCE)}),
            PURPOSE,
            signer,
        ),
    }


CASE_NAMES = sorted(_bad_cases(LinkSigner([NEW_KEY, OLD_KEY])))


@pytest.mark.parametrize("case", CASE_NAMES)
def test_bad_tokens_all_raise_the_same_opaque_error(signer: LinkSigner, case: str) -> None:
    token, purpose, parser = _bad_cases(signer)[case]
    exc = _bad_token(lambda: parser.parse(token, purpose))
    _assert_opaque(exc)


def test_over_long_token_is_refused_before_parsing(
    signer: LinkSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_args: object, **_kwargs: object) -> object:
        raise AssertionError("parsed an over-long token")

    monkeypatch.setattr(URLSafeSerializer, "loads", boom)
    monkeypatch.setattr(tokens, "_TOKEN_CHARS", None)  # not even a regex scan
    _assert_opaque(_bad_token(lambda: signer.parse("A" * (MAX_TOKEN + 1), PURPOSE)))
    _assert_opaque(_bad_token(lambda: signer.parse(b"A" * 10, PURPOSE)))


def test_the_same_token_cannot_serve_two_purposes(signer: LinkSigner) -> None:
    token = signer.issue("a", "email_validation", NONCE)
    assert signer.parse(token, "email_validation").account_id == "a"
    _assert_opaque(_bad_token(lambda: signer.parse(token, "password_reset")))


def test_nonce_hash() -> None:
    assert nonce_hash(b"abc") == hashlib.sha256(b"abc").hexdigest()
    with pytest.raises(TypeError):
        nonce_hash("abc")  # type: ignore[arg-type]


@given(
    account=st.text(min_size=1, max_size=40),
    nonce=st.binary(min_size=16, max_size=64),
)
def test_round_trip_property(account: str, nonce: bytes) -> None:
    signer = LinkSigner([NEW_KEY])
    claims = signer.parse(signer.issue(account, PURPOSE, nonce), PURPOSE)
    assert claims.account_id == account
    assert claims.nonce_hash == nonce_hash(nonce)


# --- short codes ---------------------------------------------------------------------------


PEPPER = Pepper([("k1", b"p" * 32)])


def test_code_from_bytes() -> None:
    assert CODE_LENGTH == 8
    assert code_from_bytes(bytes(5)) == "00000000"
    assert code_from_bytes(b"\xff" * 5) == "ZZZZZZZZ"
    packed = sum(i << (5 * (7 - i)) for i in range(8)).to_bytes(5, "big")
    assert code_from_bytes(packed) == "01234567"
    assert code_from_bytes(packed + b"\xff") == "01234567"
    with pytest.raises(ValueError, match="5"):
        code_from_bytes(bytes(4))


@given(raw=st.binary(min_size=5, max_size=5))
def test_code_alphabet_and_round_trip(raw: bytes) -> None:
    code = code_from_bytes(raw)
    assert len(code) == CODE_LENGTH
    assert set(code) <= set(ALPHABET)
    typed = f" {code[:4].lower()}-{code[4:]} ".replace("0", "o").replace("1", "l")
    assert normalize_code(typed) == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abcd efgh", "ABCDEFGH"),
        ("ABCD-EFGH", "ABCDEFGH"),
        ("oOiI lLuU", "001111VV"),
        ("ＡＢＣＤ１２３４", "ABCD1234"),
        ("ABCD\u2013EFGH", "ABCDEFGH"),
    ],
)
def test_normalize_code(raw: str, expected: str) -> None:
    assert normalize_code(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        b"ABCDEFGH",
        12345678,
        "",
        "ABCDEFG",
        "ABCDEFGHJ",
        "ABCD!FGH",
        "ABCDÉFGH",
        "ABCD\x00FGH",
        "A" * (MAX_CODE + 1),
        "A" * 1_000_000,
    ],
)
def test_bad_codes(raw: object) -> None:
    _assert_opaque(_bad_token(lambda: normalize_code(raw)))


def test_over_long_code_is_refused_before_nfkc(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: object) -> str:
        raise AssertionError("NFKC ran on an over-long code")

    class FakeUnicodedata:
        normalize = staticmethod(boom)

    monkeypatch.setattr(tokens, "unicodedata", FakeUnicodedata)
    _assert_opaque(_bad_token(lambda: normalize_code("A" * 1_000_000)))


def test_code_digest_is_bound_to_the_account() -> None:
    stored = code_digest(PEPPER, "acct-1", "abcd-efgh")
    assert stored == PEPPER.digest("acct-1:ABCDEFGH")
    assert verify_code(PEPPER, "acct-1", "ABCDEFGH", stored)
    assert verify_code(PEPPER, "acct-1", " abcd efgh ", stored)
    assert not verify_code(PEPPER, "acct-2", "ABCDEFGH", stored)
    assert not verify_code(PEPPER, "acct-1", "ABCDEFGJ", stored)
    assert code_digest(PEPPER, "acct-2", "ABCDEFGH") != stored


@pytest.mark.parametrize("code", [None, "", "short", "A" * 1_000_000, "ABCD!FGH"])
def test_verify_code_is_false_for_malformed_code(code: object) -> None:
    stored = code_digest(PEPPER, "acct-1", "ABCDEFGH")
    assert verify_code(PEPPER, "acct-1", code, stored) is False


def test_verify_code_false_for_bad_account_or_stored() -> None:
    stored = code_digest(PEPPER, "acct-1", "ABCDEFGH")
    assert verify_code(PEPPER, "", "ABCDEFGH", stored) is False
    assert verify_code(PEPPER, None, "ABCDEFGH", stored) is False  # type: ignore[arg-type]
    assert verify_code(PEPPER, "acct-1", "ABCDEFGH", "garbage") is False


def test_code_digest_refuses_bad_input() -> None:
    with pytest.raises(BadToken):
        code_digest(PEPPER, "acct-1", "bad")
    with pytest.raises(ValueError, match="account_id"):
        code_digest(PEPPER, "", "ABCDEFGH")


def test_code_survives_pepper_rotation() -> None:
    stored = code_digest(PEPPER, "acct-1", "ABCDEFGH")
    rotated = Pepper([("k2", b"q" * 32), ("k1", b"p" * 32)])
    assert verify_code(rotated, "acct-1", "ABCDEFGH", stored)
    assert rotated.needs_update(stored)
