"""The demo district's days: residents registered as they first scan, check-ins with their
hourly counts, NAT results behind each entry decision, the daily profile, 真南's surge."""

from collections import Counter
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from placecode.accounts.models import AuditEntry
from placecode.checkins.models import CheckIn, VenueHourlyCount
from placecode.config import Settings
from placecode.demo import activity, outbreak, service
from placecode.demo.district import DistrictPlan, plan_district
from placecode.demo.population import Population, plan_population
from placecode.demo.profile import day_profile
from placecode.demo.scans import plan_day, popularity
from placecode.health.book import StatusBook
from placecode.health.models import HealthEvent, HealthProfile, NatTest, Vaccination
from placecode.health.status import Colour, Dose, vaccination_state
from placecode.people.models import Companion, Person
from placecode.people.sealing import load_sealer

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAYS = [date(2022, 3, 17), date(2022, 3, 18)]


def small_district(session: Session, people: int) -> tuple[DistrictPlan, Population]:
    """A 400-venue district and its residents, planned (nothing written yet)."""
    streets, categories = service.reference_data(session)
    plan = plan_district(streets=streets, categories=categories, total=400, seed=5)
    population = plan_population(
        venues=plan.venues,
        street_codes=[str(s["code"]) for s in streets],
        street_shares=[float(s["pop_share"]) for s in streets],
        zhennan_index=plan.venues.index(plan.zhennan),
        size=people,
        seed=5,
    )
    return plan, population


@pytest.fixture
def district(session: Session) -> tuple[DistrictPlan, Population]:
    return small_district(session, 4_000)


def test_the_scans_of_a_day_follow_the_real_daily_profile(
    district: tuple[DistrictPlan, Population],
) -> None:
    plan, population = district
    for day in (date(2022, 3, 16), date(2022, 3, 19)):  # a Wednesday and a Saturday
        scans = plan_day(
            day=day,
            population=population,
            outing=popularity(plan.venues),
            zhennan_index=plan.venues.index(plan.zhennan),
            per_day=50_000,
        )
        generated = np.bincount(scans.second // 1800, minlength=48) / len(scans)
        correlation = np.corrcoef(generated, day_profile(day))[0, 1]
        assert correlation > 0.98, correlation


def build(
    session: Session, settings: Settings, plan: DistrictPlan, population: Population
) -> tuple[activity.Written, outbreak.Outbreak]:
    service.write_organisations(session=session, settings=settings, plan=plan)
    service.write_venues(session=session, plan=plan)
    written = activity.write_days(
        session=session,
        settings=settings,
        sealer=load_sealer(settings),
        plan=plan,
        population=population,
        days=DAYS,
        per_day=3_000,
        seed=5,
    )
    found = outbreak.write_outbreak(
        session=session, days=DAYS, zone=SHANGHAI, zhennan_id=plan.zhennan.id, seed=5
    )
    return written, found


def test_a_small_district_keeps_the_invariants_of_the_live_system(
    session: Session,
    settings: Settings,
    demo_ca: Path,
    district: tuple[DistrictPlan, Population],
) -> None:
    plan, population = district
    written, found = build(session, settings, plan, population)
    remaining = written.check_ins - found.withdrawn
    assert written.check_ins == sum(written.per_day.values())
    assert session.scalar(select(func.count()).select_from(CheckIn)) == remaining
    # Residents are registered as they first scan, and never twice.
    assert session.scalar(select(func.count()).select_from(Person)) == written.people
    assert written.people < len(population)
    # The hourly counters hold exactly the scans of each venue-hour.
    counted = session.execute(
        text(
            "SELECT venue_id, scanned_at - scanned_at % 3600 AS hour, count(*) FROM checkins "
            "GROUP BY venue_id, scanned_at - scanned_at % 3600"
        )
    ).all()
    kept = session.execute(
        select(VenueHourlyCount.venue_id, VenueHourlyCount.hour, VenueHourlyCount.count)
    ).all()
    assert sorted(map(tuple, counted)) == sorted(map(tuple, kept))
    # Every scan lies inside its day.
    inside: dict[date, int] = {}
    for day in DAYS:
        start = int(datetime.combine(day, time.min, tzinfo=SHANGHAI).timestamp())
        inside[day] = (
            session.scalar(
                select(func.count()).where(
                    CheckIn.scanned_at >= start, CheckIn.scanned_at < start + 86_400
                )
            )
            or 0
        )
        assert written.per_day[day] - found.withdrawn <= inside[day] <= written.per_day[day]
    assert sum(inside.values()) == remaining
    # 真南 draws a crowd on 18 March, several times its usual day.
    market = Counter(
        datetime.fromtimestamp(at, SHANGHAI).date()
        for at in session.scalars(
            select(CheckIn.scanned_at).where(CheckIn.venue_id == plan.zhennan.id)
        )
    )
    assert market[date(2022, 3, 18)] > 3 * market[date(2022, 3, 17)] > 0
    # Green-only venues admit everyone; the NAT behind the others was written.
    refused = session.scalar(
        text(
            "SELECT count(*) FROM checkins JOIN venues ON venues.id = checkins.venue_id "
            "JOIN venue_categories c ON c.code = venues.category_code "
            "WHERE c.entry_policy = 'green' AND NOT checkins.entry_allowed"
        )
    )
    assert refused == 0
    results = Counter(session.scalars(select(NatTest.result)))
    assert written.nat_results - 3 * len(found.cases) <= results["negative"] <= written.nat_results
    assert results["positive"] == len(found.cases) > 0
    assert session.scalar(select(func.count()).select_from(HealthProfile)) == written.people
    # Vaccination states in realistic proportions, each one what its doses say.
    doses: dict[int, list[Dose]] = {}
    for person, dose, when, product in session.execute(
        select(
            Vaccination.person_id, Vaccination.dose, Vaccination.vaccinated_at, Vaccination.product
        )
    ):
        doses.setdefault(person, []).append(Dose(dose, when, product))
    states = dict(session.execute(select(HealthProfile.person_id, HealthProfile.vaccination)).all())
    assert all(vaccination_state(doses.get(p, [])).value == s for p, s in states.items())
    shares = Counter(states.values())
    assert shares["booster_complete"] > shares["primary_complete"] > shares["no_record"] > 0
    # The indexes dropped for the load are back (the schema is as the migrations made it).
    for table in ("checkins", "venue_hourly_counts"):
        names = {
            row[0]
            for row in session.execute(
                text(
                    "SELECT indexname FROM pg_indexes WHERE tablename = :table"
                    if session.get_bind().dialect.name == "postgresql"
                    else "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :table"
                ),
                {"table": table},
            )
        }
        assert {n for n, (t, _c) in activity.LOAD_INDEXES.items() if t == table} <= names
    # The status book reads the residents' latest NAT.
    book = StatusBook(settings)
    book.sync(session)
    someone = session.scalar(select(Person.person_key).limit(1))
    assert book.status(str(someone), datetime(2022, 3, 19, 12, tzinfo=SHANGHAI)).nat is not None


def test_the_outbreak_is_a_chain_of_confirmed_cases_through_real_co_visits(
    session: Session,
    settings: Settings,
    demo_ca: Path,
    district: tuple[DistrictPlan, Population],
) -> None:
    plan, population = district
    _written, found = build(session, settings, plan, population)
    cases = found.cases
    assert len(cases) >= 3
    assert cases[0].infected_by is None and all(case.infected_by for case in cases[1:])
    ids = {key: pid for key, pid in session.execute(select(Person.person_key, Person.id))}
    book = StatusBook(settings)
    book.sync(session)
    for case in cases:
        person = ids[case.person_key]
        confirmed = int(case.confirmed_at.timestamp())
        event = session.execute(
            select(HealthEvent).where(HealthEvent.person_id == person)
        ).scalar_one()
        assert (event.kind, event.created_by) == ("confirmed", "cdc")
        assert event.occurred_at == case.confirmed_at
        assert session.scalar(
            select(func.count()).where(
                AuditEntry.action == "health.event", AuditEntry.target == case.person_key
            )
        )
        # In isolation from the confirmation: no scans, no community samples after it.
        assert not session.scalar(
            select(func.count()).where(CheckIn.person_id == person, CheckIn.scanned_at >= confirmed)
        )
        results = session.execute(
            select(NatTest.sampled_at, NatTest.result)
            .where(NatTest.person_id == person)
            .order_by(NatTest.sampled_at)
        ).all()
        assert results[-1].result == "positive"
        assert results[-1].sampled_at < case.confirmed_at
        assert book.status(case.person_key, case.confirmed_at).colour == Colour.red
        if case.infected_by is None:
            continue
        # They were together with their source for 15 minutes or more (visits last their
        # venue's dwell time) in the four days before it was confirmed: a close contact that
        # tracing will find in the scan log.
        source = next(c for c in cases if c.person_key == case.infected_by)
        confirmed_source = int(source.confirmed_at.timestamp())
        met = session.execute(
            text(
                "SELECT coalesce(sum(c.dwell_minutes * 60 - abs(a.scanned_at - b.scanned_at)), 0) "
                "FROM checkins a JOIN checkins b ON b.venue_id = a.venue_id "
                "JOIN venues v ON v.id = a.venue_id "
                "JOIN venue_categories c ON c.code = v.category_code "
                "WHERE a.person_id = :source AND b.person_id = :case "
                "AND abs(a.scanned_at - b.scanned_at) < c.dwell_minutes * 60 "
                "AND a.scanned_at < :confirmed AND a.scanned_at >= :confirmed - 4 * 86400"
            ),
            {"source": ids[source.person_key], "case": person, "confirmed": confirmed_source},
        ).scalar_one()
        assert met >= 15 * 60
        assert session.scalar(
            select(func.count()).where(CheckIn.person_id == person, CheckIn.venue_id == case.met_at)
        )
    # The hourly counters lost the withdrawn scans with them.
    assert session.scalar(select(func.sum(VenueHourlyCount.count))) == session.scalar(
        select(func.count()).select_from(CheckIn)
    )


def test_elders_without_a_phone_come_as_companions_or_on_paper(
    session: Session,
    settings: Settings,
    demo_ca: Path,
    district: tuple[DistrictPlan, Population],
) -> None:
    plan, population = district
    build(session, settings, plan, population)
    pairs = session.execute(select(Companion.guardian_id, Companion.dependent_id)).all()
    assert pairs
    elders = {dependent for _guardian, dependent in pairs}
    guardians = {dependent: guardian for guardian, dependent in pairs}
    sources = {
        pid: source
        for pid, source in session.execute(
            select(Person.id, Person.source).where(Person.id.in_(elders))
        )
    }
    assert set(sources.values()) <= {"companion", "paper"}
    assert "companion" in sources.values()
    scans = session.execute(
        select(
            CheckIn.person_id,
            CheckIn.venue_id,
            CheckIn.scanned_at,
            CheckIn.channel,
            CheckIn.companion_of,
        ).where(CheckIn.person_id.in_(elders))
    ).all()
    along = [scan for scan in scans if scan.companion_of is not None]
    assert along and all(scan.companion_of == guardians[scan.person_id] for scan in along)
    # Alone, an elder is written down at the door; along, they came in with their relative.
    assert all(scan.channel == "paper" for scan in scans if scan.companion_of is None)
    for scan in along[:20]:
        assert session.scalar(
            select(func.count()).where(
                CheckIn.person_id == scan.companion_of,
                CheckIn.venue_id == scan.venue_id,
                CheckIn.scanned_at == scan.scanned_at,
            )
        )
    # Most residents came in through their phones.
    channels = Counter(session.scalars(select(Person.source)))
    assert channels["suishenban"] > channels["paper"] > 0
