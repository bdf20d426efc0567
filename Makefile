# Two commands from a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
SEED_BOOKS ?= 2000
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format bench seed serve migrations-check collectstatic worker clean

# The venv is rebuilt whenever a requirements file changes.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --no-input
	DEBUG=$${DEBUG:-true} $(PY) manage.py seed --books $(SEED_BOOKS) --if-empty
	DEBUG=$${DEBUG:-true} $(PY) manage.py runserver $(HOST):$(PORT)

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	SECRET_KEY=lint $(PY) manage.py makemigrations --check --dry-run

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrations-check: $(STAMP)
	SECRET_KEY=lint $(PY) manage.py makemigrations --check --dry-run

seed: $(STAMP)
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --no-input
	DEBUG=$${DEBUG:-true} $(PY) manage.py seed --books $(SEED_BOOKS) --reset

bench: $(STAMP)
	DEBUG=false SECRET_KEY=$${SECRET_KEY:-bench-only} $(PY) manage.py migrate --no-input
	DEBUG=false SECRET_KEY=$${SECRET_KEY:-bench-only} $(PY) manage.py seed --books $(SEED_BOOKS) --if-empty
	DEBUG=false SECRET_KEY=$${SECRET_KEY:-bench-only} $(PY) manage.py bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
