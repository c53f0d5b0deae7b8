# The two commands: `make run` and `make test`. Everything else here serves them.
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.stamp-runtime
DEV := $(VENV)/.stamp-dev
RUN_COMMAND := $(BIN)/gunicorn -k gevent -w 1 -b 0.0.0.0:$(PORT) 'server.wsgi:create_app()' \
	--timeout 120 --graceful-timeout 30 --keep-alive 30 --log-level info

.PHONY: run test serve setup migrate lint typecheck pytest pytest-postgres client

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

client/dist/index.html: client/package.json client/package-lock.json $(shell find client/src client/index.html client/vite.config.ts -type f 2>/dev/null)
	cd client && npm ci --no-audit --no-fund && npm run build

migrate: $(RUNTIME)
	$(BIN)/flask --app server.app migrate

lint: $(DEV)
	$(BIN)/ruff check server tests bench migrations/env.py
	$(BIN)/ruff format --check server tests bench migrations/env.py

typecheck: $(DEV)
	$(BIN)/mypy

pytest: $(DEV) client
	$(BIN)/pytest

# The same suite on PostgreSQL (TEST_DATABASE_URL, default: the local server's crm_test database).
pytest-postgres: $(DEV) client
	@url=$$($(BIN)/python scripts/pg_test_db.py) ; status=$$? ; \
	if [ $$status -ne 0 ]; then \
		if [ -n "$$CI" ] || [ -n "$$REQUIRE_POSTGRES" ]; then echo "PostgreSQL is required here but does not answer" >&2; exit 1; fi ; \
		echo "!! PostgreSQL does not answer: the PostgreSQL run is SKIPPED (set TEST_DATABASE_URL)" >&2 ; exit 0 ; \
	fi ; \
	echo "== the same tests on $$url" ; TEST_DATABASE_URL=$$url $(BIN)/pytest

test: lint typecheck pytest pytest-postgres
