"""``from_environ``: the quick start's settings line, from the environment."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from cegema_onboarding.integrations.django.environ import DEV_KEYS_FILE, from_environ

LINK = "a-link-key-from-the-environment-0123456789-abcdefghijklmn"
PEPPER = "a-pepper-from-the-environment-0123456789-abcdefghijklmnop"
# The names every entry point reads (docs/configuration.md), the commands included.
ENV = {"CEGEMA_SECRET_KEYS": LINK, "CEGEMA_PEPPER_KEYS": f"p1:{PEPPER}",
       "CEGEMA_BASE_URL": "https://espace-adherent.example.fr"}


def test_the_setting_comes_from_the_environment_plus_the_options() -> None:
    config = from_environ(environ=ENV, RECOVERY_POLICY="link_and_answer")
    assert config == {"SECRET_KEYS": [LINK], "PEPPER_KEYS": [["p1", PEPPER]],
                      "BASE_URL": "https://espace-adherent.example.fr",
                      "RECOVERY_POLICY": "link_and_answer"}
    # Rotation: several keys, newest first, in the same variables.
    rotated = from_environ(environ={**ENV, "CEGEMA_SECRET_KEYS": f"new-{LINK},{LINK}",
                                    "CEGEMA_PEPPER_KEYS": f"k2:new-{PEPPER},p1:{PEPPER}"})
    assert rotated["SECRET_KEYS"] == [f"new-{LINK}", LINK]
    assert rotated["PEPPER_KEYS"] == [["k2", f"new-{PEPPER}"], ["p1", PEPPER]]


def test_the_first_releases_names_still_work_with_a_warning() -> None:
    old = {"CEGEMA_LINK_KEY": LINK, "CEGEMA_PEPPER": PEPPER,
           "CEGEMA_BASE_URL": "https://espace-adherent.example.fr"}
    with pytest.warns(DeprecationWarning, match="is deprecated"):
        config = from_environ(environ=old)
    assert config["SECRET_KEYS"] == [LINK] and config["PEPPER_KEYS"] == [["p1", PEPPER]]


@pytest.mark.parametrize("name", sorted(ENV))
def test_outside_development_a_missing_variable_is_named(name: str, tmp_path: Path) -> None:
    env = {k: v for k, v in ENV.items() if k != name}
    with pytest.raises(ImproperlyConfigured, match=f"set the {name} environment variable"):
        from_environ(environ=env, dev_dir=tmp_path)  # debug off: the dev file is not used
    assert not (tmp_path / DEV_KEYS_FILE).exists()


def test_in_development_missing_keys_are_made_once_and_kept_private(tmp_path: Path) -> None:
    first = from_environ(debug=True, dev_dir=tmp_path, environ={})
    again = from_environ(debug=True, dev_dir=tmp_path, environ={})
    assert first == again and first["BASE_URL"] == "http://127.0.0.1:8000"
    (link,), ((_, pepper),) = first["SECRET_KEYS"], first["PEPPER_KEYS"]
    assert len(link) >= 50 and len(pepper) >= 50 and link != pepper
    path = tmp_path / DEV_KEYS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"CEGEMA_SECRET_KEYS": link,
                                            "CEGEMA_PEPPER_KEYS": pepper}
    # A key given in the environment wins over the kept one.
    assert from_environ(debug=True, dev_dir=tmp_path, environ=ENV)["SECRET_KEYS"] == [LINK]


def test_debug_without_a_dev_dir_still_needs_the_keys() -> None:
    with pytest.raises(ImproperlyConfigured, match="CEGEMA_SECRET_KEYS"):
        from_environ(debug=True, environ={})
