"""JSON API of check-ins: the scan, sentinels, paper, logbooks, histories, visitor lists."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import pydantic_core
from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from placecode.accounts.authz import requires
from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.checkins import service
from placecode.checkins.schemas import (
    CheckInRequest,
    PaperCheckIn,
    ScanResult,
    SentinelRequest,
    SentinelResult,
    VisitView,
)
from placecode.checkins.store import Stored
from placecode.checkins.writer import Writer, write_logbook
from placecode.clock import clock
from placecode.config import Settings
from placecode.errors import InvalidInput, PlaceCodeError
from placecode.health.api import current_statuses
from placecode.i18n import _
from placecode.people.auth import CurrentPerson, current_person, get_identities
from placecode.people.service import person_key_of, read_details
from placecode.tables import ImportReport, Row, RowProblem
from placecode.venues import service as venues
from placecode.venues.api import get_codebook
from placecode.venues.codes import VenueSnapshot, check_usable
from placecode.web.deps import LeanRoute, SessionDep, SettingsDep, commit_early, read_upload

router = APIRouter(prefix="/api/v1", tags=["check-ins"])

Sentinel = Annotated[Principal, requires(Role.sentinel, venue="venue_id")]
PaperRegistrars = Annotated[
    Principal,
    requires(Role.registrar, Role.venue_manager, Role.street_admin, Role.district_admin),
]
LogbookImporters = Annotated[
    Principal,
    requires(
        Role.registrar,
        Role.venue_manager,
        Role.street_admin,
        Role.district_admin,
        Role.cdc_analyst,
    ),
]
VisitorReaders = Annotated[
    Principal, requires(Role.venue_manager, Role.street_admin, Role.district_admin)
]


def get_writer(request: Request) -> Writer:
    writer: Writer = request.app.state.writer
    return writer


def get_limiter(request: Request) -> service.ScanLimiter:
    limiter: service.ScanLimiter = request.app.state.limiter
    return limiter


async def release(session: Session) -> None:
    """End the request's session early, its work so far committed (signing the caller in
    notes their token's use), and give its connection back to the pool (in a thread only
    if it holds one)."""
    if session.in_transaction():
        await run_in_threadpool(commit_early, session)
    session.close()


def venue_token(code: str) -> str:
    """The token, whether the scanner sent it or the whole URL the QR holds."""
    code = code.strip()
    return code.rsplit("/s/", 1)[1].split("?", 1)[0] if "/s/" in code else code


def scan_answer(scan: service.Scan, stored: list[Stored | PlaceCodeError]) -> dict[str, Any]:
    """The scan's answer, as `ScanResult` has it, built from plain values.

    The scan route serialises it as it is (`pydantic_core.to_json`), which cost 20 µs a
    scan against 35 for building the models and serialising them; the other routes
    validate it into a `ScanResult`. Tests hold the two to the same JSON.
    """
    failure = next((item for item in stored if isinstance(item, PlaceCodeError)), None)
    if failure is not None:
        raise failure
    at = scan.at
    people = []
    for person, record in zip(scan.people, stored, strict=True):
        assert isinstance(record, Stored)
        status, decision, nat = person.status, person.decision, person.status.nat
        people.append(
            {
                "check_in_id": record.check_in_id,
                "duplicate": record.duplicate,
                "companion": person.companion_of is not None,
                "name_masked": person.name_masked,
                "doc_masked": person.doc_masked,
                "colour": status.colour,
                "reasons": [reason.text for reason in status.reasons],
                "until": status.until,
                "nat": None
                if nat is None
                else {
                    "sampled_at": nat.sampled_at,
                    "result": nat.result,
                    "hours_ago": round(nat.hours_before(at), 1),
                },
                "vaccination": status.vaccination,
                "entry": {"allowed": decision.allowed, "reason": decision.reason},
            }
        )
    venue = scan.venue
    return {
        "venue": {
            "id": venue.id,
            "name": venue.name,
            "address": venue.address,
            "street_code": venue.street_code,
            "category_code": venue.category_code,
            "entry_policy": venue.entry_policy,
        },
        "scanned_at": at,
        "people": people,
    }


async def submit(
    request: Request, scan: service.Scan, session: Session | None = None
) -> dict[str, Any]:
    """Hand the visits to the writer and give the answer (`scan_answer`) once they are
    committed.

    The request's own session (if it has one) gives its connection back first: a request
    waiting for the writer must not hold one of the pool's connections.
    """
    if session is not None:
        await release(session)
    settings: Settings = request.app.state.settings
    stored = await get_writer(request).submit(
        scan.visits, window_seconds=settings.dedupe_minutes * 60
    )
    return scan_answer(scan, stored)


async def record(
    request: Request, scan: service.Scan, session: Session | None = None
) -> ScanResult:
    """`submit`, the answer as a `ScanResult`."""
    return ScanResult.model_validate(await submit(request, scan, session))


def verify_code(request: Request, token: str) -> VenueSnapshot:
    with request.app.state.db.sessions() as session:
        return get_codebook(request).verify(session=session, token=token)


def usable_venue(request: Request, session: Session, venue_id: str) -> VenueSnapshot:
    venue = get_codebook(request).snapshot(session=session, venue_id=venue_id)
    if venue is None:
        raise InvalidInput(_("There is no venue {id!r}.").format(id=venue_id), code="unknown_venue")
    check_usable(venue)
    return venue


async def check_in(body: CheckInRequest, request: Request) -> Response:
    """Scan a venue's code: check in (with today's companions) and see status and decision.

    The same person at the same venue within the dedupe window gets the existing check-in
    back (200, duplicate true) instead of a new one (201).
    """
    # The scan path: everything below comes from memory unless a cache is stale. Served by
    # a LeanRoute, so the person is recognised here, not by a dependency.
    claim = await current_person(request)
    token = venue_token(body.venue_code)
    venue = get_codebook(request).cached(token)
    if venue is None:
        venue = await run_in_threadpool(verify_code, request, token)
    channel = claim.channel if claim.channel != "web" else (body.channel or "web")
    scan = service.plan_scan(
        venue=venue,
        claim=claim,
        statuses=await current_statuses(request),
        limiter=get_limiter(request),
        channel=channel,
        with_companions=body.with_companions,
    )
    answer = await submit(request, scan)
    # Built from checked parts, so it is serialised as it is, not validated again.
    return Response(
        content=pydantic_core.to_json(answer),
        status_code=200 if all(person["duplicate"] for person in answer["people"]) else 201,
        media_type="application/json",
    )


router.add_api_route(
    "/checkins",
    check_in,
    methods=["POST"],
    status_code=201,
    response_model=ScanResult,
    responses={200: {"model": ScanResult}},
    route_class_override=LeanRoute,
)


@router.post("/venues/{venue_id}/sentinel-checkins")
async def sentinel_check_in(
    venue_id: str,
    body: SentinelRequest,
    principal: Sentinel,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> SentinelResult:
    """A sentinel at the door: a scanned personal code or a typed ID number; `alarm` is set
    for anyone who may not enter."""
    venue = await run_in_threadpool(usable_venue, request, session, venue_id)
    details = None
    if body.personal_code is not None:
        key = await run_in_threadpool(
            get_identities(request).read_personal_code, session=session, token=body.personal_code
        )
    else:
        details = read_details(
            doc_type=body.doc_type or "", doc_number=body.doc_number or "", name=body.name
        )
        key = person_key_of(settings, details.document)
    known = await run_in_threadpool(service.known_person, session=session, person_key=key)
    if known is not None:
        name_masked, doc_masked = known
    elif details is not None:
        name_masked, doc_masked = details.name_masked, details.document.masked
    else:
        raise InvalidInput(_("This person is not registered."), code="unknown_person")
    scan = service.plan_door_entry(
        settings=settings,
        venue=venue,
        statuses=await current_statuses(request),
        limiter=get_limiter(request),
        person_key=key,
        name_masked=name_masked,
        doc_masked=doc_masked,
        details=details,
        channel="sentinel",
        recorded_by=principal.username,
    )
    result = await record(request, scan, session=session)
    return SentinelResult(
        **result.model_dump(), alarm=not all(p.entry.allowed for p in result.people)
    )


@router.post("/venues/{venue_id}/paper-checkins", status_code=201)
async def paper_check_in(
    venue_id: str,
    body: PaperCheckIn,
    principal: PaperRegistrars,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> ScanResult:
    """Write down someone without a smartphone or health code (书面登记)."""
    await run_in_threadpool(
        venues.visible_venue, session=session, principal=principal, venue_id=venue_id
    )
    venue = await run_in_threadpool(usable_venue, request, session, venue_id)
    details = read_details(
        doc_type=body.doc_type, doc_number=body.doc_number, name=body.name, phone=body.phone
    )
    at = clock.now()
    if body.scanned_at:
        at = service.parse_time(body.scanned_at, field="scanned_at", settings=settings)
        service.check_time(at, field="scanned_at", settings=settings)
    scan = service.plan_door_entry(
        settings=settings,
        venue=venue,
        statuses=await current_statuses(request),
        limiter=get_limiter(request),
        person_key=person_key_of(settings, details.document),
        name_masked=details.name_masked,
        doc_masked=details.document.masked,
        details=details,
        channel="paper",
        recorded_by=principal.username,
        at=at,
    )
    return await record(request, scan, session=session)


async def import_logbook(
    request: Request,
    session: Session,
    settings: Settings,
    principal: Principal,
    filename: str,
    content: bytes,
    dry_run: bool,
) -> ImportReport:
    """Check every row; write the good ones together (`write_logbook`); report the rest.

    The request's session (a writing one, begun by signing the caller in) ends first, and
    the rows' venues are looked up in a reading session of its own: otherwise SQLite's
    write lock, and every scan, would be held while a big file is checked."""
    await release(session)
    codebook = get_codebook(request)
    allowed: dict[str, VenueSnapshot] = {}

    def read_rows() -> tuple[list[Row], list[service.LogbookRow], list[RowProblem]]:
        with request.app.state.db.sessions() as reading:

            def venue_allowed(venue_id: str) -> bool:
                venue = codebook.snapshot(session=reading, venue_id=venue_id)
                if venue is None or venue.status == "revoked":
                    return False
                if principal.covers(
                    street=venue.street_code,
                    department=venue.department_code,
                    organisation=venue.organisation_id,
                    venue=venue.id,
                ):
                    allowed[venue.id] = venue
                    return True
                return False

            return service.read_logbook(
                settings=settings, filename=filename, content=content, venue_allowed=venue_allowed
            )

    rows, good, problems = await run_in_threadpool(read_rows)
    visits = service.logbook_visits(
        settings=settings,
        statuses=await current_statuses(request),
        venues=allowed,
        rows=good,
        channel="paper",
        recorded_by=principal.username,
    )
    unchanged = 0
    if visits and not dry_run:
        stored = await write_logbook(get_writer(request), request.app.state.db, settings, visits)
        unchanged = sum(1 for item in stored if isinstance(item, Stored) and item.duplicate)
    return ImportReport(
        rows=len(rows),
        accepted=len(good) - unchanged,
        unchanged=unchanged,
        rejected=len({p.row for p in problems}),
        problems=problems,
        dry_run=dry_run,
    )


@router.post("/checkins/logbook")
async def logbook(
    principal: LogbookImporters,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="CSV or .xlsx in the check-ins format")],
    dry_run: Annotated[bool, Form()] = False,
) -> ImportReport:
    """Upload a paper logbook (CSV or .xlsx): a row-by-row report; the same file twice adds
    nothing."""
    content = await read_upload(file)
    return await import_logbook(
        request, session, settings, principal, file.filename or "logbook.csv", content, dry_run
    )


@router.get("/venues/{venue_id}/visitors")
def visitor_list(
    venue_id: str,
    principal: VisitorReaders,
    session: SessionDep,
    settings: SettingsDep,
    day: Annotated[date | None, Query(alias="date")] = None,
) -> list[VisitView]:
    """Who came on a day: masked name, time, colour and channel, nothing more."""
    venue = venues.visible_venue(session=session, principal=principal, venue_id=venue_id)
    records = service.visitors(
        session=session, venue_id=venue.id, day=day or clock.today(), zone=settings.zone
    )
    return [VisitView(**record.__dict__) for record in records]


@router.get("/citizens/me/checkins")
def my_checkins(
    claim: CurrentPerson,
    session: SessionDep,
    settings: SettingsDep,
    days: Annotated[int, Query(ge=1, le=28)] = 28,
) -> list[VisitView]:
    """Your own check-ins (and your companions') of the last days."""
    days = min(days, settings.retention_days)
    return [
        VisitView(**record.__dict__)
        for record in service.own_history(session=session, person_key=claim.person_key, days=days)
    ]


@router.post("/citizens/me/checkins/{check_in_id}/checkout")
def check_out(
    check_in_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    claim: CurrentPerson,
    session: SessionDep,
) -> VisitView:
    """Leave: the visit ends now rather than after the venue's usual dwell time."""
    record = service.check_out(
        session=session, person_key=claim.person_key, check_in_id=check_in_id
    )
    return VisitView(**record.__dict__)
