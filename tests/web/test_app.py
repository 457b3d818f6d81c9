"""The web app's common ground: health, metrics, security headers, error bodies, docs."""

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from placecode.accounts import authz
from placecode.accounts.models import ApiToken, Role
from placecode.config import Settings
from placecode.db import Database
from placecode.web.app import GC_THRESHOLDS, create_app
from placecode.web.middleware import CONTENT_SECURITY_POLICY
from tests.conftest import Databases, Persona, make_persona, prepare


def test_healthz_answers_when_the_database_does(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_says_503_when_the_database_is_gone(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(database_url="sqlite:////nonexistent-dir/placecode.db")
    app = create_app(settings, Database.connect(settings))
    with TestClient(app) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"


def test_a_started_app_collects_young_objects_less_often(
    make_settings: Callable[..., Settings],
) -> None:
    gc.set_threshold(700, 10, 10)
    settings = make_settings()
    with TestClient(create_app(settings, Database.connect(settings))):
        assert gc.get_threshold() == GC_THRESHOLDS != (700, 10, 10)


def test_metrics_count_requests_by_route_template(
    client: TestClient, street_admin: Persona
) -> None:
    client.get("/api/v1/region/streets/changfengxincun", headers=street_admin.auth)
    client.get("/api/v1/region/streets/taopu", headers=street_admin.auth)
    text = client.get("/metrics").text
    assert 'route="/api/v1/region/streets/{code}"' in text
    assert 'status="403"' in text and 'status="200"' in text
    assert "placecode_http_request_duration_seconds_bucket" in text
    assert "changfengxincun" not in text  # never the raw path


def test_pages_and_the_api_carry_security_headers(client: TestClient) -> None:
    for path in ("/login", "/api/v1/me", "/healthz"):
        headers = client.get(path).headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["strict-transport-security"].startswith("max-age=")
        assert len(headers["x-request-id"]) == 16
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY


def test_every_api_error_is_a_code_and_a_message(
    client: TestClient, district_admin: Persona
) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "not_found",
        "message": "There is nothing at /api/v1/nothing-here.",
    }
    wrong_method = client.put("/api/v1/me")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"
    invalid = client.post(
        "/api/v1/users", json={"username": 7, "role": "emperor"}, headers=district_admin.auth
    )
    assert invalid.status_code == 422
    body = invalid.json()
    assert body["error"] == "invalid_request"
    assert {f["field"] for f in body["details"]} >= {"username", "role"}
    assert "username" in body["message"]
    not_json = client.post(
        "/api/v1/users",
        content=b"{not json",
        headers={**district_admin.auth, "content-type": "application/json"},
    )
    assert not_json.status_code == 422
    assert not_json.json()["error"] == "invalid_request"


def test_a_missing_page_is_a_readable_page(client: TestClient) -> None:
    page = client.get("/no/such/page", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "未找到" in page.text


def test_the_openapi_document_describes_errors_as_problems(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "Problem" in schema["components"]["schemas"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    responses = schema["paths"]["/api/v1/users"]["post"]["responses"]
    assert responses["403"]["content"]["application/json"]["schema"]["$ref"].endswith("/Problem")
    assert responses["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/Problem")


def test_the_api_docs_are_served_without_any_cdn(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    for asset in (
        "/static/apidocs/swagger-ui-bundle.js",
        "/static/apidocs/swagger-ui.css",
        "/static/docs.js",
    ):
        assert asset in page.text
        assert client.get(asset).status_code == 200, asset


def test_a_nul_character_is_refused_not_crashed_on(
    client: TestClient, district_admin: Persona
) -> None:
    response = client.get("/api/v1/users/a%00b", headers=district_admin.auth)
    assert response.status_code in (404, 422)  # SQLite finds no such user; PostgreSQL refuses
    assert response.json()["error"] in ("not_found", "invalid_input")
    created = client.post(
        "/api/v1/users",
        json={
            "username": "nul",
            "role": "cdc_analyst",
            "display_name": "a\x00b",
            "password": "x" * 12,
        },
        headers=district_admin.auth,
    )
    assert created.status_code == 422
    assert created.json()["details"][0]["field"] == "display_name"


@contextmanager
def writers_committing(database: Database) -> Iterator[list[float]]:
    """Another writer committing all the time, as the check-in writer's batches would at a
    busy hour; the moments of its commits."""
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS other_writes (n INTEGER)"))
    stop, running = threading.Event(), threading.Event()
    commits: list[float] = []

    def other_writer() -> None:
        while not stop.is_set():
            with database.engine.begin() as connection:
                connection.execute(text("INSERT INTO other_writes VALUES (1)"))
            commits.append(time.monotonic())
            running.set()
            time.sleep(0.0005)

    writing = threading.Thread(target=other_writer)
    writing.start()
    try:
        assert running.wait(timeout=10)
        yield commits
    finally:
        stop.set()
        writing.join(timeout=10)


def test_a_staff_change_goes_through_while_other_writers_commit_all_the_time(
    databases: Databases, make_settings: Callable[..., Settings], authority: tuple[Path, Path]
) -> None:
    """Registering a venue reads, then writes. On SQLite, a transaction that began by
    reading is refused at once ("database is locked") if another writer committed in the
    meantime, and the check-in writer commits every few milliseconds at a busy hour: under
    scan load nearly every staff change failed with 503. Requests that may write now take
    the write lock first and wait their turn."""
    settings = make_settings(database_url=databases.new_url())
    database = Database.connect(settings)
    prepare(database.engine)
    with database.session() as session:
        admin = make_persona(session, settings, "busy-hour-admin", Role.district_admin)
    try:
        with (
            TestClient(create_app(settings, database), base_url="https://placecode.test") as client,
            writers_committing(database) as commits,
        ):
            started = time.monotonic()
            statuses: list[int] = []
            # At least 20, and on until the other writer has committed 5 times meanwhile
            # (on a loaded machine its thread can get fewer turns).
            while len(statuses) < 20 or (
                sum(started < at for at in commits) < 5 and len(statuses) < 200
            ):
                statuses.append(
                    client.post(
                        "/api/v1/venues",
                        json={
                            "name": f"繁忙时段店{len(statuses)}",
                            "address": "桃浦路1号",
                            "street": "taopu",
                            "category": "shop",
                            "operator_name": "繁忙时段店",
                        },
                        headers=admin.auth,
                    ).status_code
                )
            ended = time.monotonic()
        assert statuses == [201] * len(statuses)
    finally:
        database.dispose()
    # The other writer did keep committing while the requests ran.
    assert sum(started < at < ended for at in commits) >= 5


def test_reads_with_tokens_go_through_while_other_writers_commit_all_the_time(
    databases: Databases, make_settings: Callable[..., Settings], authority: tuple[Path, Path]
) -> None:
    """A token's first use (and one every few minutes after) is noted on its row. Noted in
    a GET's reading transaction, on SQLite that write was refused whenever another writer
    had committed since the read began: under scan load every such GET answered 503, and,
    the note never kept, so did every GET with that token after it."""
    settings = make_settings(database_url=databases.new_url())
    database = Database.connect(settings)
    prepare(database.engine)
    with database.session() as session:
        readers = [
            make_persona(session, settings, f"busy-hour-reader-{n}", Role.district_admin)
            for n in range(20)
        ]
    try:
        with (
            TestClient(create_app(settings, database), base_url="https://placecode.test") as client,
            writers_committing(database),
        ):
            statuses = [
                client.get("/api/v1/venues", headers=reader.auth).status_code for reader in readers
            ]
            again = client.get("/api/v1/venues", headers=readers[0].auth).status_code
        assert (statuses, again) == ([200] * 20, 200)
        with database.session() as session:
            noted = session.scalars(select(ApiToken.last_used_at)).all()
        assert len(noted) == 20 and None not in noted
    finally:
        database.dispose()


def test_a_failed_write_still_notes_its_tokens_use(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """A write request notes its token's use in its own transaction; a failure rolls that
    back, so the note is made again apart: the token was used all the same."""
    writer = make_persona(session, settings, "failing-writer", Role.district_admin)
    refused = client.post("/api/v1/venues", json={"name": ""}, headers=writer.auth)
    assert refused.status_code == 422, refused.text
    used = session.scalar(
        select(ApiToken.last_used_at)
        .where(ApiToken.user_id == writer.user.id)
        .execution_options(populate_existing=True)
    )
    assert used is not None


def test_a_failed_write_answers_its_own_error_when_the_note_apart_fails(
    client: TestClient,
    session: Session,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Should the note made apart fail too, the caller still gets the request's own error
    (a 422 they can act on), not a 500 about the note; the failure is logged."""
    writer = make_persona(session, settings, "unlucky-writer", Role.district_admin)

    def broken(*_args: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(authz, "note_use_apart", broken)
    with caplog.at_level(logging.ERROR, logger="placecode.web"):
        refused = client.post("/api/v1/venues", json={"name": ""}, headers=writer.auth)
    assert refused.status_code == 422, refused.text
    assert "name" in refused.text
    assert "could not be redone" in caplog.text
