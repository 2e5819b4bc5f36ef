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


def _round(transition_us: float) -> dict[str, object]:
    return {"transition_us": transition_us, "memory": [1.0, 2.0], "sqlite": [6.0, 9.0],
            "flask": [16.0, 21.0]}


def test_the_pure_transition_is_judged_on_the_median_of_its_rounds_not_the_first() -> None:
    from datetime import UTC, datetime

    from benchmarks import report

    # A first round taken on a machine still busy (25.4 µs), then two ordinary ones.
    rounds = [_round(25.4), _round(16.8), _round(17.0)]
    now = datetime.now(UTC)
    results = report.Results(now, now, "0", "0", 1, 1, "sqlite", flow=object(),
                             tokens=object(), sql=object(), flask=object(),
                             provision=object(), scale=object(),
                             before=[_round(14.0), _round(30.0), _round(15.0)], rounds=rounds)
    row = next(line for line in report.before_and_after(results)
               if line.startswith("| Pure transition"))
    assert row.split(" | ")[1:3] == ["15.0 µs (14.0 to 30.0)", "17.0 µs (16.8 to 25.4)"], row
