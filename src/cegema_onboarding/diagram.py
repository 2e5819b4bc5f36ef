"""The state diagram and the reference tables of ``docs/journey.md``, drawn from the flow itself.

:func:`mermaid_state_diagram` turns :data:`cegema_onboarding.flow.TABLE` into a Mermaid
``stateDiagram-v2``: one edge per (stage, event, target stage), labelled with the event's
class name. :func:`events_table` and :func:`reasons_table` list the events and the refusal
reasons with their member-facing texts. Because all three are generated, the documentation
cannot drift from the code: ``tests/test_docs.py`` fails when the committed page differs.

Usage::

    python -m cegema_onboarding.diagram                        # print the diagram
    .venv/bin/python -m cegema_onboarding.diagram --write docs/journey.md  # refresh the page
    python -m cegema_onboarding.diagram --check docs/journey.md  # exit 1 when stale
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs

from . import flow, texts
from .model import Account, Stage

__all__ = [
    "SECTIONS",
    "events_table",
    "main",
    "mermaid_state_diagram",
    "reasons_table",
    "render_sections",
]


def _initial_stage() -> Stage:
    default = attrs.fields(Account).stage.default
    assert isinstance(default, Stage)
    return default


def mermaid_state_diagram(
    table: Mapping[Stage, Mapping[type, tuple[Stage, ...]]] | None = None,
) -> str:
    """The journey as a Mermaid ``stateDiagram-v2``, one edge per (stage, event, target)."""
    table = flow.TABLE if table is None else table
    lines = ["stateDiagram-v2", f"    [*] --> {_initial_stage().name}"]
    for stage, events in table.items():
        for event, targets in events.items():
            for target in targets:
                lines.append(f"    {stage.name} --> {target.name} : {event.__name__}")
    return "\n".join(lines) + "\n"


def _first_line(obj: object) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


def _cell(text: str) -> str:
    # A pipe would end the Markdown cell, a newline the row.
    return " ".join(text.replace("|", "\\|").split())


def events_table() -> str:
    """A Markdown table of every event: what it is and the stages that accept it."""
    accepted: dict[type, list[str]] = {}
    for stage, events in flow.TABLE.items():
        for event in events:
            accepted.setdefault(event, []).append(f"`{stage.name}`")
    rows = ["| Event | Accepted in | What it is |", "|---|---|---|"]
    for event, stages in accepted.items():
        rows.append(f"| `{event.__name__}` | {', '.join(stages)} | "
                    f"{_cell(_first_line(event))} |")
    return "\n".join(rows) + "\n"


def reasons_table() -> str:
    """A Markdown table of every refusal reason with its French and English texts."""
    rows = ["| Reason | French (default) | English |", "|---|---|---|"]
    for reason in flow.Reason:
        entry = texts.CATALOG.get(f"reason.{reason.value}", {})
        french = entry.get("fr", "(no text)")
        english = entry.get("en", "(no text)")
        rows.append(f"| `{reason.name}` | {_cell(french)} | {_cell(english)} |")
    return "\n".join(rows) + "\n"


def _diagram_block() -> str:
    return f"```mermaid\n{mermaid_state_diagram()}```\n"


#: The generated sections of a page: marker name -> generator.
SECTIONS: Mapping[str, Callable[[], str]] = {
    "diagram": _diagram_block,
    "events": events_table,
    "reasons": reasons_table,
}


def render_sections(text: str, sections: Mapping[str, Callable[[], str]] = SECTIONS) -> str:
    """``text`` with the content between each ``<!-- name:start/end -->`` pair regenerated.

    Sections whose markers are absent are left alone; a start without its end is an error.
    """
    for name, generate in sections.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        begin = text.find(start)
        if begin < 0:
            continue
        finish = text.find(end, begin)
        if finish < 0:
            raise ValueError(f"{start} has no matching {end}")
        text = f"{text[:begin]}{start}\n{generate()}{text[finish:]}"
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Print the diagram, or refresh (``--write``) or check (``--check``) a Markdown page."""
    parser = argparse.ArgumentParser(prog="python -m cegema_onboarding.diagram",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="PAGE", help="regenerate the sections of PAGE")
    group.add_argument("--check", metavar="PAGE", help="exit 1 if PAGE is out of date")
    args = parser.parse_args(argv)
    page = args.write or args.check
    if page is None:
        sys.stdout.write(mermaid_state_diagram())
        return 0
    path = Path(page)
    current = path.read_text(encoding="utf-8")
    fresh = render_sections(current)
    if args.check:
        if fresh != current:
            print(f"{page} is out of date; run: .venv/bin/python -m cegema_onboarding.diagram "
                  f"--write {page}", file=sys.stderr)
            return 1
        return 0
    if fresh != current:
        path.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
