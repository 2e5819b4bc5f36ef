"""Accessibility checks shared by both frameworks' browser walks (RGAA / WCAG 2.1 AA).

* :func:`check_axe` runs axe-core (axe-playwright-python) on the page: a serious or
  critical violation fails the test with rule id, impact, target and help URL; moderate
  and minor ones are printed (``pytest -s`` or the captured output of a failure).
* :func:`tab_to` moves the focus with Tab only and checks that every element it reaches
  shows a visible focus indicator and comes later in the page than the previous one.
* :class:`Artefacts` saves one screenshot per screen, only when ``CEGEMA_TEST_ARTEFACTS``
  names a folder: the CI keeps nothing by default.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import attrs

#: The WCAG 2.1 A and AA rules (RGAA 4 follows them), and axe's best practices.
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                                      "best-practice"]},
               "resultTypes": ["violations"]}
BLOCKING = frozenset({"serious", "critical"})


def format_violations(violations: list[dict[str, Any]]) -> str:
    """One line per violation and element: rule id, impact, target, help URL."""
    lines = []
    for violation in violations:
        for node in violation["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            lines.append(f"  {violation['id']} ({violation['impact']}) at {target}: "
                         f"{violation['help']} <{violation['helpUrl']}>")
    return "\n".join(lines)


def check_axe(page: Any, screen: str) -> list[dict[str, Any]]:
    """Run axe on the page; fail on serious or critical violations, print the others."""
    from axe_playwright_python.sync_playwright import Axe

    violations: list[dict[str, Any]] = Axe().run(page, options=AXE_OPTIONS).response["violations"]
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    others = [v for v in violations if v["impact"] not in BLOCKING]
    if others:
        print(f"axe, {screen} ({page.url}): moderate or minor\n{format_violations(others)}")
    assert not blocking, (f"axe, {screen} ({page.url}): serious or critical violations\n"
                          f"{format_violations(blocking)}")
    return violations


# What the focused element shows: an outline, or a box-shadow, wider than nothing.
_FOCUS_STYLE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow && style.boxShadow !== 'none';
  const all = Array.from(document.querySelectorAll('*'));
  return {id: el.id, tag: el.tagName.toLowerCase(), name: el.getAttribute('name'),
          text: (el.innerText || el.value || '').trim().slice(0, 60),
          visible: outline || !!shadow, matches: el.matches(':focus-visible'),
          position: all.indexOf(el)};
}"""


@attrs.frozen
class Focused:
    """The element that has the focus, as the keyboard walk sees it."""

    id: str
    tag: str
    name: str | None
    text: str
    position: int


def focused(page: Any) -> Focused:
    """The focused element; it must show a visible indicator on ``:focus-visible``."""
    state = page.evaluate(_FOCUS_STYLE)
    assert state is not None, f"nothing has the focus on {page.url}"
    assert state["matches"] and state["visible"], (
        f"no visible focus on <{state['tag']} id={state['id']!r}> at {page.url}")
    return Focused(state["id"] or "", state["tag"], state["name"], state["text"],
                   state["position"])


def tab_to(page: Any, wanted: str, *, limit: int = 25) -> Focused:
    """Press Tab until an element matching ``wanted`` has the focus.

    ``wanted`` is an element id, or ``text:<words>`` for a link or button by its text.
    Every element passed on the way shows a visible focus, each later in the page than the
    one before (the order follows the page).
    """
    previous: Focused | None = None
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if previous is not None:
            assert now.position > previous.position, (
                f"Tab went back from {previous} to {now} on {page.url}")
        if _matches(now, wanted):
            return now
        previous = now
    raise AssertionError(f"Tab never reached {wanted!r} on {page.url}")


def tab_back(page: Any) -> Focused:
    """Shift+Tab: the focus, still visible, moves to an element earlier in the page."""
    before = focused(page)
    page.keyboard.press("Shift+Tab")
    now = focused(page)
    assert now.position < before.position, f"Shift+Tab went on from {before} to {now}"
    return now


def type_into(page: Any, wanted: str, text: str) -> None:
    """Tab to a field (unless it has the focus already), clear it and type."""
    # Browsers apply autofocus a moment after the page loads: wait for it, or a Tab
    # pressed meanwhile starts from the top and the autofocus then moves the focus.
    page.wait_for_function("""() => !document.querySelector('[autofocus]')
        || document.activeElement !== document.body""")
    if page.evaluate("document.activeElement.id") != wanted:
        tab_to(page, wanted)
    else:
        focused(page)
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def press(page: Any, wanted: str, key: str = "Enter") -> None:
    """Tab to a button or link (by id or ``text:...``) and press it."""
    tab_to(page, wanted)
    with page.expect_navigation():
        page.keyboard.press(key)


def assert_tied_error(page: Any, field_id: str) -> None:
    """A refused field is invalid, described by its message, and the page announces it
    (``role="alert"``)."""
    field = page.locator(f"#{field_id}")
    assert field.get_attribute("aria-invalid") == "true"
    described = (field.get_attribute("aria-describedby") or "").split()
    assert described, f"#{field_id} has no aria-describedby"
    assert any(page.locator(f"#{ref}").inner_text().strip() for ref in described)
    assert page.locator("[role=alert]").count() >= 1


def _matches(element: Focused, wanted: str) -> bool:
    if wanted.startswith("text:"):
        return wanted[5:].casefold() in element.text.casefold()
    return element.id == wanted


class Artefacts:
    """Numbered screenshots of a walk, saved only when ``CEGEMA_TEST_ARTEFACTS`` is set.

    They go to ``$CEGEMA_TEST_ARTEFACTS/<group>/<walk>/NN-<label>.png``; the folder is
    printed, so that pytest shows it with the test's output.
    """

    def __init__(self, walk: str, group: str = "a11y") -> None:
        root = os.environ.get("CEGEMA_TEST_ARTEFACTS", "")
        name = re.sub(r"[^A-Za-z0-9_-]+", "_", walk)
        self.folder = Path(root) / group / name if root else None
        self.count = 0
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            for old in self.folder.glob("*.png"):
                old.unlink()
            print(f"screenshots of {walk}: {self.folder}")

    def __call__(self, page: Any, label: str) -> Path | None:
        if self.folder is None:
            return None
        self.count += 1
        path = self.folder / f"{self.count:02d}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


# ---------------------------------------------------------------------- refusals in HTML

_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "source", "track", "wbr"})


class _Scan(HTMLParser):
    """Each id's text, the fields marked invalid, and the text of ``role="alert"`` regions."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: dict[str, str] = {}
        self.invalid: dict[str, list[str]] = {}
        self.alerts: list[str] = []
        self._open: list[tuple[str, str | None, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("input", "select", "textarea") and found.get("aria-invalid") == "true":
            self.invalid[found.get("name") or ""] = (found.get("aria-describedby") or "").split()
        if tag in _VOID:
            return
        ident = found.get("id")
        if ident is not None:
            self.texts.setdefault(ident, "")
        alert = found.get("role") == "alert"
        if alert:
            self.alerts.append("")
        self._open.append((tag, ident, alert))

    def handle_endtag(self, tag: str) -> None:
        if all(open_tag != tag for open_tag, _, _ in self._open):
            return  # a void element's "/>", or a stray end tag
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, ident, alert in self._open:
            if ident is not None:
                self.texts[ident] += data
            if alert:
                self.alerts[-1] += data


def refused_fields(page: str) -> dict[str, str]:
    """The fields of ``page`` marked ``aria-invalid="true"``, each with the text of the
    elements its ``aria-describedby`` names (which must exist); and the page must have a
    non-empty ``role="alert"`` region, so that the refusal is announced."""
    scan = _Scan()
    scan.feed(page)
    described: dict[str, str] = {}
    for name, refs in scan.invalid.items():
        assert refs, f"the refused field {name!r} has no aria-describedby"
        missing = [ref for ref in refs if ref not in scan.texts]
        assert not missing, f"{name!r} is described by missing elements {missing}"
        described[name] = " ".join(" ".join(scan.texts[ref].split()) for ref in refs)
    assert any(text.strip() for text in scan.alerts), "no role=alert region announces it"
    return described
