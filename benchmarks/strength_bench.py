"""Password strength: how much of a French leak list is refused, how little of random passwords.

The figures the default ``PasswordPolicy`` is chosen by (docs/security.md, "Password
strength"), all from one seeded run:

- the held-out list ``benchmarks/data/fr-leaked-patterns.txt`` (French leaked-password
  patterns, written apart from the word lists; its header names its sources): the share
  the guessability check refuses on its own, the same among entries of 12 characters or
  more (those the length rule lets through), and the share the whole default policy refuses;
- random passwords nobody could guess, which the check should let through: 12 characters
  drawn from a-z0-9 (62 bits) and from a-zA-Z0-9 (71 bits), and passphrases of four words
  drawn from the bundled list of common French words plus two digits (about 49 bits, the
  list being public). Three-word passphrases (about 38 bits) are shown for contrast: those
  are weak and should be refused;
- the time of one estimate: median over the held-out list, and the worst of a few
  128-character inputs made to be slow.

    python -m benchmarks.strength_bench            # 5,000 random passwords of each kind
    python -m benchmarks.strength_bench --quick    # 500

This is not a test: it prints figures. tests/core/test_strength_measure.py asserts bounds on them.
"""

from __future__ import annotations

import argparse
import gzip
import random
import statistics
import string
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

import attrs

from cegema_onboarding import strength
from cegema_onboarding.password_policy import PasswordContext, PasswordPolicy
from cegema_onboarding.strength_match import fold

HELD_OUT = Path(__file__).parent / "data" / "fr-leaked-patterns.txt"
SEED = 2026
LOWER_DIGITS = string.ascii_lowercase + string.digits
ALPHANUMERIC = string.ascii_letters + string.digits
NOBODY = PasswordContext()
# Inputs built to make the estimator work hardest: every position starts many matches.
SLOW_INPUTS = (
    "1987" * 32,
    "12" * 64,
    "".join(random.Random(1).choice("4@8(3619!|0$57+2ae") for _ in range(128)),
    " -" * 64,
    "azerty" * 22,
    "".join(random.Random(2).choice(string.printable[:94]) for _ in range(128)),
)


def held_out() -> list[str]:
    """The held-out list, one password a line, comments left out."""
    lines = HELD_OUT.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def random_strings(count: int, alphabet: str = LOWER_DIGITS, length: int = 12,
                   seed: int = SEED) -> list[str]:
    """``count`` random strings of ``length`` characters from ``alphabet``, seeded."""
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(length)) for _ in range(count)]


def passphrase_words() -> list[str]:
    """The bundled common French words of four letters or more (the passphrases' list)."""
    resource = resources.files("cegema_onboarding").joinpath("data").joinpath("fr-words.txt.gz")
    with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as text:
        return [word for word in text.read().split() if len(word) >= 4]


def passphrases(count: int, words: int = 4, seed: int = SEED) -> list[str]:
    """``count`` passphrases: ``words`` random words and two random digits, space-separated."""
    rng = random.Random(seed)
    vocabulary = passphrase_words()
    return [" ".join([*(rng.choice(vocabulary) for _ in range(words)),
                      f"{rng.randrange(100):02d}"]) for _ in range(count)]


@attrs.frozen
class Figures:
    """One run's shares (0..1) and times (milliseconds)."""

    threshold: int
    held_out: int
    held_out_long: int
    held_out_in_lists: int
    refused_by_estimate: float
    long_refused_by_estimate: float
    refused_by_policy: float
    random36_refused: float
    random62_refused: float
    four_words_refused: float
    three_words_refused: float
    median_ms: float
    worst_ms: float


def _share(items: Sequence[str], refused: Callable[[str], bool]) -> float:
    return sum(1 for item in items if refused(item)) / len(items)


def _time_ms(password: str) -> float:
    start = time.perf_counter()
    strength.estimate(password)
    return (time.perf_counter() - start) * 1000


def measure(count: int = 5000, policy: PasswordPolicy | None = None) -> Figures:
    """Measure the default policy (or ``policy``) on the held-out list and random passwords."""
    policy = policy or PasswordPolicy()
    strength.word_ranks()  # loaded once, outside the timings

    def weak(password: str) -> bool:
        return policy.estimate(password, NOBODY).bits < policy.min_strength_bits

    def refused(password: str) -> bool:
        return policy.check(password, password, NOBODY) != ()

    leaks = held_out()
    long = [p for p in leaks if len(p) >= 12]
    ranks = strength.word_ranks()
    return Figures(
        threshold=policy.min_strength_bits,
        held_out=len(leaks),
        held_out_long=len(long),
        held_out_in_lists=sum(1 for p in leaks if fold(p) in ranks),
        refused_by_estimate=_share(leaks, weak),
        long_refused_by_estimate=_share(long, weak),
        refused_by_policy=_share(leaks, refused),
        random36_refused=_share(random_strings(count, LOWER_DIGITS), refused),
        random62_refused=_share(random_strings(count, ALPHANUMERIC), refused),
        four_words_refused=_share(passphrases(count, 4), refused),
        three_words_refused=_share(passphrases(count, 3), refused),
        median_ms=statistics.median(_time_ms(p) for p in leaks),
        worst_ms=max(min(_time_ms(p) for _ in range(3)) for p in SLOW_INPUTS),
    )


def report(figures: Figures, count: int) -> str:
    """The figures as the lines printed by :func:`main`."""
    f = figures
    return "\n".join([
        f"threshold: log2(guesses) >= {f.threshold} bits",
        f"held-out French leak patterns: {f.held_out} ({f.held_out_long} of 12+ characters; "
        f"{f.held_out_in_lists} found whole in a bundled list)",
        f"  refused by the estimate alone:        {f.refused_by_estimate:7.2%}",
        f"  of 12+ characters, by the estimate:   {f.long_refused_by_estimate:7.2%}",
        f"  refused by the default policy:        {f.refused_by_policy:7.2%}",
        f"random passwords wrongly refused ({count} of each, seed {SEED}):",
        f"  12 characters from a-z0-9:            {f.random36_refused:7.2%}",
        f"  12 characters from a-zA-Z0-9:         {f.random62_refused:7.2%}",
        f"  4 common French words + 2 digits:     {f.four_words_refused:7.2%}",
        f"3 common French words + 2 digits (weak, should be refused): "
        f"{f.three_words_refused:.2%}",
        f"time per estimate: median {f.median_ms:.2f} ms, worst slow input {f.worst_ms:.1f} ms",
    ])


def main(argv: Sequence[str] | None = None) -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 random passwords of each kind")
    args = parser.parse_args(argv)
    count = 500 if args.quick else 5000
    print(report(measure(count), count))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
