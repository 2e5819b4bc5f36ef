"""docs/configuration.md lists every setting, so a new one cannot go undocumented."""

from __future__ import annotations

import pathlib
import re

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


SRC = pathlib.Path(__file__).parent.parent / "src" / "cegema_onboarding"


def _variable_rows(text: str) -> list[str]:
    # Flask's app.config keys (CEGEMA_ONBOARDING_*) are no variables.
    return re.findall(r"^\| `(CEGEMA_(?!ONBOARDING)[A-Z_]+)` \|", text, flags=re.MULTILINE)


def test_every_variable_is_listed_once() -> None:
    from cegema_onboarding.environment import DEPRECATED_NAMES, VARIABLES

    rows = _variable_rows(DOC.read_text(encoding="utf-8"))
    assert sorted(rows) == sorted({*VARIABLES, *DEPRECATED_NAMES}), "listed not once"
    # And no other page keeps a table of its own that could drift from this one.
    for page in DOC.parent.glob("*.md"):
        if page != DOC:
            assert not _variable_rows(page.read_text(encoding="utf-8")), page.name


def test_the_package_reads_no_variable_the_list_lacks() -> None:
    from cegema_onboarding.environment import DEPRECATED_NAMES, VARIABLES

    used = {name for path in SRC.rglob("*.py")
            for name in re.findall(r"CEGEMA_[A-Z_]*[A-Z]", path.read_text(encoding="utf-8"))
            # Flask's app.config keys, not variables; a prefix in a comment.
            if not name.startswith("CEGEMA_ONBOARDING") and name != "CEGEMA_SMTP"}
    assert used <= {*VARIABLES, *DEPRECATED_NAMES}, used - {*VARIABLES, *DEPRECATED_NAMES}
