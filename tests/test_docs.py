"""The documentation stays true: generated sections are current, examples run, links resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cegema_onboarding import diagram, flow
from cegema_onboarding.model import Stage

DOCS = Path(__file__).resolve().parent.parent / "docs"
REGENERATE = ".venv/bin/python -m cegema_onboarding.diagram --write docs/journey.md"
MY_PAGES = tuple(sorted(p.name for p in (Path(__file__).parent.parent / "docs").glob("*.md")))


def python_blocks(page: str) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


# --------------------------------------------------------------------------- the diagram


def test_the_committed_journey_page_matches_the_flow() -> None:
    page = (DOCS / "journey.md").read_text(encoding="utf-8")
    for name in diagram.SECTIONS:
        assert f"<!-- {name}:start -->" in page and f"<!-- {name}:end -->" in page, name
    if diagram.render_sections(page) != page:
        pytest.fail(f"docs/journey.md is out of date with flow.TABLE or the texts; run:\n"
                    f"    {REGENERATE}")


def test_the_diagram_has_one_edge_per_stage_event_and_target() -> None:
    text = diagram.mermaid_state_diagram()
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert lines[1] == f"    [*] --> {Stage.PROVISIONED.name}"
    edges = [tuple(re.fullmatch(r"    (\w+) --> (\w+) : (\w+)", line).groups())  # type: ignore[union-attr]
             for line in lines[2:]]
    expected = [(stage.name, target.name, event.__name__)
                for stage, events in flow.TABLE.items()
                for event, targets in events.items() for target in targets]
    assert edges == expected
    assert len(set(edges)) == len(edges)
    assert ("EMAIL_PENDING", "PASSWORD_REQUIRED", "ConfirmLink") in edges


def test_the_diagram_follows_a_table_it_is_given() -> None:
    table = {Stage.PROVISIONED: {flow.Login: (Stage.EMAIL_REQUIRED,)},
             Stage.EMAIL_REQUIRED: {flow.SubmitEmail: (Stage.EMAIL_PENDING, Stage.EMAIL_REQUIRED)}}
    assert diagram.mermaid_state_diagram(table) == (
        "stateDiagram-v2\n"
        "    [*] --> PROVISIONED\n"
        "    PROVISIONED --> EMAIL_REQUIRED : Login\n"
        "    EMAIL_REQUIRED --> EMAIL_PENDING : SubmitEmail\n"
        "    EMAIL_REQUIRED --> EMAIL_REQUIRED : SubmitEmail\n"
    )


def test_the_command_line_writes_and_checks_a_page(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "page.md"
    page.write_text("before\n<!-- diagram:start -->\nstale\n<!-- diagram:end -->\nafter\n",
                    encoding="utf-8")
    assert diagram.main(["--check", str(page)]) == 1
    assert "--write" in capsys.readouterr().err
    assert diagram.main(["--write", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert text.startswith("before\n<!-- diagram:start -->\n```mermaid\nstateDiagram-v2\n")
    assert text.endswith("```\n<!-- diagram:end -->\nafter\n")
    assert "stale" not in text
    assert diagram.main(["--check", str(page)]) == 0
    assert diagram.main([]) == 0
    assert capsys.readouterr().out == diagram.mermaid_state_diagram()


def test_an_unterminated_section_is_an_error() -> None:
    with pytest.raises(ValueError, match="diagram:end"):
        diagram.render_sections("<!-- diagram:start -->\n")


def test_every_reason_is_documented_with_its_french_text() -> None:
    page = (DOCS / "journey.md").read_text(encoding="utf-8")
    for reason in flow.Reason:
        assert f"| `{reason.name}` |" in page, reason
    assert "Identifiant ou mot de passe incorrect." in page


# --------------------------------------------------------------------------- the pages


def test_the_quickstart_runs_as_written() -> None:
    blocks = python_blocks("quickstart.md")
    assert blocks, "docs/quickstart.md has no python example"
    namespace: dict[str, object] = {"__name__": "quickstart"}
    exec(compile("\n".join(blocks), "docs/quickstart.md", "exec"), namespace)  # noqa: S102
    assert namespace.get("QUICKSTART_DONE") is True


@pytest.mark.parametrize("page", MY_PAGES)
def test_relative_links_resolve(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:\s]+\.md)(?:#[^)]*)?\)", text):
        assert (DOCS / target).is_file(), f"{page} links to missing {target}"


@pytest.mark.parametrize("page", MY_PAGES)
def test_pages_hold_no_machine_paths(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    assert not re.search(r"(?<![\w.])/(work|tmp|root|home)/", text), page


@pytest.mark.slow
def test_the_benchmark_runs_and_reports_both_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """A smoke run, so the benchmark does not rot; its figures are not asserted."""
    from benchmarks import flow_bench

    assert flow_bench.main(["--quick", "--no-write"]) == 0
    out = capsys.readouterr().out
    assert "median of the above" in out and "**Overhead**" in out
    assert re.search(r"Argon2id computations in one journey \| [1-9][0-9]* \|", out)
