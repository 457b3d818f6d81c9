"""JSON API of health: CDC imports and events, a person's health, corrections; a citizen's
own status ("why is my code yellow") and correction requests."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from placecode.accounts.authz import requires
from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.clock import clock
from placecode.config import Settings
from placecode.errors import NotFound
from placecode.health import service
from placecode.health.book import StatusBook
from placecode.health.models import Correction, HealthEvent
from placecode.health.schemas import (
    CorrectionCreate,
    CorrectionResolve,
    CorrectionView,
    EventCreate,
    EventView,
    NatBrief,
    NatTestView,
    PeriodView,
    PersonFound,
    PersonHealthView,
    PersonLookup,
    ReasonView,
    StatusView,
    VaccinationView,
)
from placecode.health.status import EventKind, PersonStatus, Reason
from placecode.i18n import _
from placecode.people.auth import CurrentPerson
from placecode.people.sealing import load_sealer
from placecode.people.service import find_person, person_key_of, read_details
from placecode.tables import ImportReport
from placecode.web.deps import SessionDep, SettingsDep, read_upload

router = APIRouter(prefix="/api/v1", tags=["health"])

Analysts = Annotated[Principal, requires(Role.cdc_analyst)]


def get_statuses(request: Request) -> StatusBook:
    statuses: StatusBook = request.app.state.statuses
    return statuses


def sync_statuses(request: Request) -> None:
    with request.app.state.db.sessions() as session:
        get_statuses(request).sync(session)


async def current_statuses(request: Request) -> StatusBook:
    """The status book, first brought up to date if its poll interval has passed."""
    statuses = get_statuses(request)
    if not statuses.fresh():
        await run_in_threadpool(sync_statuses, request)
    return statuses


# --- views -------------------------------------------------------------------------------


def reason_view(reason: Reason) -> ReasonView:
    return ReasonView(
        kind=reason.kind,
        colour=reason.colour,
        since=reason.since,
        until=reason.until,
        text=reason.text,
    )


def status_view(status: PersonStatus, at: datetime) -> StatusView:
    nat = status.nat
    return StatusView(
        at=at,
        colour=status.colour,
        reasons=[reason_view(reason) for reason in status.reasons],
        until=status.until,
        nat=NatBrief(
            sampled_at=nat.sampled_at, result=nat.result, hours_ago=round(nat.hours_before(at), 1)
        )
        if nat
        else None,
        vaccination=status.vaccination,
    )


def event_view(event: HealthEvent, person_key: str) -> EventView:
    return EventView(
        id=event.id,
        person_key=person_key,
        kind=EventKind(event.kind),
        occurred_at=event.occurred_at,
        case_id=event.case_id,
        source=event.source,
        note=event.note,
        created_by=event.created_by,
        created_at=event.created_at,
    )


def correction_view(
    correction: Correction, item: service.CorrectionItem | None = None, staff: bool = False
) -> CorrectionView:
    """A correction request; the analyst's name only for staff, the person only from a
    queue item."""
    return CorrectionView(
        id=correction.id,
        state=correction.state,
        reason=correction.reason,
        colour=correction.colour,
        filed_at=correction.filed_at,
        resolved_at=correction.resolved_at,
        resolved_by=correction.resolved_by if staff else None,
        resolution=correction.resolution,
        person_key=item.person_key if item else None,
        name_masked=item.name_masked if item else None,
        doc_masked=item.doc_masked if item else None,
    )


def person_health_view(session: Session, settings: Settings, person_key: str) -> PersonHealthView:
    now = clock.now()
    status, found = service.person_status(
        session=session, settings=settings, person_key=person_key, at=now
    )
    if found.person is None:
        raise NotFound(_("This person is not registered."), code="unknown_person")
    return PersonHealthView(
        person_key=person_key,
        name_masked=found.person.name_masked,
        doc_masked=found.person.doc_masked,
        status=status_view(status, now),
        events=[event_view(event, person_key) for event in found.events],
        nat_results=[
            NatTestView(sampled_at=n.sampled_at, result=n.result, institution=n.institution)
            for n in found.nats
        ],
        vaccinations=[
            VaccinationView(dose=d.dose, vaccinated_at=d.vaccinated_at, product=d.product)
            for d in found.doses
        ],
        history=[
            PeriodView(
                since=period.since,
                colour=period.status.colour,
                reasons=[reason_view(r) for r in period.status.reasons],
            )
            for period in service.history(settings=settings, found=found)
        ],
    )


# --- CDC ---------------------------------------------------------------------------------


@router.post("/health/imports/{kind}")
async def import_file(
    kind: service.ImportKind,
    principal: Analysts,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="CSV or .xlsx in the format of this kind")],
    dry_run: Annotated[bool, Form()] = False,
) -> ImportReport:
    """Import cases, NAT results or vaccinations: a row-by-row report; good rows are kept
    together, the same file twice adds nothing."""
    content = await read_upload(file)
    report = await run_in_threadpool(
        service.import_health_file,
        session=session,
        settings=settings,
        sealer=load_sealer(settings),
        actor=principal,
        kind=kind,
        filename=file.filename or f"{kind.value}.csv",
        content=content,
        dry_run=dry_run,
    )
    get_statuses(request).expire()
    return report


@router.post("/health/events", status_code=201)
def record_event(
    body: EventCreate,
    principal: Analysts,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> EventView:
    """Record one event for a person: a case, a contact, an exposure, a clearance."""
    details = read_details(
        doc_type=body.doc_type, doc_number=body.doc_number, name=body.name, phone=body.phone
    )
    event = service.record_event(
        session=session,
        settings=settings,
        sealer=load_sealer(settings),
        actor=principal,
        details=details,
        kind=body.kind,
        occurred_at=service.parse_moment(body.occurred_at, field="occurred_at", settings=settings),
        note=body.note,
    )
    get_statuses(request).expire()
    return event_view(event, person_key_of(settings, details.document))


@router.post("/health/people/lookup")
def lookup_person(
    body: PersonLookup, principal: Analysts, session: SessionDep, settings: SettingsDep
) -> PersonFound:
    """The pseudonym of a document (sent in the body, so that no ID number is logged)."""
    key = service.person_key_for(
        settings=settings, doc_type=body.doc_type, doc_number=body.doc_number
    )
    registered = find_person(session=session, person_key=key) is not None
    return PersonFound(person_key=key, registered=registered)


@router.get("/health/people/{person_key}")
def person_health(
    person_key: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    principal: Analysts,
    session: SessionDep,
    settings: SettingsDep,
) -> PersonHealthView:
    """A person's status, records and colour history (masked)."""
    return person_health_view(session, settings, person_key)


@router.get("/health/corrections")
def corrections(
    principal: Analysts,
    session: SessionDep,
    state: Annotated[service.CorrectionState | None, Query()] = service.CorrectionState.open,
) -> list[CorrectionView]:
    """The queue of correction requests (open ones, oldest first, by default)."""
    items = service.list_corrections(session=session, state=state)
    return [correction_view(item.correction, item, staff=True) for item in items]


@router.post("/health/corrections/{correction_id}/resolve")
def resolve_correction(
    correction_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: CorrectionResolve,
    principal: Analysts,
    request: Request,
    session: SessionDep,
) -> CorrectionView:
    """Answer a request: keep the colour, or clear the person from now on (with a note)."""
    correction = service.resolve_correction(
        session=session,
        actor=principal,
        correction_id=correction_id,
        outcome=service.CorrectionState(body.outcome),
        note=body.note,
    )
    get_statuses(request).expire()
    return correction_view(correction, staff=True)


# --- citizens ----------------------------------------------------------------------------


@router.get("/citizens/me/status")
def my_status(claim: CurrentPerson, session: SessionDep, settings: SettingsDep) -> StatusView:
    """Your colour, why, and until when; your latest NAT and vaccination state."""
    now = clock.now()
    status, _found = service.person_status(
        session=session, settings=settings, person_key=claim.person_key, at=now
    )
    return status_view(status, now)


@router.get("/citizens/me/corrections")
def my_corrections(claim: CurrentPerson, session: SessionDep) -> list[CorrectionView]:
    """Your correction requests and the CDC's answers."""
    return [
        correction_view(c)
        for c in service.own_corrections(session=session, person_key=claim.person_key)
    ]


@router.post("/citizens/me/corrections", status_code=201)
def file_correction(
    body: CorrectionCreate, claim: CurrentPerson, session: SessionDep, settings: SettingsDep
) -> CorrectionView:
    """Ask the CDC to check your colour (纠错), saying why."""
    correction = service.file_correction(
        session=session,
        settings=settings,
        sealer=load_sealer(settings),
        person_key=claim.person_key,
        details=claim.details,
        reason=body.reason,
    )
    return correction_view(correction)
