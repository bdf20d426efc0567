# syntax=docker/dockerfile:1
# Bookshelf: multi-stage build. The builder turns requirements.txt (runtime only, never
# requirements-dev.txt) into wheels; the slim runtime installs them offline, collects
# static files (hashed + compressed by WhiteNoise) at build time and runs as non-root.

ARG PYTHON_VERSION=3.11

# --- builder: wheels for every pinned runtime dependency -----------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements.txt .
RUN pip wheel --wheel-dir /wheels -r requirements.txt

# --- runtime ---------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    DEBUG=false \
    LOG_FORMAT=json \
    HOST=0.0.0.0 \
    PORT=8000

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app

WORKDIR /app
COPY --from=builder /wheels /wheels
COPY requirements.txt .
RUN pip install --no-index --find-links=/wheels -r requirements.txt \
    && rm -rf /wheels

COPY --chown=app:app . .
# Static files are part of the image: hashed names and .gz/.br siblings, built once.
# collectstatic imports settings only; the key and database here are build-time dummies.
RUN SECRET_KEY=collectstatic-build-only DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    python manage.py collectstatic --no-input \
    && rm -f /tmp/build.sqlite3 \
    && chown -R app:app /app/staticfiles

USER app:app
EXPOSE 8000
STOPSIGNAL SIGTERM

# The probe sends the first allowed host: ALLOWED_HOSTS need not list 127.0.0.1.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; host = os.environ.get('ALLOWED_HOSTS', 'localhost').split(',')[0].strip().lstrip('.'); u.urlopen(u.Request('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), headers={'Host': host}), timeout=4)"]

CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
