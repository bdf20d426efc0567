# Two commands from a fresh clone: `make run` and `make test`. `make help` lists the
# rest: every target carries a `## what it does` comment, which help prints.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
SEED_BOOKS ?= 2000
HOST ?= 127.0.0.1
PORT ?= 8000
BENCH_REPORT ?= bench-report.html
export BENCH_REPORT

.PHONY: help run test lint format bench perf perf-asgi seed serve migrations-check collectstatic worker clean
.DEFAULT_GOAL := help

help: ## list the targets and the knobs (make VAR=value)
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "}; {printf "  make %-17s %s\n", $$1, $$2}'
	@echo "Knobs: SEED_BOOKS=$(SEED_BOOKS) HOST=$(HOST) PORT=$(PORT) PYTEST_ARGS= BENCH_ARGS="
	@echo "  BENCH_REPORT=$(BENCH_REPORT) LOAD_TEST=false; all of them: README, Configuration."

# The venv is rebuilt whenever a requirements file changes.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP) ## dev server on HOST:PORT with DEBUG and the toolbar; seeds, adds user demo/demo
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --no-input
	DEBUG=$${DEBUG:-true} $(PY) manage.py seed --books $(SEED_BOOKS) --if-empty
	DEBUG=$${DEBUG:-true} $(PY) manage.py demo_user
	DEBUG=$${DEBUG:-true} $(PY) manage.py runserver $(HOST):$(PORT)

test: $(STAMP) ## the test suite (PYTEST_ARGS; DATABASE_URL/REDIS_URL for PostgreSQL + Redis)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check, ruff format --check, mypy, makemigrations --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	SECRET_KEY=lint $(BIN)/mypy
	SECRET_KEY=lint $(PY) manage.py makemigrations --check --dry-run

format: $(STAMP) ## ruff --fix and ruff format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrations-check: $(STAMP) ## fail if a model change has no migration
	SECRET_KEY=lint $(PY) manage.py makemigrations --check --dry-run

seed: $(STAMP) ## DELETE the data and seed SEED_BOOKS books afresh (--reset)
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --no-input
	DEBUG=$${DEBUG:-true} $(PY) manage.py seed --books $(SEED_BOOKS) --reset

# Pages need the static manifest (DEBUG off): collected once, and again only when a
# static file, the storage or the requirements change. core/storage.py makes it take
# seconds (it took 40: Brotli 11 over the API docs' bundles, twice each).
STATIC_MANIFEST := $(or $(STATIC_ROOT),staticfiles)/staticfiles.json
$(STATIC_MANIFEST): $(STAMP) core/storage.py $(shell find static -type f 2>/dev/null)
	$(SERVE_ENV) LOG_FORMAT=plain $(PY) manage.py collectstatic --no-input --verbosity 1

# The repo's budgets apply; BENCH_ARGS adds options, e.g.
# BENCH_ARGS="--json bench-local.json --explain" or "--scenario 'api.books.*'".
# The HTML report goes to BENCH_REPORT, which /bench/ serves under DEBUG (make run).
bench: $(STATIC_MANIFEST) ## audit every endpoint, tuned vs naive, with the budgets (BENCH_ARGS)
	DEBUG=false SECRET_KEY=$${SECRET_KEY:-bench-only} $(PY) manage.py migrate --no-input
	DEBUG=false SECRET_KEY=$${SECRET_KEY:-bench-only} $(PY) manage.py seed --books $(SEED_BOOKS) --if-empty
	DEBUG=false SECRET_KEY=$${SECRET_KEY:-bench-only} $(PY) manage.py bench --budget config/budgets.toml --html $(BENCH_REPORT) $(BENCH_ARGS)

# Throughput under gunicorn (config/gunicorn.py, 2 workers x 4 threads by default) with
# wrk: every ladder rung, the cache hit, a 304 and the token path, in interleaved
# rounds, with ratios to the raw rung and the ceiling. A benchmark: CI never runs it.
# PERF_WORKER=asgi (or `make perf-asgi`) serves config.asgi with uvicorn workers
# instead: the async rung beside the values rung, over ASGI.
PERF_PORT ?= 8090
PERF_ARGS ?=
PERF_WORKER ?= wsgi
PERF_APP = $(if $(filter asgi,$(PERF_WORKER)),-k uvicorn_worker.UvicornWorker config.asgi,config.wsgi)
# No worker recycling while measuring (a restarting worker imports Django on the same
# two cores), no throttles, no warm tasks.
PERF_ENV = $(SERVE_ENV) LOAD_TEST=true GUNICORN_MAX_REQUESTS=0 LOG_LEVEL=WARNING \
	CACHE_WARM_AFTER_WRITES=false
perf: $(STATIC_MANIFEST) ## wrk under gunicorn: every ladder rung, the hit, a 304, the token path (needs wrk)
	@command -v wrk >/dev/null || { echo "make perf needs wrk: apt-get install wrk"; exit 2; }
	$(SERVE_ENV) $(PY) manage.py migrate --no-input --verbosity 0
	$(SERVE_ENV) $(PY) manage.py seed --books $(SEED_BOOKS) --if-empty
	$(PERF_ENV) HOST=127.0.0.1 PORT=$(PERF_PORT) \
		GUNICORN_WORKERS=$${GUNICORN_WORKERS:-2} GUNICORN_THREADS=$${GUNICORN_THREADS:-4} \
		$(BIN)/gunicorn -c config/gunicorn.py $(PERF_APP) --daemon --pid .perf.pid \
		--access-logfile /dev/null
	@$(PY) -c "import socket,time; [time.sleep(0.2) for _ in range(100) \
		if socket.socket().connect_ex(('127.0.0.1', $(PERF_PORT)))]"
	$(PERF_ENV) $(PY) manage.py perf --url http://127.0.0.1:$(PERF_PORT) $(PERF_ARGS); \
		status=$$?; kill $$(cat .perf.pid); rm -f .perf.pid; exit $$status

perf-asgi: ## make perf under uvicorn workers (ASGI), the async rung beside the sync ones
	$(MAKE) perf PERF_WORKER=asgi

# Production-like, locally: DEBUG off, hashed + compressed static files, gunicorn
# (config/gunicorn.py). The key below is for this machine only; deployments set their own.
# LOAD_TEST=true lifts every API throttle for `bench --url` and `make perf`; settings
# refuse it unless HOST is loopback.
SERVE_ENV = DEBUG=false \
	SECRET_KEY="$${SECRET_KEY:-local-only-make-serve-key-do-not-deploy-0123456789abcdef}" \
	ALLOWED_HOSTS="$${ALLOWED_HOSTS:-localhost,127.0.0.1}" \
	HOST="$(HOST)" LOAD_TEST="$${LOAD_TEST:-false}"

collectstatic: $(STAMP) ## collect static files now (serve and bench do it when needed)
	$(SERVE_ENV) LOG_FORMAT=plain $(PY) manage.py collectstatic --no-input --verbosity 1

serve: $(STATIC_MANIFEST) ## production-like gunicorn, DEBUG off (LOAD_TEST=true for load tests)
	$(SERVE_ENV) $(PY) manage.py migrate --no-input
	$(SERVE_ENV) $(PY) manage.py seed --books $(SEED_BOOKS) --if-empty
	$(SERVE_ENV) PORT=$(PORT) $(BIN)/gunicorn -c config/gunicorn.py config.wsgi

# A Celery worker with an embedded beat, for local use; needs REDIS_URL (or
# CELERY_BROKER_URL). compose.yaml runs worker and beat as separate services.
worker: $(STAMP) ## a Celery worker with beat (needs REDIS_URL)
	$(SERVE_ENV) $(BIN)/celery -A config worker --beat --loglevel=INFO \
		--schedule=/tmp/bookshelf-celerybeat-schedule

clean: ## remove the venv, collected static files and tool caches
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
