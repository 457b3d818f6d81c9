"""Build the demo district into a migrated, empty database: its organisations (verified
with certificates from the demo CA), its venues with their registration history, and one
ready account per role. Bulk writes through the live tables, so that nothing a user sees
differs from a district registered by hand.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from placecode.accounts import service as accounts
from placecode.accounts.models import Role
from placecode.accounts.security import generate_password
from placecode.accounts.service import Operator
from placecode.clock import clock
from placecode.config import Settings
from placecode.demo.district import DistrictPlan
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
