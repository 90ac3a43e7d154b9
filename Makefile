# Two entry points: `make run` (install, then start the bot or its sandbox) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint browser

$(BIN)/assistant: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

run: $(BIN)/assistant
	$(BIN)/assistant run

lint: $(BIN)/assistant
	$(BIN)/ruff check assistant tests bench storage/migrations
	$(BIN)/ruff format --check assistant tests bench storage/migrations
	$(BIN)/mypy
	$(BIN)/lint-imports

# The browser test's Chromium and CJK font, installed when missing (scripts/browser-deps).
browser:
	@sh scripts/browser-deps

# ASSISTANT_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test runs on PostgreSQL.
test: browser lint
	$(BIN)/python -m pytest -q
