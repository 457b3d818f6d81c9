"""JSON API of tracing, for CDC analysts: trace, save and reopen cases, confirm and withdraw
them, re-identify with a purpose, export."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from placecode.accounts.authz import requires
from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.config import Settings
from placecode.db import Database
from placecode.errors import InvalidInput
from placecode.health import service as health
from placecode.health.api import get_statuses
from placecode.i18n import _
from placecode.tracing import service
from placecode.tracing.models import TracingCase
from placecode.tracing.schemas import (
    CaseCreate,
    CaseSummary,
    CaseView,
    Confirmed,
    ContactView,
    IndexPerson,
    ReidentificationView,
    ReidentifiedView,
    ReidentifyRequest,
    RerunView,
    RiskyVenue,
    RiskyVenueView,
    TraceRequest,
    TraceView,
    TrajectoryView,
    VisitView,
    Withdrawal,
    Withdrawn,
)
from placecode.web.deps import DatabaseDep, SessionDep, SettingsDep, reading_apart

router = APIRouter(prefix="/api/v1", tags=["tracing"])

Analysts = Annotated[Principal, requires(Role.cdc_analyst)]
CaseId = Annotated[str, Path(pattern=r"^tc_[0-9a-f]{16}$")]
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# --- reading requests --------------------------------------------------------------------


def index_requests(people: Sequence[IndexPerson], settings: Settings) -> list[service.IndexRequest]:
    requests = []
    for number, person in enumerate(people):
        if person.person_key:
            key = person.person_key
        elif person.doc_type and person.doc_number:
            key = health.person_key_for(
                settings=settings, doc_type=person.doc_type, doc_number=person.doc_number
            )
        else:
            raise InvalidInput(
                _("Index person {n}: give a person key, or a document type and number.").format(
                    n=number + 1
                ),
                code="index_person",
            )
        requests.append(
            service.IndexRequest(
                person_key=key,
                since=_moment(person.since, "since", settings),
                until=_moment(person.until, "until", settings),
            )
        )
    return requests


def venue_requests(venues: Sequence[RiskyVenue], settings: Settings) -> list[service.VenueRequest]:
    return [
        service.VenueRequest(
            venue_id=venue.venue_id,
            starts_at=health.parse_moment(venue.starts_at, field="starts_at", settings=settings),
            ends_at=health.parse_moment(venue.ends_at, field="ends_at", settings=settings),
            note=venue.note,
        )
        for venue in venues
    ]


def _moment(raw: str | None, field: str, settings: Settings) -> datetime | None:
    return None if raw is None else health.parse_moment(raw, field=field, settings=settings)


# --- views -------------------------------------------------------------------------------


def _at(second: int) -> datetime:
    return datetime.fromtimestamp(second, UTC)


def trajectory_views(
    *,
    session: Session,
    trajectories: dict[int, list[service.Visit]],
    windows: Sequence[service.IndexWindow],
    clusters: dict[int, int],
) -> list[TrajectoryView]:
    people = service.person_labels(session=session, person_ids=trajectories)
    venues = service.venue_labels(
        session=session, venue_ids=[v.venue_id for visits in trajectories.values() for v in visits]
    )
    views = []
    for window in windows:
        label = people[window.person_id]
        views.append(
            TrajectoryView(
                person_key=label.person_key,
                name_masked=label.name_masked,
                cluster=clusters.get(window.person_id, 0),
                since=_at(window.since),
                until=_at(window.until),
                visits=[
                    VisitView(
                        check_in_id=visit.check_in_id,
                        venue_id=visit.venue_id,
                        venue_name=venues[visit.venue_id].name,
                        street_code=venues[visit.venue_id].street_code,
                        category_code=venues[visit.venue_id].category_code,
                        start=_at(visit.start),
                        end=_at(visit.end),
                    )
                    for visit in trajectories[window.person_id]
                ],
            )
        )
    return views


def contact_views(*, session: Session, contacts: Sequence[service.ContactRow]) -> list[ContactView]:
    people = service.person_labels(
        session=session,
        person_ids=[c.person_id for c in contacts]
        + [c.via_person_id for c in contacts if c.via_person_id],
    )
    venues = service.venue_labels(session=session, venue_ids=[c.venue_id for c in contacts])
    return [
        ContactView(
            person_key=people[c.person_id].person_key,
            name_masked=people[c.person_id].name_masked,
            doc_masked=people[c.person_id].doc_masked,
            phone_masked=people[c.person_id].phone_masked,
            degree=c.degree,
            finding=service.Finding(c.kind),
            overlap_minutes=round(c.overlap_seconds / 60, 1),
            first_at=c.first_at,
            venue_id=c.venue_id,
            venue_name=venues[c.venue_id].name if c.venue_id in venues else "",
            via_person_key=people[c.via_person_id].person_key if c.via_person_id else None,
            cluster=c.cluster,
        )
        for c in contacts
    ]


def case_view(
    *, session: Session, case: TracingCase, offset: int = 0, limit: int = 1000
) -> CaseView:
    """A case as last traced, with a page of its findings (the closest first)."""
    contacts = service.saved_contacts(session=session, case=case)
    indexes, venues = service.case_windows(session=session, case=case)
    trajectories, clusters = service.case_trajectories(session=session, case=case)
    labels = service.venue_labels(session=session, venue_ids=[v.venue_id for v in venues])
    notes = service.risk_notes(session=session, case=case)
    return CaseView(
        **CaseSummary.model_validate(case, from_attributes=True).model_dump(),
        trajectories=trajectory_views(
            session=session, trajectories=trajectories, windows=indexes, clusters=clusters
        ),
        venues=[
            RiskyVenueView(
                venue_id=v.venue_id,
                venue_name=labels[v.venue_id].name if v.venue_id in labels else "",
                starts_at=_at(v.start),
                ends_at=_at(v.end),
                note=note,
            )
            for v, note in zip(venues, notes, strict=True)
        ],
        contacts=contact_views(session=session, contacts=contacts[offset : offset + limit]),
        contacts_total=len(contacts),
        clusters=len(set(clusters.values())),
    )


# --- routes ------------------------------------------------------------------------------


@router.post("/tracing/trace")
def trace(
    body: TraceRequest,
    principal: Analysts,
    session: SessionDep,
    database: DatabaseDep,
    settings: SettingsDep,
) -> TraceView:
    """Trace index people (and risky venue windows) without saving: trajectories and
    contacts, with pseudonyms and masked fields only."""
    with reading_apart(session, database) as reading:
        plan = service.plan_case(  # a case, not saved
            session=reading,
            settings=settings,
            title="",
            people=index_requests(body.people, settings),
            venues=venue_requests(body.venues, settings),
            degree=body.degree,
            threshold_minutes=body.threshold_minutes,
        )
        found = plan.found
        return TraceView(
            trajectories=trajectory_views(
                session=reading,
                trajectories=found.trajectories,
                windows=plan.indexes,
                clusters=found.clusters,
            ),
            contacts=contact_views(session=reading, contacts=service.contact_rows(found)),
            clusters=len(set(found.clusters.values())),
        )


@router.post("/tracing/cases", status_code=201)
def open_case(
    body: CaseCreate,
    principal: Analysts,
    session: SessionDep,
    database: DatabaseDep,
    settings: SettingsDep,
) -> CaseView:
    """Save a tracing case and trace it."""
    people = index_requests(body.people, settings)
    venues = venue_requests(body.venues, settings)
    with reading_apart(session, database) as reading:
        plan = service.plan_case(
            session=reading,
            settings=settings,
            title=body.title,
            people=people,
            venues=venues,
            degree=body.degree,
            threshold_minutes=body.threshold_minutes,
        )
    case = service.open_case(session=session, actor=principal, plan=plan)
    return case_view(session=session, case=case)


@router.get("/tracing/cases")
def list_cases(
    principal: Analysts,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CaseSummary]:
    """The latest tracing cases."""
    return [
        CaseSummary.model_validate(case, from_attributes=True)
        for case in service.list_cases(session=session, limit=limit)
    ]


@router.get("/tracing/cases/{case_id}")
def get_case(
    case_id: CaseId,
    principal: Analysts,
    session: SessionDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> CaseView:
    """A case: its trajectories, risky venues and a page of its findings (all of them in
    the export)."""
    case = service.get_case(session=session, case_id=case_id)
    return case_view(session=session, case=case, offset=offset, limit=limit)


def retrace(
    session: Session, database: Database, case_id: str, actor: Principal
) -> tuple[TracingCase, service.Rerun]:
    """Trace a case again in a session that only reads, then keep the findings in the
    request's (its row locked, so that a confirmation at the same moment waits)."""
    with reading_apart(session, database) as reading:
        found = service.trace_case(
            session=reading, case=service.get_case(session=reading, case_id=case_id)
        )
    case = service.get_case(session=session, case_id=case_id, for_update=True)
    return case, service.run_case(session=session, case=case, actor=actor, found=found)


@router.post("/tracing/cases/{case_id}/run")
def run_case(
    case_id: CaseId, principal: Analysts, session: SessionDep, database: DatabaseDep
) -> CaseView:
    """Trace the case again over the scan log as it is now (not once confirmed)."""
    case, rerun = retrace(session, database, case_id, principal)
    view = case_view(session=session, case=case)
    view.rerun = RerunView(added=rerun.added, gone=rerun.gone, changed=rerun.changed)
    return view


@router.post("/tracing/cases/{case_id}/confirm")
def confirm_case(
    case_id: CaseId, principal: Analysts, session: SessionDep, request: Request
) -> Confirmed:
    """Turn the findings into health events: close and secondary contacts red, exposures
    yellow. Audited."""
    added = service.confirm_case(session=session, actor=principal, case_id=case_id)
    get_statuses(request).expire()
    return Confirmed(events_added=added)


@router.post("/tracing/cases/{case_id}/withdraw")
def withdraw_case(
    case_id: CaseId, body: Withdrawal, principal: Analysts, session: SessionDep, request: Request
) -> Withdrawn:
    """The circuit breaker: take back the events the confirmation made. Audited."""
    withdrawn = service.withdraw_case(
        session=session, actor=principal, case_id=case_id, reason=body.reason
    )
    get_statuses(request).expire()
    return Withdrawn(events_withdrawn=withdrawn)


@router.post("/tracing/cases/{case_id}/reidentify")
def reidentify(
    case_id: CaseId,
    body: ReidentifyRequest,
    principal: Analysts,
    session: SessionDep,
    settings: SettingsDep,
) -> list[ReidentifiedView]:
    """Names, documents and phones of these people, for a stated purpose; one audit record
    per person. Refused when the health authority's private key is not configured."""
    service.get_case(session=session, case_id=case_id)
    found = service.reidentify(
        session=session,
        settings=settings,
        actor=principal,
        person_keys=body.person_keys,
        purpose=body.purpose,
        case_id=case_id,
    )
    return [ReidentifiedView.model_validate(person, from_attributes=True) for person in found]


@router.get("/tracing/cases/{case_id}/export")
def export_case(
    case_id: CaseId,
    principal: Analysts,
    session: SessionDep,
    settings: SettingsDep,
    format: Literal["csv", "xlsx"] = "csv",
) -> Response:
    """The findings as CSV or Excel, with pseudonyms and masked fields."""
    case = service.get_case(session=session, case_id=case_id)
    columns, rows = service.export_rows(
        session=session,
        settings=settings,
        contacts=service.saved_contacts(session=session, case=case),
    )
    return export_response(case, columns, rows, format)


@router.post("/tracing/cases/{case_id}/export")
def export_case_reidentified(
    case_id: CaseId,
    body: ReidentifyRequest,
    principal: Analysts,
    session: SessionDep,
    settings: SettingsDep,
    format: Literal["csv", "xlsx"] = "csv",
) -> Response:
    """The findings with names, documents and phones of the people listed (re-identified
    for the stated purpose, each audited)."""
    case = service.get_case(session=session, case_id=case_id)
    found = service.reidentify(
        session=session,
        settings=settings,
        actor=principal,
        person_keys=body.person_keys,
        purpose=body.purpose,
        case_id=case_id,
    )
    columns, rows = service.export_rows(
        session=session,
        settings=settings,
        contacts=service.saved_contacts(session=session, case=case),
        identities={person.person_key: person for person in found},
    )
    return export_response(case, columns, rows, format)


def export_response(
    case: TracingCase, columns: list[str], rows: list[list[object]], format: str
) -> Response:
    return Response(
        service.export_bytes(columns, rows, format),
        media_type=MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{case.id}.{format}"'},
    )


@router.get("/tracing/reidentifications")
def reidentifications(
    principal: Annotated[Principal, requires(Role.cdc_analyst, Role.district_admin)],
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[ReidentificationView]:
    """Who re-identified whom, when and why."""
    return [
        ReidentificationView(
            at=entry.at,
            actor=entry.actor,
            person_key=entry.target,
            purpose=entry.purpose,
            case_id=(entry.detail or {}).get("case"),
        )
        for entry in service.reidentifications(session=session, limit=limit)
    ]
