# Every target installs what it needs into .venv/ at the repository root.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= council-data
POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test

.PHONY: run test test-postgres lint typecheck check bench fuzz-api messages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: the broker on the embedded SQLite database (initialised on first start)
run: $(STAMP)
	$(BIN)/council-broker serve --init --data-dir $(DATA_DIR)

## test: the whole test suite on SQLite
test: $(STAMP)
	$(BIN)/pytest -q

## test-postgres: the database-backed tests against PostgreSQL
test-postgres: $(STAMP)
	COUNCIL_TEST_POSTGRES_URL=$(POSTGRES_URL) $(BIN)/pytest -q -m db

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
