"""Production readiness: deploy checks, hostile input, failure shaping, packaging.

No Docker engine runs here, so compose.yaml and the Dockerfile are checked as data.
The fault drill (tests/faults.py) runs at the end on the PostgreSQL + Redis pass.
"""

import base64
import datetime
import hashlib
import json
import logging
import os
import re
import runpy
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from django.db import OperationalError, connection
from django.http import HttpResponse
from django.test import Client
from django.urls import path
from django.utils import timezone

from config import urls as project_urls
from core.logs import JsonFormatter, RequestIDFilter, request_id_var
from core.middleware import DatabaseUnavailableMiddleware
from tests import faults
from tests.conftest import scratch_database

ROOT = Path(__file__).resolve().parent.parent

# --- A URLconf with views that fail on purpose ---------------------------------------


def _boom(request):
    raise RuntimeError("secret internals: /etc/passwd")


def _database_down(request):
    raise OperationalError("connection to server at 127.0.0.1 failed: refused")


def _ok(request):
    return HttpResponse("ok")


urlpatterns = [
    path("api/boom/", _boom),
    path("boom/", _boom),
    path("api/db-down/", _database_down),
    path("ok/", _ok),
    *project_urls.urlpatterns,
]
handler500 = project_urls.handler500


@pytest.fixture
def quiet_client():
    """A client that returns the 500 page instead of re-raising the view's error."""
    return Client(raise_request_exception=False)


# --- check --deploy -------------------------------------------------------------------

# The documented production environment (README, .env.example): HTTPS via a proxy that
# overwrites X-Forwarded-Proto.
PRODUCTION_ENV = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "books.example.com",
    "SECURE_HTTPS": "true",
    "SECURE_PROXY_SSL_HEADER": "true",
}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = faults.child_environ(faults.SERVICE_VARIABLES | {"DEBUG"})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_in_the_documented_production_env():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=secrets.token_urlsafe(50),
        **PRODUCTION_ENV,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_plain_http_serving_is_a_deliberate_deploy_warning():
    # `make serve` on http://127.0.0.1: no redirect, no Secure cookies, and
    # check --deploy says so rather than the settings pretending otherwise.
    result = _manage(
        "check", "--deploy", SECRET_KEY=secrets.token_urlsafe(50), DEBUG="false"
    )
    assert "security.W008" in result.stderr + result.stdout


def test_secure_settings_follow_the_https_switch(settings):
    assert settings.SECURE_SSL_REDIRECT is False  # tests run as plain-http `serve`
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0


def test_client_sent_forwarded_proto_is_not_trusted(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = None
    response = client.get("/ok/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


pytestmark = pytest.mark.urls(__name__)


@pytest.mark.parametrize(
    ("num_proxies", "expected"),
    [(0, "10.0.0.9"), (1, "198.51.100.7")],
)
def test_throttle_identity_is_not_reset_by_a_forged_forwarded_for(
    rf, settings, num_proxies, expected
):
    from rest_framework.throttling import AnonRateThrottle

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": num_proxies}
    # The client forged the first entry; our one proxy appended the real address.
    request = rf.get(
        "/api/books/",
        REMOTE_ADDR="10.0.0.9",
        HTTP_X_FORWARDED_FOR="203.0.113.66, 198.51.100.7",
    )
    assert AnonRateThrottle().get_ident(request) == expected


# --- Password guessing on the admin login (django-axes) -------------------------------

RIGHT = "the-right-password-42"


@pytest.fixture
def admin_user(django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return django_user_model.objects.create_superuser("boss", password=RIGHT)


def admin_login(client, password: str, username: str = "boss", **extra):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        **extra,
    )


def test_the_sixth_try_is_refused_even_with_the_right_password(client, admin_user):
    statuses = [admin_login(client, "wrong-guess").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]  # the form again, then locked out
    response = admin_login(client, RIGHT)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still not signed in


def test_a_success_before_the_limit_clears_the_failures(client, admin_user):
    for _ in range(4):
        admin_login(client, "wrong-guess")
    assert admin_login(client, RIGHT).status_code == 302
    client.logout()
    for _ in range(4):
        admin_login(client, "wrong-guess")
    assert admin_login(client, RIGHT).status_code == 302


def test_rotating_x_forwarded_for_does_not_dodge_the_lockout(client, admin_user):
    for i in range(5):
        admin_login(client, "wrong-guess", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
    response = admin_login(client, RIGHT, HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert response.status_code == 429


def test_the_lockout_is_per_username_and_address(client, admin_user, django_user_model):
    django_user_model.objects.create_superuser("other", password=RIGHT)
    for _ in range(5):
        admin_login(client, "wrong-guess")
    assert admin_login(client, RIGHT).status_code == 429
    assert admin_login(client, RIGHT, username="other").status_code == 302
    elsewhere = Client(REMOTE_ADDR="192.0.2.50")
    assert admin_login(elsewhere, RIGHT).status_code == 302


def test_the_lockout_lifts_after_fifteen_minutes(client, admin_user, settings):
    from axes.models import AccessAttempt

    assert datetime.timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    for _ in range(5):
        admin_login(client, "wrong-guess")
    assert admin_login(client, RIGHT).status_code == 429
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - datetime.timedelta(minutes=15, seconds=1)
    )
    assert admin_login(client, RIGHT).status_code == 302


# --- Hostile input --------------------------------------------------------------------


def test_unknown_host_is_a_400(client):
    assert client.get("/ok/", HTTP_HOST="evil.example").status_code == 400


def test_debug_toolbar_is_unreachable(client):
    assert client.get("/__debug__/").status_code == 404
    assert client.get("/__debug__/render_panel/").status_code == 404


@pytest.mark.parametrize(
    "url",
    ["/api/books/%00/", "/ok/%00", "/api/books/?search=a%00b", "/ok/?x%00=1"],
)
def test_nul_in_path_or_query_is_a_400(client, url):
    response = client.get(url)
    assert response.status_code == 400


def test_nul_in_path_under_api_is_a_json_400(client):
    response = client.get("/api/books/?search=%00")
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"title": "a\\u0000b"}', "application/json"),
        ('{"nested": [{"x": "\\u0000"}]}', "application/json"),
        ("title=a%00b", "application/x-www-form-urlencoded"),
    ],
)
def test_nul_in_the_body_is_a_400(client, body, content_type):
    response = client.post("/api/books/", data=body, content_type=content_type)
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


@pytest.mark.django_db
def test_an_escaped_backslash_before_u0000_is_not_a_nul(client):
    # '\\u0000' in JSON is the six characters \u0000, not NUL: no false positive.
    response = client.post(
        "/api/books/", data='{"title": "\\\\u0000"}', content_type="application/json"
    )
    assert response.status_code in {401, 403}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/books/", "/ok/"])
def test_an_oversized_body_is_a_413_not_a_500(client, settings, path):
    # 413, the status the API's own handler gives a body too large to parse.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"title": "x" * 2000})
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 413
    assert b"Request body too large." in response.content


# --- Failures never leak -------------------------------------------------------------


def test_handler500_is_wired():
    assert project_urls.handler500 == "core.views.server_error"


def test_api_500_is_json_without_a_traceback(quiet_client):
    response = quiet_client.get("/api/boom/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    assert b"secret internals" not in response.content


def test_page_500_is_plain_without_a_traceback(quiet_client):
    response = quiet_client.get("/boom/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/plain")
    assert b"Traceback" not in response.content
    assert b"secret internals" not in response.content


def test_database_error_is_a_fast_503_naming_the_database(quiet_client):
    response = quiet_client.get("/api/db-down/")
    assert response.status_code == 503
    assert response.json() == {"detail": "database unavailable"}
    assert response["Retry-After"]


def test_database_error_outside_a_view_is_still_a_503(rf):
    # A session save or token lookup in middleware reaches handler500, not the view
    # middleware; the handler looks at the exception it is handling.
    from core.views import server_error

    try:
        raise OperationalError("the database system is shutting down")
    except OperationalError:
        response = server_error(rf.get("/"))
    assert response.status_code == 503


@pytest.mark.django_db
def test_statement_timeout_maps_to_503(rf, postgres):
    request = rf.get("/api/books/")
    with pytest.raises(OperationalError) as caught, connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 50")
        cursor.execute("SELECT pg_sleep(1)")
    response = DatabaseUnavailableMiddleware(lambda r: None).process_exception(
        request, caught.value
    )
    assert response.status_code == 503


# --- Content-Security-Policy ----------------------------------------------------------


class InlineContent(HTMLParser):
    """What a page runs or styles inline: the things a CSP without 'unsafe-inline'
    blocks unless a nonce or a hash allows them."""

    EXECUTABLE = {None, "", "text/javascript", "application/javascript", "module"}

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str | None] = []  # the nonce of each inline script
        self.styles: list[str | None] = []  # the nonce of each <style>
        self.style_attributes: list[str] = []
        self.handlers: list[str] = []  # onclick=..., javascript: URLs

    @classmethod
    def count_scripts(cls, html: str) -> int:
        page = cls()
        page.feed(html)
        return len(page.scripts)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "script" and "src" not in attributes:
            if attributes.get("type") in self.EXECUTABLE:
                self.scripts.append(attributes.get("nonce"))
        elif tag == "style":
            self.styles.append(attributes.get("nonce"))
        for name, value in attrs:
            if name == "style":
                self.style_attributes.append(value or "")
            elif name.startswith("on") or (value or "").startswith("javascript:"):
                self.handlers.append(f"{tag} {name}")


def policy(response) -> dict[str, list[str]]:
    directives = (d.split() for d in response["Content-Security-Policy"].split(";"))
    return {d[0]: d[1:] for d in directives if d}


def csp_violations(response) -> list[str]:
    """Everything inline in the page that the response's own policy would block."""
    csp = policy(response)
    page = InlineContent()
    page.feed(response.content.decode())
    problems = [f"handler: {h}" for h in page.handlers]
    for kind, nonces, directive in [
        ("script", page.scripts, "script-src"),
        ("style", page.styles, "style-src"),
    ]:
        allowed = csp.get(directive, csp["default-src"])
        problems += [
            f"inline {kind} without its nonce"
            for nonce in nonces
            if f"'nonce-{nonce}'" not in allowed
        ]
    attribute_sources = csp.get("style-src-attr", csp.get("style-src", []))
    for css in page.style_attributes:
        digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        hashed = {"'unsafe-hashes'", f"'sha256-{digest}'"} <= set(attribute_sources)
        if not hashed and "'unsafe-inline'" not in attribute_sources:
            problems.append(f"style attribute {css!r}")
    return problems


def test_the_site_policy_allows_nothing_inline_or_foreign(client):
    csp = policy(client.get("/ok/"))
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == csp["style-src"] == ["'self'"]  # no nonce unused
    assert csp["object-src"] == csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == csp["form-action"] == ["'self'"]
    everything = " ".join(" ".join(sources) for sources in csp.values())
    assert "unsafe-inline" not in everything and "unsafe-eval" not in everything
    assert "*" not in everything and "http" not in everything


@pytest.fixture
def catalogue(db):
    from tests.factories import BookFactory, GenreFactory, ReviewFactory

    book = BookFactory(genres=[GenreFactory(name="Fantasy")])
    ReviewFactory(book=book)
    return book


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/books/{book}/",
        "/authors/{author}/",
        "/admin/login/",
        "/api/docs/",
        "/api/",
        "/api/books/",
        "/api/books/{book}/",
        "/api/books/{book}/reviews/",
        "/api/naive/books/",
    ],
)
def test_anonymous_pages_render_within_the_policy(client, catalogue, path):
    url = path.format(book=catalogue.pk, author=catalogue.author_id)
    response = client.get(url, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert csp_violations(response) == []


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/books/book/",
        "/admin/books/book/{book}/change/",
        "/admin/books/review/",
        "/admin/books/review/{review}/change/",
        "/admin/books/author/add/",
        "/api/books/",
        "/api/books/{book}/",
        "/api/reviews/{review}/",
        "/api/authors/{author}/",
    ],
)
def test_staff_pages_with_their_forms_render_within_the_policy(
    client, catalogue, django_user_model, path
):
    client.force_login(django_user_model.objects.create_superuser("root"))
    review = catalogue.reviews.get()
    url = path.format(book=catalogue.pk, author=catalogue.author_id, review=review.pk)
    response = client.get(url, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert csp_violations(response) == []


def test_swagger_docs_run_no_inline_script(client):
    page = client.get("/api/docs/")
    assert policy(page)["style-src"][1].startswith("'nonce-")  # its one <style>
    assert InlineContent.count_scripts(page.content.decode()) == 0
    scripts = re.findall(r'<script src="([^"]+)"', page.content.decode())
    assert scripts[-1] == "/api/docs/?script="
    script = client.get(scripts[-1])
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in script.content and b"/api/schema/" in script.content


def test_browsable_api_allows_its_one_style_attribute_by_hash_only(client):
    csp = policy(client.get("/api/", HTTP_ACCEPT="text/html"))
    assert csp["style-src-attr"] == [
        "'unsafe-hashes'",
        "'sha256-OfgyIBrd+/vP79JdFMYP+re4T+fIenvkrHPD2HZ8/cs='",
    ]
    assert "style-src-attr" not in policy(
        client.get("/api/", HTTP_ACCEPT="application/json")
    )
    assert "style-src-attr" not in policy(client.get("/admin/login/"))


@pytest.mark.skipif(not shutil.which("chromium"), reason="needs chromium")
@pytest.mark.parametrize("path", ["/", "/admin/login/", "/api/docs/"])
def test_chromium_renders_the_pages_without_a_csp_violation(
    live_server, catalogue, tmp_path, path
):
    """A real browser, the real policy: Swagger UI builds its page from the schema."""
    result = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=8000",
            "--dump-dom",
            live_server.url + path,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert "Content Security Policy" not in result.stderr, result.stderr[-3000:]
    expected = {
        "/": catalogue.title,
        "/admin/login/": 'id="login-form"',
        "/api/docs/": "opblock-tag-section",  # Swagger UI rendered the operations
    }[path]
    assert expected in result.stdout


# --- Request ids and logs -------------------------------------------------------------


def test_request_id_is_generated_and_echoed(client):
    response = client.get("/ok/")
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_sane_incoming_request_id_is_kept(client):
    response = client.get("/ok/", HTTP_X_REQUEST_ID="edge-4f2a9c1e.7")
    assert response["X-Request-ID"] == "edge-4f2a9c1e.7"


def test_insane_incoming_request_id_is_replaced(client):
    response = client.get("/ok/", HTTP_X_REQUEST_ID="<script>alert(1)</script>")
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_json_log_lines_carry_the_request_id():
    token = request_id_var.set("req-12345678")
    try:
        record = logging.LogRecord(
            "books", logging.INFO, __file__, 1, "hi %s", ("x",), None
        )
        RequestIDFilter().filter(record)
        record.books = 3  # an ``extra=`` field
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "hi x" and line["level"] == "INFO"
    assert line["request_id"] == "req-12345678" and line["books"] == 3


# --- gunicorn -------------------------------------------------------------------------


def _gunicorn(monkeypatch, **env: str) -> dict:
    for name in (
        "GUNICORN_WORKERS",
        "WEB_CONCURRENCY",
        "PORT",
        "BIND",
        "GUNICORN_BIND",
        "HOST",
        "GUNICORN_TIMEOUT",
        "DB_POOL_TIMEOUT",
        "DB_STATEMENT_TIMEOUT_MS",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "config/gunicorn.py"))


def test_gunicorn_defaults_are_production_shaped(monkeypatch):
    conf = _gunicorn(monkeypatch)
    assert conf["worker_class"] == "gthread" and conf["threads"] >= 2
    assert conf["workers"] == os.cpu_count() * 2 + 1
    assert conf["keepalive"] > 0 and conf["preload_app"] is False
    assert conf["max_requests"] > 0 and conf["max_requests_jitter"] > 0
    assert conf["graceful_timeout"] > 0
    assert conf["limit_request_line"] == 4094 and conf["limit_request_fields"] == 100
    assert "%(M)s" in conf["access_log_format"]
    if os.path.isdir("/dev/shm"):
        assert conf["worker_tmp_dir"] == "/dev/shm"
    # statement timeout (3 s) and pool wait (0.5 s) both below the worker timeout
    assert max(3.0, 0.5) < conf["timeout"]


class _Worker:
    log = logging.getLogger("tests.gunicorn")


def test_a_worker_fills_its_database_pool_before_serving(
    transactional_db, monkeypatch, caplog
):
    """A connection per thread, ready before the first request: a burst on a fresh
    worker must not wait on connects (under load they outlast DB_POOL_TIMEOUT)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://...")
    conf = _gunicorn(monkeypatch, GUNICORN_THREADS="3")
    connection.close()  # a fresh worker holds none of its pool's connections
    pool = connection.pool
    before = pool.min_size
    try:
        conf["post_worker_init"](_Worker())
        assert pool.min_size == max(before, 3)
        assert pool.get_stats()["pool_size"] >= 3
        assert pool.get_stats()["pool_available"] >= 3  # connected, not just planned
        assert not [r for r in caplog.records if r.name == _Worker.log.name]
    finally:
        pool.resize(before, pool.max_size)


def test_a_booted_gunicorn_worker_holds_a_connection_per_thread(postgres, tmp_path):
    """The real hook in a real worker, before any request: Django opens a pool only at
    its first connection, so the hook has to open it to fill it."""
    url, drop = scratch_database(tmp_path, "boot")
    env = {
        **faults.child_environ(faults.SERVICE_VARIABLES, keep_pytest=False),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": url,
        "REDIS_URL": "",
        "GUNICORN_ACCESSLOG": "/dev/null",
    }
    server = faults.Gunicorn(tmp_path, faults.free_port(), env, workers=1, threads=3)

    def sessions() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # fixed per transaction
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                [url.rsplit("/", 1)[1]],
            )
            return cursor.fetchone()[0]

    try:
        server.start()
        faults.wait_for(lambda: sessions() >= 3, 20, "the worker's pool to fill")
        assert "not filled" not in server.log_text()
    finally:
        server.stop()
        drop()


FILL_WITH_THE_DATABASE_DOWN = """
import json, logging, runpy, time
import django
django.setup()
from django.db import connections
conf = runpy.run_path("config/gunicorn.py")
warnings = []
class Log:
    def warning(self, message, *args):
        warnings.append(message % args)
class Worker:
    log = Log()
started = time.monotonic()
conf["post_worker_init"](Worker())
print(json.dumps({
    "seconds": time.monotonic() - started,
    "closed": [c.pool.closed for c in connections.all()],
    "warnings": warnings,
}))
"""


def test_a_worker_waits_once_for_pools_it_cannot_fill_and_keeps_them_open():
    """The primary and two replicas all down: the worker waits the fill timeout once,
    not once a pool, and leaves every pool open to connect when the database is back
    (psycopg's ``pool.wait()`` would close it for good)."""
    dead = [f"postgres://root@127.0.0.1:{faults.free_port()}/x" for _ in range(3)]
    result = subprocess.run(
        [sys.executable, "-c", FILL_WITH_THE_DATABASE_DOWN],
        cwd=ROOT,
        env={
            **faults.child_environ(faults.SERVICE_VARIABLES | {"DEBUG"}),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECRET_KEY": "x",
            "DATABASE_URL": dead[0],
            "DATABASE_REPLICA_URLS": ",".join(dead[1:]),
            "GUNICORN_POOL_FILL_TIMEOUT": "1",
            "LOG_LEVEL": "CRITICAL",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["closed"] == [False, False, False]
    assert len(found["warnings"]) == 3
    assert all("not filled at start: 0 of" in w for w in found["warnings"])
    assert found["seconds"] < 2.5  # one timeout of 1 s, not three


def test_a_worker_without_a_pool_starts_as_before(db, monkeypatch, caplog):
    """SQLite has no pool: nothing to fill, nothing logged."""
    if getattr(connection, "pool", None) is not None:
        pytest.skip("the embedded pass: a database without a pool")
    _gunicorn(monkeypatch)["post_worker_init"](_Worker())
    assert not caplog.records


def test_gunicorn_is_overridable_from_the_environment(monkeypatch):
    assert _gunicorn(monkeypatch, WEB_CONCURRENCY="5")["workers"] == 5
    assert (
        _gunicorn(monkeypatch, GUNICORN_WORKERS="3", WEB_CONCURRENCY="5")["workers"]
        == 3
    )
    assert _gunicorn(monkeypatch, PORT="9000")["bind"] == "127.0.0.1:9000"
    assert _gunicorn(monkeypatch, BIND="0.0.0.0:80")["bind"] == "0.0.0.0:80"


def test_gunicorn_refuses_misordered_timeouts(monkeypatch):
    with pytest.raises(RuntimeError, match="below the worker timeout"):
        _gunicorn(monkeypatch, DB_POOL_TIMEOUT="40")
    with pytest.raises(RuntimeError, match="below the worker timeout"):
        _gunicorn(monkeypatch, DB_STATEMENT_TIMEOUT_MS="31000")


def test_gunicorn_config_names_the_service_not_the_server(monkeypatch):
    import gunicorn.http.wsgi

    _gunicorn(monkeypatch)
    assert gunicorn.http.wsgi.SERVER == "bookshelf"


def test_a_running_gunicorn_sends_no_server_software_or_version(tmp_path):
    port = faults.free_port()
    env = {
        # Either would bind gunicorn elsewhere than HOST and PORT.
        **faults.child_environ({"GUNICORN_BIND", "BIND"}, keep_pytest=False),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "",
        "GUNICORN_ACCESSLOG": "/dev/null",
    }
    server = faults.Gunicorn(tmp_path, port, env, workers=1, threads=1)
    server.start()
    try:
        headers = None
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as r:
                    headers = r.headers
                break
            except OSError:
                time.sleep(0.1)
        assert headers is not None, "gunicorn did not answer"
        assert headers.get_all("Server") == ["bookshelf"]
        assert "gunicorn" not in str(headers).lower()
    finally:
        server.stop()


# --- compose.yaml ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _code(file: Path) -> str:
    """The file without its comment lines."""
    lines = file.read_text().splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


def _command(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def test_compose_has_every_service(compose):
    assert {"db", "cache", "broker", "migrate", "web", "worker", "beat"} <= set(
        compose["services"]
    )
    assert compose["services"]["db"]["image"].startswith("postgres:17")


def test_compose_services_have_healthchecks(compose):
    for name, service in compose["services"].items():
        check = service.get("healthcheck", {})
        if name == "migrate":  # one-shot: its exit code is what others wait on
            continue
        assert check.get("test") and not check.get("disable"), name


def test_compose_cache_evicts_and_broker_never_does(compose):
    cache, broker = compose["services"]["cache"], compose["services"]["broker"]
    cache_cmd, broker_cmd = _command(cache), _command(broker)
    assert "allkeys-lru" in cache_cmd and "--maxmemory " in cache_cmd + " "
    assert "--appendonly no" in cache_cmd and "--save" in cache_cmd
    assert "noeviction" in broker_cmd and "--appendonly yes" in broker_cmd
    assert "noeviction" not in cache_cmd and "allkeys-lru" not in broker_cmd
    assert any("/data" in v for v in broker["volumes"])
    assert "volumes" not in cache


def test_compose_start_order_waits_for_health_and_migrations(compose):
    services = compose["services"]
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert all(
            d["condition"] in {"service_healthy", "service_completed_successfully"}
            for d in depends.values()
        ), name
    for name in ("web", "worker"):
        for dep in ("db", "cache", "broker"):
            assert services[name]["depends_on"][dep]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert "migrate" in _command(services["migrate"])
    assert "config/gunicorn.py" in _command(services["web"])
    assert "worker" in _command(services["worker"])
    assert "beat" in _command(services["beat"])


def test_compose_env_points_at_the_right_servers(compose):
    env = compose["services"]["web"]["environment"]
    assert "@db:5432/" in env["DATABASE_URL"]
    assert "//cache:6379" in env["REDIS_URL"]
    assert "//broker:6379" in env["CELERY_BROKER_URL"]
    for name in ("SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"):
        assert name in env
    worker_env = compose["services"]["worker"]["environment"]
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY"):
        assert worker_env[name] == env[name]
    assert any(
        "/var/lib/postgresql/data" in v for v in compose["services"]["db"]["volumes"]
    )


def test_compose_replica_streams_from_db_and_serves_web_and_worker_reads(compose):
    services = compose["services"]
    primary, replica = services["db"], services["db-replica"]
    assert replica["image"] == primary["image"]
    assert replica["environment"]["PRIMARY_HOST"] == "db"
    assert replica["depends_on"]["db"]["condition"] == "service_healthy"
    # A hot standby needs max_connections >= the primary's: the same setting.
    assert "max_connections=${POSTGRES_MAX_CONNECTIONS" in _command(replica)
    assert _command(replica).count("max_connections") == 1
    assert "pg_is_in_recovery()" in " ".join(replica["healthcheck"]["test"])
    volumes = {v.split(":")[1]: v.split(":")[0] for v in replica["volumes"]}
    assert volumes["/var/lib/postgresql/data"] == "pgreplica"  # its own data
    entrypoint = volumes["/usr/local/bin/replica-entrypoint.sh"]
    assert entrypoint.endswith("replica-entrypoint.sh")
    assert "/usr/local/bin/replica-entrypoint.sh" in replica["entrypoint"]
    assert "pgreplica" in compose["volumes"]
    init = [v for v in primary["volumes"] if "/docker-entrypoint-initdb.d/" in v]
    assert init and init[0].startswith("./config/postgres/primary-init.sh:")
    for name in ("web", "worker"):
        env = services[name]["environment"]
        assert "@db-replica:5432/" in env["DATABASE_REPLICA_URLS"], name
        assert "REPLICA_MAX_LAG_SECONDS" in env, name
        # The primary serves until the replica is ready: no start-up dependency.
        assert "db-replica" not in services[name]["depends_on"], name
    assert "DATABASE_REPLICA_URLS" not in services["migrate"].get("environment", {})


def test_replication_scripts_make_a_role_a_slot_and_a_streaming_copy():
    init = _code(ROOT / "config" / "postgres" / "primary-init.sh")
    assert "WITH REPLICATION LOGIN" in init
    assert "pg_create_physical_replication_slot" in init
    assert 'echo "host replication $POSTGRES_REPLICATION_USER' in init
    assert "pg_hba.conf" in init
    entry = _code(ROOT / "config" / "postgres" / "replica-entrypoint.sh")
    # Copy only into an empty data directory, as the postgres user, then hand over.
    assert 'if [ ! -s "$PGDATA/PG_VERSION" ]' in entry
    assert "gosu postgres" in entry and "pg_basebackup" in entry
    for flag in ("--write-recovery-conf", "--wal-method stream", "--slot"):
        assert flag in entry
    assert entry.rstrip().endswith('exec docker-entrypoint.sh "$@"')
    for script in ("primary-init.sh", "replica-entrypoint.sh"):
        path = ROOT / "config" / "postgres" / script
        assert path.read_text().startswith("#!/bin/sh\n")
        done = subprocess.run(["sh", "-n", str(path)], capture_output=True)
        assert done.returncode == 0, done.stderr


def test_compose_web_can_scale_out_on_a_port_range(compose):
    """`--scale web=3` needs a host port per container: WEB_PORT=8000-8002."""
    ports = compose["services"]["web"]["ports"]
    assert ports == ["${WEB_PORT:-8000}:8000"]
    assert "container_name" not in compose["services"]["web"]


def test_compose_works_without_a_dotenv_and_documents_every_variable():
    text = _code(ROOT / "compose.yaml")
    variables = re.findall(r"(?<!\$)\$\{([A-Za-z_]\w*)([^}]*)\}", text)
    assert variables
    for name, rest in variables:
        assert rest.startswith(":-") or rest.startswith("-"), (
            f"${{{name}}} has no default"
        )
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", example, re.M))
    missing = {name for name, _ in variables} - documented
    assert not missing, f"not in .env.example: {sorted(missing)}"


# --- Dockerfile and .dockerignore -----------------------------------------------------


def test_dockerfile_is_multi_stage_slim_and_non_root():
    text = _code(ROOT / "Dockerfile")
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\w+))?", text, re.M | re.I)
    assert len(stages) >= 2 and stages[0][1].lower() == "builder"
    assert all("slim" in image for image, _ in stages)
    assert "COPY --from=builder" in text
    assert "pip wheel" in text
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert "requirements-dev" not in text
    assert "-r requirements-dev" not in (ROOT / "requirements.txt").read_text()
    assert re.search(r"^HEALTHCHECK ", text, re.M)
    assert "collectstatic" in text
    assert "config/gunicorn.py" in text


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env", "db.sqlite3*", "requirements-dev.txt"} <= ignored


# --- The fault drill (PostgreSQL + Redis pass) ---------------------------------------


@pytest.mark.django_db
def test_fault_drill_passes():
    """Run tests/faults.py: its own PostgreSQL, Redis and gunicorn, five faults."""
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip(
            "the fault drill runs on the PostgreSQL + Redis pass only (it needs "
            "initdb and redis-server, and takes about two minutes)"
        )
    missing = faults.missing_tools()
    if missing:
        pytest.skip(f"fault drill needs {', '.join(missing)}")
    env = faults.child_environ(keep_pytest=False)
    result = subprocess.run(
        [sys.executable, "-m", "tests.faults"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    sys.stdout.write(result.stdout[-6000:] + result.stderr[-4000:])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
