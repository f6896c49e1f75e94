# Quick start: `make chat` talks to the bot in this terminal; `make test` runs every test.
# Each target sets itself up first (virtual environment + install), so a fresh clone needs
# only Python 3.11 and make.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: chat test lint check screenshots setup clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

## Talk to the bot in the terminal (no account, token or server; throwaway SQLite).
chat: $(STAMP)
	@$(BIN)/kyrbot chat $(ARGS)

## Run the whole test suite.
test: $(STAMP)
	$(BIN)/pytest -q $(ARGS)

## Pictures of the web console for docs/CONSOLE.md, taken by its browser tests (needs chromium).
screenshots: $(STAMP)
	KYRBOT_SCREENSHOTS=docs/console $(BIN)/pytest -q tests/console -p no:cacheprovider

## Lint, format check and type check.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot
	$(BIN)/lint-imports

## Check dialogs and translations (what translators run).
check: $(STAMP)
	$(BIN)/kyrbot check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
