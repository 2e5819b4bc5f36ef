"""A wrong secret costs the current parameters' work, whatever its stored hash was made with.

After the Argon2id parameters are raised, old hashes keep their cheaper parameters until
their member logs in. A failed check against one is topped up with the missing work, so
that it costs what an unknown account's dummy check costs (Django's ``harden_runtime``).
Work is counted in the unit Argon2 pays it in: 1 KiB blocks filled, over all passes.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from cegema_onboarding.hashing import Argon2Params, PasswordHasher

SALT = b"s" * 16
SECRET = "Le chat de ma voisine 1987"


def _blocks(memory_kib: int, iterations: int, lanes: int) -> int:
    """Argon2's work, computed here apart from the library's own helper."""
    return memory_kib // (4 * lanes) * 4 * lanes * iterations


def _params(memory: int, iterations: int, lanes: int = 1) -> Argon2Params:
    return Argon2Params(memory_kib=memory, iterations=iterations, lanes=lanes,
                        allow_weak=True)


@pytest.fixture
def computations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """Every Argon2id computation made, as (memory, iterations, lanes)."""
    made: list[tuple[int, int, int]] = []
    real = PasswordHasher._kdf

    def spy(self: PasswordHasher, salt: bytes, memory: int, iterations: int, lanes: int,
            length: int) -> Argon2id:
        made.append((memory, iterations, lanes))
        return real(self, salt, memory, iterations, lanes, length)

    monkeypatch.setattr(PasswordHasher, "_kdf", spy)
    return made


@pytest.mark.parametrize(("old", "new"), [
    (_params(64, 1), _params(128, 2)),
    (_params(64, 1), _params(100, 3)),
    (_params(256, 1), _params(96, 4)),
    (_params(64, 2, lanes=2), _params(200, 2, lanes=4)),
    (_params(128, 1, lanes=4), _params(512, 3, lanes=1)),
    (_params(40, 1), _params(1024, 1)),
])
def test_a_wrong_secret_against_an_older_hash_costs_the_current_work(
        old: Argon2Params, new: Argon2Params,
        computations: list[tuple[int, int, int]]) -> None:
    stored = PasswordHasher(old).hash(SECRET, SALT)
    hasher = PasswordHasher(new)
    computations.clear()
    calls = hasher.calls

    assert hasher.verify("not the secret", stored) is False

    # It is still one check, as the counting tests count them.
    assert hasher.calls - calls == 1
    known = sum(_blocks(*c) for c in computations)
    computations.clear()
    hasher.dummy_verify("not the secret")
    unknown = sum(_blocks(*c) for c in computations)
    assert unknown == _blocks(new.memory_kib, new.iterations, new.lanes)
    # Within one rounding step: four blocks per lane, on each pass of the top-up.
    assert abs(known - unknown) <= 2 * new.lanes * new.iterations


def test_no_top_up_for_a_right_secret_or_a_hash_at_least_as_costly(
        computations: list[tuple[int, int, int]]) -> None:
    cheap, costly = _params(64, 1), _params(128, 2)
    old = PasswordHasher(cheap).hash(SECRET, SALT)
    hasher = PasswordHasher(costly)
    computations.clear()
    # A right secret is re-hashed by the login with the current parameters anyway.
    assert hasher.verify(SECRET, old) is True
    assert computations == [(64, 1, 1)]
    # A hash made with costlier parameters (they were lowered): nothing to add.
    strong = PasswordHasher(_params(256, 2)).hash(SECRET, SALT)
    computations.clear()
    assert PasswordHasher(cheap).verify("not the secret", strong) is False
    assert computations == [(256, 2, 1)]
    # The current parameters: the check alone.
    computations.clear()
    assert hasher.verify("not the secret", hasher.hash(SECRET, SALT)) is False
    assert computations == [(128, 2, 1), (128, 2, 1)]


def test_a_replay_hasher_answers_each_question_once(
        computations: list[tuple[int, int, int]]) -> None:
    from cegema_onboarding.hashing import ReplayHasher

    inner = PasswordHasher(_params(64, 1))
    stored = inner.hash(SECRET, SALT)
    replay = ReplayHasher(inner)
    computations.clear()
    for _ in range(3):
        assert replay.verify(SECRET, stored) is True
        assert replay.verify("wrong", stored) is False
        assert replay.hash(SECRET, b"t" * 16) == inner.hash(SECRET, b"t" * 16)
        replay.dummy_verify(SECRET)
    # Once each through the replay hasher, plus the three direct inner.hash calls above.
    assert len(computations) == 4 + 3
    assert replay.calls == inner.calls
    assert "Le chat" not in repr(replay)
    # A stored hash that changed is a new question.
    assert replay.verify(SECRET, inner.hash(SECRET, b"u" * 16)) is True
