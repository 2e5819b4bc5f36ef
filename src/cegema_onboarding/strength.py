"""How many guesses a password would take: a small estimator in the spirit of zxcvbn.

The password (NFKC, casefolded, without diacritics for matching) is split into parts an
attacker guesses as a whole: dictionary words (French and English common passwords,
French first names and surnames, common French and English words, the places and clubs
French passwords are made of), read forwards, backwards and in leetspeak; AZERTY, QWERTY
and keypad walks; runs (abcd, 1234, 9876); repeats (aaaa, abab); dates and years; and the
member's own data (member number, names, email, the site's name). What no pattern
explains is bruteforce, priced by the alphabet its characters come from (26 for lower case
letters, 10 for digits...), so that "1234" after a word costs 10**4, not 36**4.

The estimate is zxcvbn's: the minimum, over every way to cover the password with parts,
of ``l! x product(guesses of each part)``, where ``l!`` prices the order of the ``l``
parts. Where we part from zxcvbn, and why:

- zxcvbn adds ``10000 ** (l - 1)``, which prices any passphrase of five common first names
  above 50 bits; we leave it out;
- a separator between words (space, dash...) costs the choice among four but is not a part
  to put in order, or "le chat de ma voisine" would be priced by its spaces;
- bruteforce is priced per alphabet, so a bruteforce run right after another pays one bit
  for the switch: otherwise a random string would be cut into letter and digit runs;
- reversed and leetspeak readings need four or five characters, runs three, repeats three
  (or two symbols, "!!"): shorter, they are mostly chance in a random string.

The result is reported in bits, log2 of the guesses. Only the first :data:`MAX_ANALYSED`
characters are analysed, which bounds the work; a password strong as a whole is strong in
its first 128 characters. The word lists are read once, lazily (``data/README.md``).
"""

from __future__ import annotations

import functools
import gzip
import math
import re
import unicodedata
from array import array
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from typing import Final

import attrs
import marisa_trie

from .strength_match import (
    MAX_WORD,
    POOL_BITS,
    Lookup,
    Match,
    Text,
    dates,
    dictionary,
    fold,
    separators,
    sequences,
    spatial,
)

__all__ = ["CAP_BITS", "MAX_ANALYSED", "SOURCES", "Estimate", "Match", "estimate", "word_ranks"]

MAX_ANALYSED: Final = 128
#: The bundled word lists, most frequent word first in each (see data/README.md).
SOURCES: Final = (
    "common-passwords",
    "fr-passwords",
    "fr-places",
    "fr-firstnames",
    "fr-surnames",
    "fr-words",
    "en-words",
    "en-names",
)
# zxcvbn's floors: a part shorter than the whole password costs at least this many guesses,
# or any string could be shredded into one-letter "words" for free.
_MIN_ONE_CHAR: Final = math.log2(10)
_MIN_PART: Final = math.log2(50)
#: Covers dearer than this are not followed: the estimate is exact up to it, and only known
#: to be above it beyond. It bounds the work on long passwords; thresholds stay well below.
CAP_BITS: Final = 160.0
_GREEDY = re.compile(r"(.+)\1+", re.DOTALL)
_LAZY = re.compile(r"(.+?)\1+", re.DOTALL)
_LAZY_WHOLE = re.compile(r"^(.+?)\1+$", re.DOTALL)
_USER_SPLIT = re.compile(r"[^0-9a-z]+")
_SOURCE_BITS: Final = 4
_LOG2_FACTORIAL: Final = tuple(math.lgamma(k + 1) / math.log(2) for k in range(MAX_ANALYSED + 2))


class _Words(Mapping[str, int]):
    """The bundled words in a trie, each with ``rank << 4 | source index`` (its best rank).

    A trie, not a dict: finding every word that starts at a position is one C call
    (:meth:`spans`), where a dict needs one probe per substring, about 900 for a
    26-character passphrase; and the lists take about 0.2 MB, where a dict of str takes
    several. That memory is read again after every Argon2id computation has evicted it from
    the CPU caches (docs/performance.md).
    """

    def __init__(self, ranks: dict[str, int]) -> None:
        self._trie = marisa_trie.Trie(ranks)
        self._packed = array("I", bytes(4 * len(self._trie)))
        for word, packed in ranks.items():
            self._packed[self._trie[word]] = packed
        # No word of two characters or more starts with anything else: a position that
        # holds none of these (a space, most symbols) needs no call.
        self._firsts = frozenset(word[0] for word in ranks if len(word) >= 2)

    def __getitem__(self, word: str) -> int:
        key: int | None = self._trie.get(word)
        if key is None:
            raise KeyError(word)
        return self._packed[key]

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word in self._trie

    def __iter__(self) -> Iterator[str]:
        return iter(self._trie.iterkeys())

    def __len__(self) -> int:
        return len(self._trie)

    def spans(self, s: str) -> dict[tuple[int, int], int]:
        """``(start, end)``: packed, of every word of 2 to MAX_WORD characters in ``s``."""
        found: dict[tuple[int, int], int] = {}
        packed, firsts, prefixes = self._packed, self._firsts, self._trie.iter_prefixes_with_ids
        for start, char in enumerate(s):
            if char in firsts:
                for word, key in prefixes(s[start:start + MAX_WORD]):
                    if len(word) >= 2:
                        found[start, start + len(word)] = packed[key]
        return found


def word_ranks() -> Mapping[str, int]:
    """Every bundled word, with its best rank and the list it comes from, packed in one int.

    The int is ``rank << 4 | source index``. Read once, then kept as a trie.
    """
    return _words()


@functools.cache
def _words() -> _Words:
    ranks: dict[str, int] = {}
    base = resources.files("cegema_onboarding").joinpath("data")
    for index, source in enumerate(SOURCES):
        resource = base.joinpath(f"{source}.txt.gz")
        with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as text:
            for rank, line in enumerate(text, 1):
                # Entries are written folded already, except the common-password list.
                word = fold(unicodedata.normalize("NFKC", line.strip()))
                packed = rank << _SOURCE_BITS | index
                if word and (word not in ranks or packed < ranks[word]):
                    ranks[word] = packed
    return _Words(ranks)


def _user_words(user_inputs: Iterable[str]) -> dict[str, int]:
    # The member's own data comes first of all: rank 1, 2, 3... in the order given, whole
    # (separators removed, "AB-123456" -> "ab123456") and in pieces ("jean", "dupont").
    words: dict[str, int] = {}
    for value in user_inputs:
        folded = fold(unicodedata.normalize("NFKC", value))
        for word in [_USER_SPLIT.sub("", folded), *_USER_SPLIT.split(folded)]:
            if len(word) >= 2:
                words.setdefault(word, len(words) + 1)
    return words


def _lookup(user: Mapping[str, int]) -> Lookup:
    words = _words()
    mask = (1 << _SOURCE_BITS) - 1

    def find(s: str) -> dict[tuple[int, int], tuple[int, str]]:
        found = {span: (packed >> _SOURCE_BITS, SOURCES[packed & mask])
                 for span, packed in words.spans(s).items()}
        # The member's own words win over the lists, wherever they occur.
        for word, rank in user.items():
            at = s.find(word)
            while at >= 0:
                found[at, at + len(word)] = rank, "user"
                at = s.find(word, at + 1)
        return found

    return find


@attrs.frozen
class Estimate:
    """The cheapest way found to guess a password: ``2 ** bits`` guesses, and its parts.

    ``bits`` stops at :data:`CAP_BITS`: beyond it the search gives up being exact.
    """

    bits: float
    sequence: tuple[Match, ...] = attrs.field(repr=False)
    analysed: int

    @property
    def guesses(self) -> float:
        """The number of guesses (2 ** bits)."""
        return float(2.0 ** self.bits)


def estimate(password: str, user_inputs: Iterable[str] = (), *,
             cap: float = CAP_BITS) -> Estimate:
    """Estimate the guesses ``password`` (NFKC applied) needs, knowing ``user_inputs``.

    Deterministic: the same password and inputs always give the same estimate. ``cap``
    (at most :data:`CAP_BITS`) stops the search there: ``bits`` is exact below it and
    ``cap`` when the cheapest cover costs at least that. A policy that only asks "is it
    at least 40 bits?" passes 40 and skips the search among dearer covers, most of the
    work on a long passphrase.
    """
    if not 0.0 <= cap <= CAP_BITS:
        raise ValueError(f"cap must be in 0..{CAP_BITS}")
    text = Text.of(unicodedata.normalize("NFKC", password[:MAX_ANALYSED * 2])[:MAX_ANALYSED])
    if not len(text):
        return Estimate(0.0, (), 0)
    bits, sequence = _cheapest(text, _lookup(_user_words(user_inputs)), cap)
    return Estimate(min(bits, cap), sequence, len(text))


def _repeats(text: Text, lookup: Lookup, cap: float) -> list[Match]:
    s = text.folded
    out: list[Match] = []
    position = 0
    while position < len(s):
        greedy = _GREEDY.search(s, position)
        lazy = _LAZY.search(s, position)
        if greedy is None or lazy is None:
            break
        if len(greedy.group(0)) > len(lazy.group(0)):
            # "abcabcabc": the greedy run is longest; its shortest unit is the base.
            whole = _LAZY_WHOLE.match(greedy.group(0))
            found, base = greedy, whole.group(1) if whole else greedy.group(1)
        else:
            found, base = lazy, lazy.group(1)
        start, end = found.span()
        if end - start < 3 and base.isalnum():
            position = start + 1  # "ff" or "mm" is chance as often as a pattern; "!!" is not
            continue
        unit = text.slice(start, start + len(base))
        base_bits, _ = _cheapest(unit, lookup, cap)
        count = (end - start) / len(base)
        out.append(Match("repeat", start, end, base_bits + math.log2(count)))
        position = end
    return out


def _matches(text: Text, lookup: Lookup, cap: float) -> list[Match]:
    return [*dictionary(text, lookup), *spatial(text), *sequences(text),
            *_repeats(text, lookup, cap), *dates(text), *separators(text)]


# A node of the search: (parts so far, log2 of their product, previous node, last part).
_Node = tuple[int, float, "_Node | None", "Match | tuple[int, int, float]"]


def _pareto(candidates: list[_Node]) -> list[_Node]:
    # What follows multiplies every candidate by the same parts, and adds as many parts to
    # each. One with more parts only wins if its total (product x parts!) is already lower
    # now: the factorial's gap only widens with every part added. Keep those alone.
    candidates.sort(key=lambda node: (node[0], node[1]))
    kept: list[_Node] = []
    for node in candidates:
        if not kept or node[1] + _LOG2_FACTORIAL[node[0]] < kept[-1][1] + _LOG2_FACTORIAL[
                kept[-1][0]]:
            kept.append(node)
    return kept


def _total(node: _Node) -> float:
    return node[1] + _LOG2_FACTORIAL[node[0]]


def _cheapest(text: Text, lookup: Lookup, cap: float) -> tuple[float, tuple[Match, ...]]:
    """Bits of the cheapest cover of ``text`` by matches and bruteforce, and that cover.

    Exact when it costs at most ``cap``; otherwise some cover dearer than ``cap``. Every
    part adds bits and every extra part raises the factorial, so a partial cover above
    ``cap`` only grows: dropping it loses no cover under ``cap``.
    """
    n = len(text)
    ending: list[list[Match]] = [[] for _ in range(n)]
    for match in _matches(text, lookup, cap):
        ending[match.end - 1].append(match)
    # Two fronts per position: covers ending with a match, and covers ending with bruteforce.
    # Bruteforce priced by the classes of its own characters could cut a random string into
    # letter runs and digit runs for less than it costs: a bruteforce run right after
    # another pays one bit more, the attacker's choice of switching alphabets there (the
    # factorial already prices the order of the runs).
    boundary = 1.0
    fronts: list[tuple[list[_Node], list[_Node]]] = []
    for k in range(n):
        after_match: list[_Node] = []
        after_brute: list[_Node] = []

        def extend(into: list[_Node], start: int, bits: float,
                   part: Match | tuple[int, int, float], counted: int = 1,
                   switch: float = 0.0) -> None:
            if start == 0:
                into.append((counted, bits, None, part))
                return
            for which, extra in ((0, 0.0), (1, switch)):
                for node in fronts[start - 1][which]:
                    cost = node[1] + bits + extra
                    if cost + _LOG2_FACTORIAL[node[0] + counted] <= cap:
                        into.append((node[0] + counted, cost, node, part))

        for match in ending[k]:
            floor = 0.0 if match.end - match.start == n or match.pattern == "separator" else (
                _MIN_ONE_CHAR if match.end - match.start == 1 else _MIN_PART)
            # A separator is priced, but is not one more part to put in order: the words
            # around it are, and "word word word" is one way to write them.
            extend(after_match, match.start, max(match.bits, floor), match,
                   0 if match.pattern == "separator" else 1)
        mask = 0
        for start in range(k, -1, -1):
            mask |= text.classes[start]
            bits = (k - start + 1) * POOL_BITS[mask]
            if bits > cap and start < k:
                break
            extend(after_brute, start, bits, (start, k + 1, bits), switch=boundary)
        if not after_match and not after_brute:
            # Everything went over the cap: carry on with one bruteforce character, so that
            # the estimate stays the cost of a real cover (above the cap: strong anyway).
            # Priced as extend prices it, the switch after bruteforce included: without it
            # this cover could come out cheaper than the cheapest the full search finds.
            bits = POOL_BITS[text.classes[k]]
            ends = [(front[-1], extra) for front, extra in zip(fronts[-1], (0.0, boundary),
                                                               strict=True) if front]
            last, extra = min(ends, key=lambda end: end[0][1] + end[1]
                              + _LOG2_FACTORIAL[end[0][0] + 1])
            after_brute.append((last[0] + 1, last[1] + bits + extra, last, (k, k + 1, bits)))
        fronts.append((_pareto(after_match), _pareto(after_brute)))
    best = min((f[-1] for f in fronts[-1] if f), key=_total)
    total = _total(best)
    parts: list[Match] = []
    node: _Node | None = best
    while node is not None:
        part = node[3]
        parts.append(part if isinstance(part, Match) else Match("bruteforce", *part))
        node = node[2]
    return total, tuple(reversed(parts))
