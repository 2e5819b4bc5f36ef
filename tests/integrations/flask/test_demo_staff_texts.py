"""The demo's staff page speaks through the catalogues, like every member screen (#15).

Its texts were written inline in the templates (``'Espace conseiller' if lang == 'fr'
else 'Staff area'``): no translator saw them, and a host's rewording could not reach
them. Now each is a ``ui.demo.staff.*`` key, in French and English.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flask")

from cegema_onboarding import texts

from .test_views import demo as demo
from .test_views import post, text_of

KEYS = ("ui.demo.staff.title", "ui.demo.staff.queue", "ui.demo.staff.empty",
        "ui.demo.staff.one_account", "ui.demo.staff.unlock", "ui.demo.staff.reissue")
TEMPLATES = Path(texts.__file__).parents[1] / "integrations/flask/templates/cegema_onboarding/demo"


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_staff_page_shows_the_catalogue_texts(demo: Any, lang: str) -> None:
    app, _, _ = demo
    client = app.test_client()
    assert texts.text("ui.demo.staff.title", lang) in text_of(
        client.get(f"/staff?lang={lang}"))
    post(client, "/staff", {"password": "staff-pw-123"})
    page = text_of(client.get(f"/staff?lang={lang}"))
    for key in KEYS:
        assert texts.text(key, lang) in page, key


def test_a_rewording_reaches_the_staff_page(demo: Any) -> None:
    app, _, _ = demo
    previous = texts.set_overrides({"fr": {"ui.demo.staff.title": "Espace des agents"}})
    try:
        assert "Espace des agents" in text_of(app.test_client().get("/staff"))
    finally:
        texts.set_overrides(previous)


def test_no_inline_wording_is_left_in_the_staff_templates() -> None:
    for name in ("staff.html", "staff_login.html"):
        assert "if lang ==" not in (TEMPLATES / name).read_text(encoding="utf-8"), name
