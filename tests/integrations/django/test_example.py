"""The example project in examples/django_portal: its integration is the quick start's eight
lines, it passes ``check --deploy`` and serves the whole guide (issue #14)."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "django_portal"
#: The most host lines the integration may take (settings and URLs), issue #14's target.
MAX_HOST_LINES = 8
HOST_FILES = ("portal/settings.py", "portal/urls.py")
BEGIN, END = "# cegema: begin", "# cegema: end"

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

# Continues WALK (same process, same client): the address, the mail printed by the console
# backend (caught on its way to stdout, then printed), and its link, opened and confirmed.
FROM_THE_EMAIL_STEP = """
import contextlib, io
token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    response = client.post("/premiere-connexion/email/", {
        "email": "marie@example.org", "confirmation": "marie@example.org",
        "csrfmiddlewaretoken": token})
print(printed.getvalue())
assert response.status_code == 302, response.status_code
page = client.get(response["Location"]).content.decode()
assert "Connectez-vous à votre boîte mail" in page, page
link = re.search(r"(http\\S+)/premiere-connexion/valider\\?token=([\\w.-]+)", printed.getvalue())
print("LINK BASE", link.group(1))
path = "/premiere-connexion/valider?token=" + link.group(2)
page = client.get(path, follow=True).content.decode()
token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
response = client.post("/premiere-connexion/valider", {"token": link.group(2),
                                                       "csrfmiddlewaretoken": token})
assert response.status_code == 302 and response["Location"] == "/premiere-connexion/", response
page = client.get("/premiere-connexion/").content.decode()
assert "Choisissez votre nouveau mot de passe" in page, page
print("PASSWORD STEP REACHED")
"""

# Continues FROM_THE_EMAIL_STEP: the password, the secret question, then the profile, as
# the Django user the backend made for the member.
TO_THE_PROFILE = """
def post(path, data):
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    with contextlib.redirect_stdout(io.StringIO()):  # the password-changed mail
        response = client.post(path, {**data, "csrfmiddlewaretoken": token})
    assert response.status_code == 302, (path, response.status_code)
    return response
secret = "une phrase de passe bien longue 2026"
post("/premiere-connexion/mot-de-passe/", {"password": secret, "confirmation": secret})
page = client.get("/premiere-connexion/").content.decode()
question = re.search(r'<option value="([^"]+)"', page).group(1)
post("/premiere-connexion/question/", {"question": question, "answer": "Rex",
                                       "confirmation": "Rex"})
response = client.get("/premiere-connexion/")
assert response["Location"] == "/profil/", response
page = client.get("/profil/").content.decode()
assert "Profil complété" in page, page
from django.contrib.auth import get_user_model
user = get_user_model().objects.get(pk=client.session["_auth_user_id"])
assert user.username == "cegema-" + sys.argv[1], user.username
print("PROFILE REACHED AS", user.username)
"""


def run(*args: str, env: dict[str, str], cwd: Path = EXAMPLE) -> subprocess.CompletedProcess[str]:
    """Run our interpreter with this checkout's package first on the path (not an install)."""
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                              env.get("PYTHONPATH")]))}
    # Our own interpreter on our own example files: no untrusted input.
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env,  # noqa: S603
                          capture_output=True, text=True, timeout=180, check=False)


def marked_lines(text: str) -> list[str]:
    """The code lines between the markers: neither blank nor a comment."""
    lines: list[str] = []
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if line in (BEGIN, END):
            assert inside == (line == END), f"unbalanced {line!r}"
            inside = not inside
        elif inside and line and not line.startswith("#"):
            lines.append(line)
    assert not inside, f"{BEGIN!r} without {END!r}"
    return lines


def host_lines() -> list[str]:
    return [line for name in HOST_FILES
            for line in marked_lines((EXAMPLE / name).read_text(encoding="utf-8"))]


def test_the_integration_takes_at_most_eight_host_lines() -> None:
    lines = host_lines()
    assert 0 < len(lines) <= MAX_HOST_LINES, lines
    # Counted as written: no line crammed past the project's line length to save a count.
    assert all(len(line) <= 100 for line in lines), lines


def test_the_counter_counts_code_only() -> None:
    text = f"a = 1\n{BEGIN}\n\n# why\nb = [\n    2,\n]  # trailing\n{END}\nc = 3\n"
    assert marked_lines(text) == ["b = [", "2,", "]  # trailing"]
    with pytest.raises(AssertionError):
        marked_lines(f"{BEGIN}\nb = 1\n")


def test_the_docs_quick_start_shows_exactly_the_examples_lines() -> None:
    docs = (ROOT / "docs" / "django.md").read_text(encoding="utf-8")
    quick_start = docs.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert marked_lines(quick_start) == host_lines()


def deploy_env(tmp_path: Path) -> dict[str, str]:
    """A production environment: DEBUG off, real keys, an https base URL."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CEGEMA_", "PORTAL_", "DJANGO_"))}
    env.pop("PYTHONPATH", None)
    env.update({
        "PORTAL_DEBUG": "0", "PORTAL_DB": str(tmp_path / "db.sqlite3"),
        "PORTAL_DJANGO_SECRET_KEY": "a-django-secret-key-of-this-deployment-0123456789-abcdefgh",
        "CEGEMA_SECRET_KEYS": "a-link-signing-key-of-this-deployment-0123456789-abcdefgh",
        "CEGEMA_PEPPER_KEYS": "p1:a-pepper-of-this-deployment-kept-out-of-the-db-0123456789",
        "CEGEMA_BASE_URL": "https://espace-adherent.example.fr",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    })
    return env


def test_check_deploy_has_nothing_to_say_about_the_onboarding_app(tmp_path: Path) -> None:
    done = run("manage.py", "check", "--deploy", env=deploy_env(tmp_path))
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "cegema_onboarding" not in output, output
    assert "System check identified" in output  # it ran (Django's own HSTS notes may show)


def test_without_its_keys_the_deployment_refuses_to_start(tmp_path: Path) -> None:
    env = deploy_env(tmp_path)
    del env["CEGEMA_PEPPER_KEYS"]
    done = run("manage.py", "check", env=env)
    assert done.returncode != 0
    assert "set the CEGEMA_PEPPER_KEYS environment variable" in done.stderr


@pytest.mark.slow
def test_the_example_checks_migrates_and_serves_the_whole_guide(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CEGEMA_")}
    env.update({"PORTAL_DB": str(tmp_path / "db.sqlite3"),
                "DJANGO_SETTINGS_MODULE": "portal.settings",
                # Keys given, so that the development fallback writes nothing in the example.
                "CEGEMA_SECRET_KEYS": "a-development-link-key-for-the-test-0123456789-abcdef",
                "CEGEMA_PEPPER_KEYS": "p1:a-development-pepper-for-the-test-0123456789-abcdefgh"})
    env.pop("PYTHONPATH", None)
    had_dev_keys = (EXAMPLE / "cegema-dev-keys.json").exists()
    done = run("manage.py", "check", "--fail-level", "WARNING", env=env)
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout
    done = run("manage.py", "migrate", "--noinput", env=env)
    assert done.returncode == 0, done.stderr
    assert "cegema_onboarding.0003_notices_and_admin_names" in done.stdout
    done = run("manage.py", "makemigrations", "--check", "--dry-run", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    out = tmp_path / "print-shop.csv"
    done = run("manage.py", "cegema_provision", "members.csv", str(out), env=env)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8"), delimiter=";"))
    first = rows[0]
    env["PYTHONPATH"] = str(EXAMPLE)
    done = run("-c", WALK + FROM_THE_EMAIL_STEP + TO_THE_PROFILE, first["member_number"],
               first["initial_password"], env=env)
    assert done.returncode == 0, done.stderr
    assert "PASSWORD STEP REACHED" in done.stdout
    assert re.search(r"^PROFILE REACHED AS cegema-\d+$", done.stdout, flags=re.MULTILINE)
    assert (EXAMPLE / "cegema-dev-keys.json").exists() == had_dev_keys
