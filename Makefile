# The two commands: `make run` and `make test`. Everything else here serves them.
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.stamp-runtime
DEV := $(VENV)/.stamp-dev
RUN_COMMAND := $(BIN)/gunicorn -k gevent -w 1 -b 0.0.0.0:$(PORT) 'server.wsgi:create_app()' \
	--timeout 120 --graceful-timeout 30 --keep-alive 30 --log-level info

.PHONY: run test serve setup migrate lint typecheck pytest pytest-postgres client client-test chromium browser

run: setup
	@$(BIN)/flask --app server.app migrate
	@$(BIN)/flask --app server.app ensure-admin
	exec $(RUN_COMMAND)

# The run command alone (the database must already be migrated).
serve:
	exec $(RUN_COMMAND)

setup: $(RUNTIME) client

$(RUNTIME): requirements.txt
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(DEV): $(RUNTIME) requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

# The web app (client/) is built here once it exists; Flask serves client/dist/.
client:
	@if [ -f client/package.json ]; then $(MAKE) --no-print-directory client/dist/index.html; fi

client/dist/index.html: client/node_modules/.package-lock.json $(shell find client/src client/index.html client/vite.config.ts -type f 2>/dev/null)
	cd client && npm run build

# The web app's own gates: tsc --noEmit, eslint, vitest, and the initial-JavaScript budget.
# npm writes node_modules/.package-lock.json on every install: it stands for "npm ci has run".
client/node_modules/.package-lock.json: client/package.json client/package-lock.json
	cd client && npm ci --no-audit --no-fund
	touch $@

client-test: client client/node_modules/.package-lock.json
	cd client && npm run typecheck && npm run lint && npm test && npm run size

# The browser tests (tests/e2e/browser/) drive Debian's Chromium through Playwright for Python;
# Playwright's own browser download is not used.
CHROMIUM ?= /usr/bin/chromium
BROWSER := $(VENV)/.stamp-browser

chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo) ; \
		echo "== installing Debian's chromium (for the browser tests)" ; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium fonts-dejavu-core ; \
	fi

$(BROWSER): $(DEV) requirements-browser.txt
	$(BIN)/python -m pip install -q -r requirements-browser.txt
	touch $@

browser: $(BROWSER) chromium

migrate: $(RUNTIME)
	$(BIN)/flask --app server.app migrate

lint: $(DEV)
	$(BIN)/ruff check server tests bench migrations/env.py
	$(BIN)/ruff format --check server tests bench migrations/env.py

typecheck: $(DEV)
	$(BIN)/mypy

pytest: $(DEV) client browser
	$(BIN)/pytest

# The same suite on PostgreSQL (TEST_DATABASE_URL, default: the local server's crm_test database).
# A PostgreSQL that does not answer fails the run; SKIP_POSTGRES=1 skips it, loudly, on purpose.
pytest-postgres: $(DEV) client browser
	@if [ -n "$$SKIP_POSTGRES" ]; then echo "!! SKIP_POSTGRES is set: the PostgreSQL run is SKIPPED" >&2; exit 0; fi ; \
	url=$$($(BIN)/python scripts/pg_test_db.py) || { \
		echo "PostgreSQL does not answer: start it, point TEST_DATABASE_URL at one, or set SKIP_POSTGRES=1" >&2; exit 1; } ; \
	echo "== the same tests on $$url" ; TEST_DATABASE_URL=$$url $(BIN)/pytest

test: lint typecheck client-test pytest pytest-postgres
