"""docs/configuration.md lists every setting, so a new one cannot go undocumented."""

from __future__ import annotations

import pathlib

import attrs
import pytest

from cegema_onboarding.config import LockoutPolicy, Settings
from cegema_onboarding.hashing import Argon2Params
from cegema_onboarding.mail.settings import MailSettings
from cegema_onboarding.password_policy import PasswordPolicy
from cegema_onboarding.profile import ProfileWeights
from cegema_onboarding.ratelimit import RateLimits

DOC = pathlib.Path(__file__).parent.parent / "docs" / "configuration.md"


@pytest.mark.parametrize("cls", [Settings, LockoutPolicy, PasswordPolicy, Argon2Params,
                                 MailSettings, ProfileWeights, RateLimits],
                         ids=lambda c: c.__name__)
def test_every_setting_is_documented(cls: type) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert f"`{cls.__name__}`" in text
    missing = [f.name for f in attrs.fields(cls) if f"`{f.name}`" not in text]
    assert not missing, f"undocumented {cls.__name__} settings: {missing}"
