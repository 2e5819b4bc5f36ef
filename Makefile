# One entry point. Every target builds .venv itself, so each works on a fresh machine, and
# installs exactly what requirements/dev.txt pins (with hashes): a fresh machine next month
# gets what passed today. `make lock` refreshes the pins on purpose.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
LOWEST := .venv-lowest
LOCKS := pyproject.toml requirements/dev.txt requirements/uv.txt
STAMP := $(VENV)/.installed-$(shell cat $(LOCKS) | cksum | cut -d' ' -f1)
LOWEST_STAMP := $(LOWEST)/.installed-$(shell cat pyproject.toml requirements/lowest.txt | cksum | cut -d' ' -f1)
# `make demo STAFF=1` adds the staff page; `make demo FRESH=1` starts again with new demo members.
DEMO_FLAGS := $(if $(STAFF),--staff) $(if $(FRESH),--fresh) $(if $(PORT),--port $(PORT))
# What the lowest-versions run leaves out: the browser and PostgreSQL suites, and the checks
# of the project's own tooling (catalogues, docs, performance page), which need dev tools.
LOWEST_MARKERS := not browser and not postgres and not tooling
# Workers for `make mutate`: mutmut is CPU-bound and defaults to every core.
MUTATE_JOBS ?= 2

.PHONY: demo serve test test-lowest lint typecheck unit mutate bench perf load funnel docs i18n lock clean

$(STAMP): $(LOCKS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
	    --require-hashes -r requirements/uv.txt
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes requirements/dev.txt
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

$(LOWEST_STAMP): $(STAMP) pyproject.toml requirements/lowest.txt
	rm -rf $(LOWEST)
	$(UV) venv --quiet --python $(BIN)/python $(LOWEST)
	$(UV) pip sync --quiet --python $(LOWEST)/bin/python --require-hashes requirements/lowest.txt
	$(UV) pip install --quiet --python $(LOWEST)/bin/python --no-deps --no-build-isolation -e .
	touch $(LOWEST_STAMP)

## demo: serve the demo portal on http://127.0.0.1:8000 (STAFF=1 adds the staff page,
## FRESH=1 starts again with new demo members, PORT=8080 another port; the terminal
## walk-through: .venv/bin/python -m cegema_onboarding demo)
demo: $(STAMP)
	$(BIN)/python -m cegema_onboarding portal $(DEMO_FLAGS)

## serve: the portal as in production, on this machine: a throw-away PostgreSQL, gunicorn
## with one sync worker per core, two outbox relays and a local SMTP sink, one configuration
## file for all (PORT=8080 another port; Ctrl+C stops everything). make demo: one process
serve: $(STAMP)
	$(BIN)/python scripts/serve.py $(if $(PORT),--port $(PORT))

## test: lint, type-check and run the whole suite, then the core, SQLite, Flask and Django
## suites again at the lowest declared versions of the dependencies; fails if the run
## left anything behind in the working tree
test: $(STAMP)
	bash scripts/tree-state save $(VENV)/tree-before
	$(BIN)/ruff check src tests benchmarks scripts examples
	$(BIN)/mypy --strict src
	$(BIN)/lint-imports --no-cache
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	bash scripts/check-package
	sh scripts/ensure-chromium
	$(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory test-lowest
	bash scripts/tree-state check $(VENV)/tree-before

## test-lowest: the suites that do not need a browser or PostgreSQL, at the lowest versions
## of attrs, cryptography, itsdangerous, email-validator, marisa-trie, SQLAlchemy, alembic, Flask
## and Django
## that pyproject.toml declares (requirements/lowest.txt)
test-lowest: $(LOWEST_STAMP)
	$(LOWEST)/bin/python -m pytest -q -p no:cacheprovider -m "$(LOWEST_MARKERS)"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts examples
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

unit: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

## mutate: mutation testing of the pure core with its fast unit tests, then the score
## ([tool.mutmut] in pyproject.toml says what is mutated and which tests run). Slow, so
## not part of `make test`; results are kept in mutants/ and re-used by the next run.
## MUTATE_JOBS=4 runs more workers.
mutate: $(STAMP)
	$(BIN)/mutmut run --max-children $(MUTATE_JOBS)
	@# mutmut re-tests only changed code: the survivors meet the tests added since, too.
	survivors="$$($(BIN)/python scripts/mutation-score --undetected)"; \
	if [ -n "$$survivors" ]; then $(BIN)/mutmut run --max-children $(MUTATE_JOBS) $$survivors; fi
	$(BIN)/python scripts/mutation-score

## bench: run the benchmarks and print their figures
bench: $(STAMP)
	$(BIN)/python -m benchmarks

## perf: run every benchmark and write docs/performance.md with its plots (docs/img/);
## `.venv/bin/python -m benchmarks --report --full` measures at 1,000,000 members
perf: $(STAMP)
	$(BIN)/python -m benchmarks --report

## load: locust against gunicorn (sync workers = cores) on a throw-away PostgreSQL, on
## loopback, with production Argon2id (about 3 minutes); writes the "Under load" section
## of docs/performance.md and its plot (needs PostgreSQL's initdb and pg_ctl)
load: $(STAMP)
	$(BIN)/python -m benchmarks.load.run

## funnel: time `cegema-onboarding stats` on 1,000,000 members in a throw-away PostgreSQL
## and in SQLite, and print its query plans (MEMBERS=50000 for a quick run; needs
## PostgreSQL's initdb and pg_ctl)
funnel: $(STAMP)
	$(BIN)/python -m benchmarks.funnel $(if $(MEMBERS),--members $(MEMBERS))

## i18n: extract the text keys, merge them into the .po catalogues, compile the .mo files
i18n: $(STAMP)
	$(BIN)/python scripts/i18n.py

## lock: re-resolve requirements/*.txt to today's newest versions (commit with the suite green)
lock: $(STAMP)
	UV=$(UV) bash scripts/lock

## docs: build the documentation site into site/
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) $(LOWEST) build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
