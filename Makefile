# RVS-CNN Archive: the one entry point for people and CI.
#   make demo   services up, a synthetic sky ingested, the site on http://127.0.0.1:8000
#   make test   the whole test suite against the real services
# Both bootstrap what they need: Debian packages, the virtual environment, the services.

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SERVICES := $(PYTHON) scripts/services.py
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
WEB_WORKERS ?= 2
WEB_THREADS ?= 16
DEMO_STARS ?= 20000
DEMO_SEED ?= 1
SKY := var/demo/sky-$(DEMO_STARS)-$(DEMO_SEED)

.PHONY: demo test services test-services stop status venv migrate ingest-demo worker pipeline-demo lint format clean

## virtual environment, rebuilt when pyproject.toml changes
venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,hats]'
	touch $@

## private PostgreSQL (pg_sphere, q3c) + Redis of the demo instance, under var/demo
services:
	$(SERVICES) install
	$(SERVICES) start demo

test-services:
	$(SERVICES) install --test
	$(SERVICES) start test

WORKER_PID := var/demo/celery-worker.pid
TRAINING_PID := var/demo/celery-training.pid

stop:
	$(SERVICES) stop all

status:
	$(SERVICES) status all

migrate: venv services
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0

## a synthetic DR3-like sky in the real bulk formats (docs/synthetic-sky.md), made once
$(SKY)/.complete: | migrate
	$(PY) manage.py make_synthetic --stars $(DEMO_STARS) --seed $(DEMO_SEED) --out $(SKY)
	touch $@

## ingest it (idempotent: a second run reports every row unchanged)
ingest-demo: migrate $(SKY)/.complete
	$(PY) manage.py ingest gaia-source $(SKY)/GaiaSource_synthetic.csv.gz
	$(PY) manage.py ingest astrophysical-parameters $(SKY)/AstrophysicalParameters_synthetic.csv.gz
	$(PY) manage.py ingest rvs-spectra $(SKY)/RvsMeanSpectrum_synthetic.csv.gz
	$(PY) manage.py ingest xp-continuous $(SKY)/XpContinuousMeanSpectrum_synthetic.csv.gz
	@# like the real allStar, the APOGEE file has rows without a Gaia id: reported, skipped
	$(PY) manage.py ingest apogee --skip-bad-rows --show-rejected 3 $(SKY)/allStar-dr17-synthetic.fits

## the demo instance's Celery workers, in the background (logs: var/demo/celery-*.log): one for
## jobs, exports and labelling; one for training, a fresh process per task (tasks/celery.py)
worker: migrate
	@if test -f $(WORKER_PID) && kill -0 $$(cat $(WORKER_PID)) 2>/dev/null; then \
	  echo "Celery worker already running"; else \
	  TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/celery -A tasks worker --detach --concurrency 2 \
	    --beat --schedule var/demo/celerybeat-schedule -n worker@%h \
	    --pidfile $(WORKER_PID) --logfile var/demo/celery-worker.log --loglevel INFO; fi
	@if test -f $(TRAINING_PID) && kill -0 $$(cat $(TRAINING_PID)) 2>/dev/null; then \
	  echo "Celery training worker already running"; else \
	  TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/celery -A tasks worker --detach --concurrency 2 \
	    -Q training --max-tasks-per-child 1 -n training@%h \
	    --pidfile $(TRAINING_PID) --logfile var/demo/celery-training.log --loglevel INFO; fi

## a small ensemble (1 split x 2 members) trained, the sky labelled, flagged and published
pipeline-demo: ingest-demo worker
	$(PY) manage.py pipeline run --splits 1 --members 2 --epochs 12 --patience 4 \
	  --perplexities 30 --publish --wait --unless-published

demo: pipeline-demo
	@echo
	@echo "RVS-CNN Archive is served on http://$(HOST):$(PORT)/  (Ctrl-C stops the site;"
	@echo "'make stop' stops the worker, PostgreSQL and Redis)."
	@echo "  TAP (pyvo, TOPCAT, astroquery): http://$(HOST):$(PORT)/tap"
	@echo "  validation report of the published version: http://$(HOST):$(PORT)/validation/"
	@echo
	@# a production server: threads, so long downloads and many clients never queue behind one
	@# another (runserver is for development: `manage.py runserver`)
	RVS_WEB_BIND=$(HOST):$(PORT) RVS_WEB_WORKERS=$(WEB_WORKERS) RVS_WEB_THREADS=$(WEB_THREADS) \
	  $(VENV)/bin/gunicorn -c scripts/gunicorn.conf.py

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
