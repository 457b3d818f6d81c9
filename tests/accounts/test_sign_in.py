"""Sign-in, lock-out, API tokens and their audit trail."""

import statistics
import time
from collections.abc import Callable
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from placecode.accounts import service
from placecode.accounts.models import AuditEntry, Role
from placecode.clock import clock
from placecode.config import Settings
from placecode.venues.models import Venue
from tests.conftest import PASSWORD, Persona, make_persona


def token_request(client: TestClient, username: str, password: str) -> "object":
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_a_password_buys_a_token_that_works(client: TestClient, street_admin: Persona) -> None:
    issued = client.post(
        "/api/v1/auth/token", json={"username": "chang", "password": PASSWORD, "name": "laptop"}
    )
    assert issued.status_code == 201
    secret = issued.json()["secret"]
    assert secret.startswith("pct_")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json()["username"] == "chang"


def test_a_wrong_password_and_an_unknown_user_get_the_same_401(
    client: TestClient, street_admin: Persona
) -> None:
    wrong = client.post("/api/v1/auth/token", json={"username": "chang", "password": "nope-nope-1"})
    unknown = client.post(
        "/api/v1/auth/token", json={"username": "nobody", "password": "nope-nope-1"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "error": "bad_credentials",
            "message": "Wrong username or password.",
        }
    )


def test_a_wrong_password_and_an_unknown_user_take_about_the_same_time(
    make_settings: Callable[..., Settings], session: Session, app: FastAPI
) -> None:
    # With a realistic hash cost, skipping the hash for unknown users would show as a
    # tenfold difference; both paths verify one argon2 hash of the same cost.
    costly = make_settings(
        database_url=app.state.settings.database_url,
        argon2_time_cost=2,
        argon2_memory_kib=16_384,
        login_max_failures=1000,
    )
    make_persona(session, costly, "timed", Role.street_admin, "taopu")
    app.state.settings = costly
    with TestClient(app) as client:

        def median_ms(username: str) -> float:
            samples = []
            for _ in range(9):
                started = time.perf_counter()
                response = client.post(
                    "/api/v1/auth/token", json={"username": username, "password": "wrong-wrong-1"}
                )
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 401
            return statistics.median(samples)

        median_ms("timed")  # warm up
        known, unknown = median_ms("timed"), median_ms("nobody-at-all")
    assert 0.5 < known / unknown < 2.0, (known, unknown)


def test_repeated_failures_lock_the_account_for_a_while(
    client: TestClient, street_admin: Persona, settings: Settings
) -> None:
    for _ in range(settings.login_max_failures):
        assert token_request(client, "chang", "wrong-wrong-1").status_code == 401  # type: ignore[attr-defined]
    locked = client.post("/api/v1/auth/token", json={"username": "chang", "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.json()["error"] == "sign_in_locked"
    assert int(locked.headers["retry-after"]) > 60
    clock.freeze(clock.now() + timedelta(minutes=settings.login_lockout_minutes, seconds=1))
    opened = client.post("/api/v1/auth/token", json={"username": "chang", "password": PASSWORD})
    assert opened.status_code == 201


def test_unknown_usernames_lock_exactly_like_known_ones(
    client: TestClient, settings: Settings
) -> None:
    for _ in range(settings.login_max_failures):
        assert token_request(client, "ghost", "wrong-wrong-1").status_code == 401  # type: ignore[attr-defined]
    assert token_request(client, "ghost", "wrong-wrong-1").status_code == 429  # type: ignore[attr-defined]


def test_old_failures_are_forgotten(
    client: TestClient, street_admin: Persona, settings: Settings
) -> None:
    for _ in range(settings.login_max_failures - 1):
        token_request(client, "chang", "wrong-wrong-1")
    clock.freeze(clock.now() + timedelta(minutes=settings.login_lockout_minutes + 1))
    token_request(client, "chang", "wrong-wrong-1")
    ok = client.post("/api/v1/auth/token", json={"username": "chang", "password": PASSWORD})
    assert ok.status_code == 201


def test_a_revoked_token_stops_working_at_once(client: TestClient, registrar: Persona) -> None:
    created = client.post("/api/v1/me/tokens", json={"name": "script"}, headers=registrar.auth)
    assert created.status_code == 201
    token_id, secret = created.json()["token"]["id"], created.json()["secret"]
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    revoked = client.delete(f"/api/v1/me/tokens/{token_id}", headers=registrar.auth)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    refused = client.get("/api/v1/me", headers=bearer)
    assert refused.status_code == 401
    assert refused.json()["error"] == "bad_token"


def test_nobody_revokes_another_users_token(
    client: TestClient, registrar: Persona, street_admin: Persona
) -> None:
    created = client.post("/api/v1/me/tokens", json={"name": "mine"}, headers=registrar.auth)
    token_id = created.json()["token"]["id"]
    stolen = client.delete(f"/api/v1/me/tokens/{token_id}", headers=street_admin.auth)
    assert stolen.status_code == 404


def test_an_expired_token_is_refused(client: TestClient, registrar: Persona) -> None:
    created = client.post(
        "/api/v1/me/tokens", json={"name": "short", "days": 1}, headers=registrar.auth
    )
    bearer = {"Authorization": f"Bearer {created.json()['secret']}"}
    clock.freeze(clock.now() + timedelta(days=1, seconds=1))
    refused = client.get("/api/v1/me", headers=bearer)
    assert refused.status_code == 401
    assert refused.json()["error"] == "token_expired"


def test_a_disabled_account_loses_its_tokens(
    client: TestClient, district_admin: Persona, registrar: Persona
) -> None:
    assert (
        client.post("/api/v1/users/reggie/disable", headers=district_admin.auth).status_code == 200
    )
    refused = client.get("/api/v1/me", headers=registrar.auth)
    assert refused.status_code == 401
    assert refused.json()["error"] == "account_disabled"
    assert (
        client.post("/api/v1/users/reggie/enable", headers=district_admin.auth).status_code == 200
    )
    assert client.get("/api/v1/me", headers=registrar.auth).status_code == 200


def test_a_malformed_authorization_header_is_a_clear_401(client: TestClient) -> None:
    for header in ("Basic abc", "Bearer", "Bearer    ", "pct_abc"):
        response = client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json()["error"] == "bad_token"


def test_sign_ins_and_token_changes_are_audited(
    client: TestClient, session: Session, street_admin: Persona
) -> None:
    token_request(client, "chang", "wrong-wrong-1")
    issued = client.post("/api/v1/auth/token", json={"username": "chang", "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {issued.json()['secret']}"}
    client.delete(f"/api/v1/me/tokens/{issued.json()['token']['id']}", headers=bearer)
    recorded = session.scalars(
        select(AuditEntry).where(AuditEntry.target.in_(["chang", issued.json()["token"]["id"]]))
    ).all()
    trail = [(entry.action, entry.actor) for entry in recorded]
    assert ("sign_in.failed", "anonymous") in trail
    assert ("sign_in", "chang") in trail
    assert ("token.create", "chang") in trail
    assert ("token.revoke", "chang") in trail


def test_a_device_has_no_password_and_cannot_sign_in(
    client: TestClient, sentinel: Persona, zhennan_market: Venue
) -> None:
    response = client.post(
        "/api/v1/auth/token", json={"username": "gate-1", "password": "anything-at-all"}
    )
    assert response.status_code == 401
    assert sentinel.user.password_hash is None
    # ...but its device token works, within its venue scope.
    assert client.get("/api/v1/me", headers=sentinel.auth).json()["scope"] == zhennan_market.id


def test_a_hash_made_with_old_parameters_is_upgraded_at_sign_in(
    session: Session, settings: Settings, make_settings: Callable[..., Settings]
) -> None:
    make_persona(session, settings, "olduser", Role.street_admin, "taopu")
    stronger = make_settings(argon2_time_cost=2)
    user = service.sign_in(
        session=session, settings=stronger, username="olduser", password=PASSWORD
    )
    assert "t=2" in (user.password_hash or "")
