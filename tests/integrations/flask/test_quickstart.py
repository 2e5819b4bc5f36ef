"""docs/flask.md's app from scratch, run as written: pasted as app.py, it serves the guide."""

from __future__ import annotations

import html
import importlib.util
import re
import stat
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

DOCS = Path(__file__).resolve().parents[3] / "docs"
BASE_URL = "https://adherents.example.org"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def section(page: str, title: str) -> str:
    """The text of one ``## title`` section of a docs page, up to the next ``## ``."""
    text = (DOCS / page).read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else len(text)]


def code_blocks(text: str, lang: str) -> list[str]:
    """The fenced blocks of one language, in the order of the page."""
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def page_text(response: object) -> str:
    return html.unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


def csrf_of(page: str) -> str:
    match = CSRF.search(page)
    assert match is not None, "the form has no CSRF token"
    return match.group(1)


@pytest.fixture
def quickstart(capsys: pytest.CaptureFixture[str], tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The quick start's app.py, imported from an empty folder with no key in the environment.

    ``capsys`` comes first so that the test reads what the import printed.
    """
    # Skipped here rather than at import: tests/integrations/django/test_quickstart.py
    # uses the helpers.
    pytest.importorskip("flask")
    pytest.importorskip("sqlalchemy")
    blocks = code_blocks(section("flask.md", "A new app from scratch"), "python")
    assert len(blocks) == 1, "the Flask quick start is one file"
    (tmp_path / "app.py").write_text(blocks[0], encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for name in ("CEGEMA_SECRET_KEYS", "CEGEMA_PEPPER_KEYS", "CEGEMA_SESSION_KEY",
                 "CEGEMA_DATABASE_URL", "CEGEMA_LINK_KEY", "CEGEMA_PEPPER"):
        monkeypatch.delenv(name, raising=False)
    # Empty counts as unset; set here so that the app's own setting is undone afterwards.
    monkeypatch.setenv("CEGEMA_CONFIG", "")
    monkeypatch.setenv("CEGEMA_BASE_URL", BASE_URL)
    spec = importlib.util.spec_from_file_location("quickstart_app", tmp_path / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Flask finds the app's folder through sys.modules.
    monkeypatch.setitem(sys.modules, "quickstart_app", module)
    spec.loader.exec_module(module)
    yield module
    module.storage.engine.dispose()


def test_the_flask_quick_start_serves_the_first_connection(
        quickstart: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    printed = capsys.readouterr().out
    found = re.search(r"Demo member (\d+), initial password (\S+)", printed)
    assert found is not None, printed
    number, initial = found.groups()
    # Everything lands in the working folder; the dev keys are private to their owner.
    assert (tmp_path / "onboarding.db").is_file()
    config = tmp_path / "onboarding-dev.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    # The base URL came from the environment, so the file leaves it out.
    assert sorted(tomllib.loads(config.read_text())) == [
        "CEGEMA_DATABASE_URL", "CEGEMA_PEPPER_KEYS", "CEGEMA_SECRET_KEYS",
        "CEGEMA_SESSION_KEY"]
    assert "made onboarding-dev.toml for development" in printed

    client = quickstart.app.test_client()
    assert client.get("/").location == "/connexion"
    page = page_text(client.get("/connexion"))
    assert "SE CONNECTER À VOTRE COMPTE" in page
    response = client.post("/connexion", data={
        "identifier": number, "password": initial, "csrf_token": csrf_of(page)})
    assert response.status_code == 303 and response.location == "/premiere-connexion"

    page = page_text(client.get("/premiere-connexion"))
    assert "PREMIÈRE CONNEXION" in page
    response = client.post("/premiere-connexion", data={
        "email": "marie@example.org", "confirmation": "marie@example.org",
        "csrf_token": csrf_of(page)})
    assert response.status_code == 303
    assert response.location == "/premiere-connexion/boite-mail"
    assert "Connectez-vous à votre boîte mail" in page_text(client.get(response.location))

    # The ConsoleMailer printed the validation mail; its link points at the base URL.
    mail = capsys.readouterr().out
    assert re.search(r"^To: .*marie@example\.org", mail, flags=re.MULTILINE), mail
    link = re.search(r"(\S+)/premiere-connexion/valider\?token=([A-Za-z0-9_.\-]+)", mail)
    assert link is not None, mail
    assert link.group(1) == BASE_URL
    page = page_text(client.get(f"/premiere-connexion/valider?token={link.group(2)}",
                                follow_redirects=True))
    response = client.post("/premiere-connexion/valider", data={
        "token": link.group(2), "csrf_token": csrf_of(page)})
    assert response.status_code == 303 and response.location == "/mot-de-passe"
    assert "Choisissez votre nouveau mot de passe" in page_text(client.get("/mot-de-passe"))


def test_a_restart_keeps_the_keys_and_the_member(
        quickstart: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = re.search(r"initial password (\S+)", capsys.readouterr().out)
    assert first is not None
    keys = (tmp_path / "onboarding-dev.toml").read_text()
    spec = importlib.util.spec_from_file_location("quickstart_app", tmp_path / "app.py")
    assert spec is not None and spec.loader is not None
    again = importlib.util.module_from_spec(spec)
    sys.modules["quickstart_app"] = again
    spec.loader.exec_module(again)
    try:
        assert "exists already" in capsys.readouterr().out
        assert (tmp_path / "onboarding-dev.toml").read_text() == keys
        # Same pepper: the initial password printed at the first start still opens the account.
        from cegema_onboarding import Ok

        result = again.service.login("100234567", first.group(1))
        assert isinstance(result, Ok)
    finally:
        again.storage.engine.dispose()


def test_the_relay_reads_the_quick_starts_configuration(
        quickstart: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The documented second terminal: the relay, on the file the app made."""
    from cegema_onboarding.cli import main

    capsys.readouterr()
    env = {"CEGEMA_CONFIG": "onboarding-dev.toml", "CEGEMA_BASE_URL": BASE_URL}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        assert main(["relay", "--once", "--mailer", "console"]) == 0
    assert "relay stopped after 1 pass(es): 0 sent" in capsys.readouterr().out
