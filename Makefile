# One entry point. Every target builds .venv itself, so each works on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint typecheck unit bench perf docs i18n clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

## demo: serve the demo portal on http://127.0.0.1:8000 (the terminal walk-through:
## python -m cegema_onboarding demo)
demo: $(STAMP)
	$(BIN)/python -m cegema_onboarding portal

## test: lint, type-check and run the whole suite
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy --strict src
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	bash scripts/check-package
	sh scripts/ensure-chromium
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

unit: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

## bench: run the benchmarks and print their figures
bench: $(STAMP)
	$(BIN)/python -m benchmarks

## perf: run every benchmark and write docs/performance.md with its plots (docs/img/);
## `python -m benchmarks --report --full` measures at 1,000,000 members
perf: $(STAMP)
	$(BIN)/python -m benchmarks --report

## i18n: extract the text keys, merge them into the .po catalogues, compile the .mo files
i18n: $(STAMP)
	bash scripts/i18n

## docs: build the documentation site into site/
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
