"""Who registers a venue, on whose behalf, and what the register keeps."""

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from placecode.accounts.models import Role
from placecode.config import Settings
from placecode.venues.models import Organisation, OrganisationKind, Venue
from tests.conftest import Persona, make_organisation, make_persona

SHOP = {
    "name": "阿婆馄饨",
    "address": "真南路100号",
    "street": "zhenruzhen",
    "category": "restaurant",
}


def test_a_verified_organisation_registers_its_venue(
    client: TestClient, venue_manager: Persona, market_operator: Organisation
) -> None:
    response = client.post(
        "/api/v1/venues",
        json={
            "name": "真南菜场二号门",
            "address": "真南路822弄2号",
            "street": "真如镇街道",
            "category": "标准化菜场",
        },
        headers=venue_manager.auth,
    )
    assert response.status_code == 201, response.text
    venue = response.json()
    assert venue["organisation_id"] == market_operator.id
    assert venue["delegated"] is False
    assert venue["street_code"] == "zhenruzhen"  # the Chinese name was understood
    assert venue["effective_entry_policy"] == "green_nat48"  # from the category
    assert venue["entry_policy"] is None
    assert venue["status"] == "active" and venue["code_version"] == 1
    assert len(venue["id"]) == 10 and venue["id"].isalnum()
    assert 121.34 <= venue["lon"] <= 121.48  # the street's centroid by default


def test_a_market_registers_a_shop_on_its_behalf(
    client: TestClient, venue_manager: Persona, market_operator: Organisation
) -> None:
    response = client.post(
        "/api/v1/venues",
        json={
            **SHOP,
            "operator_name": "阿婆馄饨店",
            "operator_uscc": "92310107MA1G00001X"[:17] + "X",
        },
        headers=venue_manager.auth,
    )
    # (that credit code is made up and fails its check character)
    assert response.status_code == 422
    assert response.json()["error"] == "uscc_check"
    response = client.post(
        "/api/v1/venues",
        json={**SHOP, "operator_name": "阿婆馄饨店", "operator_uscc": "91440300708461136T"},
        headers=venue_manager.auth,
    )
    assert response.status_code == 201, response.text
    venue = response.json()
    assert venue["delegated"] is True
    assert venue["operator_name"] == "阿婆馄饨店"
    assert venue["vouched_by"] == market_operator.id
    assert venue["organisation_id"] == market_operator.id


def test_an_ordinary_enterprise_cannot_vouch_for_shops(
    client: TestClient, session: Session, settings: Settings
) -> None:
    firm = make_organisation(
        session, "某科技公司", OrganisationKind.enterprise, "911100001000128855"
    )
    manager = make_persona(session, settings, "firm", Role.venue_manager, firm.id)
    response = client.post(
        "/api/v1/venues", json={**SHOP, "operator_name": "别人的店"}, headers=manager.auth
    )
    assert response.status_code == 422
    assert response.json()["error"] == "not_a_managing_organisation"


def test_an_unverified_organisation_registers_nothing(
    client: TestClient, session: Session, settings: Settings
) -> None:
    firm = make_organisation(
        session, "未验证公司", OrganisationKind.enterprise, "911100001000128855", verified=False
    )
    manager = make_persona(session, settings, "unverified", Role.venue_manager, firm.id)
    response = client.post("/api/v1/venues", json=SHOP, headers=manager.auth)
    assert response.status_code == 403
    assert response.json()["error"] == "organisation_unverified"


def test_a_street_admin_registers_a_shop_of_their_street(
    client: TestClient, street_admin: Persona
) -> None:
    shop = {
        **SHOP,
        "street": "changfengxincun",
        "address": "长风路1号",
        "operator_name": "长风面馆",
    }
    response = client.post("/api/v1/venues", json=shop, headers=street_admin.auth)
    assert response.status_code == 201, response.text
    assert response.json()["delegated"] is True
    assert response.json()["vouched_by"] == "user:chang"
    elsewhere = client.post(
        "/api/v1/venues",
        json={**shop, "street": "taopu", "address": "桃浦路1号"},
        headers=street_admin.auth,
    )
    assert elsewhere.status_code == 422
    assert elsewhere.json()["details"]["field"] == "street"
    nameless = client.post(
        "/api/v1/venues",
        json={**SHOP, "street": "changfengxincun", "address": "长风路2号"},
        headers=street_admin.auth,
    )
    assert nameless.json()["error"] == "operator_required"


@pytest.mark.parametrize("role", [Role.regulator, Role.registrar, Role.cdc_analyst, Role.sentinel])
def test_other_roles_register_nothing(
    client: TestClient, personas: dict[Role, Persona], role: Role
) -> None:
    response = client.post("/api/v1/venues", json=SHOP, headers=personas[role].auth)
    assert response.status_code == 403


def test_the_same_place_is_registered_once(client: TestClient, district_admin: Persona) -> None:
    first = client.post(
        "/api/v1/venues", json={**SHOP, "operator_name": "阿婆"}, headers=district_admin.auth
    )
    assert first.status_code == 201
    again = client.post(
        "/api/v1/venues",
        json={**SHOP, "name": " 阿婆 馄饨 ", "address": "真南路 100 号", "operator_name": "阿婆"},
        headers=district_admin.auth,
    )
    assert again.status_code == 409
    assert again.json()["details"]["venue_id"] == first.json()["id"]


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"lon": 120.0}, "invalid_input", "lon"),
        ({"lat": 31.5}, "invalid_input", "lat"),
        ({"category": "casino"}, "invalid_input", "category"),
        ({"street": "atlantis"}, "invalid_input", "street"),
    ],
)
def test_bad_fields_are_named(
    client: TestClient, district_admin: Persona, change: dict[str, object], error: str, field: str
) -> None:
    response = client.post(
        "/api/v1/venues", json={**SHOP, "operator_name": "x", **change}, headers=district_admin.auth
    )
    assert response.status_code == 422
    assert response.json()["error"] == error
    assert response.json()["details"]["field"] == field


def test_listings_respect_every_scope(
    client: TestClient,
    personas: dict[Role, Persona],
    zhennan_market: Venue,
    changfeng_shop: Venue,
) -> None:
    def ids(role: Role, query: str = "") -> set[str]:
        response = client.get(f"/api/v1/venues?limit=500{query}", headers=personas[role].auth)
        assert response.status_code == 200
        return {item["id"] for item in response.json()["items"]}

    both = {zhennan_market.id, changfeng_shop.id}
    assert ids(Role.district_admin) >= both
    assert ids(Role.cdc_analyst) >= both
    assert changfeng_shop.id in ids(Role.street_admin)  # 长风新村
    assert zhennan_market.id not in ids(Role.street_admin)
    assert zhennan_market.id in ids(Role.regulator)  # a wet market: commerce
    assert changfeng_shop.id not in ids(Role.regulator)  # a restaurant: market supervision
    assert ids(Role.venue_manager) == {zhennan_market.id}
    assert ids(Role.registrar) == {zhennan_market.id}
    assert ids(Role.district_admin, "&q=真南") == {zhennan_market.id}
    assert ids(Role.district_admin, "&category=restaurant") >= {changfeng_shop.id}
    assert zhennan_market.id not in ids(Role.district_admin, "&category=restaurant")


def test_one_venue_outside_scope_is_403(
    client: TestClient, street_admin: Persona, zhennan_market: Venue, changfeng_shop: Venue
) -> None:
    assert (
        client.get(f"/api/v1/venues/{changfeng_shop.id}", headers=street_admin.auth).status_code
        == 200
    )
    outside = client.get(f"/api/v1/venues/{zhennan_market.id}", headers=street_admin.auth)
    assert outside.status_code == 403
    assert client.get("/api/v1/venues/nosuchvenue", headers=street_admin.auth).status_code == 404


def test_the_lifecycle_and_its_history(
    client: TestClient, venue_manager: Persona, zhennan_market: Venue
) -> None:
    path = f"/api/v1/venues/{zhennan_market.id}"
    auth = venue_manager.auth
    assert (
        client.post(f"{path}/suspend", json={"reason": "整改"}, headers=auth).json()["status"]
        == "suspended"
    )
    assert client.post(f"{path}/suspend", headers=auth).status_code == 409
    assert client.post(f"{path}/resume", headers=auth).json()["status"] == "active"
    assert client.post(f"{path}/reissue", headers=auth).json()["code_version"] == 2
    assert client.post(f"{path}/revoke", headers=auth).json()["status"] == "revoked"
    final = client.post(f"{path}/resume", headers=auth)
    assert final.status_code == 409
    assert final.json()["error"] == "bad_transition"
    assert client.post(f"{path}/reissue", headers=auth).status_code == 409
    actions = [event["action"] for event in client.get(f"{path}/history", headers=auth).json()]
    assert actions == ["suspend", "resume", "code_reissued", "revoke"]
    assert client.get(f"{path}/poster.pdf", headers=auth).status_code == 422


def test_a_regulator_reads_but_does_not_manage(
    client: TestClient, regulator: Persona, zhennan_market: Venue
) -> None:
    assert (
        client.get(f"/api/v1/venues/{zhennan_market.id}", headers=regulator.auth).status_code == 200
    )
    assert (
        client.post(
            f"/api/v1/venues/{zhennan_market.id}/suspend", headers=regulator.auth
        ).status_code
        == 403
    )


def test_corrections_keep_the_code_and_check_the_fields(
    client: TestClient, venue_manager: Persona, zhennan_market: Venue
) -> None:
    path = f"/api/v1/venues/{zhennan_market.id}"
    changed = client.patch(
        path, json={"capacity": 800, "entry_policy": "green_nat72"}, headers=venue_manager.auth
    )
    assert changed.status_code == 200
    assert changed.json()["effective_entry_policy"] == "green_nat72"
    assert changed.json()["code_version"] == 1
    assert client.patch(path, json={"lon": 100.0}, headers=venue_manager.auth).status_code == 422
    assert client.patch(path, json={"name": None}, headers=venue_manager.auth).status_code == 422
    reset = client.patch(path, json={"entry_policy": None}, headers=venue_manager.auth)
    assert reset.json()["effective_entry_policy"] == "green_nat48"


def test_a_shop_takes_over_its_venue_once_verified(
    client: TestClient,
    session: Session,
    settings: Settings,
    venue_manager: Persona,
    market_operator: Organisation,
) -> None:
    registered = client.post(
        "/api/v1/venues",
        json={**SHOP, "operator_name": "阿婆馄饨店"},
        headers=venue_manager.auth,
    ).json()
    shop = make_organisation(
        session, "阿婆馄饨店", OrganisationKind.individual_business, "91440300708461136T"
    )
    owner = make_persona(session, settings, "apo", Role.venue_manager, shop.id)
    path = f"/api/v1/venues/{registered['id']}"
    missing = client.post(f"{path}/takeover", headers=owner.auth)
    assert missing.status_code == 409
    assert missing.json()["error"] == "operator_uscc_missing"
    client.patch(path, json={"operator_uscc": "91440300708461136T"}, headers=venue_manager.auth)
    stranger_org = make_organisation(
        session, "别家", OrganisationKind.individual_business, "911100001000128855"
    )
    stranger = make_persona(session, settings, "stranger", Role.venue_manager, stranger_org.id)
    assert client.post(f"{path}/takeover", headers=stranger.auth).status_code == 403
    taken = client.post(f"{path}/takeover", headers=owner.auth)
    assert taken.status_code == 200, taken.text
    assert taken.json()["organisation_id"] == shop.id
    assert taken.json()["delegated"] is False
    history = client.get(f"{path}/history", headers=owner.auth).json()
    assert history[-1]["action"] == "taken_over"
    assert history[-1]["detail"]["previous"]["organisation_id"] == market_operator.id
    # The market no longer manages it.
    assert client.get(path, headers=venue_manager.auth).status_code == 403
