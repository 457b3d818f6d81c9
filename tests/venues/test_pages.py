"""Venue pages through a plain HTTP client: forms, reports, actions, refusals."""

import re

from starlette.testclient import TestClient

from placecode.venues.models import Venue
from tests.accounts.test_pages import csrf_of, sign_in
from tests.conftest import Persona


def test_a_manager_registers_a_venue_with_the_form(
    client: TestClient, venue_manager: Persona
) -> None:
    sign_in(client, "vera")
    form = client.get("/venues/new")
    assert form.status_code == 200
    token = csrf_of(form.text)
    created = client.post(
        "/venues/new",
        data={
            "csrf_token": token,
            "name": "真南菜场西门",
            "address": "真南路822弄9号",
            "street": "zhenruzhen",
            "category": "wet_market",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    detail = client.get(created.headers["location"])
    assert "真南菜场西门" in detail.text
    assert "poster.pdf" in detail.text
    bad = client.post(
        "/venues/new",
        data={
            "csrf_token": token,
            "name": "远方",
            "address": "x路1号",
            "street": "zhenruzhen",
            "category": "shop",
            "lon": "99",
        },
    )
    assert bad.status_code == 422
    assert "经度 99.0 不在本区范围内" in bad.text
    assert 'value="远方"' in bad.text  # what was typed is kept


def test_the_import_page_shows_the_report(client: TestClient, district_admin: Persona) -> None:
    sign_in(client, "dora")
    token = csrf_of(client.get("/venues/import").text)
    content = (
        "name,address,street,category,lon,lat,operator_name\n"
        "甲店,甲路1号,taopu,shop,,,甲店\n"
        "乙店,乙路1号,nowhere,shop,,,乙店\n"
    ).encode("gb18030")
    page = client.post(
        "/venues/import", data={"csrf_token": token}, files={"file": ("v.csv", content)}
    )
    assert page.status_code == 200
    assert re.search(r'data-testid="accepted">1<', page.text)
    assert re.search(r'data-testid="rejected">1<', page.text)
    assert "未知街镇 &#39;nowhere&#39;" in page.text


def test_actions_on_the_detail_page(
    client: TestClient, venue_manager: Persona, zhennan_market: Venue
) -> None:
    sign_in(client, "vera")
    page = client.get(f"/venues/{zhennan_market.id}")
    token = csrf_of(page.text)
    client.post(f"/venues/{zhennan_market.id}/action/suspend", data={"csrf_token": token})
    assert "已暂停" in client.get(f"/venues/{zhennan_market.id}").text
    client.post(f"/venues/{zhennan_market.id}/action/reissue", data={"csrf_token": token})
    assert "v2" in client.get(f"/venues/{zhennan_market.id}").text
    nothing = client.post(
        f"/venues/{zhennan_market.id}/action/explode",
        data={"csrf_token": token},
        headers={"Accept": "text/html"},
    )
    assert nothing.status_code == 404


def test_a_registrar_sees_the_poster_but_cannot_manage(
    client: TestClient, registrar: Persona, zhennan_market: Venue
) -> None:
    sign_in(client, "reggie")
    page = client.get(f"/venues/{zhennan_market.id}")
    assert "poster.pdf" in page.text
    assert "/action/suspend" not in page.text
    token = csrf_of(page.text)
    refused = client.post(
        f"/venues/{zhennan_market.id}/action/suspend",
        data={"csrf_token": token},
        headers={"Accept": "text/html"},
    )
    assert refused.status_code == 403


def test_the_organisation_page_offers_verification_until_verified(
    client: TestClient, venue_manager: Persona
) -> None:
    sign_in(client, "vera")
    page = client.get("/organisation")
    assert "真南市场经营管理有限公司" in page.text
    assert "certificate-form" not in page.text  # already verified
    assert "posters.pdf" not in page.text  # no venues yet


def test_a_street_admin_records_an_organisation(client: TestClient, street_admin: Persona) -> None:
    sign_in(client, "chang")
    token = csrf_of(client.get("/organisations").text)
    bad = client.post(
        "/organisations",
        data={
            "csrf_token": token,
            "name": "长风物业",
            "kind": "property_manager",
            "uscc": "91440300708461136X",
        },
    )
    assert bad.status_code == 422
    assert "校验码不符" in bad.text
    good = client.post(
        "/organisations",
        data={
            "csrf_token": token,
            "name": "长风物业",
            "kind": "property_manager",
            "uscc": "91440300708461136T",
        },
    )
    assert good.status_code == 200
    assert "长风物业" in good.text


def test_the_code_page_refuses_clearly(client: TestClient) -> None:
    page = client.get("/s/not-a-code")
    assert page.status_code == 400
    assert "这不是场所码" in page.text
    assert "Traceback" not in page.text
    english = client.get("/s/not-a-code?lang=en")
    assert "This is not a venue code" in english.text


def test_the_apply_page_is_public(client: TestClient) -> None:
    page = client.get("/apply")
    assert page.status_code == 200
    assert "/static/certificates.js" in page.text
