"""``make mutate`` runs its tests from mutmut's copy of the project: they must collect there.

mutmut copies the mutated package, ``tests/``, ``pyproject.toml`` and what
``[tool.mutmut] also_copy`` lists into ``mutants/``, and runs the selected tests from
there. A test module (or a plugin that ``tests/conftest.py`` loads for every run) that
imports another folder of the project fails the whole mutation run at collection unless
that folder is copied too. Checked here on a copy made the same way, in seconds, rather
than by the mutation run itself (about half an hour).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.tooling

ROOT = Path(__file__).resolve().parents[1]


def test_the_mutation_runs_tests_collect_from_mutmuts_copy(tmp_path: Path) -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mutmut = config["tool"]["mutmut"]
    copied = [*mutmut["source_paths"], *mutmut.get("also_copy", []), "tests", "pyproject.toml"]
    for name in copied:
        source, target = ROOT / name, tmp_path / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    # As mutmut does: the copy's folders first on the path, never this checkout's.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(tmp_path / "src")])}
    # The arguments are this project's own configuration.
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pytest", "--collect-only", "-q",
         *mutmut["pytest_add_cli_args"], *mutmut["pytest_add_cli_args_test_selection"]],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "tests collected" in done.stdout, done.stdout[-500:]
