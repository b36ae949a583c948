# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SIMULATOR_PORT ?= 8900
# Debian's Chromium drives the browser tests; Playwright never downloads a browser of its own.
CHROMIUM ?= /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
# DEBUG is off by default (config/settings.py); the local demo turns it on, which gives it the
# development SECRET_KEY and vault key file under var/. `DEBUG=0 make run` keeps it off.
migrate seed run: export DEBUG ?= 1
# The demo's webhook secret: the simulator checks the signature of the alerts it receives with it,
# and seed_demo_alerts keeps the "Demo inbox" channel's secret equal to it (docs/alerts.md, "The demo").
# A demo value for 127.0.0.1, like the simulator's sk-demo-openai; passed in the environment, not argv.
seed run: export SIMULATOR_WEBHOOK_SECRET ?= demo-webhook-secret
# The site's address in the alerts' links to a provider's page.
run: export SITE_URL ?= http://$(HOST):$(PORT)
# How often the demo's checker probes every provider (and delivers alerts between its rounds).
CHECK_EVERY ?= 20

.PHONY: run test lint install install-dev browser redis-server nginx migrate seed bench screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	@mkdir -p "$${VAR_DIR:-var}"  # the SQLite file's folder (with DEBUG on, the vault's key file makes it too)
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo --simulator-url http://127.0.0.1:$(SIMULATOR_PORT)
	$(BIN)/python manage.py seed_demo_alerts --simulator-url http://127.0.0.1:$(SIMULATOR_PORT)

## Serve the site on http://$(HOST):$(PORT) with daphne, with the provider simulator beside it (which
## receives the demo's alerts at /alerts/inbox) and a checker that probes every CHECK_EVERY seconds
## and delivers alerts between its rounds (started once the simulator answers, so that its first round
## does not find every demo provider unreachable).
run: seed
	@# With DEBUG off, static files are served from STATIC_ROOT under hashed names: collect them first.
	@if $(BIN)/python -c "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings'); django.setup(); from django.conf import settings; raise SystemExit(not settings.STATIC_MANIFEST)"; then \
		echo "Collecting static files (STATIC_ROOT)"; $(BIN)/python manage.py collectstatic --noinput -v 0; fi
	@$(BIN)/python manage.py simulate_providers --port $(SIMULATOR_PORT) & sim=$$!; \
	for i in $$(seq 50); do $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', $(SIMULATOR_PORT)), 1)" 2>/dev/null && break; sleep 0.2; done; \
	$(BIN)/python manage.py run_checks --watch $(CHECK_EVERY) >"$${VAR_DIR:-var}/checker.log" 2>&1 & chk=$$!; \
	trap 'kill $$sim $$chk 2>/dev/null' EXIT INT TERM; \
	echo "Provider simulator on http://127.0.0.1:$(SIMULATOR_PORT) (pid $$sim), alerts at http://127.0.0.1:$(SIMULATOR_PORT)/alerts/inbox"; \
	echo "Checker probing every $(CHECK_EVERY) s and delivering alerts (pid $$chk), its tables in $${VAR_DIR:-var}/checker.log"; \
	$(BIN)/python manage.py runserver --noreload $(HOST):$(PORT)

browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "Installing Debian's chromium for the browser tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi
	@$(CHROMIUM) --version 2>/dev/null  # the Debian wrapper script warns on stderr about its own memory check

## Debian's redis-server, which the Redis-outage tests start and stop (tests/redis_process.py).
redis-server:
	@if ! command -v redis-server >/dev/null; then \
		echo "Installing Debian's redis-server for the Redis-outage tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null; \
	fi

## Debian's nginx, which tests/test_deploy.py runs with deploy/nginx/console.conf (nginx -t, and in
## front of two workers). Debian's policy-rc.d in containers keeps the package from starting it.
nginx:
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
		echo "Installing Debian's nginx-light for the deployment test"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nginx-light >/dev/null; \
	fi

## Run the whole suite (pytest exits non-zero when it collects no test, so that cannot pass).
test: install-dev browser redis-server nginx
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Rewrite the screenshots under docs/screenshots/ from the browser tests.
screenshots: install-dev browser
	UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest tests/test_browser.py tests/test_browser_chrome.py tests/test_browser_secret_panel.py tests/test_browser_live_list.py \
		tests/test_browser_forms.py tests/test_browser_detail.py tests/test_browser_checks.py -q

lint: install-dev
	$(BIN)/ruff check .

## Every benchmark prints its figure, its baseline and its target; one that misses its target exits
## non-zero, and the others still run (the leading '-').
bench: install-dev
	-$(BIN)/python bench/bench_vault.py
	-$(BIN)/python bench/bench_test_all.py
	-$(BIN)/python bench/bench_event_fanout.py
	# One daphne process, then two workers + Redis (REDIS_URL or the local server; PostgreSQL when DATABASE_URL names it).
	-$(BIN)/python bench/bench_ws_fanout.py
	-$(BIN)/python bench/bench_list_page.py
	-$(BIN)/python bench/bench_single_provider.py
	-$(BIN)/python bench/bench_fleet_size.py
	-$(BIN)/python bench/bench_api_throughput.py
	-DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} $(BIN)/python bench/bench_ws_connect.py
	-$(BIN)/python bench/bench_access_log.py
	-$(BIN)/python bench/bench_config.py
	# PostgreSQL (DATABASE_URL or the local server); says it is skipped when none answers.
	-$(BIN)/python bench/bench_history_size.py

clean:
	rm -rf $(VENV) var .pytest_cache
