"""Durations as a person writes them, and French elision: "qu'une heure", never "que 1 heure"."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cegema_onboarding import texts
from cegema_onboarding.texts.wording import Duration, Unit, elide, express

SECONDS = {Unit.SECONDS: 1, Unit.MINUTES: 60, Unit.HOURS: 3600, Unit.DAYS: 86400}
# From one second to sixty days, with sub-second parts: every lifetime or wait a host sets.
LIFETIMES = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=60))
VOWELS = "aeiouàâéèêëîïôûù"


@pytest.mark.parametrize(("delta", "french", "english"), [
    (timedelta(hours=1), "une heure", "one hour"),
    (timedelta(hours=2), "2 heures", "2 hours"),
    (timedelta(hours=24), "24 heures", "24 hours"),
    (timedelta(hours=48), "48 heures", "48 hours"),
    (timedelta(days=3), "3 jours", "3 days"),
    (timedelta(days=7), "7 jours", "7 days"),
    (timedelta(minutes=1), "une minute", "one minute"),
    (timedelta(minutes=30), "30 minutes", "30 minutes"),
    (timedelta(minutes=90), "90 minutes", "90 minutes"),
    (timedelta(seconds=1), "une seconde", "one second"),
    (timedelta(seconds=45), "45 secondes", "45 seconds"),
    # Not a whole number of its unit: rounded down, never more time than there is.
    (timedelta(hours=25, minutes=30), "25 heures", "25 hours"),
    (timedelta(minutes=1, seconds=59), "une minute", "one minute"),
    (timedelta(days=3, hours=1), "73 heures", "73 hours"),
])
def test_durations_read_as_a_person_writes_them(delta: timedelta, french: str,
                                                 english: str) -> None:
    assert texts.duration(delta) == french
    assert texts.duration(delta, "fr") == french
    assert texts.duration(delta, "en-GB") == english


def test_one_day_and_the_other_singulars_are_written_in_words() -> None:
    # 24 h is "24 heures" as in the guide, but a day is still "un jour" when asked for.
    assert [texts.text(Duration(1, unit).key, "fr", count=1) for unit in Unit] == [
        "une seconde", "une minute", "une heure", "un jour"]
    assert [texts.text(Duration(1, unit).key, "en", count=1) for unit in Unit] == [
        "one second", "one minute", "one hour", "one day"]


def test_a_wait_is_rounded_up() -> None:
    assert texts.duration(timedelta(seconds=61), round_up=True) == "2 minutes"
    assert texts.duration(timedelta(seconds=0.5), round_up=True) == "une seconde"
    assert texts.duration(timedelta(minutes=119, seconds=1), round_up=True) == "2 heures"


@pytest.mark.parametrize("delta", [timedelta(0), timedelta(seconds=-5), timedelta(seconds=0.5)])
def test_no_duration_under_one_second(delta: timedelta) -> None:
    with pytest.raises(ValueError, match="duration"):
        texts.duration(delta)


def test_a_duration_counts_at_least_one() -> None:
    for count in (0, -1, True):
        with pytest.raises(ValueError, match="at least one"):
            Duration(count, Unit.HOURS)  # type: ignore[arg-type]


def test_the_guides_sentence_and_its_elision() -> None:
    def validity(delta: timedelta, lang: str = "fr") -> str:
        return texts.text("mail.validity", lang, duration=texts.duration(delta, lang))

    assert validity(timedelta(hours=24)).startswith(
        "Attention, ce lien n'est valable que 24 heures. ")
    assert validity(timedelta(hours=1)).startswith(
        "Attention, ce lien n'est valable qu'une heure. ")
    assert validity(timedelta(days=1) * 3).startswith(
        "Attention, ce lien n'est valable que 3 jours. ")
    assert validity(timedelta(hours=1), "en").startswith(
        "Please note that this link is only valid for one hour. ")


def test_elision_is_french_only_and_touches_que_alone() -> None:
    params = {"d": "une heure", "n": "Anne", "b": "24 heures"}
    assert elide("que {d}", "fr", params) == "qu'{d}"
    assert elide("Que {n} et lorsque {d}", "fr", params) == "Qu'{n} et lorsqu'{d}"
    assert elide("que {b}", "fr", params) == "que {b}"
    # Not "que" at the end of another word, not another language, not a literal brace.
    assert elide("risque {d}", "fr", params) == "risque {d}"
    assert elide("que {d}", "en", params) == "que {d}"
    assert elide("que {{d}}", "fr", params) == "que {{d}}"
    # Neither "h" nor "y": whether they elide depends on the word.
    assert elide("que {h}", "fr", {"h": "huit jours"}) == "que {h}"


@given(LIFETIMES, st.booleans())
def test_the_expressed_duration_is_rounded_the_safe_way(delta: timedelta, up: bool) -> None:
    expressed = express(delta, round_up=up)
    said = timedelta(seconds=expressed.count * SECONDS[expressed.unit])
    assert said >= delta if up else said <= delta
    # Within one unit of the truth.
    assert abs(said - delta) < timedelta(seconds=SECONDS[expressed.unit])


@given(LIFETIMES, st.booleans())
def test_french_sentences_elide_and_agree(delta: timedelta, up: bool) -> None:
    words = texts.duration(delta, "fr", round_up=up)
    for key in ("mail.validity", "screen.check_mailbox.body"):
        sentence = texts.text(key, "fr", duration=words, address="a@b.fr")
        assert not re.search(r"\bque (1\b|un\b|une\b)", sentence)
        assert not re.search(rf"\bque [{VOWELS}]", sentence, re.IGNORECASE)
        assert re.search(r"\bqu'(une?) ", sentence) or re.search(r"\bque \d+ ", sentence)
    count, _, unit = words.partition(" ")
    if count in ("un", "une"):
        assert not unit.endswith("s")
        assert express(delta, round_up=up).count == 1
    else:
        assert int(count) > 1
        assert unit.endswith("s")


@given(LIFETIMES, st.booleans())
def test_english_plurals(delta: timedelta, up: bool) -> None:
    words = texts.duration(delta, "en", round_up=up)
    count, _, unit = words.partition(" ")
    assert (count == "one") is (express(delta, round_up=up).count == 1)
    assert unit.endswith("s") is (count != "one")
    assert texts.text("mail.validity", "en", duration=words).startswith(
        f"Please note that this link is only valid for {words}. ")
