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
# The PKCS#11 key store tests drive a throwaway SoftHSM2 token; Debian's package, like Chromium.
SOFTHSM ?= /usr/lib/softhsm/libsofthsm2.so
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install demo demo-serve test test-deps test-postgres test-browser lint format clean messages fonts screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# `make demo DEMO_ARGS=--pickup`: the same with the partner as a pickup member (no inbox URL).
demo: $(STAMP)
	$(BIN)/python -m gateway demo $(DEMO_ARGS)

# The demo, then both nodes kept running (their staff pages and the portal) until Ctrl-C.
demo-serve: $(STAMP)
	$(BIN)/python -m gateway demo --keep

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "install Chromium (Debian: apt-get install chromium) for the browser tests, or set CHROMIUM=/path/to/chromium" >&2; exit 1; }
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

$(SOFTHSM):
	@command -v apt-get >/dev/null || { echo "install SoftHSM2 (Debian: apt-get install softhsm2) for the PKCS#11 key store tests" >&2; exit 1; }
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2

# What the tests need besides .venv, installed once (CI then runs two passes side by side).
test-deps: $(STAMP) $(CHROMIUM) $(SOFTHSM)

test: $(STAMP) $(CHROMIUM) $(SOFTHSM)
	AVRR_TEST_DATABASE=$(AVRR_TEST_DATABASE) AVRR_CHROMIUM=$(CHROMIUM) $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: $(STAMP) $(CHROMIUM) $(SOFTHSM)
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

# -- Deployment (deploy/README.md) ------------------------------------------------------------
# `make deploy-check` renders the Kubernetes overlays with Debian's kubectl (kustomize built
# in), installed with apt-get when missing, like Chromium.
KUBECTL ?= /usr/bin/kubectl
# The Kubernetes versions the rendered manifests are validated against, strictly, with the
# schemas kubernetes-validate bundles (offline).
KUBERNETES_VERSIONS ?= 1.35.0 1.37.0
# `make lock`: how uv compiles requirements/*.lock (for Python 3.11, every platform, hashed).
LOCK := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(LOCK_ARGS)

.PHONY: lock deploy-check

$(KUBECTL):
	@command -v apt-get >/dev/null || { echo "install kubectl (Debian: apt-get install kubectl) for make deploy-check, or set KUBECTL=/path/to/kubectl" >&2; exit 1; }
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubectl

# The locks deploy/build.sh installs from: runtime.lock (pyproject's dependencies), hsm.lock
# (the same plus the hsm extra, same versions) and build.lock (setuptools, to build the wheel).
# Run after changing a dependency in pyproject.toml, and monthly for security fixes with
# `make lock LOCK_ARGS=--upgrade` (without it, pins that still fit are kept); commit the result.
lock: $(STAMP)
	$(LOCK) pyproject.toml -o requirements/runtime.lock
	$(LOCK) pyproject.toml --extra hsm -c requirements/runtime.lock -o requirements/hsm.lock
	$(LOCK) requirements/build.in -o requirements/build.lock

# The deployment as operators get it: deploy/build.sh (the Dockerfile's one build step) into a
# temporary prefix with its smoke check; every Kubernetes overlay rendered and validated; then
# tests/deploy (manifests, Dockerfile, compose file, locks, systemd units). About a minute.
deploy-check: $(STAMP) $(KUBECTL)
	@prefix=$$(mktemp -d) && trap 'rm -rf "$$prefix"' EXIT && deploy/build.sh "$$prefix/avrr"
	@out=$$(mktemp -d) && trap 'rm -rf "$$out"' EXIT && set -e && \
	for overlay in deploy/k8s/overlays/*/; do \
		name=$$(basename "$$overlay"); \
		$(KUBECTL) kustomize "$$overlay" > "$$out/$$name.yaml"; \
		for version in $(KUBERNETES_VERSIONS); do \
			$(BIN)/kubernetes-validate --strict --quiet -k "$$version" "$$out/$$name.yaml"; \
		done; \
		echo "deploy-check: overlay $$name is valid for Kubernetes $(KUBERNETES_VERSIONS)"; \
	done
	AVRR_KUBECTL=$(KUBECTL) $(BIN)/pytest -q tests/deploy

# Fuzzing (tests/fuzz): the four atheris harnesses (envelope, node token, directory, bundle),
# each for FUZZ_SECONDS (default 600), two at a time; seeds from tests/vectors, corpora and
# crash files in a temporary folder. `make test` runs a short bounded pass of the same.
FUZZ_SECONDS ?= 600
.PHONY: fuzz
fuzz: $(STAMP)
	AVRR_FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/pytest -q -p no:cacheprovider tests/fuzz/test_fuzz.py

# The long campaigns of docs/reliability.md. `make test` runs a short run of each; these are the
# full ones, one database at a time (DATABASE=sqlite or postgresql).
DATABASE ?= sqlite
CONTRACT_EXAMPLES ?= 300
STATE_EXAMPLES ?= 200
CHAOS_KILLS ?= 1000
SOAK_MINUTES ?= 30
.PHONY: contract state chaos soak
contract: $(STAMP)
	AVRR_TEST_DATABASE=$(DATABASE) AVRR_CONTRACT_EXAMPLES=$(CONTRACT_EXAMPLES) \
	  $(BIN)/pytest -q -p no:cacheprovider tests/contract
state: $(STAMP)
	AVRR_TEST_DATABASE=$(DATABASE) AVRR_STATE_EXAMPLES=$(STATE_EXAMPLES) \
	  $(BIN)/pytest -q -p no:cacheprovider tests/gateway/test_state_machine.py
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos --kills $(CHAOS_KILLS) --database $(DATABASE) $(CHAOS_ARGS)
soak: $(STAMP)
	$(BIN)/python -m bench.soak --minutes $(SOAK_MINUTES) --database $(DATABASE) $(SOAK_ARGS)
