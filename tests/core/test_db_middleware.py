"""core.db.middleware: read scopes, read-your-writes pins, a second try on the primary.

The middleware wraps a stand-in view that records the read scope it ran in; the pins
live in the real cache.
"""

import time

import pytest
from django.contrib.sessions.backends.cache import SessionStore
from django.core.cache import cache
from django.db import OperationalError
from django.http import HttpResponse, StreamingHttpResponse

from core.db import routing
from core.db.middleware import ReplicaMiddleware, credentials, pin_key
from core.db.replicas import monitor, replica_failed

TOKEN = "Token 0123456789abcdef"


class View:
    """Answers ``status`` (one per call, the last repeating) and records each scope."""

    def __init__(self, *statuses: int, fail_replica: bool = False) -> None:
        self.statuses = list(statuses) or [200]
        self.fail_replica = fail_replica
        self.scopes: list[routing.ReadScope] = []

    def __call__(self, request) -> HttpResponse:
        scope = routing.current()
        self.scopes.append(
            routing.ReadScope(scope.primary, scope.min_version, scope.alias)
        )
        if self.fail_replica and len(self.scopes) == 1:
            replica_failed("replica1", OperationalError("server closed the connection"))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return HttpResponse(status=status)


@pytest.fixture(autouse=True)
def replicas(settings):
    settings.REPLICA_DATABASES = ["replica1"]
    settings.REPLICA_MONITOR_SECONDS = 0  # no thread: these tests need none
    settings.REPLICA_PIN_SECONDS = 2.0
    yield
    monitor.reset()


def run(rf, view, method="get", **headers) -> HttpResponse:
    request = getattr(rf, method)("/api/books/1/", **headers)
    return ReplicaMiddleware(view)(request)


def test_safe_requests_may_read_from_a_replica_writes_may_not(rf):
    view = View()
    run(rf, view)
    run(rf, view, "patch", HTTP_AUTHORIZATION=TOKEN)
    run(rf, view, "options")
    assert [scope.primary for scope in view.scopes] == [False, True, True]
    assert routing.current() is None  # nothing leaks to the thread's next request


def test_after_a_write_its_client_reads_from_the_primary(rf):
    run(rf, View(200), "patch", HTTP_AUTHORIZATION=TOKEN)
    view = View()
    run(rf, view, HTTP_AUTHORIZATION=TOKEN)
    run(rf, view, HTTP_AUTHORIZATION="Token another-client")
    run(rf, view)
    assert [scope.primary for scope in view.scopes] == [True, False, False]


def test_the_pin_expires_after_its_window(rf, settings):
    settings.REPLICA_PIN_SECONDS = 0.2
    run(rf, View(201), "post", HTTP_AUTHORIZATION=TOKEN)
    time.sleep(0.3)
    view = View()
    run(rf, view, HTTP_AUTHORIZATION=TOKEN)
    assert view.scopes[0].primary is False


def test_a_refused_write_pins_nobody(rf):
    for status in (400, 403, 409):
        run(rf, View(status), "post", HTTP_AUTHORIZATION=TOKEN)
    assert cache.get(pin_key(f"authorization:{TOKEN}")) is None


def test_a_login_pins_the_session_key_the_client_carries_next(rf, settings):
    """Logging in replaces the session key: the new one is what comes back."""
    request = rf.post("/admin/login/")
    request.session = SessionStore()
    request.session.create()
    ReplicaMiddleware(View(302))(request)
    view = View()
    later = rf.get("/admin/")
    later.COOKIES[settings.SESSION_COOKIE_NAME] = request.session.session_key
    ReplicaMiddleware(view)(later)
    assert view.scopes[0].primary is True


def test_credentials_are_the_token_header_and_the_session_cookie(rf, settings):
    request = rf.get("/", HTTP_AUTHORIZATION=TOKEN)
    request.COOKIES[settings.SESSION_COOKIE_NAME] = "abc"
    assert credentials(request) == {f"authorization:{TOKEN}", "session:abc"}
    assert credentials(rf.get("/")) == set()
    assert TOKEN not in pin_key(f"authorization:{TOKEN}")  # never stored in clear


def test_a_replica_failing_under_a_read_is_answered_again_from_the_primary(rf):
    view = View(503, 200, fail_replica=True)
    response = run(rf, view)
    assert response.status_code == 200
    assert [scope.primary for scope in view.scopes] == [False, True]


def test_a_failing_write_is_never_run_twice(rf):
    view = View(503, fail_replica=True)
    response = run(rf, view, "post", HTTP_AUTHORIZATION=TOKEN)
    assert response.status_code == 503 and len(view.scopes) == 1


def test_a_5xx_without_a_replica_failure_is_not_retried(rf):
    view = View(503, 200)
    assert run(rf, view).status_code == 503 and len(view.scopes) == 1


def test_a_streamed_body_reads_inside_the_request_s_scope(rf):
    seen = []

    def rows():
        for row in (b"a", b"b"):
            seen.append(routing.current())
            yield row

    response = ReplicaMiddleware(lambda request: StreamingHttpResponse(rows()))(
        rf.get("/api/books/export.ndjson")
    )
    assert routing.current() is None  # the middleware has returned
    assert b"".join(response.streaming_content) == b"ab"
    assert len(seen) == 2 and seen[0] is seen[1] is not None
    assert routing.current() is None
