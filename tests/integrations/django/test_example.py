"""The example project in examples/django_portal: it checks, migrates and serves the guide."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "django_portal"

# Runs in the example's own process, with its own settings (console mail backend).
WALK = """
import re, sys
import django
django.setup()
from django.test import Client
client = Client(enforce_csrf_checks=True, HTTP_HOST="127.0.0.1")
page = client.get("/connexion/").content.decode()
assert "SE CONNECTER" in page, page
token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
response = client.post("/connexion/", {"identifier": sys.argv[1], "password": sys.argv[2],
                                       "csrfmiddlewaretoken": token})
assert response.status_code == 302 and response["Location"] == "/premiere-connexion/"
page = client.get("/premiere-connexion/").content.decode()
assert "PREMIÈRE CONNEXION" in page
print("EMAIL STEP REACHED")
"""


def run(*args: str, env: dict[str, str], cwd: Path = EXAMPLE) -> subprocess.CompletedProcess[str]:
    """Run our interpreter with this checkout's package first on the path (not an install)."""
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                              env.get("PYTHONPATH")]))}
    # Our own interpreter on our own example files: no untrusted input.
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env,  # noqa: S603
                          capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.slow
def test_the_example_checks_migrates_and_reaches_the_email_step(tmp_path: Path) -> None:
    env = {**os.environ, "PORTAL_DB": str(tmp_path / "db.sqlite3"),
           "DJANGO_SETTINGS_MODULE": "portal.settings"}
    env.pop("PYTHONPATH", None)
    done = run("manage.py", "check", "--fail-level", "WARNING", env=env)
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout
    done = run("manage.py", "migrate", "--noinput", env=env)
    assert done.returncode == 0, done.stderr
    assert "cegema_onboarding.0001_initial" in done.stdout
    done = run("manage.py", "makemigrations", "--check", "--dry-run", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    out = tmp_path / "print-shop.csv"
    done = run("manage.py", "cegema_provision", "members.csv", str(out), env=env)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8"), delimiter=";"))
    first = rows[0]
    env["PYTHONPATH"] = str(EXAMPLE)
    done = run("-c", WALK, first["member_number"], first["initial_password"], env=env)
    assert done.returncode == 0, done.stderr
    assert "EMAIL STEP REACHED" in done.stdout
