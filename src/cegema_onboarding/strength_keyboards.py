"""Keyboard adjacency for the walk matcher: French AZERTY, US QWERTY and the numeric keypad.

A walk is a run of keys where each one touches the previous (azerty, qsdfgh, wxcvbn, but
also columns such as aqw and 741). Each key is written as its unshifted character followed
by its shifted one; on AZERTY the digits are the shifted characters of the top row.
Rows of a typewriter keyboard are staggered: each row gives the x position of its first key,
and two keys of neighbouring rows touch when their centres are less than one key apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import attrs

__all__ = ["GRAPHS", "Graph"]

# (x of the first key, keys). French AZERTY as sold in France (ISO, with the "<>" key).
_AZERTY: Final = (
    (0.0, ("²", "&1", "é2", '"3', "'4", "(5", "-6", "è7", "_8", "ç9", "à0", ")°", "=+")),
    (1.5, ("aA", "zZ", "eE", "rR", "tT", "yY", "uU", "iI", "oO", "pP", "^¨", "$£")),
    (1.75, ("qQ", "sS", "dD", "fF", "gG", "hH", "jJ", "kK", "lL", "mM", "ù%", "*µ")),
    (1.25, ("<>", "wW", "xX", "cC", "vV", "bB", "nN", ",?", ";.", ":/", "!§")),
)
_QWERTY: Final = (
    (0.0, ("`~", "1!", "2@", "3#", "4$", "5%", "6^", "7&", "8*", "9(", "0)", "-_", "=+")),
    (1.5, ("qQ", "wW", "eE", "rR", "tT", "yY", "uU", "iI", "oO", "pP", "[{", "]}", "\\|")),
    (1.75, ("aA", "sS", "dD", "fF", "gG", "hH", "jJ", "kK", "lL", ";:", "'\"")),
    (2.25, ("zZ", "xX", "cC", "vV", "bB", "nN", "mM", ",<", ".>", "/?")),
)
# The keypad is a grid: (x, y, key). Walks go in eight directions (159753, 147258369).
_KEYPAD: Final = (
    (1, 0, "/"), (2, 0, "*"), (3, 0, "-"),
    (0, 1, "7"), (1, 1, "8"), (2, 1, "9"), (3, 1, "+"),
    (0, 2, "4"), (1, 2, "5"), (2, 2, "6"),
    (0, 3, "1"), (1, 3, "2"), (2, 3, "3"),
    (0.5, 4, "0"), (2, 4, "."),
)


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


@attrs.frozen
class Graph:
    """One layout: for each character, its neighbours with the direction and shift of the step.

    ``starts`` (characters on the layout) and ``degree`` (average number of neighbours) price
    a walk as zxcvbn does.
    """

    name: str
    adjacency: Mapping[str, Mapping[str, tuple[int, int]]] = attrs.field(repr=False)
    shifted: frozenset[str] = attrs.field(repr=False)
    starts: int
    degree: float

    def step(self, previous: str, current: str) -> tuple[int, int] | None:
        """(direction, 1 if shifted) of the step from ``previous`` to ``current``, or None."""
        return self.adjacency.get(previous, {}).get(current)

    def is_shifted(self, char: str) -> bool:
        """Whether ``char`` is typed with Shift on this layout."""
        return char in self.shifted


def _build(name: str, keys: Sequence[tuple[float, float, str]], reach: float) -> Graph:
    adjacency: dict[str, dict[str, tuple[int, int]]] = {}
    directions: dict[tuple[int, int], int] = {}
    degrees = []
    for x, y, key in keys:
        steps: dict[str, tuple[int, int]] = {}
        count = 0
        for x2, y2, other in keys:
            dx, dy = x2 - x, y2 - y
            # Same row: the keys either side. Rows above and below: the keys overlapping.
            if other == key or abs(dy) > 1 or abs(dx) > (1.0 if dy == 0 else reach):
                continue
            count += 1
            direction = directions.setdefault((_sign(dx), _sign(dy)), len(directions))
            for shift, char in enumerate(other):
                steps.setdefault(char, (direction, shift))
        for char in key:
            adjacency[char] = steps
            degrees.append(count)
    shifted = frozenset(key[1] for _, _, key in keys if len(key) > 1)
    return Graph(name, adjacency, shifted, len(adjacency), sum(degrees) / len(degrees))


def _typewriter(rows: Sequence[tuple[float, Sequence[str]]]) -> list[tuple[float, float, str]]:
    return [(x0 + k, float(y), key) for y, (x0, row) in enumerate(rows)
            for k, key in enumerate(row)]


#: The layouts walks are looked for on.
GRAPHS: Final = (
    _build("azerty", _typewriter(_AZERTY), 0.99),
    _build("qwerty", _typewriter(_QWERTY), 0.99),
    _build("keypad", [(float(x), float(y), k) for x, y, k in _KEYPAD], 1.0),
)
