# RVS-CNN Archive: the one entry point for people and CI.
#   make demo   services up, database migrated, site on http://127.0.0.1:8000
#   make test   the whole test suite against the real services
# Both bootstrap what they need: Debian packages, the virtual environment, the services.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SERVICES := $(PYTHON) scripts/services.py
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: demo test services test-services stop status venv migrate serve lint format clean

## virtual environment, rebuilt when pyproject.toml changes
venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

## private PostgreSQL (pg_sphere, q3c) + Redis of the demo instance, under var/demo
services:
	$(SERVICES) install
	$(SERVICES) start demo

test-services:
	$(SERVICES) install --test
	$(SERVICES) start test

stop:
	$(SERVICES) stop all

status:
	$(SERVICES) status all

migrate: venv services
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0

demo: migrate
	@echo
	@echo "RVS-CNN Archive is served on http://$(HOST):$(PORT)/  (Ctrl-C stops the site;"
	@echo "'make stop' stops PostgreSQL and Redis)"
	@echo
	$(PY) manage.py runserver $(HOST):$(PORT) --noreload

test: venv test-services
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean: stop
	rm -rf var $(VENV)
