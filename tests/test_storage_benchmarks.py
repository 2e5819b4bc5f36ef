"""Smoke runs of the storage benchmarks, so that they do not rot; figures are not asserted."""

from __future__ import annotations

import re

import pytest

from .pg import sql_adapter

sql_adapter()


@pytest.mark.slow
def test_the_scale_benchmark_reports_both_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import scale

    assert scale.main(["--members", "1200", "--backend", "sqlite", "--rounds", "2",
                       "--logins", "2", "--links", "1", "--batch", "500"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\| SQLite \(file, WAL\) \| login, right password .*\| \d+\.\d\d \|", out)
    assert re.search(r"\| SQLite \(file, WAL\) \| link issued and confirmed .*\| \d+\.\d\d \|",
                     out)
    assert "member number: SEARCH cegema_accounts USING INDEX" in out
    assert "fast test parameters" in out


@pytest.mark.slow
def test_the_sql_journey_benchmark_reports_the_overhead(
        capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import sql_journey

    assert sql_journey.main(["--journeys", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"Argon2id computations in one journey \| [1-9][0-9]* \|", out)
    assert re.search(r"\*\*Overhead\*\* .*\| \*\*-?\d+\.\d %\*\*", out)
