# Every target installs what it needs into .venv/ at the repository root.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= council-data
POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test

.PHONY: run docs test test-postgres lint typecheck check bench soak fuzz-api messages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: the broker on the embedded SQLite database (initialised on first start);
## `make run PORT=8443 HOST=0.0.0.0` listens elsewhere (default 127.0.0.1:8080)
PORT ?=
HOST ?=
run: $(STAMP)
	$(BIN)/council-broker serve --init --data-dir $(DATA_DIR) \
		$(if $(PORT),--port $(PORT)) $(if $(HOST),--host $(HOST))

## docs: write docs/http-api.md from the OpenAPI document (a test checks it is current)
docs: $(STAMP)
	$(BIN)/python -m broker.docs docs/http-api.md

## test: the whole test suite on SQLite, in TEST_WORKERS processes (pytest-xdist;
## most tests wait on sockets and disks, so three keep two cores busy)
TEST_WORKERS ?= 3
test: $(STAMP)
	$(BIN)/pytest -q -n $(TEST_WORKERS)

## test-postgres: the database-backed tests against PostgreSQL
test-postgres: $(STAMP)
	COUNCIL_TEST_POSTGRES_URL=$(POSTGRES_URL) $(BIN)/pytest -q -m db -n $(TEST_WORKERS)

## lint: ruff, and the import contract that keeps the core pure
lint: $(STAMP)
	$(BIN)/ruff check broker clients tests bench fuzz
	$(BIN)/ruff format --check broker clients tests bench fuzz
	$(BIN)/lint-imports

## typecheck: mypy --strict on the broker and the clients
typecheck: $(STAMP)
	$(BIN)/mypy broker clients

check: lint typecheck test

## bench: the benchmark harness (not part of the tests)
bench: $(STAMP)
	$(BIN)/python -m bench

## soak: a real broker under mixed load for SOAK_MINUTES (30); a table of RSS, open
## fds and p99 per window (5 min, shorter for short runs, or SOAK_WINDOW_SECONDS);
## fails if RSS grew past 1.2x or fds did not stay flat. Not part of the tests.
## SOAK_DATABASE_URL=postgresql+asyncpg://... soaks on PostgreSQL instead of SQLite.
SOAK_MINUTES ?= 30
SOAK_WINDOW_SECONDS ?=
soak: $(STAMP)
	SOAK_WINDOW_SECONDS=$(SOAK_WINDOW_SECONDS) $(BIN)/python -m bench.soak --minutes $(SOAK_MINUTES)

## fuzz-api: schemathesis over /openapi.json against a real broker on 127.0.0.1
## (a member's token, then the coordinator's; FUZZ_SECONDS each)
FUZZ_SECONDS ?= 75
fuzz-api: $(STAMP)
	$(BIN)/python -m fuzz --seconds $(FUZZ_SECONDS)

## messages: extract the portal's messages and merge them into its ja and en catalogues
## (the .po files are committed; the portal compiles them when it starts)
PORTAL_LOCALE := broker/portal/locale
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output \
		--project council-broker -o $(PORTAL_LOCALE)/messages.pot .
	$(BIN)/pybabel update -i $(PORTAL_LOCALE)/messages.pot -d $(PORTAL_LOCALE) \
		--ignore-obsolete --no-fuzzy-matching

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
