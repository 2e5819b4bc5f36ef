"""docs/django.md's quick start, run as written: a new project reaches the guide's email step.

Every command runs in a subprocess with its own settings (this process's Django is already
configured by conftest.py), from an empty folder, in the order of the page.
"""

from __future__ import annotations

import csv
import os
import re
import shlex
import stat
from pathlib import Path

from tests.integrations.django.test_example import FROM_THE_EMAIL_STEP, WALK, run
from tests.integrations.flask.test_quickstart import section

BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)
# A python block names the file it belongs to on its first line, and how to apply it.
TARGET = re.compile(r"# (\S+\.py): (add at the end of the file|the whole file)\n")
# Lines of the page's shell blocks that the test does not run: the server stays in the
# foreground until stopped; the test client stands in for the browser instead.
NOT_RUN = ("python manage.py runserver",)

def command(line: str) -> list[str]:
    """The arguments for ``run`` (which adds the interpreter) of one documented command."""
    words = shlex.split(line)
    if words[0] == "django-admin":
        return ["-m", "django", *words[1:]]
    assert words[0] == "python", f"the quick start runs only python and django-admin: {line}"
    return words[1:]


def test_the_django_quick_start_runs_as_written(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("CEGEMA_") and key != "PYTHONPATH"}
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    outputs: dict[str, str] = {}
    skipped: list[str] = []
    blocks = BLOCK.findall(section("django.md", "Quick start"))
    assert [lang for lang, _ in blocks] == ["sh", "python", "python", "python", "text", "sh"]
    for lang, body in blocks:
        if lang == "python":
            target = TARGET.match(body)
            assert target is not None, f"a python block does not name its file:\n{body}"
            path = tmp_path / target.group(1)
            assert path.is_file(), f"{path.name} should exist from startproject"
            if target.group(2) == "the whole file":
                path.write_text(body, encoding="utf-8")
            else:
                path.write_text(path.read_text(encoding="utf-8") + "\n" + body, encoding="utf-8")
        elif lang == "text":
            (tmp_path / "members.csv").write_text(body, encoding="utf-8")
        else:
            for line in filter(None, map(str.strip, body.splitlines())):
                if line in NOT_RUN:
                    skipped.append(line)
                    continue
                done = run(*command(line), env=env, cwd=tmp_path)
                assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
                outputs[line] = done.stdout + done.stderr
    assert skipped == list(NOT_RUN)

    check = outputs["python manage.py check"]
    assert "System check identified no issues" in check, check
    assert "cegema_onboarding.0001_initial... OK" in outputs["python manage.py migrate"]
    # The keys came from the development fallback, kept for the next processes.
    keys = tmp_path / "cegema-dev-keys.json"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    shop = tmp_path / "print-shop.csv"
    assert stat.S_IMODE(shop.stat().st_mode) == 0o600
    rows = list(csv.DictReader(shop.open(encoding="utf-8"), delimiter=";"))
    assert [row["member_number"] for row in rows] == ["100234567"]

    env["PYTHONPATH"] = str(tmp_path)
    done = run("-c", WALK + FROM_THE_EMAIL_STEP, rows[0]["member_number"],
               rows[0]["initial_password"], env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "EMAIL STEP REACHED" in done.stdout and "PASSWORD STEP REACHED" in done.stdout
    # The validation mail went to the member, with a link built from BASE_URL.
    assert re.search(r"^To: .*marie@example\.org", done.stdout, flags=re.MULTILINE), done.stdout
    assert "LINK BASE http://127.0.0.1:8000\n" in done.stdout
