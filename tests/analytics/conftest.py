"""The district most analytics tests read: 6,000 people and two weeks of scans (4 to 18
March, 真南's surge on the last day), written once for the package into a database of its
own. A test that takes `district` runs on that database, in a transaction rolled back at
its end as everywhere else; the others run on the suite's database as usual. Written
again for every test, the district took a third of the suite's time on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from placecode import db
from placecode.config import Settings
from placecode.demo import activity, service
from placecode.demo.district import DistrictPlan
from placecode.people.sealing import load_sealer
from tests.conftest import Databases, prepare
from tests.demo.test_activity import small_district

DAYS = [date(2022, 3, 18) - timedelta(days=n) for n in range(14, -1, -1)]  # 4 to 18 March


@pytest.fixture(scope="package")
def district_database(
    databases: Databases,
    make_settings: Callable[..., Settings],
    authority: tuple[Path, Path],
    demo_ca: Path,
) -> Iterator[tuple[Engine, DistrictPlan]]:
    settings = make_settings(database_url=databases.new_url())
    engine = db.make_engine(settings)
    prepare(engine)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        plan, population = small_district(session, 6_000)
        service.write_organisations(session=session, settings=settings, plan=plan)
        service.write_venues(session=session, plan=plan)
        activity.write_days(
            session=session,
            settings=settings,
            sealer=load_sealer(settings),
            plan=plan,
            population=population,
            days=DAYS,
            per_day=6_000,
            seed=5,
        )
    yield engine, plan
    engine.dispose()


@pytest.fixture
def engine(request: pytest.FixtureRequest, engine: Engine) -> Engine:
    """The district's database for a test that takes the district, else the suite's."""
    if "district_database" in request.fixturenames:
        district_engine: Engine = request.getfixturevalue("district_database")[0]
        return district_engine
    return engine


@pytest.fixture
def district(district_database: tuple[Engine, DistrictPlan]) -> DistrictPlan:
    return district_database[1]


@pytest.fixture
def rules(settings: Settings) -> Settings:
    """This district is a fortieth of Putuo's scans: the minimum count scales with it."""
    return settings.model_copy(update={"surge_min_count": 25, "drop_min_baseline": 25})
