"""One configuration: members provisioned by the command line log in to the Flask app.

The command runs in its own process, as an operator runs it; the app is docs/flask.md's
quick start, imported with the same environment. Before the names were unified, the
command read CEGEMA_PEPPER_KEYS and the quick start CEGEMA_PEPPER: every printed initial
password was refused, with no error anywhere.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .test_quickstart import code_blocks, csrf_of, page_text, section

SRC = Path(__file__).resolve().parents[3] / "src"
KEYS = {
    "CEGEMA_SECRET_KEYS": "s2-" + "a" * 48 + ",s1-" + "b" * 48,
    "CEGEMA_PEPPER_KEYS": "k2:" + "c" * 48 + ",k1:" + "d" * 48,
    "CEGEMA_SESSION_KEY": "e" * 50,
    "CEGEMA_BASE_URL": "https://adherents.example.org",
}


def _provision(tmp_path: Path, env: dict[str, str]) -> list[dict[str, str]]:
    members = tmp_path / "members.csv"
    members.write_text("member_number;name;postal_address\n"
                       "100000001;Marie Dupont;1 rue de la Paix, 75002 Paris\n", "utf-8")
    out = tmp_path / "print-shop.csv"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CEGEMA_")}
    done = subprocess.run(  # noqa: S603  (this interpreter, fixed arguments)
        [sys.executable, "-m", "cegema_onboarding", "provision", "--csv", str(members),
         "--credentials-out", str(out), "--create-schema", "--no-progress"],
        env={**clean, **env, "PYTHONPATH": str(SRC)}, cwd=tmp_path, capture_output=True,
        text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    with out.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


@pytest.mark.parametrize("source", ["environment", "file"])
def test_a_member_provisioned_by_the_command_logs_in_to_the_app(
        source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("flask")
    pytest.importorskip("sqlalchemy")
    settings = {**KEYS, "CEGEMA_DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}"}
    if source == "file":
        config = tmp_path / "portal.toml"
        config.touch(mode=0o600)
        config.write_text("".join(f'{k} = "{v}"\n' for k, v in settings.items()), "utf-8")
        env = {"CEGEMA_CONFIG": str(config)}
    else:
        env = settings
    rows = _provision(tmp_path, env)
    assert len(rows) == 1, rows
    number, initial = rows[0]["member_number"], rows[0]["initial_password"]

    for name in list(os.environ):
        if name.startswith("CEGEMA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CEGEMA_CONFIG", "")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.py").write_text(code_blocks(section("flask.md", "Quick start"),
                                                 "python")[0], "utf-8")
    spec = importlib.util.spec_from_file_location("one_config_app", tmp_path / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "one_config_app", module)
    spec.loader.exec_module(module)
    try:
        # The app made no keys of its own: it found them where the command did.
        assert not (tmp_path / "onboarding-dev.toml").exists()
        client = module.app.test_client()
        page = page_text(client.get("/connexion"))
        response = client.post("/connexion", data={
            "identifier": number, "password": initial, "csrf_token": csrf_of(page)})
        assert response.status_code == 303
        assert response.location == "/premiere-connexion"
    finally:
        module.storage.engine.dispose()
