"""Build the demo district into a migrated, empty database: its organisations (verified
with certificates from the demo CA), its venues with their registration history, and one
ready account per role. Bulk writes through the live tables, so that nothing a user sees
differs from a district registered by hand.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from placecode.accounts import service as accounts
from placecode.accounts.models import Role
from placecode.accounts.security import generate_password
from placecode.accounts.service import Operator
from placecode.analytics import service as analytics
from placecode.analytics.models import Alert, AreaHourlyCount, RolledUpDay, VenueDailyCount
from placecode.checkins.models import CheckIn, VenueHourlyCount
from placecode.clock import clock
from placecode.config import Settings
from placecode.db import Database, copy_database, copy_tables
from placecode.demo import activity, outbreak
from placecode.demo.district import DistrictPlan, plan_district
from placecode.demo.population import plan_population
from placecode.people import sealing
from placecode.region.models import Category, Street
from placecode.venues import certificates
from placecode.venues.models import Organisation, Venue, VenueEvent, VenueStatus
from placecode.venues.service import natural_key

CHUNK = 5_000
DEMO = "demo"
CITIZEN = {"doc_type": "id_card", "doc_number": "11010519491231002X", "name": "王秀英"}
CITIZEN_PHONE = "13812345678"


@dataclass(frozen=True)
class DemoAccount:
    role: str
    username: str
    secret: str  # a password, or a device token for the sentinel
    scope: str | None
    note: str = ""


def write_organisations(*, session: Session, settings: Settings, plan: DistrictPlan) -> int:
    """Every organisation, verified with a certificate the demo CA issued to it."""
    roots = certificates.load_trust_store(settings)
    now = clock.now()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for organisation in plan.organisations:
            # Valid from the demo's (shifted) today for ten years: in the demo's March 2022
            # and at the wall clock's date alike.
            issued = certificates.issue_org_certificate(
                settings,
                uscc=organisation.uscc,
                name=organisation.name,
                out_dir=Path(scratch),
                not_before=now - timedelta(days=1),
                days=3650,
            )
            checked = certificates.check_certificate(
                pem=issued.certificate_path.read_text(), roots=roots, now=now
            )
            rows.append(
                {
                    "id": organisation.id,
                    "name": organisation.name,
                    "kind": organisation.kind,
                    "uscc": organisation.uscc,
                    "street_code": organisation.street_code,
                    "verified_at": now,
                    "certificate_sha256": checked.sha256,
                    "certificate_subject": checked.subject,
                    "certificate_not_after": checked.not_after,
                    "created_at": now,
                    "created_by": DEMO,
                }
            )
    session.execute(insert(Organisation), rows)
    return len(rows)


def write_venues(
    *, session: Session, plan: DistrictPlan, progress: Callable[[int], None] | None = None
) -> int:
    """Every venue, active, with the 'registered' event its history starts with."""
    now = clock.now()
    by_id = {organisation.id: organisation for organisation in plan.organisations}
    for start in range(0, len(plan.venues), CHUNK):
        chunk = plan.venues[start : start + CHUNK]
        session.execute(
            insert(Venue),
            [
                {
                    "id": venue.id,
                    "name": venue.name,
                    "address": venue.address,
                    "street_code": venue.street_code,
                    "category_code": venue.category_code,
                    "lon": venue.lon,
                    "lat": venue.lat,
                    "organisation_id": venue.organisation_id,
                    "operator_name": venue.operator_name,
                    "operator_uscc": None,
                    "delegated": venue.delegated,
                    "vouched_by": by_id[venue.organisation_id].name
                    if venue.delegated and venue.organisation_id
                    else None,
                    "capacity": None,
                    "entry_policy": None,
                    "status": VenueStatus.active.value,
                    "code_version": 1,
                    "natural_key": natural_key(venue.name, venue.address),
                    "registered_by": DEMO,
                    "created_at": now,
                    "updated_at": now,
                }
                for venue in chunk
            ],
        )
        session.execute(
            insert(VenueEvent),
            [
                {
                    "venue_id": venue.id,
                    "at": now,
                    "actor": DEMO,
                    "action": "registered",
                    "detail": {"delegated": venue.delegated} if venue.delegated else None,
                }
                for venue in chunk
            ],
        )
        if progress is not None:
            progress(len(chunk))
    return len(plan.venues)


def create_accounts(
    *, session: Session, settings: Settings, plan: DistrictPlan
) -> list[DemoAccount]:
    """One ready account per role, each scoped to something worth looking at (真南 market,
    its street, its operator)."""
    market = plan.zhennan
    # Role, username, scope, the name shown on its pages, the note printed for the tester.
    people: list[tuple[Role, str, str | None, str, str]] = [
        (Role.district_admin, "admin", None, "普陀区管理员", "the whole district"),
        (Role.street_admin, "zhenru", market.street_code, "真如镇街道", "真如镇街道"),
        (Role.regulator, "commerce", "commerce", "区商务委", "区商务委"),
        (
            Role.venue_manager,
            "zhennan-manager",
            market.organisation_id,
            "真南市场经营方",
            "真南 market's operator",
        ),
        (Role.registrar, "zhennan-desk", market.id, "真南市场登记台", "the door of 真南 market"),
        (Role.cdc_analyst, "cdc", None, "区疾控中心", "imports, corrections, tracing"),
    ]
    made = []
    for role, username, scope, shown, note in people:
        password = generate_password()
        accounts.create_user(
            session=session,
            settings=settings,
            actor=Operator(username=DEMO),
            username=username,
            role=role,
            scope=scope,
            display_name=shown,
            password=password,
        )
        made.append(DemoAccount(role.value, username, password, scope, note))
    sentinel = accounts.create_user(
        session=session,
        settings=settings,
        actor=Operator(username=DEMO),
        username="zhennan-gate",
        role=Role.sentinel,
        scope=market.id,
        display_name="真南 market, east gate",
        password=None,
    )
    _token, secret = accounts.create_api_token(
        session=session,
        settings=settings,
        actor=Operator(username=DEMO),
        user=sentinel,
        name="gate",
    )
    made.append(
        DemoAccount(
            Role.sentinel.value, "zhennan-gate", secret, market.id, "sign in at /login/device"
        )
    )
    return made


def reference_data(session: Session) -> tuple[list[dict[str, Any]], list[str]]:
    """The region's streets (with population shares and centres) and category codes."""
    streets = [
        {
            "code": street.code,
            "name_zh": street.name_zh,
            "pop_share": street.pop_share,
            "centroid": [street.centroid_lon, street.centroid_lat],
        }
        for street in session.scalars(select(Street).order_by(Street.code))
    ]
    categories = list(session.scalars(select(Category.code).order_by(Category.code)))
    return streets, categories


# --- the whole district ------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    """What a build made, for the tester to look at first."""

    plan: DistrictPlan
    accounts: list[DemoAccount]
    written: activity.Written
    outbreak: outbreak.Outbreak
    alerts: list[Alert]


# Written beside the residents (on SQLite, into files of their own: see build_district).
CHECKIN_TABLES = (CheckIn.__tablename__,)
COUNT_TABLES = tuple(
    model.__tablename__
    for model in (VenueHourlyCount, AreaHourlyCount, VenueDailyCount, RolledUpDay, Alert)
)


def build_district(
    *,
    settings: Settings,
    database: Database,
    seed: int,
    venues: int,
    today: date,
    days: int,
    people: int,
    scans: int,
    progress: activity.Progress,
) -> Built:
    """The demo district in a migrated, empty database: organisations, venues, accounts,
    `days` of history before `today` (residents, scans, health records), the outbreak, the
    roll-ups and the alerts the hourly job would have raised.

    On a SQLite file the scan log is written by a second thread into a copy of the
    database and moved in at the end, while this thread writes the residents: SQLite writes
    one file at a time, but runs without Python's interpreter lock, so two files fill at
    once on two cores (docs/benchmarks.md).
    """
    with database.bulk_session() as session:
        streets, categories = reference_data(session)
        plan = plan_district(streets=streets, categories=categories, total=venues, seed=seed)
        population = plan_population(
            venues=plan.venues,
            street_codes=[str(s["code"]) for s in streets],
            street_shares=[float(s["pop_share"]) for s in streets],
            zhennan_index=plan.venues.index(plan.zhennan),
            size=people,
            seed=seed,
        )
        # The days are planned (numpy, mostly outside the interpreter lock) while the
        # organisations, venues and accounts are written.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="planning") as planner:
            planned = planner.submit(
                activity.plan_history,
                first_person_id=activity.next_person_id(session),
                settings=settings,
                plan=plan,
                population=population,
                days=[today - timedelta(days=n) for n in range(days, 0, -1)],
                per_day=scans,
                seed=seed,
                progress=progress,
            )
            write_organisations(session=session, settings=settings, plan=plan)
            progress("organisations", len(plan.organisations), len(plan.organisations))
            written_venues = [0]

            def venues_written(count: int) -> None:
                written_venues[0] += count
                progress("venues", written_venues[0], len(plan.venues))

            write_venues(session=session, plan=plan, progress=venues_written)
            made = create_accounts(session=session, settings=settings, plan=plan)
            history = planned.result()
    sealer = sealing.load_sealer(settings)

    def residents(session: Session) -> int:
        return activity.write_residents(
            session=session,
            settings=settings,
            sealer=sealer,
            population=population,
            history=history,
            seed=seed,
            progress=progress,
        )

    def checkins(session: Session) -> tuple[dict[date, int], outbreak.Chain]:
        per_day = activity.write_checkins(
            session=session, plan=plan, history=history, progress=progress
        )
        chain = outbreak.find_chain(
            session=session,
            days=history.days,
            zone=settings.zone,
            zhennan_id=plan.zhennan.id,
            seed=seed,
        )
        return per_day, chain

    def counts(session: Session, chain: outbreak.Chain) -> list[Alert]:
        activity.write_hourly_counts(session=session, plan=plan, history=history)
        outbreak.withdraw_counts(session=session, chain=chain)
        return _roll_up_and_detect(session, settings, history.days, progress)

    file = database.engine.url.database if database.engine.dialect.name == "sqlite" else None
    if not file or file == ":memory:":
        with database.bulk_session() as session:
            nat_results = residents(session)
            per_day, chain = checkins(session)
            alerts = counts(session, chain)
            found = outbreak.enter_cases(session=session, chain=chain)
    else:
        nat_results, per_day, chain, alerts = _in_three_files(
            settings, database, Path(file), residents, checkins, counts, progress
        )
        with database.bulk_session() as session:
            found = outbreak.enter_cases(session=session, chain=chain)
    written = activity.Written(
        people=int((history.residents.person_id > 0).sum()),
        check_ins=sum(per_day.values()),
        nat_results=nat_results,
        per_day=per_day,
    )
    return Built(plan, made, written, found, alerts)


def _in_three_files(
    settings: Settings,
    database: Database,
    file: Path,
    residents: Callable[[Session], int],
    checkins: Callable[[Session], tuple[dict[date, int], outbreak.Chain]],
    counts: Callable[[Session, outbreak.Chain], list[Alert]],
    progress: activity.Progress,
) -> tuple[int, dict[date, int], outbreak.Chain, list[Alert]]:
    """The residents written here, while a second thread writes the check-ins (with the
    outbreak's chain found in them) into one copy of the database and then the counts,
    roll-ups and alerts into another; each copy is moved in as soon as it is done and
    this thread is free (SQLite's transfer of whole records)."""
    copies = {name: file.with_name(f"{file.name}.{name}") for name in ("checkins", "counts")}
    for copy in copies.values():
        copy.unlink(missing_ok=True)
        copy_database(database, copy)
    apart = {
        name: Database.connect(settings, url=f"sqlite:///{copy}") for name, copy in copies.items()
    }
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scans") as pool:
            written = pool.submit(_in_bulk, apart["checkins"], checkins)
            counted = pool.submit(
                lambda: _in_bulk(apart["counts"], lambda s: counts(s, written.result()[1]))
            )
            with database.bulk_session() as session:
                nat_results = residents(session)
            per_day, chain = written.result()
            with database.bulk_session() as session:
                progress("moving the check-ins in", 0, 1)
                copy_tables(session, copies["checkins"], CHECKIN_TABLES)
                progress("moving the check-ins in", 1, 1)
            alerts = counted.result()
            with database.bulk_session() as session:
                copy_tables(session, copies["counts"], COUNT_TABLES)
    finally:
        for made in apart.values():
            made.dispose()
        for copy in copies.values():
            copy.unlink(missing_ok=True)
    return nat_results, per_day, chain, alerts


Result = TypeVar("Result")


def _in_bulk(database: Database, work: Callable[[Session], Result]) -> Result:
    with database.bulk_session() as session:
        return work(session)


def _roll_up_and_detect(
    session: Session, settings: Settings, days: list[date], progress: activity.Progress
) -> list[Alert]:
    """The roll-ups of the days, and the foot-traffic alerts as the server's hourly job
    would have raised them: each day by noon, then the whole day."""
    for number, day in enumerate(days):
        analytics.roll_up(session=session, settings=settings, day=day)
        progress("daily roll-up", number + 1, len(days))
    alerts: list[Alert] = []
    counted: analytics.Counted = {}
    for number, day in enumerate(days):
        for hour in (12, 24):
            found = analytics.detect(
                session=session, settings=settings, day=day, hour=hour, counted=counted
            )
            alerts += found.raised
        progress("traffic alerts", number + 1, len(days))
    return alerts
