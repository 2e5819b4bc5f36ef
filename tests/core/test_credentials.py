"""Tests for cegema_onboarding.credentials."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from cegema_onboarding.credentials import (
    ALPHABET,
    INITIAL_PASSWORD_LENGTH,
    Pepper,
    format_for_print,
    initial_password_from_bytes,
    new_initial_password,
)
from cegema_onboarding.errors import ConfigurationError, InvalidInput
from cegema_onboarding.normalize import normalize_initial_password

KEY_A = b"A" * 32
KEY_B = bytes(range(40))


def _decode(pw: str) -> int:
    """Inverse of the bit mapping, written independently of the implementation."""
    value = 0
    for char in pw:
        value = (value << 5) | ALPHABET.index(char)
    return value


# --- alphabet and generation ---------------------------------------------------------------


def test_alphabet_is_crockford_base32() -> None:
    assert len(ALPHABET) == 32
    assert len(set(ALPHABET)) == 32
    assert not set("ILOU") & set(ALPHABET)
    assert "".join(sorted(ALPHABET)) == ALPHABET
    assert INITIAL_PASSWORD_LENGTH == 16  # 80 bits


def test_known_vectors() -> None:
    assert initial_password_from_bytes(bytes(10)) == "0" * 16
    assert initial_password_from_bytes(b"\xff" * 10) == "Z" * 16
    # Symbols 0..15 packed as 5-bit groups, then 16..31.
    low = sum(i << (5 * (15 - i)) for i in range(16)).to_bytes(10, "big")
    high = sum((16 + i) << (5 * (15 - i)) for i in range(16)).to_bytes(10, "big")
    assert initial_password_from_bytes(low) == ALPHABET[:16]
    assert initial_password_from_bytes(high) == ALPHABET[16:]


def test_extra_bytes_are_ignored_and_mapping_is_deterministic() -> None:
    raw = bytes(range(10))
    assert initial_password_from_bytes(raw) == initial_password_from_bytes(raw + b"\xff" * 6)
    assert initial_password_from_bytes(raw) == initial_password_from_bytes(bytes(raw))


def test_too_few_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="10"):
        initial_password_from_bytes(bytes(9))
    with pytest.raises(ValueError, match="10"):
        initial_password_from_bytes(b"")


def test_non_bytes_is_refused() -> None:
    with pytest.raises(TypeError):
        initial_password_from_bytes("0123456789")  # type: ignore[arg-type]


@given(value=st.integers(0, 2**80 - 1))
def test_mapping_is_a_bijection_on_80_bits(value: int) -> None:
    # A bijection between 2**80 inputs and 32**16 outputs is what makes it unbiased.
    pw = initial_password_from_bytes(value.to_bytes(10, "big"))
    assert len(pw) == INITIAL_PASSWORD_LENGTH
    assert set(pw) <= set(ALPHABET)
    assert _decode(pw) == value


def test_every_symbol_is_equally_likely_in_every_position() -> None:
    # Enumerate all 256 values of each byte with the others fixed: every position that byte
    # feeds sees each reachable symbol equally often.
    for byte_index in range(10):
        per_position: dict[int, Counter[str]] = {}
        for b in range(256):
            raw = bytearray(10)
            raw[byte_index] = b
            pw = initial_password_from_bytes(bytes(raw))
            for pos, char in enumerate(pw):
                per_position.setdefault(pos, Counter())[char] += 1
        for counts in per_position.values():
            assert len(set(counts.values())) == 1


def test_new_initial_password_uses_fresh_randomness() -> None:
    passwords = {new_initial_password() for _ in range(50)}
    assert len(passwords) == 50
    for pw in passwords:
        assert len(pw) == INITIAL_PASSWORD_LENGTH
        assert set(pw) <= set(ALPHABET)


# --- printing ------------------------------------------------------------------------------


def test_format_for_print() -> None:
    assert format_for_print("ABCDEFGHJKMNPQRS") == "ABCD-EFGH-JKMN-PQRS"


@pytest.mark.parametrize("bad", ["", "abcdefgh", "ABCD-EFGH", "OOOO", None, b"ABCD"])
def test_format_for_print_refuses_non_alphabet(bad: object) -> None:
    with pytest.raises(InvalidInput) as info:
        format_for_print(bad)  # type: ignore[arg-type]
    assert info.value.reason == "malformed"
    if isinstance(bad, str) and bad:
        assert bad not in str(info.value)


@given(raw=st.binary(min_size=10, max_size=10), lower=st.booleans(), spaces=st.booleans())
def test_printed_password_round_trips_through_normalisation(
    raw: bytes, lower: bool, spaces: bool
) -> None:
    pw = initial_password_from_bytes(raw)
    typed = format_for_print(pw)
    if lower:
        typed = typed.lower()
    if spaces:
        typed = " " + typed.replace("-", " ") + " "
    # A member who reads 0 as O and 1 as I still gets in.
    typed = typed.replace("0", "O").replace("1", "I")
    assert normalize_initial_password(typed) == pw


# --- pepper --------------------------------------------------------------------------------


def test_digest_format_and_value() -> None:
    pepper = Pepper([("k1", KEY_A)])
    stored = pepper.digest("ABCDEFGHJKMNPQRS")
    expected = hmac.new(KEY_A, b"ABCDEFGHJKMNPQRS", hashlib.sha256).hexdigest()
    assert stored == f"k1${expected}"
    assert pepper.verify("ABCDEFGHJKMNPQRS", stored)
    assert not pepper.verify("ABCDEFGHJKMNPQRT", stored)


def test_digest_encodes_utf8() -> None:
    pepper = Pepper([("k1", KEY_A)])
    expected = hmac.new(KEY_A, "é".encode(), hashlib.sha256).hexdigest()
    assert pepper.digest("é") == f"k1${expected}"


def test_rotation_old_key_still_verifies_and_needs_update() -> None:
    old = Pepper([("k1", KEY_A)])
    stored = old.digest("SECRET")
    rotated = Pepper([("k2", KEY_B), ("k1", KEY_A)])
    assert rotated.verify("SECRET", stored)
    assert rotated.needs_update(stored)
    fresh = rotated.digest("SECRET")
    assert fresh.startswith("k2$")
    assert not rotated.needs_update(fresh)
    assert rotated.newest_key_id == "k2"
    assert rotated.key_ids == ("k2", "k1")


def test_key_removed_from_the_list_no_longer_verifies() -> None:
    stored = Pepper([("k1", KEY_A)]).digest("SECRET")
    assert not Pepper([("k2", KEY_B)]).verify("SECRET", stored)


def test_same_id_different_key_does_not_verify() -> None:
    stored = Pepper([("k1", KEY_A)]).digest("SECRET")
    assert not Pepper([("k1", KEY_B)]).verify("SECRET", stored)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "k1",
        "k1$",
        "k1$" + "0" * 63,
        "k1$" + "0" * 65,
        "k1$" + "G" * 64,
        "K1$" + "0" * 64,
        "k9$" + "0" * 64,
        "k1$k1$" + "0" * 64,
        None,
        b"k1$00",
    ],
)
def test_verify_is_false_for_malformed_or_unknown(stored: object) -> None:
    pepper = Pepper([("k1", KEY_A)])
    assert pepper.verify("SECRET", stored) is False  # type: ignore[arg-type]
    assert pepper.needs_update(stored) is True  # type: ignore[arg-type]


def test_verify_uppercase_hex_is_refused() -> None:
    pepper = Pepper([("k1", KEY_A)])
    stored = pepper.digest("SECRET")
    assert not pepper.verify("SECRET", stored.upper().replace("K1$", "k1$"))


def test_verify_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    # credentials looks compare_digest up on the hmac module at call time.
    monkeypatch.setattr(hmac, "compare_digest", spy)
    pepper = Pepper([("k1", KEY_A)])
    assert pepper.verify("SECRET", pepper.digest("SECRET"))
    assert len(calls) == 1


@pytest.mark.parametrize(
    "keys",
    [
        [],
        [("k1", b"short")],
        [("k1", b"x" * 31)],
        [("k1", "x" * 40)],
        [("K1", KEY_A)],
        [("k-1", KEY_A)],
        [("", KEY_A)],
        [("k1", KEY_A), ("k1", KEY_B)],
        [("k1", KEY_A, "extra")],
        ["k1"],
        b"k1" * 40,
    ],
)
def test_bad_pepper_configuration(keys: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        Pepper(keys)  # type: ignore[arg-type]
    assert "xxxx" not in str(info.value)


def test_pepper_repr_and_errors_hide_keys() -> None:
    secret_key = b"TOPSECRET-KEY-MATERIAL-0123456789"
    pepper = Pepper([("k1", secret_key)])
    assert "TOPSECRET" not in repr(pepper)
    assert secret_key.hex() not in repr(pepper)
    assert repr(pepper) == "Pepper(key_ids=['k1'])"
    with pytest.raises(ConfigurationError) as info:
        Pepper([("k1", b"TOPSECRET-short")])
    assert "TOPSECRET" not in str(info.value)


def test_from_secret_uses_hkdf_sha256() -> None:
    secret = "a long configured pepper secret, 32+ bytes"
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"cegema_onboarding pepper"
    ).derive(secret.encode())
    pepper = Pepper.from_secret(secret)
    assert pepper.newest_key_id == "k1"
    assert pepper.digest("X") == Pepper([("k1", key)]).digest("X")
    assert Pepper.from_secret(secret.encode(), key_id="k7").digest("X").startswith("k7$")
    assert Pepper.from_secret(secret).digest("X") == pepper.digest("X")


def test_from_secret_refuses_short_secret() -> None:
    with pytest.raises(ConfigurationError):
        Pepper.from_secret("too short")
    with pytest.raises(ConfigurationError):
        Pepper.from_secret(b"\x00" * 31)


def test_digest_refuses_non_str_and_surrogates() -> None:
    pepper = Pepper([("k1", KEY_A)])
    with pytest.raises(InvalidInput) as info:
        pepper.digest(b"SECRET")  # type: ignore[arg-type]
    assert info.value.reason == "type"
    with pytest.raises(InvalidInput) as info:
        pepper.digest("SE\udc80CRET")
    assert info.value.reason == "encoding"
    assert info.value.__context__ is None
    assert not pepper.verify("SE\udc80CRET", pepper.digest("SECRET"))


def test_unknown_key_names_the_id_a_digest_carries_only_when_missing() -> None:
    from cegema_onboarding.credentials import Pepper

    pepper = Pepper([("p2", b"k" * 32), ("p1", b"j" * 32)])
    assert pepper.unknown_key(pepper.digest("ABCD2345EFGH6789")) is None
    assert pepper.unknown_key("p1$" + "0" * 64) is None
    assert pepper.unknown_key("k1$" + "0" * 64) == "k1"
    # Not a digest at all: nothing to name (verify refuses it anyway).
    assert pepper.unknown_key("garbage") is None
    assert pepper.unknown_key(None) is None  # type: ignore[arg-type]
