"""The pattern matchers behind :mod:`cegema_onboarding.strength`.

Each matcher finds, in a prepared password, the parts an attacker would guess as a whole
(a word, a keyboard walk, a run such as ``1234``, a date) and prices each part in bits:
log2 of the guesses needed to hit that part alone. :mod:`~cegema_onboarding.strength`
then finds the cheapest way to cover the whole password with them. The model is
zxcvbn's (Wheeler, USENIX Security 2016), written again, small, with AZERTY keyboards and
French dictionaries.

A :class:`Match` holds positions and a price, never the characters: the password is a
secret and matches end up in reprs and test output.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Iterator
from typing import Final

import attrs

from .strength_keyboards import GRAPHS, Graph

__all__ = [
    "MAX_WORD",
    "REFERENCE_YEAR",
    "Lookup",
    "Match",
    "Text",
    "dates",
    "dictionary",
    "fold",
    "separators",
    "sequences",
    "spatial",
]

#: Dictionary entries longer than this are not looked for: it bounds the work at
#: O(length x MAX_WORD) lookups, and longer words are rare enough to be priced as bruteforce.
MAX_WORD: Final = 24
#: Years are priced by their distance to this one. A constant keeps the estimate a pure
#: function of the password; with MIN_YEAR_SPACE it stays right for two decades either way.
REFERENCE_YEAR: Final = 2026
MIN_YEAR_SPACE: Final = 20
# Characters a member puts between words. A space, a dash, an underscore or a dot covers
# nearly every passphrase, so a separator costs the choice among four.
_SEPARATORS: Final = frozenset(" -_.,;:/+*&|~\\'\"")
_SEPARATOR_GUESSES: Final = 4
# Leetspeak: what a symbol may stand for. "1" and "7" have two readings.
_LEET: Final[dict[str, str]] = {
    "4": "a", "@": "a", "8": "b", "(": "c", "{": "c", "[": "c", "<": "c", "3": "e",
    "€": "e", "6": "g", "9": "g", "1": "il", "!": "i", "|": "il", "0": "o", "$": "s",
    "5": "s", "+": "t", "7": "tl", "%": "x", "2": "z",
}
# Reversed readings need four characters, leetspeak ones five: shorter, they are mostly
# chance ("ti", "3t"), random passwords are full of them, and pricing them as words would
# shred a random string.
_MIN_TWISTED: Final = 4
# Readings of the whole password tried at most (three ambiguous symbols give eight).
_MAX_LEET_VARIANTS: Final = 8
_DATE_WITH_SEPARATOR = re.compile(r"(\d{1,4})([\s/\\_.\-])(\d{1,2})\2(\d{1,4})")
_YEAR = re.compile(r"(?=(19\d\d|20\d\d))")
_DIGITS = re.compile(r"\d{3,8}")

#: ``lookup(s)``: every dictionary word of at least two characters found in ``s``, by its
#: span ``(start, end)``, with its (rank, source). One call per string read (forwards,
#: backwards, each leetspeak reading) rather than one per substring: the lists are a trie.
Lookup = Callable[[str], "dict[tuple[int, int], tuple[int, str]]"]


@attrs.frozen
class Match:
    """One guessable part of a password: ``password[start:end]`` costs ``2 ** bits`` guesses."""

    pattern: str
    start: int
    end: int
    bits: float
    detail: str = ""


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> tuple[str, bool]:
    """The comparison form of one character, and whether it carried a diacritic."""
    lower = char.casefold()
    if len(lower) != 1:
        # "ß" casefolds to "ss": keep one character per position, so positions line up.
        lower = char.lower() if len(char.lower()) == 1 else char
    parts = unicodedata.normalize("NFD", lower)
    if len(parts) > 1 and all(unicodedata.combining(p) for p in parts[1:]):
        return parts[0], True
    return lower, False


def fold(value: str) -> str:
    """Casefold and strip diacritics, one character for one: "Été" becomes "ete"."""
    return "".join(_fold_char(c)[0] for c in value)


# Character classes of bruteforce segments, as bits of a mask, and their sizes.
_LOWER, _UPPER, _DIGIT, _SYMBOL, _MARKED, _OTHER = 1, 2, 4, 8, 16, 32
_CLASS_SIZES: Final = ((_LOWER, 26), (_UPPER, 26), (_DIGIT, 10), (_SYMBOL, 33), (_MARKED, 16),
                       (_OTHER, 100))
#: log2 of the alphabet an attacker must try for a segment whose classes form the mask.
POOL_BITS: Final = tuple(
    math.log2(max(1, sum(size for bit, size in _CLASS_SIZES if mask & bit))) for mask in range(64)
)


def _class(char: str, folded: str, marked: bool) -> int:
    if "a" <= folded <= "z":
        return (_UPPER if char.isupper() else _LOWER) | (_MARKED if marked else 0)
    if char.isdigit() and char.isascii():
        return _DIGIT
    if char.isascii():
        return _SYMBOL
    return _OTHER


@attrs.frozen
class Text:
    """A password ready for matching: its NFKC form, folded form and per-character facts."""

    original: str = attrs.field(repr=False)
    folded: str = attrs.field(repr=False)
    marked: tuple[bool, ...] = attrs.field(repr=False)
    classes: tuple[int, ...] = attrs.field(repr=False)

    @classmethod
    def of(cls, value: str) -> Text:
        """Prepare ``value`` (already NFKC)."""
        pairs = [_fold_char(c) for c in value]
        folded = "".join(p[0] for p in pairs)
        marked = tuple(p[1] for p in pairs)
        classes = tuple(_class(c, f, m) for c, (f, m) in zip(value, pairs, strict=True))
        return cls(value, folded, marked, classes)

    def __len__(self) -> int:
        return len(self.original)

    def slice(self, start: int, end: int) -> Text:
        """The prepared form of ``original[start:end]``."""
        return Text(self.original[start:end], self.folded[start:end],
                    self.marked[start:end], self.classes[start:end])


def _comb_sum(a: int, b: int) -> float:
    # Number of ways to choose which of a+b positions carry the variation (zxcvbn).
    return float(sum(math.comb(a + b, k) for k in range(1, min(a, b) + 1)))


def _case_bits(token: str) -> float:
    upper = sum(c.isupper() for c in token)
    lower = sum(c.islower() for c in token)
    if upper == 0:
        return 0.0
    if lower == 0 or (upper == 1 and (token[0].isupper() or token[-1].isupper())):
        # All capitals, or the first or last letter only: the first things tried.
        return 1.0
    return math.log2(_comb_sum(upper, lower))


def _word(text: Text, start: int, end: int, rank: int, source: str, extra: float,
          detail: str) -> Match:
    bits = math.log2(rank) + _case_bits(text.original[start:end]) + extra
    if any(text.marked[start:end]):
        bits += 1.0  # with or without its accents
    return Match("dictionary", start, end, bits, f"{source}{detail}")


def _leet_tables(s: str) -> list[dict[str, str]]:
    # One reading of the whole password per choice for the ambiguous symbols ("1" as i or
    # l): a member who writes "1" for "i" does so throughout, as zxcvbn assumes.
    present = [c for c in dict.fromkeys(s) if c in _LEET]
    choices = itertools.product(*([(c, letter) for letter in _LEET[c]] for c in present))
    return [dict(pairs) for pairs in itertools.islice(choices, _MAX_LEET_VARIANTS)] if present \
        else []


def _leet_bits(token: str, reading: str) -> float:
    subs = [(a, b) for a, b in zip(token, reading, strict=True) if a != b]
    bits = 0.0
    for pair in sorted(set(subs)):
        subbed = subs.count(pair)
        plain = reading.count(pair[1]) - subbed
        bits += 1.0 if plain == 0 else math.log2(_comb_sum(subbed, plain))
    return bits


def dictionary(text: Text, lookup: Lookup) -> list[Match]:
    """Dictionary words, read forwards, backwards, in leetspeak and with a plural ending.

    Every span of 2 to :data:`MAX_WORD` characters with a letter is a candidate, in order of
    start then end; the lookups come first, one per reading of the whole password, so that
    only spans some reading finds are visited.
    """
    s = text.folded
    n = len(s)
    letters = [0]
    leet = [0]
    for c in s:
        letters.append(letters[-1] + ("a" <= c <= "z"))
        leet.append(leet[-1] + (c in _LEET))
    forward = lookup(s)
    # s[i:j] read backwards is the reversed password's [n - j:n - i].
    backward = {(n - end, n - start): word for (start, end), word in lookup(s[::-1]).items()}
    leets: dict[tuple[int, int], tuple[str, tuple[int, str]]] = {}
    for reading in ("".join(table.get(c, c) for c in s) for table in _leet_tables(s)):
        for span, word in lookup(reading).items():
            leets.setdefault(span, (reading, word))  # the first reading that finds it
    plurals = {(i, j + 1) for i, j in forward if j < n and s[j] in "sx"}
    out: list[Match] = []
    for i, j in sorted({*forward, *plurals, *backward, *leets}):
        if not 2 <= j - i <= MAX_WORD or letters[j] - letters[i] == 0:
            continue  # digits and symbols alone are other matchers' business
        token = s[i:j]
        hit = forward.get((i, j))
        if hit is not None:
            out.append(_word(text, i, j, hit[0], hit[1], 0.0, ""))
        elif j - i >= 5 and token[-1] in "sx" and (stem := forward.get((i, j - 1))) is not None:
            out.append(_word(text, i, j, stem[0], stem[1], 1.0, ":plural"))
        back = backward.get((i, j)) if j - i >= _MIN_TWISTED else None
        if back is not None and token[::-1] != token:
            out.append(_word(text, i, j, back[0], back[1], 1.0, ":reversed"))
        # Leetspeak swaps a few letters; mostly symbols ("94e173") is chance, not "gaelle".
        symbols = leet[j] - leet[i]
        if hit is None and 0 < symbols <= letters[j] - letters[i] + 1 \
                and j - i > _MIN_TWISTED and (found := leets.get((i, j))) is not None:
            reading, (rank, source) = found
            out.append(_word(text, i, j, rank, source, _leet_bits(token, reading[i:j]),
                             ":l33t"))
    return out


@functools.lru_cache(maxsize=8192)
def _walk_guesses(starts: int, degree: float, length: int, turns: int) -> float:
    # zxcvbn's count of the walks of 2..length keys with 1..turns turns from any key,
    # sum over i, j of C(i - 1, j - 1) * starts * degree ** j, summed over i in closed form
    # (hockey stick) so that a long walk costs O(turns), not O(length * turns).
    return math.log2(starts * sum((math.comb(length, j) - 1) * degree ** j
                                  for j in range(1, min(turns, length - 1) + 1)))


def _walk_bits(graph: Graph, length: int, turns: int, shifted: int) -> float:
    bits = _walk_guesses(graph.starts, graph.degree, length, turns)
    if shifted:
        unshifted = length - shifted
        bits += 1.0 if unshifted == 0 else math.log2(_comb_sum(shifted, unshifted))
    return bits


def spatial(text: Text) -> list[Match]:
    """Keyboard walks of three keys or more on AZERTY, QWERTY and the numeric keypad.

    Every walk is offered from every start and to every end (up to MAX_WORD keys, and the
    longest one), so that digits typed after a keypad walk are not swallowed into it.
    """
    s = text.original
    n = len(s)
    out: list[Match] = []
    for graph in GRAPHS:
        for i in range(n - 2):
            j = i + 1
            direction = -1
            turns = 0
            shifted = int(graph.is_shifted(s[i]))
            while j < n:
                step = graph.step(s[j - 1], s[j])
                if step is None:
                    break
                if step[0] != direction:
                    turns += 1
                    direction = step[0]
                shifted += step[1]
                j += 1
                if 3 <= j - i <= MAX_WORD:
                    out.append(Match("spatial", i, j, _walk_bits(graph, j - i, turns, shifted),
                                     graph.name))
            if j - i > MAX_WORD:
                out.append(Match("spatial", i, j, _walk_bits(graph, j - i, turns, shifted),
                                 graph.name))
    return out


def _sequence(s: str, i: int, j: int, delta: int) -> Match | None:
    # Two characters in a row ("kl", "ef") are as often chance as a run: three at least,
    # and four for steps wider than one ("aceg", "2468").
    if j - i < 3 or not 0 < abs(delta) <= 5 or (abs(delta) > 1 and j - i < 4):
        return None
    first = s[i]
    base = 4 if first in "az019" else 10 if first.isdigit() else 26
    return Match("sequence", i, j, math.log2(base * (j - i) * (1 if delta > 0 else 2)))


def sequences(text: Text) -> list[Match]:
    """Runs with a constant step, such as abcd, 1357 or 9876."""
    s = text.folded
    if len(s) < 2:
        return []
    out: list[Match] = []
    start = 0
    delta = ord(s[1]) - ord(s[0])
    for k in range(2, len(s)):
        step = ord(s[k]) - ord(s[k - 1])
        if step != delta:
            if (m := _sequence(s, start, k, delta)) is not None:
                out.append(m)
            start, delta = k - 1, step
    if (m := _sequence(s, start, len(s), delta)) is not None:
        out.append(m)
    return out


def _year_bits(year: int) -> float:
    return math.log2(max(abs(year - REFERENCE_YEAR), MIN_YEAR_SPACE))


def _full_year(year: str) -> int | None:
    value = int(year)
    if len(year) == 2:
        return value + (1900 if value > 50 else 2000)
    return value if len(year) == 4 and 1900 <= value <= 2099 else None


def _date_bits(parts: tuple[str, str, str], order: str) -> float | None:
    named = dict(zip(order, parts, strict=True))
    day, month = int(named["d"]), int(named["m"])
    year = _full_year(named["y"])
    if year is None or not (1 <= day <= 31 and 1 <= month <= 12):
        return None
    return _year_bits(year) + math.log2(365)


def _splits(digits: str) -> Iterator[tuple[str, str, str]]:
    n = len(digits)
    for a in range(1, n - 1):
        for b in range(a + 1, n):
            yield digits[:a], digits[a:b], digits[b:]


def dates(text: Text) -> list[Match]:
    """Years (1987), dates with or without separators (25/12/1987, 251287) and days (2512)."""
    s = text.folded
    out = [Match("year", m.start(), m.start() + 4, _year_bits(int(m.group(1))))
           for m in _YEAR.finditer(s)]
    for run in _DIGITS.finditer(s):
        for i in range(run.start(), run.end()):
            for j in range(i + 4, min(run.end(), i + 8) + 1):
                best = _best_date(s[i:j])
                if best is not None:
                    out.append(Match("date", i, j, best))
    for m in _DATE_WITH_SEPARATOR.finditer(s):
        parts = (m.group(1), m.group(3), m.group(4))
        bits = [b for o in ("dmy", "mdy", "ymd") if (b := _date_bits(parts, o)) is not None]
        if bits:
            out.append(Match("date", m.start(), m.end(), min(bits) + 2.0))
    return out


def _best_date(digits: str) -> float | None:
    found: list[float] = []
    if len(digits) == 4:
        day_month = (int(digits[:2]), int(digits[2:]))
        if any(1 <= d <= 31 and 1 <= mo <= 12 for d, mo in (day_month, day_month[::-1])):
            found.append(math.log2(366))  # a birthday without its year
    for parts in _splits(digits):
        if all(1 <= len(p) <= 2 for p in parts[:2]) and len(parts[2]) in (2, 4):
            found += [b for o in ("dmy", "mdy") if (b := _date_bits(parts, o)) is not None]
        if len(parts[0]) in (2, 4) and all(1 <= len(p) <= 2 for p in parts[1:]):
            b = _date_bits(parts, "ymd")
            if b is not None:
                found.append(b)
    return min(found) if found else None


def separators(text: Text) -> list[Match]:
    """Single spaces, dashes, dots... between the words of a passphrase."""
    bits = math.log2(_SEPARATOR_GUESSES)
    return [Match("separator", k, k + 1, bits)
            for k, c in enumerate(text.folded) if c in _SEPARATORS]
