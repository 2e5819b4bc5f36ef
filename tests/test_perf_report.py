"""The performance report command runs end to end and writes its page and plots."""

from __future__ import annotations

from pathlib import Path

import pytest

# Checks a tool of the project (the benchmarks and their plots), not the library.
pytestmark = pytest.mark.tooling


@pytest.mark.slow
def test_the_report_writes_its_targets_table_and_plots(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from benchmarks import report

    page = tmp_path / "performance.md"
    status = report.main(["--quick", "--scale-backend", "sqlite", "--page", str(page)])
    assert status == 0
    text = page.read_text(encoding="utf-8")
    assert "## Targets" in text and "nproc" in text
    for word in ("Pure transition", "Provisioning", "itsdangerous",
                 "Flask test client + SQLite (on its own / paired)"):
        assert word in text
    # The baseline commit was measured in the same run, beside this tree.
    section = text.split("## Before and after the restructuring", 1)[1].split("\n## ", 1)[0]
    assert "| Journey overhead, Flask test client + SQLite |" in section, section
    assert "not measured" not in section.lower(), section
    images = sorted(p.name for p in (tmp_path / "img").glob("*.png"))
    assert len(images) >= 3, images
    for name in images:
        assert f"img/{name}" in text
        assert (tmp_path / "img" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
