"""examples/flask_existing_portal: an existing portal adopts the first connection in at
most ten host lines, and keeps its own home page, layout and members-only page."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("flask")
pytest.importorskip("sqlalchemy")

from flask.testing import FlaskClient

from cegema_onboarding.adapters.sql import create_schema, sqlite_engine
from cegema_onboarding.integrations.flask import WebConfig

from ...conftest import GOOD_PASSWORD, PEPPER, SECRET

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "flask_existing_portal"
DOCS = Path(__file__).resolve().parents[3] / "docs"
BASE_URL = "https://adherents.example.org"
SESSION_KEY = "example-portal-session-key-0123456789abcdef"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK = re.compile(re.escape(BASE_URL) + r"(/\S+)\?token=([A-Za-z0-9_.\-]+)")
MAX_HOST_LINES = 10


def integration_lines(path: Path) -> list[str]:
    """The lines between ``cegema: begin`` and ``cegema: end`` that are code: neither blank
    nor a comment (``#`` in Python, ``{# ... #}`` in a template)."""
    lines: list[str] = []
    inside = False
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if re.fullmatch(r"(#|\{#)\s*cegema: begin\s*(#\})?", line):
            assert not inside, f"{path.name}: begin inside a block"
            inside = True
        elif re.fullmatch(r"(#|\{#)\s*cegema: end\s*(#\})?", line):
            assert inside, f"{path.name}: end without begin"
            inside = False
        elif inside and line and not line.startswith("#") and not (
                line.startswith("{#") and line.endswith("#}")):
            lines.append(line)
    assert not inside, f"{path.name}: a block is not closed"
    return lines


def without_integration(text: str) -> str:
    """The portal as it was: the marked blocks (markers included) removed."""
    return re.sub(r"^[ \t]*(#|\{#) cegema: begin.*?(#|\{#) cegema: end( #\})?\n", "", text,
                  flags=re.DOTALL | re.MULTILINE)


def load(folder: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, folder / "portal.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Flask finds the app's templates through sys.modules.
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The portal's environment, as README.md sets it; the database already migrated."""
    database = tmp_path / "portal.db"
    engine = sqlite_engine(database)
    create_schema(engine)  # what `cegema-onboarding migrate` does at deployment
    engine.dispose()
    for name in list(os.environ):
        if name.startswith("CEGEMA_"):
            monkeypatch.delenv(name)
    values = {
        "FLASK_SECRET_KEY": SESSION_KEY,
        "FLASK_TESTING": "true",
        # The onboarding's: the names the commands read too.
        "CEGEMA_DATABASE_URL": f"sqlite:///{database}",
        "CEGEMA_BASE_URL": BASE_URL,
        "CEGEMA_SECRET_KEYS": SECRET,
        "CEGEMA_PEPPER_KEYS": f"p1:{PEPPER}",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return tmp_path


@pytest.fixture
def portal(env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    module = load(EXAMPLE, "existing_portal", monkeypatch)
    yield module
    storage = module.app.extensions["cegema_onboarding"].service.storage
    storage.engine.dispose()


def post(client: FlaskClient, path: str, data: dict[str, str], *, form: str | None = None
         ) -> object:
    page = client.get(form or path, follow_redirects=True).get_data(as_text=True)
    found = CSRF.search(page)
    assert found is not None, f"no form on {form or path}: {page[:500]}"
    return client.post(path, data={**data, "csrf_token": found.group(1)})


def test_the_integration_is_at_most_ten_host_lines() -> None:
    python = integration_lines(EXAMPLE / "portal.py")
    layout = integration_lines(EXAMPLE / "templates" / "layout.html")
    assert python and layout
    assert len(python) + len(layout) <= MAX_HOST_LINES, python + layout


def test_the_line_counter_counts_code_and_skips_comments(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("a = 1\n# cegema: begin\nimport x\n\n# why\nx.y(\n    1)\n"
                      "# cegema: end\nb = 2\n", encoding="utf-8")
    assert integration_lines(sample) == ["import x", "x.y(", "1)"]


def test_the_portal_walks_the_whole_first_connection(
        portal: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    app = portal.app
    config = app.extensions["cegema_onboarding"]
    assert isinstance(config, WebConfig)
    member = config.service.staff.provision("100234567", "Marie Dupont")
    client = app.test_client()

    # The portal's own home page and layout, untouched.
    home = client.get("/").get_data(as_text=True)
    assert "Bienvenue à la Mutuelle du Littoral" in home
    # The members-only page sends a stranger to log in, and keeps where they were going.
    r = client.get("/espace-membre")
    assert r.status_code == 303 and r.location == "/connexion?next=/espace-membre"
    login = client.get(r.location)
    page = login.get_data(as_text=True)
    assert "SE CONNECTER À VOTRE COMPTE" in page
    assert "| Mutuelle du Littoral</title>" in page and "portal-bar" in page  # its layout
    r = post(client, "/connexion", {"identifier": member.member_number,
                                    "password": member.initial_password})
    assert r.location == "/premiere-connexion"  # type: ignore[attr-defined]
    # Logged in with the initial password: not yet a member for the portal's pages.
    assert client.get("/espace-membre").location == "/premiere-connexion"
    assert "Bienvenue" in client.get("/").get_data(as_text=True)

    r = post(client, "/premiere-connexion", {"email": "marie@example.com",
                                             "confirmation": "marie@example.com"})
    assert r.location == "/premiere-connexion/boite-mail"  # type: ignore[attr-defined]
    # ConsoleMailer printed the validation mail, with its link.
    found = LINK.search(capsys.readouterr().out)
    assert found is not None
    path, token = found.groups()
    r = post(client, path, {"token": token}, form=f"{path}?token={token}")
    assert r.location == "/mot-de-passe"  # type: ignore[attr-defined]
    r = post(client, "/mot-de-passe", {"password": GOOD_PASSWORD,
                                       "confirmation": GOOD_PASSWORD})
    assert r.location == "/question-secrete"  # type: ignore[attr-defined]
    question = next(iter(config.service.settings.questions)).id
    r = post(client, "/question-secrete", {"question": question, "answer": "Rex le chien",
                                           "confirmation": "Rex le chien"})
    # The journey done, the member is back on the page they asked for, and admitted.
    assert r.location == "/espace-membre"  # type: ignore[attr-defined]
    members = client.get("/espace-membre")
    assert members.status_code == 200
    assert "Bonjour Marie Dupont (adhérent n° 100234567)" in members.get_data(as_text=True)
    assert "Bienvenue" in client.get("/").get_data(as_text=True)


def test_without_the_marked_lines_the_portal_is_as_it_was(
        env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = env / "before"
    (before / "templates").mkdir(parents=True)
    (before / "portal.py").write_text(
        without_integration((EXAMPLE / "portal.py").read_text(encoding="utf-8")),
        encoding="utf-8")
    for template in (EXAMPLE / "templates").iterdir():
        (before / "templates" / template.name).write_text(
            without_integration(template.read_text(encoding="utf-8")), encoding="utf-8")
    assert "cegema_onboarding" not in (before / "portal.py").read_text(encoding="utf-8")
    assert "member_required" not in (before / "portal.py").read_text(encoding="utf-8")
    assert "cegema" not in (before / "templates" / "layout.html").read_text(encoding="utf-8")
    module = load(before, "portal_before", monkeypatch)
    client = module.app.test_client()
    assert "Bienvenue" in client.get("/").get_data(as_text=True)
    assert "Espace adhérent" in client.get("/espace-membre").get_data(as_text=True)
    assert client.get("/connexion").status_code == 404


def test_the_docs_quick_start_is_the_example() -> None:
    text = (DOCS / "flask.md").read_text(encoding="utf-8")
    start = text.index("\n## Quick start\n")
    section = text[start:text.find("\n## ", start + 1)]
    blocks = re.findall(r"^```(python|html\+jinja)\n(.*?)^```", section,
                        flags=re.DOTALL | re.MULTILINE)
    assert [block for _, block in blocks] == [
        (EXAMPLE / "portal.py").read_text(encoding="utf-8"),
        (EXAMPLE / "templates" / "layout.html").read_text(encoding="utf-8"),
    ]


@pytest.mark.slow
@pytest.mark.browser
def test_chromium_walks_the_portal_from_its_members_page_and_back(
        env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from werkzeug.serving import make_server

    from .browser_support import Shots, launch_chromium

    holder: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start),
                         threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    # Mailed links point at this server; the app is built once its port is known.
    monkeypatch.setenv("CEGEMA_BASE_URL", url)
    module = load(EXAMPLE, "existing_portal_live", monkeypatch)
    service = module.app.extensions["cegema_onboarding"].service
    member = service.staff.provision("100234567", "Marie Dupont")
    holder["app"] = module.app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    shots = Shots("example_existing_portal")
    browsers = launch_chromium()
    try:
        browser = next(browsers)
        context = browser.new_context(locale="fr-FR", viewport={"width": 375, "height": 812})
        context.set_default_timeout(15_000)
        page = context.new_page()
        blocked: list[str] = []
        page.on("console", lambda message: blocked.append(message.text)
                if "Content Security Policy" in message.text else None)

        page.goto(f"{url}/espace-membre")
        page.wait_for_url(f"{url}/connexion?next=/espace-membre")
        # The screen in the portal's layout, whose inline script and style carry the nonce.
        assert page.locator(".portal-bar").count() == 1
        assert page.evaluate("document.documentElement.dataset.portal") == "ready"
        shots(page, "login-in-layout")
        page.get_by_label("Identifiant", exact=True).fill(member.member_number)
        page.get_by_label("Mot de passe", exact=True).fill(member.initial_password)
        page.get_by_role("button", name=re.compile("Ouvrir une session")).click()
        page.wait_for_url(f"{url}/premiere-connexion")
        page.get_by_label("Email", exact=True).fill("marie@example.com")
        page.get_by_label("Confirmer votre email").fill("marie@example.com")
        page.get_by_role("button", name="Valider").click()
        page.wait_for_url(f"{url}/premiere-connexion/boite-mail")
        # Step 4's confirmation: a pop-up (<dialog>) over the mailbox screen.
        assert "Un lien de validation" in page.get_by_role("dialog").inner_text()
        found = re.search(re.escape(url) + r"\S+token=[A-Za-z0-9_.\-]+",
                          capsys.readouterr().out)
        assert found is not None
        page.goto(found.group(0))
        page.get_by_role("button", name=re.compile("Valider|Confirmer")).first.click()
        page.wait_for_url(f"{url}/mot-de-passe")
        page.get_by_label("Choisissez votre nouveau mot de passe").fill(GOOD_PASSWORD)
        page.get_by_label("Merci de confirmer votre nouveau mot de passe").fill(GOOD_PASSWORD)
        page.get_by_role("button", name="Enregistrer").click()
        page.wait_for_url(f"{url}/question-secrete")
        page.get_by_label("Choisissez votre question secrète").select_option(index=1)
        page.get_by_label("Choisissez votre réponse").fill("Lefebvre")
        page.get_by_label("Merci de confirmer votre réponse").fill("Lefebvre")
        page.get_by_role("button", name="Enregistrer").click()
        # Back where the member wanted to go, admitted.
        page.wait_for_url(f"{url}/espace-membre")
        assert "Bonjour Marie Dupont" in page.locator("main").inner_text()
        shots(page, "members-page")
        page.goto(f"{url}/")
        assert "Bienvenue à la Mutuelle du Littoral" in page.locator("main").inner_text()
        assert blocked == []
        context.close()
    finally:
        browsers.close()
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        service.storage.engine.dispose()
