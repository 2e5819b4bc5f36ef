"""The profile completion meter ("Profil complété à 90%"): a pure function with host weights."""

from __future__ import annotations

import attrs

from .errors import ConfigurationError
from .model import Account

#: What each weight rewards, in the order the meter lists them.
ITEMS = ("email", "phone", "postal_address", "channels", "pets", "interests", "comments",
         "secret_answer")


@attrs.frozen
class ProfileWeights:
    """How much each part of the profile counts. Zero leaves a part out of the meter."""

    email: int = 20
    phone: int = 10
    postal_address: int = 10
    channels: int = 20
    pets: int = 10
    interests: int = 10
    comments: int = 0
    secret_answer: int = 20

    def __attrs_post_init__(self) -> None:
        values = [getattr(self, item) for item in ITEMS]
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values):
            raise ConfigurationError("profile weights must be non-negative integers")
        if sum(values) == 0:
            raise ConfigurationError("at least one profile weight must be positive")


def filled(account: Account) -> frozenset[str]:
    """The parts of the profile the member has filled in."""
    p = account.profile
    done = {
        "email": account.email is not None and account.email_verified_at is not None,
        "phone": bool(account.phone),
        "postal_address": bool(account.postal_address),
        "channels": bool(p.channels),
        "pets": p.pets is not None,
        "interests": bool(p.interests),
        "comments": bool(p.comments),
        "secret_answer": account.answer_hash is not None,
    }
    return frozenset(k for k, v in done.items() if v)


def completion(account: Account, weights: ProfileWeights | None = None) -> int:
    """The completion percentage, 0 to 100, rounded down (100 only when all is filled)."""
    w = weights or ProfileWeights()
    done = filled(account)
    total: int = sum(getattr(w, item) for item in ITEMS)
    got: int = sum(getattr(w, item) for item in ITEMS if item in done)
    return got * 100 // total


def missing(account: Account, weights: ProfileWeights | None = None
            ) -> tuple[tuple[str, int], ...]:
    """What each part still missing would add to the meter: ``(item, points)``, in
    :data:`ITEMS` order, parts that count for nothing left out ("+10 % : vos animaux").

    Each gain is measured against today's meter, rounded as :func:`completion` rounds, so
    the member who fills that one part sees the meter move by exactly that much.
    """
    w = weights or ProfileWeights()
    done = filled(account)
    total: int = sum(getattr(w, item) for item in ITEMS)
    got: int = sum(getattr(w, item) for item in ITEMS if item in done)
    gains = ((item, (got + getattr(w, item)) * 100 // total - got * 100 // total)
             for item in ITEMS if item not in done and getattr(w, item) > 0)
    return tuple((item, points) for item, points in gains if points > 0)
