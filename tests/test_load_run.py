"""``make load`` runs end to end in a tiny version and writes its figures (issue 16).

Locust against gunicorn on a throw-away PostgreSQL, for a few seconds and a handful of
users. Only that it ran is checked: the figures file, the page's section and its plot,
every journey completed and no request failed. Never a timing.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

# Checks a tool of the project (the load run and its page), not the library.
pytestmark = pytest.mark.tooling


@pytest.mark.slow
@pytest.mark.postgres
def test_a_tiny_load_run_completes_its_journeys_and_writes_its_figures(tmp_path: Path) -> None:
    # Looked up, never imported: importing locust patches the whole process with gevent,
    # which deadlocks a test run that has threads of its own (a live server's).
    if importlib.util.find_spec("locust") is None:
        pytest.skip("locust is not installed")
    pytest.importorskip("matplotlib")
    if shutil.which("initdb") is None and not list(Path("/usr/lib/postgresql").glob("*/bin")):
        pytest.skip("PostgreSQL is not installed")
    from benchmarks.load import page, run

    figures = run.run(tmp_path / "out", smoke=True)
    written = json.loads((tmp_path / "out" / "load.json").read_text(encoding="utf-8"))
    assert written["journey"]["members"] == figures["journey"]["members"] == 4
    derived = page.derived(written)
    assert derived["journeys"] == 4
    assert derived["journey_errors"] == 0
    assert derived["login_errors"] == 0 and derived["login_count"] > 0
    assert set(derived["journey_steps"]) >= {"1 login (initial password)", "3 link",
                                             "7 login (new password)"}
    # The section goes into the page, beside the other sections, and replaces itself.
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\n## Targets\n\nkept\n", encoding="utf-8")
    page.write(written, doc, tmp_path / "img")
    page.write(written, doc, tmp_path / "img")
    text = doc.read_text(encoding="utf-8")
    assert text.count(page.BEGIN) == 1 and "## Targets\n\nkept" in text
    assert "Right-password logins at saturation" in text
    assert (tmp_path / "img" / page.IMAGE).stat().st_size > 0


def test_make_perf_keeps_the_load_section(tmp_path: Path) -> None:
    from benchmarks import report
    from benchmarks.load import page

    target = tmp_path / "performance.md"
    section = f"{page.BEGIN}\n## Under load\n\nfigures\n{page.END}\n"
    target.write_text(f"# Old page\n\n{section}", encoding="utf-8")
    text = report.keeping_load("# New page\n\n## Targets\n", target)
    assert text.startswith("# New page") and "# Old page" not in text
    assert text.endswith(section)
    target.write_text("# Old page without the section\n", encoding="utf-8")
    assert report.keeping_load("# New page\n", target) == "# New page\n"
