"""Organisations prove themselves with a certificate and a signed one-time challenge."""

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from placecode.accounts.models import Role
from placecode.clock import clock
from placecode.config import Settings
from placecode.venues import certificates
from tests.conftest import PASSWORD, Persona, make_persona

TENCENT = "91440300708461136T"


@pytest.fixture
def certificate(settings: Settings, demo_ca: Path, tmp_path: Path) -> tuple[str, bytes]:
    issued = certificates.issue_org_certificate(
        settings, uscc=TENCENT, name="长风物业管理有限公司", out_dir=tmp_path
    )
    return issued.certificate_path.read_text(), issued.key_path.read_bytes()


def prove(client: TestClient, certificate: tuple[str, bytes]) -> dict[str, str]:
    pem, key = certificate
    challenge = client.post("/api/v1/certificates/challenges", json={"certificate_pem": pem})
    assert challenge.status_code == 201, challenge.text
    body = challenge.json()
    assert body["uscc"] == TENCENT
    return {
        "certificate_pem": pem,
        "challenge_id": body["challenge_id"],
        "signature": certificates.sign_challenge(key, body["challenge"]),
    }


def test_an_organisation_applies_with_its_certificate_and_registers_a_venue(
    client: TestClient, certificate: tuple[str, bytes]
) -> None:
    proof = prove(client, certificate)
    applied = client.post(
        "/api/v1/organisations/apply",
        json={
            **proof,
            "kind": "property_manager",
            "street_code": "changfengxincun",
            "username": "wuye",
            "password": PASSWORD,
        },
    )
    assert applied.status_code == 201, applied.text
    organisation = applied.json()["organisation"]
    assert organisation["uscc"] == TENCENT
    assert organisation["name"] == "长风物业管理有限公司"
    assert organisation["verified_at"] is not None
    token = client.post(
        "/api/v1/auth/token", json={"username": "wuye", "password": PASSWORD}
    ).json()
    auth = {"Authorization": f"Bearer {token['secret']}"}
    assert client.get("/api/v1/me", headers=auth).json()["scope"] == organisation["id"]
    venue = client.post(
        "/api/v1/venues",
        json={
            "name": "长风小区",
            "address": "长风路8号",
            "street": "changfengxincun",
            "category": "residential",
        },
        headers=auth,
    )
    assert venue.status_code == 201, venue.text


def test_a_challenge_works_once(client: TestClient, certificate: tuple[str, bytes]) -> None:
    proof = prove(client, certificate)
    first = client.post(
        "/api/v1/organisations/apply",
        json={**proof, "kind": "enterprise", "username": "first", "password": PASSWORD},
    )
    assert first.status_code == 201
    replayed = client.post(
        "/api/v1/organisations/apply",
        json={**proof, "kind": "enterprise", "username": "second", "password": PASSWORD},
    )
    assert replayed.status_code == 422
    assert replayed.json()["error"] == "challenge_replayed"


def test_a_challenge_expires(
    client: TestClient, certificate: tuple[str, bytes], settings: Settings
) -> None:
    proof = prove(client, certificate)
    clock.freeze(clock.now() + timedelta(minutes=settings.certificate_challenge_minutes, seconds=1))
    late = client.post(
        "/api/v1/organisations/apply",
        json={**proof, "kind": "enterprise", "username": "late", "password": PASSWORD},
    )
    assert late.json()["error"] == "challenge_expired"


def test_a_bad_signature_is_refused_and_creates_nothing(
    client: TestClient, certificate: tuple[str, bytes], district_admin: Persona
) -> None:
    proof = prove(client, certificate)
    proof["signature"] = certificates.sign_challenge(certificate[1], "something else")
    refused = client.post(
        "/api/v1/organisations/apply",
        json={**proof, "kind": "enterprise", "username": "forger", "password": PASSWORD},
    )
    assert refused.status_code == 422
    assert refused.json()["error"] == "signature_mismatch"
    assert client.get("/api/v1/users/forger", headers=district_admin.auth).status_code == 404


def test_a_recorded_organisation_is_verified_by_its_manager(
    client: TestClient,
    session: Session,
    settings: Settings,
    street_admin: Persona,
    certificate: tuple[str, bytes],
) -> None:
    recorded = client.post(
        "/api/v1/organisations",
        json={"name": "长风物业", "kind": "property_manager", "uscc": TENCENT},
        headers=street_admin.auth,
    )
    assert recorded.status_code == 201, recorded.text
    organisation = recorded.json()
    assert organisation["street_code"] == "changfengxincun"  # the street admin's own
    assert organisation["verified_at"] is None
    manager = make_persona(session, settings, "wuye2", Role.venue_manager, organisation["id"])
    verified = client.post(
        f"/api/v1/organisations/{organisation['id']}/verify",
        json=prove(client, certificate),
        headers=manager.auth,
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["verified_at"] is not None
    again = client.post(
        "/api/v1/organisations/apply",
        json={
            **prove(client, certificate),
            "kind": "enterprise",
            "username": "x2",
            "password": PASSWORD,
        },
    )
    assert again.status_code == 409


def test_a_certificate_of_another_organisation_does_not_verify(
    client: TestClient,
    session: Session,
    settings: Settings,
    district_admin: Persona,
    certificate: tuple[str, bytes],
) -> None:
    other = client.post(
        "/api/v1/organisations",
        json={"name": "别家公司", "kind": "enterprise", "uscc": "911100001000128855"},
        headers=district_admin.auth,
    ).json()
    manager = make_persona(session, settings, "other", Role.venue_manager, other["id"])
    refused = client.post(
        f"/api/v1/organisations/{other['id']}/verify",
        json=prove(client, certificate),
        headers=manager.auth,
    )
    assert refused.status_code == 422
    assert refused.json()["error"] == "certificate_wrong_uscc"


@pytest.mark.parametrize(
    ("uscc", "error"),
    [
        ("9144030070846113", "uscc_length"),
        ("91440300708461136I", "uscc_characters"),
        ("91440300708461136X", "uscc_check"),
    ],
)
def test_a_mistyped_credit_code_is_refused_with_its_reason(
    client: TestClient, district_admin: Persona, uscc: str, error: str
) -> None:
    response = client.post(
        "/api/v1/organisations",
        json={"name": "某公司", "kind": "enterprise", "uscc": uscc},
        headers=district_admin.auth,
    )
    assert response.status_code == 422
    assert response.json()["error"] == error


def test_a_self_signed_certificate_gets_no_challenge(client: TestClient, demo_ca: Path) -> None:
    from tests.venues.test_certificates import self_signed

    response = client.post(
        "/api/v1/certificates/challenges", json={"certificate_pem": self_signed(TENCENT)}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "certificate_self_signed"
