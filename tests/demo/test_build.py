"""The whole build (`service.build_district`): on a SQLite file the scan log is written by a
second thread into a copy of the database and moved in at the end; elsewhere one session
writes everything. Either way the district is the one `activity.write_days` writes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from placecode import db
from placecode.analytics import service as analytics
from placecode.config import Settings
from placecode.demo import activity, outbreak, service
from placecode.demo.district import plan_district
from placecode.demo.population import plan_population
from placecode.people.sealing import load_sealer
from tests.conftest import BACKEND, Databases, prepare

TODAY = date(2022, 3, 19)
DAYS = 6
VENUES, PEOPLE, SCANS = 300, 3_000, 2_500

# What a district holds, row by row, without what differs from build to build by design
# (sealed records are encrypted afresh; audit and creation times are the clock's).
FINGERPRINTS = {
    "checkins": "SELECT id, scanned_at, venue_id, person_id, channel, colour, entry_allowed, "
    "companion_of, recorded_by FROM checkins",
    "persons": "SELECT id, person_key, doc_type, name_masked, doc_masked, phone_masked, source, "
    "created_at FROM persons",
    "nat_results": "SELECT person_id, sampled_at, result, institution FROM nat_results",
    "vaccinations": "SELECT person_id, dose, vaccinated_at, product FROM vaccinations",
    "health_profiles": "SELECT person_key, nat_sampled_at, nat_result, vaccination, watched "
    "FROM health_profiles",
    "companions": "SELECT guardian_id, dependent_id FROM companions",
    "venue_hourly_counts": "SELECT venue_id, hour, count FROM venue_hourly_counts",
    "venue_daily_counts": "SELECT day, venue_id, scans FROM venue_daily_counts",
    "area_hourly_counts": "SELECT hour, street_code, category_code, scans FROM area_hourly_counts",
    "traffic_alerts": "SELECT venue_id, day, kind, count, raised_hour FROM traffic_alerts",
    "health_events": "SELECT person_id, kind, occurred_at FROM health_events",
}


def fingerprint(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: sorted(tuple(str(v) for v in row) for row in session.execute(text(query)))
        for table, query in FINGERPRINTS.items()
    }


Fresh = Callable[..., tuple[Settings, db.Database]]


@pytest.fixture
def fresh(
    databases: Databases, make_settings: Callable[..., Settings], settings: Settings, demo_ca: Path
) -> Iterator[Fresh]:
    """Makes empty, migrated databases (of the backend under test unless told), with the
    suite's keys."""
    made: list[db.Database] = []

    def make(backend: str = BACKEND) -> tuple[Settings, db.Database]:
        fresh_settings = make_settings(
            database_url=databases.new_url(backend), trust_store=settings.trust_store
        )
        database = db.Database.connect(fresh_settings)
        prepare(database.engine)
        made.append(database)
        return fresh_settings, database

    yield make
    for database in made:
        database.dispose()


def built(settings: Settings, database: db.Database) -> service.Built:
    return service.build_district(
        settings=settings,
        database=database,
        seed=9,
        venues=VENUES,
        today=TODAY,
        days=DAYS,
        people=PEOPLE,
        scans=SCANS,
        progress=lambda _stage, _done, _total: None,
    )


def test_the_whole_build_writes_the_district_that_one_session_writes(
    fresh: Fresh, authority: tuple[Path, Path]
) -> None:
    settings, database = fresh()
    result = built(settings, database)
    assert result.written.check_ins == sum(result.written.per_day.values()) > 0
    assert result.outbreak.cases
    with database.session() as session:
        whole = fingerprint(session)

    # The same district by hand, in one session: plan, write, outbreak, roll-ups, alerts.
    settings, database = fresh()
    days = [TODAY - timedelta(days=n) for n in range(DAYS, 0, -1)]
    with database.bulk_session() as session:
        streets, categories = service.reference_data(session)
        plan = plan_district(streets=streets, categories=categories, total=VENUES, seed=9)
        service.write_organisations(session=session, settings=settings, plan=plan)
        service.write_venues(session=session, plan=plan)
        population = plan_population(
            venues=plan.venues,
            street_codes=[str(s["code"]) for s in streets],
            street_shares=[float(s["pop_share"]) for s in streets],
            zhennan_index=plan.venues.index(plan.zhennan),
            size=PEOPLE,
            seed=9,
        )
        activity.write_days(
            session=session,
            settings=settings,
            sealer=load_sealer(settings),
            plan=plan,
            population=population,
            days=days,
            per_day=SCANS,
            seed=9,
        )
        outbreak.write_outbreak(
            session=session, days=days, zone=settings.zone, zhennan_id=plan.zhennan.id, seed=9
        )
        for day in days:
            analytics.roll_up(session=session, settings=settings, day=day)
        for day in days:
            for hour in (12, 24):
                analytics.detect(session=session, settings=settings, day=day, hour=hour)
        by_hand = fingerprint(session)
    for table, rows in whole.items():
        assert rows == by_hand[table], table
    assert whole["checkins"] and whole["health_events"] and whole["venue_daily_counts"]


def test_the_scan_log_moves_in_by_sqlites_transfer_of_whole_records(
    fresh: Fresh, tmp_path: Path
) -> None:
    _settings, database = fresh("sqlite")  # the scan log moves between files on SQLite only
    copy = tmp_path / "copy.db"
    db.copy_database(database, copy)
    # In a bulk session, as the build moves it: with foreign keys checked row by row SQLite
    # could not copy records whole.
    with database.bulk_session() as session:
        session.execute(text("ATTACH DATABASE :path AS source"), {"path": str(copy)})
        for table in service.CHECKIN_TABLES + service.COUNT_TABLES:
            plan = session.execute(
                text(f"EXPLAIN INSERT INTO main.{table} SELECT * FROM source.{table}")
            ).all()
            # RowData: the transfer optimisation's copy of a record as it is stored.
            assert "RowData" in {row[1] for row in plan}, table
