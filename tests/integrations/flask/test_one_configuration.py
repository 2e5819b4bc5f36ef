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
    (tmp_path / "app.py").write_text(code_blocks(section("flask.md", "A new app from scratch"),
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


def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CEGEMA_"):
            monkeypatch.delenv(name)


def test_the_extension_reads_the_shared_names_the_commands_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flask import Flask

    from cegema_onboarding.adapters.memory import MemoryMailer
    from cegema_onboarding.integrations.flask import Onboarding

    _clean_environment(monkeypatch)
    rows = _provision(tmp_path, {**KEYS, "CEGEMA_DATABASE_URL":
                                 f"sqlite:///{tmp_path / 'portal.db'}"})
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CEGEMA_DATABASE_URL", f"sqlite:///{tmp_path / 'portal.db'}")
    app = Flask(__name__)
    app.config.update(TESTING=True, CEGEMA_ONBOARDING_MAILER=MemoryMailer())
    # No SECRET_KEY, no keys in the app's config: all from the CEGEMA_* variables.
    Onboarding(app)
    service = app.extensions["cegema_onboarding"].service
    assert service.settings.base_url == KEYS["CEGEMA_BASE_URL"]
    number, initial = rows[0]["member_number"], rows[0]["initial_password"]
    client = app.test_client()
    page = client.get("/connexion").get_data(as_text=True)
    response = client.post("/connexion", data={"identifier": number, "password": initial,
                                               "csrf_token": csrf_of(page)})
    assert (response.status_code, response.location) == (303, "/premiere-connexion")


def test_app_config_keys_that_contradict_the_shared_ones_are_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from flask import Flask

    from cegema_onboarding.adapters.memory import MemoryMailer, MemoryStorage
    from cegema_onboarding.errors import SettingsConflict
    from cegema_onboarding.integrations.flask import Onboarding

    _clean_environment(monkeypatch)
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    app = Flask(__name__)
    app.config.update(TESTING=True, CEGEMA_ONBOARDING_MAILER=MemoryMailer(),
                      CEGEMA_ONBOARDING_STORAGE=MemoryStorage(),
                      CEGEMA_ONBOARDING_SECRET_KEYS=["z" * 48],
                      CEGEMA_ONBOARDING_PEPPER_KEYS=[["k2", "c" * 48], ["k1", "d" * 48]],
                      CEGEMA_ONBOARDING_BASE_URL=KEYS["CEGEMA_BASE_URL"])
    with pytest.raises(SettingsConflict) as refused:
        Onboarding(app)
    assert refused.value.names == ("CEGEMA_SECRET_KEYS",)
    assert "z" * 48 not in str(refused.value)


def test_half_given_app_config_keys_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from flask import Flask

    from cegema_onboarding.adapters.memory import MemoryMailer, MemoryStorage
    from cegema_onboarding.errors import ConfigurationError
    from cegema_onboarding.integrations.flask import Onboarding

    _clean_environment(monkeypatch)
    app = Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="s" * 40, CEGEMA_ONBOARDING_MAILER=MemoryMailer(),
                      CEGEMA_ONBOARDING_STORAGE=MemoryStorage(),
                      CEGEMA_ONBOARDING_SECRET_KEYS=["z" * 48])
    with pytest.raises(ConfigurationError, match="CEGEMA_ONBOARDING_PEPPER_KEYS"):
        Onboarding(app)
