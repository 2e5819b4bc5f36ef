"""The Django app reads the library's shared CEGEMA_* names for what its setting leaves out."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from cegema_onboarding.integrations.django.conf import library_settings

from ...conftest import PEPPER, SECRET

BASE = "https://espace.example.fr"


def test_keys_left_out_of_the_setting_come_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEGEMA_SECRET_KEYS", SECRET)
    monkeypatch.setenv("CEGEMA_PEPPER_KEYS", f"k1:{PEPPER}")
    monkeypatch.setenv("CEGEMA_BASE_URL", BASE)
    with override_settings(CEGEMA_ONBOARDING={"RECOVERY_POLICY": "link_and_answer"}):
        settings = library_settings()
    assert settings.secret_keys == (SECRET,)
    assert settings.pepper_keys == (("k1", PEPPER),)
    assert settings.base_url == BASE
    # What the setting gives wins over the environment.
    other = "https://autre.example.fr"
    with override_settings(CEGEMA_ONBOARDING={"BASE_URL": other}):
        assert library_settings().base_url == other


def test_a_missing_key_names_both_places(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CEGEMA_SECRET_KEYS", "CEGEMA_PEPPER_KEYS", "CEGEMA_BASE_URL",
                 "CEGEMA_CONFIG", "CEGEMA_LINK_KEY", "CEGEMA_PEPPER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CEGEMA_PEPPER_KEYS", "k1:")
    with override_settings(CEGEMA_ONBOARDING={"SECRET_KEYS": [SECRET], "BASE_URL": BASE}), \
            pytest.raises(ImproperlyConfigured, match="'id:key"):
        library_settings()
    monkeypatch.delenv("CEGEMA_PEPPER_KEYS")
    with override_settings(CEGEMA_ONBOARDING={"SECRET_KEYS": [SECRET], "BASE_URL": BASE}), \
            pytest.raises(ImproperlyConfigured,
                          match="needs PEPPER_KEYS \\(or CEGEMA_PEPPER_KEYS"):
        library_settings()
