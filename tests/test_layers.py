"""The package's shape: a pure core that loads nothing impure, a lazy host-facing root.

The import contracts themselves (layers, no framework outside ``integrations``, no SQL
driver outside ``adapters.sql``) are ``.importlinter``'s, run by ``make test``; the test
below checks that those contracts look at every module, so a new module cannot slip past.
"""

from __future__ import annotations

import configparser
import json
import pkgutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import cegema_onboarding

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "cegema_onboarding"

# What a pure transition must never drag in: I/O, logging, the mail renderer, the shell.
IMPURE = ("logging", "email", "socket", "sqlite3", "sqlalchemy", "flask", "django",
          "werkzeug", "psycopg")
IMPURE_OWN = ("cegema_onboarding.mail", "cegema_onboarding.mails", "cegema_onboarding.service",
              "cegema_onboarding.adapters", "cegema_onboarding.integrations",
              "cegema_onboarding.bootstrap", "cegema_onboarding.relay",
              "cegema_onboarding.provisioning", "cegema_onboarding.cli")


# config imports the mail *settings* (brand, sender, addresses: values, no renderer), as
# the architecture says; the package's lazy __init__ comes with it. Nothing else of mail.
ALLOWED_OWN = ("cegema_onboarding.mail", "cegema_onboarding.mail.settings")


def _modules_after(statement: str) -> list[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,  # noqa: S603
                         text=True)
    loaded: list[str] = json.loads(out.stdout)
    return loaded


@pytest.mark.parametrize("module", ["cegema_onboarding.flow", "cegema_onboarding"])
def test_importing_the_pure_core_loads_nothing_impure(module: str) -> None:
    loaded = _modules_after(f"import {module}")
    impure = [m for m in loaded if m not in ALLOWED_OWN
              if m.split(".")[0] in IMPURE
              or any(m == own or m.startswith(own + ".") for own in IMPURE_OWN)]
    assert impure == []


def test_the_root_resolves_every_host_name_lazily() -> None:
    loaded = _modules_after("import cegema_onboarding")
    assert [m for m in loaded if m.startswith("cegema_onboarding.")] == []
    for name in cegema_onboarding.__all__:
        assert getattr(cegema_onboarding, name) is not None, name


def test_all_lists_exactly_the_host_api() -> None:
    assert sorted(cegema_onboarding.__all__) == sorted(cegema_onboarding._HOST_API)
    assert len(set(cegema_onboarding.__all__)) == len(cegema_onboarding.__all__)


def test_flow_names_at_the_root_still_work_but_warn() -> None:
    code = ("import warnings, cegema_onboarding as c, cegema_onboarding.flow as f\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    assert c.step is f.step and c.TABLE is f.TABLE\n"
            "print(len(w), w[0].category.__name__)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,  # noqa: S603
                         text=True)
    assert out.stdout.split() == ["2", "DeprecationWarning"]


def test_unknown_root_names_are_attribute_errors() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError, match="no_such_name"):
            cegema_onboarding.no_such_name  # noqa: B018


def _contracts() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    assert config.read(ROOT / ".importlinter"), ".importlinter is missing"
    return config


def _top_level() -> set[str]:
    return {info.name for info in pkgutil.iter_modules([str(PACKAGE)])} - {"__main__"}


def test_the_layers_contract_names_every_top_level_module() -> None:
    config = _contracts()
    layers = config["importlinter:contract:layers"]["layers"]
    named = {part.strip().split(".")[0]
             for line in layers.splitlines() for part in line.split("|") if part.strip()}
    assert _top_level() - named == set()


def test_the_framework_contract_covers_every_module_outside_integrations() -> None:
    config = _contracts()
    sources = {line.strip().removeprefix("cegema_onboarding.")
               for line in config["importlinter:contract:frameworks"]["source_modules"]
               .splitlines() if line.strip()}
    assert _top_level() - {"integrations"} <= sources
