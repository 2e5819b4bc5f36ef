"""The dictionary matcher finds exactly what one lookup per substring would find.

The matcher reads the word lists as a trie, one call per position of each reading of the
password (forwards, backwards, leetspeak). The reference below is the plain definition it
replaced: every substring of 2 to MAX_WORD characters looked up on its own, the member's
words first. Any span the trie misses, any reading it confuses, any order it changes shows
up as a difference here.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from cegema_onboarding import strength
from cegema_onboarding.strength_match import (
    _LEET,
    _MIN_TWISTED,
    MAX_WORD,
    Match,
    Text,
    _leet_bits,
    _leet_tables,
    _word,
    dictionary,
)


def reference(text: Text, user: Mapping[str, int]) -> list[Match]:
    """The matcher as one lookup per substring (the definition the trie must keep)."""
    ranks = strength.word_ranks()

    def lookup(word: str) -> tuple[int, str] | None:
        if word in user:
            return user[word], "user"
        if word not in ranks:
            return None
        packed = ranks[word]
        return packed >> 4, strength.SOURCES[packed & 15]

    s = text.folded
    n = len(s)
    letters, leet = [0], [0]
    for c in s:
        letters.append(letters[-1] + ("a" <= c <= "z"))
        leet.append(leet[-1] + (c in _LEET))
    readings = ["".join(table.get(c, c) for c in s) for table in _leet_tables(s)]
    out: list[Match] = []
    for i in range(n):
        for j in range(i + 2, min(n, i + MAX_WORD) + 1):
            if letters[j] - letters[i] == 0:
                continue
            token = s[i:j]
            hit = lookup(token)
            if hit is not None:
                out.append(_word(text, i, j, hit[0], hit[1], 0.0, ""))
            elif j - i >= 5 and token[-1] in "sx" and (stem := lookup(token[:-1])) is not None:
                out.append(_word(text, i, j, stem[0], stem[1], 1.0, ":plural"))
            back = lookup(token[::-1]) if j - i >= _MIN_TWISTED else None
            if back is not None and token[::-1] != token:
                out.append(_word(text, i, j, back[0], back[1], 1.0, ":reversed"))
            symbols = leet[j] - leet[i]
            if hit is None and 0 < symbols <= letters[j] - letters[i] + 1 \
                    and j - i > _MIN_TWISTED:
                for reading in readings:
                    found = lookup(reading[i:j])
                    if found is not None:
                        out.append(_word(text, i, j, found[0], found[1],
                                         _leet_bits(token, reading[i:j]), ":l33t"))
                        break
    return out


# A fixed sample of the lists, short words and long ones alike, so that generated passwords
# are made of real entries (random letters alone would rarely form a long word).
_SAMPLE = sorted(random.Random(13).sample(sorted(strength.word_ranks()), 3000))
_UNLEET = {letter: symbol for symbol, letters in _LEET.items() for letter in letters}


@st.composite
def pieces(draw: st.DrawFn) -> str:
    word = draw(st.sampled_from(_SAMPLE))
    twist = draw(st.sampled_from(("plain", "title", "upper", "reversed", "plural", "leet")))
    if twist == "title":
        return word.title()
    if twist == "upper":
        return word.upper()
    if twist == "reversed":
        return word[::-1]
    if twist == "plural":
        return word + draw(st.sampled_from("sx"))
    if twist == "leet":
        return "".join(_UNLEET.get(c, c) if draw(st.booleans()) else c for c in word)
    return word


USER = ["100234567", "Marie Dupont", "marie.dupont@example.com", "Lefèvre-Saint-Éloi"]
passwords = st.lists(
    st.one_of(pieces(), st.sampled_from(USER), st.text(" -_.1234567890!@$é€ß", max_size=3),
              st.text(min_size=1, max_size=4)),
    min_size=1, max_size=6,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(passwords, st.lists(st.sampled_from(USER), max_size=3))
def test_the_trie_finds_what_one_lookup_per_substring_finds(password: str,
                                                            inputs: list[str]) -> None:
    text = Text.of(unicodedata.normalize("NFKC", password)[:strength.MAX_ANALYSED])
    user = strength._user_words(inputs)
    assert dictionary(text, strength._lookup(user)) == reference(text, user)


def test_a_long_member_word_is_not_a_dictionary_match_beyond_max_word() -> None:
    # A member's own data may be longer than any list entry; the matcher still bounds spans.
    long_word = "a" * (MAX_WORD + 3)
    text = Text.of(long_word)
    user = {long_word: 1}
    assert dictionary(text, strength._lookup(user)) == reference(text, user)
    assert all(m.end - m.start <= MAX_WORD for m in dictionary(text, strength._lookup(user)))


def test_word_ranks_is_a_mapping_of_every_entry() -> None:
    ranks = strength.word_ranks()
    word = _SAMPLE[0]
    assert word in ranks and ranks[word] == ranks.get(word)
    assert "zzqxv-not-a-word" not in ranks and ranks.get("zzqxv-not-a-word") is None
    assert 17 not in ranks  # type: ignore[comparison-overlap]
    assert sum(1 for _ in ranks) == len(ranks)
