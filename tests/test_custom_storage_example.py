"""examples/custom_storage: a host's own adapter passes the contract shipped in the wheel.

The slow test builds the wheel, installs it with the test tools pinned by
requirements/dev.txt (hashes required) into a virtual environment that sees neither src/
nor this environment's packages, and runs the example's tests there, the test module being
the one docs/ports.md shows.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from cegema_onboarding.testing import StorageContract

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "custom_storage"
# The contract's tests, and the example's own file test.
# The optional ports' tests (retention, the funnel's counts) are skipped for an adapter
# that does not offer them, as this small one does not.
_OPTIONAL = [n for n in dir(StorageContract) if n.startswith("test_")
             and "optional_port(" in inspect.getsource(getattr(StorageContract, n))]
EXPECTED_PASSED = len([n for n in dir(StorageContract) if n.startswith("test_")]) + 1 - len(
    _OPTIONAL)


def ports_example() -> str:
    """The Python block of docs/ports.md that uses the storage contract."""
    text = (ROOT / "docs" / "ports.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)
    (block,) = [b for b in blocks if "StorageContract" in b]
    return str(block)


def test_the_docs_example_is_the_examples_test_module() -> None:
    assert ports_example() == (EXAMPLE / "test_json_storage.py").read_text(encoding="utf-8")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(extra)
    return env


def _run(*command: str | Path, cwd: Path | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env or _clean_env(),  # noqa: S603
                          capture_output=True, text=True, check=False, timeout=900)
    assert done.returncode == 0, f"{command[:3]} failed:\n{done.stdout}\n{done.stderr}"
    return done


def test_the_example_passes_the_contract_from_the_source_tree(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "example")
    done = _run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                cwd=tmp_path / "example",
                env=_clean_env(PYTHONPATH=str(ROOT / "src")))
    assert f"{EXPECTED_PASSED} passed" in done.stdout, done.stdout


def _closure(roots: list[str]) -> set[str]:
    """The distributions ``roots`` need at run time, read from this environment."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for line in metadata.distribution(name).requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def _pinned(names: set[str]) -> str:
    """Those distributions' entries of requirements/dev.txt, with their hashes."""
    text = (ROOT / "requirements" / "dev.txt").read_text(encoding="utf-8")
    # Each entry: "name==version \" then its "--hash=..." lines (the "# via" lines left out).
    blocks = re.finditer(r"^([A-Za-z0-9._-]+)==\S+ \\\n(?:    --hash=\S+(?: \\)?\n)+",
                         text, flags=re.MULTILINE)
    found = {canonicalize_name(m.group(1)): m.group(0) for m in blocks}
    missing = names - set(found)
    assert not missing, f"not pinned in requirements/dev.txt: {sorted(missing)}"
    return "".join(found[n] for n in sorted(names))


@pytest.mark.tooling
@pytest.mark.slow
def test_the_example_passes_the_contract_from_the_installed_wheel(tmp_path: Path) -> None:
    uv = Path(sys.executable).parent / "uv"
    if not uv.exists():
        pytest.fail("uv is missing from the environment: run make")
    _run(sys.executable, "-m", "build", "--no-isolation", "--wheel",
         "--outdir", tmp_path / "dist", ROOT, cwd=ROOT)
    (wheel,) = (tmp_path / "dist").glob("cegema_onboarding-*.whl")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    roots = [Requirement(r).name for r in project["project"]["dependencies"]] + ["pytest"]
    (tmp_path / "pins.txt").write_text(_pinned(_closure(roots)), encoding="utf-8")
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    _run(uv, "venv", "--quiet", "--python", sys.executable, venv)
    _run(uv, "pip", "install", "--quiet", "--python", python, "--require-hashes", "--no-deps",
         "-r", tmp_path / "pins.txt")
    _run(uv, "pip", "install", "--quiet", "--python", python, "--no-deps", wheel)

    example = tmp_path / "example"
    shutil.copytree(EXAMPLE, example)
    # The test module docs/ports.md shows, as written.
    (example / "test_json_storage.py").write_text(ports_example(), encoding="utf-8")
    where = _run(python, "-c", "import cegema_onboarding; print(cegema_onboarding.__file__)",
                 cwd=example)
    assert where.stdout.startswith(str(venv)), where.stdout
    done = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=example)
    assert f"{EXPECTED_PASSED} passed" in done.stdout, done.stdout
