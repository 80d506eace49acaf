# One Makefile for everything; CI runs the same targets (.ci/run).
# `make demo` and `make test` install what they need into .venv on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Which database the tests use: "sqlite" (default) or a PostgreSQL URL, or "postgresql" for the
# local server (postgresql://127.0.0.1/test). See tests/conftest.py.
AVRR_TEST_DATABASE ?= sqlite
# The browser tests (tests/browser) drive Debian's Chromium; it is installed with apt-get when
# missing, never downloaded by a test tool.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install demo demo-serve test test-postgres test-browser lint format clean messages fonts screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m gateway demo

# The demo, then both nodes kept running (their staff pages and the portal) until Ctrl-C.
demo-serve: $(STAMP)
	$(BIN)/python -m gateway demo --keep

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "install Chromium (Debian: apt-get install chromium) for the browser tests, or set CHROMIUM=/path/to/chromium" >&2; exit 1; }
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

test: $(STAMP) $(CHROMIUM)
	AVRR_TEST_DATABASE=$(AVRR_TEST_DATABASE) AVRR_CHROMIUM=$(CHROMIUM) $(BIN)/pytest

test-postgres: $(STAMP) $(CHROMIUM)
	AVRR_TEST_DATABASE=postgresql AVRR_CHROMIUM=$(CHROMIUM) $(BIN)/pytest

test-browser: $(STAMP) $(CHROMIUM)
	AVRR_TEST_DATABASE=$(AVRR_TEST_DATABASE) AVRR_CHROMIUM=$(CHROMIUM) $(BIN)/pytest tests/browser

# After changing a portal template: new strings into every catalogue (then translate them).
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -o gateway/surfaces/portal/locales/messages.pot --no-location --omit-header .
	$(BIN)/pybabel update -i gateway/surfaces/portal/locales/messages.pot -d gateway/surfaces/portal/locales --no-fuzzy-matching

# Screenshots of every page (the person's on a phone, the DPO's on an office screen) in English,
# Arabic and Pashto, into docs/images/pages, by the readability test that checks them.
screenshots: $(STAMP) $(CHROMIUM)
	rm -rf docs/images/pages
	AVRR_SCREENSHOTS=docs/images/pages AVRR_READABLE_LANGUAGES=en,ar,ps AVRR_CHROMIUM=$(CHROMIUM) \
		$(BIN)/pytest -q tests/browser/test_readable.py

# The portal's web fonts from Debian's fonts-noto-core (apt-get install fonts-noto-core); the
# WOFF2 files are committed, so nodes need neither.
fonts: $(STAMP)
	$(BIN)/python scripts/portal_fonts.py

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info test-output

# Benchmarks (bench/): every one on SQLite and on the local PostgreSQL; results in
# bench/results.json. `make bench BENCH_ARGS=--quick` is a smoke run.
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The same with benchmarks 4, 5 and 6 at the goals' sizes (longer; see
# docs/performance.md).
.PHONY: bench-full
bench-full: $(STAMP)
	$(BIN)/python -m bench.run --full $(BENCH_ARGS)
