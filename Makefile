# The two commands a newcomer needs: `make demo` and `make test`. Both work on a fresh clone
# with nothing running: SQLite, local files and an embedded broker are the defaults.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export DJANGO_DEBUG ?= true

.PHONY: demo test install install-dev lint check clean-local

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## demo: install, migrate, build the demo study and serve it with a worker (Ctrl-C stops)
demo: $(VENV)/.installed
	$(PY) manage.py migrate --no-input
	$(PY) manage.py register_shipped_model
	$(PY) manage.py demo $(DEMO_ARGS)

## test: install the test tools and run the whole suite: everything, then the fault tests,
## which kill workers, Redis and PostgreSQL and so use a Redis server of their own (port 6390)
test: $(VENV)/.installed-dev
	$(PY) -m pytest -m "not faults" $(PYTEST_ARGS)
	CELERY_BROKER_URL=redis://127.0.0.1:6390/0 $(PY) -m pytest -m faults tests/faults $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy classifier readerstudy

clean-local:
	rm -rf var staticfiles
