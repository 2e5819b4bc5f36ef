"""Tests for cegema_onboarding.hashing."""

from __future__ import annotations

import base64
import threading
from typing import Any

import attrs
import pytest
from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from hypothesis import given, settings
from hypothesis import strategies as st

from cegema_onboarding import hashing
from cegema_onboarding.errors import ConfigurationError, InvalidInput
from cegema_onboarding.hashing import (
    FAST_TEST_PARAMS,
    PRODUCTION_PARAMS,
    SALT_BYTES,
    Argon2Params,
    ParsedPHC,
    PasswordHasher,
    parse_phc,
)

SALT = bytes(range(16))
OTHER_SALT = bytes(range(16, 32))


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(FAST_TEST_PARAMS)


@pytest.fixture
def stored(hasher: PasswordHasher) -> str:
    return hasher.hash("correct horse", SALT)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def _phc(
    *,
    alg: str = "argon2id",
    v: str = "19",
    m: str = "64",
    t: str = "1",
    p: str = "1",
    salt: str | None = None,
    digest: str | None = None,
) -> str:
    salt = _b64(SALT) if salt is None else salt
    digest = _b64(bytes(32)) if digest is None else digest
    return f"${alg}$v={v}$m={m},t={t},p={p}${salt}${digest}"


# --- parameters ----------------------------------------------------------------------------


def test_production_params_meet_asvs() -> None:
    p = PRODUCTION_PARAMS
    assert (p.memory_kib, p.iterations, p.lanes, p.salt_bytes, p.hash_bytes) == (
        19456,
        2,
        1,
        16,
        32,
    )
    assert p.allow_weak is False
    assert SALT_BYTES == 16
    assert PasswordHasher().params == PRODUCTION_PARAMS


def test_production_params_for_real() -> None:
    real = PasswordHasher(PRODUCTION_PARAMS)
    phc = real.hash("mot de passe réel", SALT)
    parsed = parse_phc(phc)
    assert (parsed.algorithm, parsed.version) == ("argon2id", 19)
    assert (parsed.memory_kib, parsed.iterations, parsed.lanes) == (19456, 2, 1)
    assert (parsed.salt_len, parsed.hash_len) == (16, 32)
    assert parsed.salt == SALT
    assert phc.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert real.verify("mot de passe réel", phc)
    assert not real.needs_rehash(phc)
    assert real.calls == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"memory_kib": 19455},
        {"iterations": 1},
        {"memory_kib": 64, "iterations": 1},
    ],
)
def test_weak_params_need_explicit_opt_in(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="ASVS"):
        Argon2Params(**kwargs)
    assert Argon2Params(**kwargs, allow_weak=True).allow_weak


@pytest.mark.parametrize(
    "kwargs",
    [
        {"salt_bytes": 8},
        {"salt_bytes": 15},
        {"salt_bytes": 65},
        {"hash_bytes": 8},
        {"hash_bytes": 65},
        {"lanes": 0},
        {"iterations": 0},
        {"memory_kib": 64, "lanes": 9},  # below 8 KiB per lane
        {"memory_kib": 4 * 1024 * 1024 + 1},
        {"iterations": True},
        {"memory_kib": 19456.0},
    ],
)
def test_invalid_params_are_refused_even_when_weak_is_allowed(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        Argon2Params(**{**{"allow_weak": True}, **kwargs})


def test_stronger_params_are_accepted() -> None:
    params = Argon2Params(memory_kib=47104, iterations=3, lanes=2)
    assert params.memory_kib == 47104
    assert attrs.evolve(PRODUCTION_PARAMS, iterations=4).iterations == 4


def test_fast_test_params() -> None:
    assert FAST_TEST_PARAMS.allow_weak
    assert (FAST_TEST_PARAMS.memory_kib, FAST_TEST_PARAMS.iterations) == (64, 1)
    assert FAST_TEST_PARAMS.salt_bytes == 16


def test_hasher_refuses_non_params() -> None:
    with pytest.raises(ConfigurationError):
        PasswordHasher({"memory_kib": 64})  # type: ignore[arg-type]


# --- hash ----------------------------------------------------------------------------------


def test_hash_is_deterministic_given_the_salt(hasher: PasswordHasher) -> None:
    assert hasher.hash("pw", SALT) == hasher.hash("pw", SALT)
    assert hasher.hash("pw", SALT) != hasher.hash("pw", OTHER_SALT)
    assert hasher.hash("pw", SALT) != hasher.hash("pw2", SALT)


def test_hash_is_compatible_with_cryptography(hasher: PasswordHasher) -> None:
    phc = hasher.hash("éèà ☃", SALT)
    Argon2id.verify_phc_encoded("éèà ☃".encode(), phc)  # raises if wrong
    expected = Argon2id(
        salt=SALT, length=32, iterations=1, lanes=1, memory_cost=64
    ).derive_phc_encoded("éèà ☃".encode())
    assert phc == expected


def test_hasher_verifies_hash_made_by_cryptography(hasher: PasswordHasher) -> None:
    phc = Argon2id(
        salt=OTHER_SALT, length=32, iterations=2, lanes=1, memory_cost=128
    ).derive_phc_encoded(b"secret")
    assert hasher.verify("secret", phc)
    assert not hasher.verify("Secret", phc)
    assert hasher.needs_rehash(phc)


@pytest.mark.parametrize("salt", [bytes(15), bytes(17), b"", "0123456789abcdef", None])
def test_hash_refuses_wrong_salt(hasher: PasswordHasher, salt: object) -> None:
    with pytest.raises(ValueError, match="16"):
        hasher.hash("pw", salt)  # type: ignore[arg-type]
    assert hasher.calls == 0


def test_hash_refuses_bad_secret_before_work(hasher: PasswordHasher) -> None:
    for secret, reason in [
        (b"pw", "type"),
        (None, "type"),
        ("x" * 4097, "too_long"),
        ("x" * 1_000_000, "too_long"),
        ("pw\udc80", "encoding"),
    ]:
        with pytest.raises(InvalidInput) as info:
            hasher.hash(secret, SALT)  # type: ignore[arg-type]
        assert info.value.reason == reason
        assert info.value.__context__ is None
        with pytest.raises(InvalidInput):
            hasher.verify(secret, "x")  # type: ignore[arg-type]
    assert hasher.calls == 0


# --- verify --------------------------------------------------------------------------------


def test_verify(hasher: PasswordHasher, stored: str) -> None:
    assert hasher.verify("correct horse", stored) is True
    assert hasher.verify("correct horsE", stored) is False
    assert hasher.verify("", stored) is False


MALFORMED = [
    "",
    "garbage",
    "$argon2id$",
    _phc(alg="argon2x"),
    _phc(alg="scrypt"),
    _phc(v="16x"),
    _phc(v="019"),
    _phc(m="064"),
    _phc(m="-64"),
    _phc(m="0"),
    _phc(t="0"),
    _phc(p="0"),
    _phc(m="4194305"),  # more than 4 GiB
    _phc(t="65"),
    _phc(m="64", p="9"),  # memory below 8 KiB per lane
    _phc(salt=_b64(bytes(8))),  # salt too short
    _phc(salt=_b64(bytes(65))),
    _phc(digest=_b64(bytes(8))),
    _phc(salt=_b64(SALT) + "=="),  # padding is not PHC
    _phc(salt="AAAAAAAAAAAAAAAAAAAAAB"),  # non-canonical trailing bits
    _phc(salt="AAAAA-AAAAAAAAAAAAAAAA"),  # URL-safe alphabet is not PHC
    _phc(salt="A"),
    _phc() + "$extra",
    _phc().replace(",t=1", ",t=1,keyid=abc"),
    " " + _phc(),
    _phc() + "\n",
    _phc().replace("$", "$" * 2, 1),
    _phc(m="１２８"),  # fullwidth digits
    "$argon2id$v=19$m=64,t=1,p=1$" + "A" * 600,
]


@pytest.mark.parametrize("phc", MALFORMED)
def test_parse_phc_refuses_malformed(phc: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_phc(phc)
    assert (info.value.field, info.value.reason) == ("password_hash", "malformed")


@pytest.mark.parametrize("phc", [None, b"$argon2id$", 12])
def test_parse_phc_refuses_non_str(phc: object) -> None:
    with pytest.raises(InvalidInput):
        parse_phc(phc)  # type: ignore[arg-type]


def test_parse_phc_accepts_other_argon2_variants_for_reporting() -> None:
    parsed = parse_phc(_phc(alg="argon2i", v="16", m="128", t="3", p="2"))
    assert parsed == ParsedPHC(
        algorithm="argon2i",
        version=16,
        memory_kib=128,
        iterations=3,
        lanes=2,
        salt_len=16,
        hash_len=32,
        salt=SALT,
        digest=bytes(32),
    )
    assert "salt=" not in repr(parsed)
    assert "digest=" not in repr(parsed)


@pytest.mark.parametrize("phc", [*MALFORMED, None, 42, _phc(alg="argon2i"), _phc(v="16")])
def test_verify_with_unusable_phc_is_false_and_counts_one(
    hasher: PasswordHasher, phc: object
) -> None:
    assert hasher.verify("correct horse", phc) is False  # type: ignore[arg-type]
    assert hasher.calls == 1


def test_every_operation_counts_exactly_one(hasher: PasswordHasher, stored: str) -> None:
    assert hasher.calls == 1  # the fixture's hash
    hasher.verify("correct horse", stored)
    assert hasher.calls == 2
    hasher.verify("wrong", stored)
    assert hasher.calls == 3
    hasher.dummy_verify("anything")
    assert hasher.calls == 4
    hasher.verify("correct horse", "not a hash")
    assert hasher.calls == 5
    hasher.needs_rehash(stored)
    parse_phc(stored)
    assert hasher.calls == 5


class _RecordingArgon2id:
    """Stands in for Argon2id and records every slow computation."""

    computations: list[dict[str, Any]] = []  # noqa: RUF012 - reset per test

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def _record(self, method: str) -> None:
        type(self).computations.append({"method": method, **self.kwargs})

    def derive_phc_encoded(self, key_material: bytes) -> str:
        self._record("derive_phc_encoded")
        return str(Argon2id(**self.kwargs).derive_phc_encoded(key_material))

    def verify(self, key_material: bytes, expected_key: bytes) -> None:
        self._record("verify")
        if Argon2id(**self.kwargs).derive(key_material) != expected_key:
            raise InvalidKey


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> type[_RecordingArgon2id]:
    _RecordingArgon2id.computations = []
    monkeypatch.setattr(hashing, "Argon2id", _RecordingArgon2id)
    return _RecordingArgon2id


def test_counter_matches_real_computations(
    hasher: PasswordHasher, recorder: type[_RecordingArgon2id]
) -> None:
    phc = hasher.hash("pw", SALT)
    assert hasher.verify("pw", phc)
    assert not hasher.verify("pw", "malformed")
    hasher.dummy_verify("pw")
    assert hasher.calls == len(recorder.computations) == 4


def test_known_and_unknown_accounts_cost_the_same(
    hasher: PasswordHasher, recorder: type[_RecordingArgon2id]
) -> None:
    phc = hasher.hash("pw", SALT)
    recorder.computations.clear()
    hasher.verify("guess", phc)  # known account
    hasher.dummy_verify("guess")  # unknown account
    hasher.verify("guess", "")  # account with a broken record
    known, unknown, broken = recorder.computations
    cost = ("memory_cost", "iterations", "lanes", "length")
    assert [known[k] for k in cost] == [unknown[k] for k in cost] == [broken[k] for k in cost]
    assert unknown["memory_cost"] == FAST_TEST_PARAMS.memory_kib


def test_dummy_verify_uses_current_params(recorder: type[_RecordingArgon2id]) -> None:
    params = Argon2Params(memory_kib=256, iterations=3, lanes=2, hash_bytes=24, allow_weak=True)
    PasswordHasher(params).dummy_verify("pw")
    (call,) = recorder.computations
    assert (call["memory_cost"], call["iterations"], call["lanes"], call["length"]) == (
        256,
        3,
        2,
        24,
    )
    assert len(call["salt"]) == 16


def test_counter_is_thread_safe(hasher: PasswordHasher) -> None:
    def work() -> None:
        for _ in range(5):
            hasher.dummy_verify("pw")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert hasher.calls == 40


def test_counters_are_per_instance() -> None:
    a, b = PasswordHasher(FAST_TEST_PARAMS), PasswordHasher(FAST_TEST_PARAMS)
    a.dummy_verify("x")
    assert (a.calls, b.calls) == (1, 0)


# --- needs_rehash --------------------------------------------------------------------------


def test_needs_rehash_after_params_change(hasher: PasswordHasher, stored: str) -> None:
    assert not hasher.needs_rehash(stored)
    changes: list[dict[str, Any]] = [
        {"memory_kib": 128},
        {"iterations": 2},
        {"lanes": 2},
        {"hash_bytes": 48},
        {"salt_bytes": 32},
    ]
    for change in changes:
        stronger = PasswordHasher(attrs.evolve(FAST_TEST_PARAMS, **change))
        assert stronger.needs_rehash(stored), change
        # An old hash still verifies with its own parameters.
        assert stronger.verify("correct horse", stored)


def test_needs_rehash_for_unusable_phc(hasher: PasswordHasher) -> None:
    assert hasher.needs_rehash("garbage")
    assert hasher.needs_rehash(_phc(alg="argon2i"))
    assert hasher.needs_rehash(_phc(v="16"))


def test_repr_shows_params_only(hasher: PasswordHasher) -> None:
    assert repr(hasher) == f"PasswordHasher(params={FAST_TEST_PARAMS!r})"


@settings(max_examples=25, deadline=None)
@given(secret=st.text(max_size=30), other=st.text(max_size=30))
def test_verify_property(secret: str, other: str) -> None:
    hasher = PasswordHasher(FAST_TEST_PARAMS)
    phc = hasher.hash(secret, SALT)
    assert hasher.verify(secret, phc)
    assert hasher.verify(other, phc) is (other == secret)
    assert hasher.calls == 3
