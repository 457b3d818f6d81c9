"""The foot-traffic pages: the dashboard in each role's scope, in Chinese or English, each
table as CSV; a venue's hours; coverage; who may not see them."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from placecode.analytics import service as analytics
from placecode.clock import clock
from placecode.config import Settings
from placecode.demo.district import DistrictPlan
from placecode.region.models import Category
from placecode.venues.models import Venue
from tests.accounts.test_pages import sign_in
from tests.conftest import Persona

DAY = {"day": "2022-03-18"}


def rows(client: TestClient, url: str, **params: str) -> list[dict[str, str]]:
    answer = client.get(url, params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))


def test_the_district_dashboard_shows_today_and_exports_each_table(
    client: TestClient,
    settings: Settings,
    district: DistrictPlan,
    district_admin: Persona,
) -> None:
    clock.freeze(datetime(2022, 3, 19, 9, 30, tzinfo=settings.zone))
    sign_in(client, "dora")
    page = client.get("/analytics", params=DAY)
    assert page.status_code == 200
    api = client.get("/api/v1/analytics/overview", params=DAY).json()
    assert f'data-testid="counter">{api["scans"]:,}<' in page.text
    for chart in ("hours", "trend", "streets", "categories"):
        assert f'id="chart-{chart}"' in page.text
    assert '<script src="/static/plotly/plotly.min.js">' in page.text
    assert '<tr data-code="changfengxincun"><td>长风新村街道</td>' in page.text  # Chinese first
    assert "真南农副产品综合市场" in page.text
    english = client.get("/analytics", params={**DAY, "lang": "en"})
    assert '<tr data-code="changfengxincun"><td>Changfeng Xincun Subdistrict</td>' in english.text
    assert '<tr data-code="wet_market"><td>Standard wet market</td>' in english.text
    assert "Busiest venues" in english.text
    # Each table as CSV, the same figures as the API.
    streets = rows(client, "/analytics/export/streets.csv", **DAY)
    assert {r["code"]: int(r["scans"]) for r in streets} == {
        s["code"]: s["scans"] for s in api["streets"]
    }
    hours = rows(client, "/analytics/export/hours.csv", **DAY)
    assert [int(r["scans"]) for r in hours] == api["hourly"]
    trend = rows(client, "/analytics/export/trend.csv", **DAY)
    assert len(trend) == len(api["trend"]) == 15 and int(trend[-1]["scans"]) == api["scans"]
    venues = rows(client, "/analytics/export/venues.csv", **DAY)
    assert venues[0]["venue_name"] == "真南农副产品综合市场"
    assert rows(client, "/analytics/export/categories.csv", **DAY)
    assert client.get("/analytics/export/nonsense.csv").status_code == 422
    assert client.get("/analytics", params={"day": "0001-01-01"}).status_code == 422
    # The plotly.js the page loads is served from the wheel.
    script = client.get("/static/plotly/plotly.min.js")
    assert script.status_code == 200 and b"plotly.js" in script.content[:2000]


def test_a_street_admin_sees_only_their_street_and_a_regulator_only_their_categories(
    client: TestClient,
    session: Session,
    settings: Settings,
    district: DistrictPlan,
    street_admin: Persona,
    regulator: Persona,
) -> None:
    clock.freeze(datetime(2022, 3, 19, 9, 30, tzinfo=settings.zone))
    elsewhere = set(
        session.scalars(select(Venue.name).where(Venue.street_code != "changfengxincun"))
    )
    sign_in(client, "chang")
    page = client.get("/analytics", params=DAY).text
    assert 'data-code="changfengxincun"' in page and 'data-code="zhenruzhen"' not in page
    assert not [name for name in elsewhere if f">{name}</a>" in page]
    assert {r["street"] for r in rows(client, "/analytics/export/venues.csv", **DAY)} == {
        "changfengxincun"
    }
    assert {r["street"] for r in rows(client, "/analytics/export/silent.csv")} <= {
        "changfengxincun"
    }
    key_places = rows(client, "/analytics/export/key_places.csv")
    assert {r["category"] for r in key_places} == {"large_supermarket", "wet_market"}
    per_venue = rows(client, "/analytics/export/per_venue.csv")
    assert sum(int(r["venues"]) for r in per_venue) == sum(
        int(r["live_venues"]) for r in rows(client, "/analytics/export/coverage.csv")
    )
    coverage = client.get("/analytics/coverage").text
    assert (
        'data-street="changfengxincun"' in coverage and 'data-street="zhenruzhen"' not in coverage
    )
    assert "<td>长风新村街道</td>" in coverage and "<th>标准化菜场</th>" in coverage  # by name
    assert client.get(f"/analytics/venues/{district.zhennan.id}").status_code == 404
    client.post("/logout", data={"csrf_token": ""})
    client.cookies.clear()
    sign_in(client, "shang")
    theirs = set(
        session.scalars(select(Category.code).where(Category.department_code == "commerce"))
    )
    categories = rows(client, "/analytics/export/categories.csv", **DAY)
    assert categories and {r["code"] for r in categories} <= theirs
    assert {r["category"] for r in rows(client, "/analytics/export/venues.csv", **DAY)} <= theirs
    detail = client.get(f"/venues/{district.zhennan.id}").text
    assert f'href="/analytics/venues/{district.zhennan.id}" data-testid="venue-traffic"' in detail
    venue = client.get(f"/analytics/venues/{district.zhennan.id}", params=DAY)
    assert venue.status_code == 200 and 'id="chart-venue"' in venue.text
    hours = rows(client, f"/analytics/venues/{district.zhennan.id}/hours.csv", **DAY)
    assert len(hours) == 24 and sum(int(r["scans"]) for r in hours) > 0


def test_venue_managers_and_registrars_have_no_dashboard(
    client: TestClient, venue_manager: Persona, registrar: Persona
) -> None:
    sign_in(client, "vera")
    assert client.get("/analytics").status_code == 403
    assert client.get("/analytics/alerts").status_code == 200  # their own venues' alerts


def test_the_open_alerts_on_the_dashboard_and_the_inbox_as_csv(
    client: TestClient,
    session: Session,
    settings: Settings,
    district: DistrictPlan,
    regulator: Persona,
) -> None:
    clock.freeze(datetime(2022, 3, 19, 9, 30, tzinfo=settings.zone))
    rules = settings.model_copy(update={"surge_min_count": 25})
    analytics.detect(session=session, settings=rules, day=date(2022, 3, 18), hour=12)
    sign_in(client, "shang")
    page = client.get("/analytics").text
    table = page.split('data-testid="table-alerts"')[1].split("</table>")[0]
    assert "真南农副产品综合市场" in table and "2022-03-18" in table
    found = rows(client, "/analytics/alerts.csv", status="open")
    (market,) = [r for r in found if r["venue_id"] == district.zhennan.id]
    assert (market["kind"], market["raised_hour"], market["department_code"]) == (
        "surge",
        "12",
        "commerce",
    )
    assert rows(client, "/analytics/alerts.csv", status="resolved") == []
    # The dashboard's count is the inbox's open alerts; acknowledged, one goes from it.
    url = "/api/v1/analytics/overview"
    assert client.get(url).json()["open_alerts"] == len(found)
    seen = client.post(
        f"/api/v1/analytics/alerts/{market['id']}/acknowledge",
        json={"note": "on it"},
        headers=regulator.auth,
    )
    assert seen.status_code == 200, seen.text
    assert client.get(url).json()["open_alerts"] == len(found) - 1
