"""The four-party responsibility: every role reaches its scope and gets 403 outside it."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from placecode.accounts.models import Role
from placecode.accounts.principal import Principal, scope_clause
from placecode.region.models import Category, Street
from placecode.venues.models import Organisation, Venue
from tests.conftest import Persona

A, S, R, V, G, C, D = (
    Role.district_admin,
    Role.street_admin,
    Role.regulator,
    Role.venue_manager,
    Role.registrar,
    Role.cdc_analyst,
    Role.sentinel,
)
EVERYONE = {A, S, R, V, G, C, D}
STAFF = EVERYONE - {D}

# (path, roles that get 200); every other role gets 403 and nobody signed in gets 401.
MATRIX = [
    ("/api/v1/me", EVERYONE),
    ("/api/v1/me/tokens", STAFF),
    ("/api/v1/users", {A}),
    ("/api/v1/users/dora", {A}),
    ("/api/v1/audit", {A}),
    ("/api/v1/region", STAFF),
    ("/api/v1/region/streets", STAFF),
    ("/api/v1/region/streets/changfengxincun", {A, C, S}),  # S is the 长风新村 admin
    ("/api/v1/region/streets/taopu", {A, C}),
    ("/api/v1/region/departments", STAFF),
    ("/api/v1/region/departments/commerce", {A, C, R}),  # R regulates commerce
    ("/api/v1/region/departments/health", {A, C}),
    ("/api/v1/region/categories", STAFF),
]


@pytest.mark.parametrize(("path", "allowed"), MATRIX, ids=[p for p, _ in MATRIX])
def test_each_role_reaches_its_scope_and_nothing_else(
    client: TestClient, personas: dict[Role, Persona], path: str, allowed: set[Role]
) -> None:
    for role, persona in personas.items():
        response = client.get(path, headers=persona.auth)
        expected = 200 if role in allowed else 403
        assert response.status_code == expected, f"{role} on {path}: {response.text}"
        if expected == 403:
            body = response.json()
            assert body["error"] in ("role_not_allowed", "out_of_scope")
            assert body["message"]
    anonymous = client.get(path)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "not_signed_in"


def test_each_role_reaches_the_venues_of_its_scope(
    client: TestClient,
    personas: dict[Role, Persona],
    zhennan_market: Venue,
    changfeng_shop: Venue,
    market_operator: Organisation,
) -> None:
    matrix = [
        ("/api/v1/venues", STAFF),
        ("/api/v1/organisations", STAFF),
        # a wet market in 真如镇, run by the market operator, commerce's category
        (f"/api/v1/venues/{zhennan_market.id}", {A, C, R, V, G}),
        (f"/api/v1/venues/{zhennan_market.id}/history", {A, C, R, V, G}),
        (f"/api/v1/venues/{zhennan_market.id}/code", {A, V, G}),
        # a restaurant in 长风新村 registered on its behalf (market supervision's category)
        (f"/api/v1/venues/{changfeng_shop.id}", {A, C, S}),
        (f"/api/v1/venues/{changfeng_shop.id}/code", {A, S}),
        (f"/api/v1/organisations/{market_operator.id}", {A, C, V}),
    ]
    for path, allowed in matrix:
        for role, persona in personas.items():
            status = client.get(path, headers=persona.auth).status_code
            assert status == (200 if role in allowed else 403), f"{role} on {path}"
        assert client.get(path).status_code == 401


def test_street_admin_cannot_see_another_street(client: TestClient, street_admin: Persona) -> None:
    response = client.get("/api/v1/region/streets/taopu", headers=street_admin.auth)
    assert response.status_code == 403
    assert response.json()["error"] == "out_of_scope"
    own = client.get("/api/v1/region/streets/changfengxincun", headers=street_admin.auth)
    assert own.json()["name_zh"] == "长风新村街道"


def test_me_says_who_is_signed_in_and_their_scope(client: TestClient, regulator: Persona) -> None:
    me = client.get("/api/v1/me", headers=regulator.auth).json()
    assert me == {
        "username": "shang",
        "display_name": "Shang",
        "role": "regulator",
        "scope_kind": "department",
        "scope": "commerce",
        "signed_in_via": "token",
    }


def principal(role: Role, scope: str | None) -> Principal:
    return Principal(user_id=1, username="x", display_name="x", role=role, scope=scope, via="token")


def test_one_scope_clause_narrows_every_listing(session: Session) -> None:
    streets = select(Street.code)
    assert (
        len(
            session.scalars(
                streets.where(scope_clause(principal(A, None), street=Street.code))
            ).all()
        )
        == 10
    )
    assert session.scalars(
        streets.where(scope_clause(principal(S, "changfengxincun"), street=Street.code))
    ).all() == ["changfengxincun"]
    # A listing without a department column shows a regulator nothing.
    assert (
        session.scalars(
            streets.where(scope_clause(principal(R, "commerce"), street=Street.code))
        ).all()
        == []
    )
    categories = session.scalars(
        select(Category.code).where(
            scope_clause(principal(R, "commerce"), department=Category.department_code)
        )
    ).all()
    assert "wet_market" in categories and "large_supermarket" in categories
    assert "hospital" not in categories


@pytest.mark.parametrize(
    ("role", "scope", "attributes", "covered"),
    [
        (A, None, {"street": "taopu"}, True),
        (C, None, {"venue": "v1"}, True),
        (S, "taopu", {"street": "taopu", "department": "commerce"}, True),
        (S, "taopu", {"street": "wanli"}, False),
        (R, "commerce", {"street": "taopu", "department": "commerce"}, True),
        (R, "commerce", {"department": "health"}, False),
        (V, "org-1", {"organisation": "org-1"}, True),
        (V, "org-1", {"organisation": "org-2"}, False),
        (G, "v1", {"venue": "v1"}, True),
        (G, "v1", {"street": "taopu"}, False),
        (D, "v1", {"venue": "v2"}, False),
    ],
)
def test_covers_reads_the_attribute_of_the_roles_scope(
    role: Role, scope: str | None, attributes: dict[str, str], covered: bool
) -> None:
    assert principal(role, scope).covers(**attributes) is covered
