"""The foot-traffic API and inbox page: each role sees its own alerts, answers them, reads
a day's summary in its scope; detection on demand for the district; the CLI."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from placecode.accounts.models import Role
from placecode.analytics import service as analytics
from placecode.analytics import tasks
from placecode.analytics.models import Alert, RolledUpDay, VenueDailyCount
from placecode.checkins.models import VenueHourlyCount
from placecode.clock import clock
from placecode.config import Settings
from placecode.demo.district import DistrictPlan
from placecode.region.models import Category
from tests.accounts.test_pages import csrf_of, sign_in
from tests.conftest import Persona, make_persona, make_venue

SURGE_DAY = date(2022, 3, 18)


def test_each_role_reads_and_answers_its_own_alerts(
    client: TestClient,
    session: Session,
    settings: Settings,
    rules: Settings,
    district: DistrictPlan,
    district_admin: Persona,
    regulator: Persona,
    street_admin: Persona,
) -> None:
    analytics.detect(session=session, settings=rules, day=SURGE_DAY, hour=12)
    zhenru = make_persona(session, settings, "zhenru-admin", Role.street_admin, "zhenruzhen")
    url = "/api/v1/analytics/alerts"
    mine = client.get(url, headers=regulator.auth).json()
    (alert,) = [a for a in mine if a["venue_id"] == district.zhennan.id]
    assert alert["venue_name"] == "真南农副产品综合市场"
    assert (alert["department_code"], alert["street_code"], alert["raised_hour"]) == (
        "commerce",
        "zhenruzhen",
        12,
    )
    assert alert["count"] >= 2 * alert["baseline"] and alert["z"] >= 3.5
    assert district.zhennan.id in {
        a["venue_id"] for a in client.get(url, headers=zhenru.auth).json()
    }
    assert district.zhennan.id not in {
        a["venue_id"] for a in client.get(url, headers=street_admin.auth).json()
    }
    assert client.get(url, params={"status": "nonsense"}, headers=regulator.auth).status_code == 422
    # The other street cannot answer it (it is not theirs to see).
    other = client.post(
        f"{url}/{alert['id']}/acknowledge", json={"note": "x"}, headers=street_admin.auth
    )
    assert other.status_code == 404
    seen = client.post(
        f"{url}/{alert['id']}/acknowledge", json={"note": "Sent staff"}, headers=regulator.auth
    )
    assert seen.json()["status"] == "acknowledged"
    empty = client.post(f"{url}/{alert['id']}/resolve", json={"note": ""}, headers=zhenru.auth)
    assert empty.status_code == 422
    done = client.post(
        f"{url}/{alert['id']}/resolve",
        json={"note": "Queue managed; market reopened normally"},
        headers=zhenru.auth,
    )
    assert (done.json()["status"], done.json()["resolved_by"]) == ("resolved", "zhenru-admin")
    # Detection on demand is for the district admin only, and never repeats an alert.
    again = client.post(
        "/api/v1/analytics/detect",
        json={"day": "2022-03-18", "hour": 12},
        headers=district_admin.auth,
    )
    assert again.status_code == 200 and again.json()["raised"] == []
    refused = client.post(
        "/api/v1/analytics/detect", json={"day": "2022-03-18"}, headers=regulator.auth
    )
    assert refused.status_code == 403
    bad = client.post(
        "/api/v1/analytics/detect",
        json={"day": "2022-03-18", "hour": 0},
        headers=district_admin.auth,
    )
    assert bad.status_code == 422


def test_a_days_overview_stays_in_scope_and_reads_the_same_once_rolled_up(
    client: TestClient,
    session: Session,
    settings: Settings,
    district: DistrictPlan,
    district_admin: Persona,
    regulator: Persona,
    street_admin: Persona,
    venue_manager: Persona,
) -> None:
    clock.freeze(datetime(2022, 3, 19, 9, 30, tzinfo=settings.zone))
    url, day = "/api/v1/analytics/overview", {"day": "2022-03-18"}
    whole = client.get(url, params=day, headers=district_admin.auth).json()
    assert whole["scans"] > whole["usual_so_far"] > 0 and whole["hours"] == 24
    assert whole["scans"] == sum(whole["hourly"]) == whole["trend"][-1]["scans"]
    # From the first day with scans (4 March): the days before it are not zeros.
    assert whole["trend"][0]["day"] == "2022-03-04" and len(whole["trend"]) == 15
    assert whole["top_venues"][0]["venue_name"] == "真南农副产品综合市场"
    assert sum(s["scans"] for s in whole["streets"]) == whole["scans"]
    assert sum(c["scans"] for c in whole["categories"]) == whole["scans"]
    street = client.get(url, params=day, headers=street_admin.auth).json()
    assert {s["code"] for s in street["streets"]} == {"changfengxincun"}
    assert street["streets"][0]["name_zh"] == "长风新村街道"
    assert {v["street_code"] for v in street["top_venues"]} == {"changfengxincun"}
    assert 0 < street["scans"] < whole["scans"]
    commerce = client.get(url, params=day, headers=regulator.auth).json()
    theirs = set(
        session.scalars(select(Category.code).where(Category.department_code == "commerce"))
    )
    assert {c["code"] for c in commerce["categories"]} <= theirs
    assert "wet_market" in {c["code"] for c in commerce["categories"]}
    assert {v["category_code"] for v in commerce["top_venues"]} <= theirs
    # Rolled up (as the hourly job does, today's finished hours too), every figure is the same.
    rolled = analytics.pending_days(session=session, settings=settings)
    for pending in rolled:
        analytics.roll_up(session=session, settings=settings, day=pending)
    assert rolled[0] == date(2022, 3, 4) and rolled[-1] == date(2022, 3, 19)
    for who, before in ((district_admin, whole), (street_admin, street), (regulator, commerce)):
        assert client.get(url, params=day, headers=who.auth).json() == before
    # Today so far: what the counter shows is the hours since midnight, against usual by now.
    now = client.get(url, headers=district_admin.auth).json()
    assert now["day"] == "2022-03-19" and now["hours"] == 9.5 and now["scans"] == 0
    assert 0 < now["usual_so_far"] < now["usual_day"]
    # The dashboard is for the district, streets and departments.
    assert client.get(url, headers=district_admin.auth).status_code == 200
    assert client.get(url, headers=venue_manager.auth).status_code == 403


def test_a_venues_hours_against_its_usual_band(
    client: TestClient,
    session: Session,
    settings: Settings,
    rules: Settings,
    district: DistrictPlan,
    regulator: Persona,
    street_admin: Persona,
) -> None:
    clock.freeze(datetime(2022, 3, 19, 9, 30, tzinfo=settings.zone))
    analytics.detect(session=session, settings=rules, day=SURGE_DAY, hour=12)
    url = f"/api/v1/analytics/venues/{district.zhennan.id}"
    found = client.get(url, params={"day": "2022-03-18"}, headers=regulator.auth).json()
    assert found["venue_name"] == "真南农副产品综合市场" and found["basis"] == "recent_days"
    assert found["scans"] == sum(found["hourly"]) > 2 * found["usual_so_far"]
    assert all(
        lo <= mid <= hi
        for lo, mid, hi in zip(found["low"], found["usual_hourly"], found["high"], strict=True)
    )
    assert max(found["hourly"]) > max(found["high"])  # the surge leaves the band
    assert [a["kind"] for a in found["alerts"]] == ["surge"]
    # Another street's admin does not see the market at all.
    assert client.get(url, headers=street_admin.auth).status_code == 404
    assert client.get(url, params={"day": "0001-01-01"}, headers=regulator.auth).status_code == 422


def test_the_inbox_page_answers_through_its_form(
    client: TestClient,
    session: Session,
    rules: Settings,
    district: DistrictPlan,
    regulator: Persona,
) -> None:
    analytics.detect(session=session, settings=rules, day=SURGE_DAY, hour=12)
    assert sign_in(client, "shang").status_code == 303  # type: ignore[attr-defined]
    page = client.get("/analytics/alerts")
    assert "真南农副产品综合市场" in page.text
    alert_id = page.text.split('data-alert="')[1].split('"')[0]
    answered = client.post(
        f"/analytics/alerts/{alert_id}",
        data={"csrf_token": csrf_of(page.text), "action": "resolve", "note": "Handled"},
        follow_redirects=True,
    )
    assert 'data-testid="alert-status" data-status="resolved">已解决' in answered.text
    again = client.post(
        f"/analytics/alerts/{alert_id}",
        data={"csrf_token": csrf_of(answered.text), "action": "resolve", "note": "Twice"},
    )
    assert again.status_code == 409


def test_coverage_finds_silent_codes_and_key_places_in_scope(
    client: TestClient,
    session: Session,
    district: DistrictPlan,
    district_admin: Persona,
    street_admin: Persona,
) -> None:
    clock.freeze(clock.now().replace(year=2022, month=3, day=19, hour=9))
    # A code posted where people walk past it: registered, live, never scanned.
    quiet = make_venue(session, "长风一村小区", "changfengxincun", "residential")
    whole = client.get("/api/v1/analytics/coverage", headers=district_admin.auth).json()
    assert whole["key_places"]["large_supermarket"] == {"registered": 35, "live": 35}
    assert whole["key_places"]["wet_market"] == {"registered": 32, "live": 32}
    live = sum(n for categories in whole["venues"].values() for n in categories.values())
    assert live == len(district.venues) + 1
    assert sum(whole["per_venue"].values()) == live
    # Silent codes: live, and not one scan in three days.
    silent = {v["venue_id"] for v in whole["silent"]}
    assert whole["silent_total"] == len(silent) and quiet.id in silent
    assert district.zhennan.id not in silent
    scanned = set(
        session.scalars(
            select(VenueHourlyCount.venue_id).where(
                VenueHourlyCount.hour >= int(clock.now().timestamp()) - 3 * 86_400
            )
        )
    )
    assert silent.isdisjoint(scanned)
    street = client.get("/api/v1/analytics/coverage", headers=street_admin.auth).json()
    assert set(street["venues"]) == {"changfengxincun"}
    assert {v["street_code"] for v in street["silent"]} == {"changfengxincun"}


def test_days_out_of_any_districts_range_are_refused(
    client: TestClient, district_admin: Persona
) -> None:
    for url in ("/api/v1/analytics/overview", "/api/v1/analytics/alerts"):
        answer = client.get(url, params={"day": "0001-01-01"}, headers=district_admin.auth)
        assert answer.status_code == 422, answer.text
    answer = client.post(
        "/api/v1/analytics/detect", json={"day": "1900-01-01"}, headers=district_admin.auth
    )
    assert answer.status_code == 422


def test_the_hourly_job_rolls_up_what_is_finished_and_detects(
    session: Session,
    rules: Settings,
    district: DistrictPlan,
) -> None:
    clock.freeze(datetime(2022, 3, 19, 9, 30, tzinfo=rules.zone))
    tasks.hourly(session, rules)
    marks = dict(session.execute(select(RolledUpDay.day, RolledUpDay.through)).all())
    today = analytics.midnight(date(2022, 3, 19), rules)
    # Today, yesterday, and one older day owed (the latest): the rest in the hours to come.
    assert sorted(marks) == [date(2022, 3, 17), date(2022, 3, 18), date(2022, 3, 19)]
    assert marks[date(2022, 3, 18)] == today  # whole
    assert marks[date(2022, 3, 19)] == today + 9 * 3600  # the finished hours of today
    surge = session.scalar(
        select(Alert).where(Alert.venue_id == district.zhennan.id, Alert.day == SURGE_DAY)
    )
    assert surge is not None and surge.raised_hour == 24  # yesterday, judged whole

    def market_day() -> int:
        return int(
            session.scalar(
                select(VenueDailyCount.scans).where(
                    VenueDailyCount.venue_id == district.zhennan.id,
                    VenueDailyCount.day == SURGE_DAY,
                )
            )
            or 0
        )

    # Nothing moved: today and yesterday are not rolled up again (only older days are owed).
    owed = analytics.pending_days(session=session, settings=rules)
    assert owed and max(owed) < date(2022, 3, 17)
    # An offline upload for yesterday counts at the next run.
    before = market_day()
    hour = today - 3 * 3600
    row = session.get(VenueHourlyCount, (district.zhennan.id, hour))
    if row is None:
        session.add(VenueHourlyCount(venue_id=district.zhennan.id, hour=hour, count=5))
    else:
        row.count += 5
    session.flush()
    assert SURGE_DAY in analytics.pending_days(session=session, settings=rules)
    tasks.hourly(session, rules)
    assert market_day() == before + 5
    assert min(session.scalars(select(RolledUpDay.day))) == date(2022, 3, 16)
