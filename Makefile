# One Makefile for everything; CI runs the same targets (.ci/run).
# `make demo` and `make test` install what they need into .venv on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Which database the tests use: "sqlite" (default) or a PostgreSQL URL, or "postgresql" for the
# local server (postgresql://127.0.0.1/test). See tests/conftest.py.
AVRR_TEST_DATABASE ?= sqlite

.PHONY: install demo test test-postgres lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m gateway demo

test: $(STAMP)
	AVRR_TEST_DATABASE=$(AVRR_TEST_DATABASE) $(BIN)/pytest

test-postgres: $(STAMP)
	AVRR_TEST_DATABASE=postgresql $(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
