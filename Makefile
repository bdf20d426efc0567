# Two commands from a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
SEED_BOOKS ?= 2000
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format bench perf perf-asgi seed serve migrations-check collectstatic worker clean

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

# Pages need the static manifest (DEBUG off): collected once, and again only when a
# static file or the requirements change (collectstatic takes over a minute).
STATIC_MANIFEST := $(or $(STATIC_ROOT),staticfiles)/staticfiles.json
$(STATIC_MANIFEST): $(STAMP) $(shell find static -type f 2>/dev/null)
	$(SERVE_ENV) $(PY) manage.py collectstatic --no-input --verbosity 0

# The repo's budgets apply; BENCH_ARGS adds options, e.g.
# BENCH_ARGS="--json bench-local.json --explain" or "--scenario 'api.books.*'".
bench: $(STATIC_MANIFEST)
	DEBUG=false SECRET_KEY=$${SECRET_KEY:-bench-only} $(PY) manage.py migrate --no-input
	DEBUG=false SECRET_KEY=$${SECRET_KEY:-bench-only} $(PY) manage.py seed --books $(SEED_BOOKS) --if-empty
	DEBUG=false SECRET_KEY=$${SECRET_KEY:-bench-only} $(PY) manage.py bench --budget config/budgets.toml $(BENCH_ARGS)

# Throughput under gunicorn (config/gunicorn.py, 2 workers x 4 threads by default) with
# wrk: every ladder rung, the cache hit, a 304 and the token path, in interleaved
# rounds, with ratios to the raw rung and the ceiling. A benchmark: CI never runs it.
# PERF_WORKER=asgi (or `make perf-asgi`) serves config.asgi with uvicorn workers
# instead: the async rung beside the values rung, over ASGI.
PERF_PORT ?= 8090
PERF_ARGS ?=
PERF_WORKER ?= wsgi
PERF_APP = $(if $(filter asgi,$(PERF_WORKER)),-k uvicorn_worker.UvicornWorker config.asgi,config.wsgi)
PERF_ENV = $(SERVE_ENV) LOAD_TEST=true API_THROTTLE_ANON=1000000000/min \
	API_THROTTLE_USER=1000000000/min LOG_LEVEL=WARNING CACHE_WARM_AFTER_WRITES=false
perf: $(STATIC_MANIFEST)
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

perf-asgi:
	$(MAKE) perf PERF_WORKER=asgi

# Production-like, locally: DEBUG off, hashed + compressed static files, gunicorn
# (config/gunicorn.py). The key below is for this machine only; deployments set their own.
SERVE_ENV = DEBUG=false \
	SECRET_KEY="$${SECRET_KEY:-local-only-make-serve-key-do-not-deploy-0123456789abcdef}" \
	ALLOWED_HOSTS="$${ALLOWED_HOSTS:-localhost,127.0.0.1}"

collectstatic: $(STAMP)
	$(SERVE_ENV) $(PY) manage.py collectstatic --no-input --verbosity 0

serve: collectstatic
	$(SERVE_ENV) $(PY) manage.py migrate --no-input
	$(SERVE_ENV) $(PY) manage.py seed --books $(SEED_BOOKS) --if-empty
	$(SERVE_ENV) HOST=$(HOST) PORT=$(PORT) $(BIN)/gunicorn -c config/gunicorn.py config.wsgi

# A Celery worker with an embedded beat, for local use; needs REDIS_URL (or
# CELERY_BROKER_URL). compose.yaml runs worker and beat as separate services.
worker: $(STAMP)
	$(SERVE_ENV) $(BIN)/celery -A config worker --beat --loglevel=INFO \
		--schedule=/tmp/bookshelf-celerybeat-schedule

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
