"""Grammar the catalogues cannot carry alone: durations with their plural, French elision.

A duration is written in words for one ("une heure", "one hour") and in digits otherwise
("24 heures", "24 hours"): "ce lien n'est valable que 1 heure" is what a machine writes,
not what a person does. The words live in the catalogues (``unit.<unit>.one`` and
``unit.<unit>.other``); this module picks the unit and the form.

French elides "que" before a vowel ("qu'une heure", never "que une heure"). Templates keep
the plain "que {duration}" (what a translator or a host writes), and :func:`elide` turns it
into "qu'{duration}" when the value filled in starts with a vowel. Only "que" and its
compounds are elided: they are the only words before a placeholder in the catalogues whose
elision depends on the value. A value starting with "h" or "y" is left alone: whether it
elides depends on the word (h muet or aspiré), and no value this library fills in starts so.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Final

import attrs

__all__ = ["Duration", "Unit", "elide", "express"]

# Lower and upper case vowels, with the accents French uses; not "h" nor "y" (see above).
_VOWELS: Final = frozenset("aeiouàâäéèêëîïôöùûüœæAEIOUÀÂÄÉÈÊËÎÏÔÖÙÛÜŒÆ")
# "que", "Que", "lorsque", "puisque", "jusque" followed by one space and a placeholder.
_QUE: Final = re.compile(r"\b((?:[Ll]ors|[Pp]uis|[Jj]us)?[Qq]u)e \{(\w+)\}")


class Unit(enum.Enum):
    """A unit a member reads a duration in; the value is its catalogue key's middle part."""

    SECONDS = "seconds"
    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"


_SECONDS: Final = {Unit.SECONDS: 1, Unit.MINUTES: 60, Unit.HOURS: 3600, Unit.DAYS: 86400}


def _positive(_: object, __: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("a duration counts at least one unit")


@attrs.frozen
class Duration:
    """``count`` units, as a member reads it: :attr:`key` names its catalogue text."""

    count: int = attrs.field(validator=_positive)
    unit: Unit

    @property
    def key(self) -> str:
        """``unit.<unit>.one`` for a count of one, ``unit.<unit>.other`` otherwise."""
        # French and English agree here: singular for one, plural from two. (French would
        # put zero in the singular too, but no duration a member reads is zero.)
        return f"unit.{self.unit.value}.{'one' if self.count == 1 else 'other'}"


def express(delta: timedelta, *, round_up: bool = False) -> Duration:
    """``delta`` in the unit a person would use.

    Whole days beyond two days ("3 jours"), whole hours up to there ("24 heures", as the
    guide writes it, never "un jour"), minutes under two hours ("90 minutes"), seconds under
    a minute. A duration that is not a whole number of its unit is rounded down, so that
    a link is never said to live longer than it does; ``round_up`` rounds up instead, for a
    wait, which must never be said to be shorter than it is. Raises ValueError for a
    duration under one second (rounded down) or not positive.
    """
    seconds = delta.total_seconds()
    if seconds <= 0:
        raise ValueError("a duration a member reads must be positive")
    whole = int(seconds)
    if round_up and whole < seconds:
        whole += 1
    if whole % _SECONDS[Unit.DAYS] == 0 and whole > 2 * _SECONDS[Unit.DAYS]:
        unit = Unit.DAYS
    elif whole % _SECONDS[Unit.HOURS] == 0:
        unit = Unit.HOURS
    elif whole < _SECONDS[Unit.MINUTES]:
        unit = Unit.SECONDS
    elif whole < 2 * _SECONDS[Unit.HOURS]:
        unit = Unit.MINUTES
    else:
        unit = Unit.HOURS
    count, rest = divmod(whole, _SECONDS[unit])
    if rest:
        # Rounded to a whole number of the unit, which may read better in another one:
        # 119 min 1 s up is "2 heures", not "120 minutes".
        count += round_up
        return express(timedelta(seconds=count * _SECONDS[unit]))
    return Duration(count=count, unit=unit)


def elide(template: str, lang: str, params: Mapping[str, object]) -> str:
    """``template`` with French "que {x}" written "qu'{x}" where the value of x needs it.

    Templates of other languages come back unchanged.
    """
    if lang != "fr" or "{" not in template:
        return template

    def swap(match: re.Match[str]) -> str:
        value = params.get(match.group(2))
        if isinstance(value, str) and value[:1] in _VOWELS:
            return f"{match.group(1)}'{{{match.group(2)}}}"
        return match.group(0)

    return _QUE.sub(swap, template)
