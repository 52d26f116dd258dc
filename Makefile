# The two commands of the README: `make run` and `make test`. Everything else is set-up they share.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
# Playwright drives Debian's Chromium (/usr/bin/chromium); it must never fetch a browser build.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
# The stamp changes with the pins, so editing requirements.lock, pyproject.toml or the desk's
# package-lock.json reinstalls.
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml web/package-lock.json 2>/dev/null | sha1sum | cut -c1-12)

.PHONY: run test lint audit install migration browser

$(STAMP): requirements.lock pyproject.toml web/package-lock.json
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# torch first and pinned: unpinned, a dependency would pull the CUDA build (several GB).
	$(PY) -m pip install --quiet torch==2.13.0
	@# aiogram-max declares Python >= 3.12 but runs on 3.11 (README, "MAX"): pip would refuse
	@# the whole lock for it, so its pinned line is installed on its own, without that check.
	grep -v '^aiogram-max==' requirements.lock > $(VENV)/requirements-main.txt
	$(PY) -m pip install --quiet -r $(VENV)/requirements-main.txt
	$(PY) -m pip install --quiet --no-deps --ignore-requires-python $$(grep '^aiogram-max==' requirements.lock)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@# The web desk's browser library (htmx) from the npm registry, exactly as locked.
	npm ci --prefix web --no-audit --no-fund --ignore-scripts --loglevel=error
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

# Runs the assistant on its embedded default: migrate, load demo data, index the documents,
# then Telegram if TELEGRAM_BOT_TOKEN is set, else the local console messenger; the staff web
# desk is served beside it on http://127.0.0.1:8088 (send /web as staff for a sign-in link).
run: $(STAMP)
	$(VENV)/bin/concierge migrate
	$(VENV)/bin/concierge demo-data
	$(VENV)/bin/concierge ingest --quiet
	$(VENV)/bin/concierge run

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	@# The dependency rule of pyproject's [tool.importlinter]: the core never imports a channel.
	$(VENV)/bin/lint-imports

# The browser tests' Chromium and ChromeDriver from Debian's packages, once (CI runs as root).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO="sudo -n"; \
		else echo "browser tests will be skipped: /usr/bin/chromium is missing and this is not root"; exit 0; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

# Known vulnerabilities of every pin (.ci/dep_audit.py): fails on an unaccepted one; pins no
# reachable service could check are counted and named, never passed as clean. STRICT=1 also
# fails on those (this network serves PyPI's vulnerability data for latest releases only).
audit:
	$(PYTHON) .ci/dep_audit.py $(if $(STRICT),--strict)

test: lint audit browser
	$(PY) -m pytest

# Developers: regenerate the single pre-release migration from the models (until the first release).
migration: $(STAMP)
	rm -f crm_adapter/migrations/versions/*_0001_*.py var/migration-check.db*
	mkdir -p var
	$(VENV)/bin/alembic -x url=sqlite+aiosqlite:///var/migration-check.db revision --autogenerate -m "initial CRM schema" --rev-id 0001
	rm -f var/migration-check.db*
