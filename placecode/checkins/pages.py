"""Pages of check-ins: what a venue's QR opens (the scan page), the sentinel's kiosk, the
registrar's paper form and logbook upload, a venue's visitor list, a citizen's history."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from placecode.accounts.authz import requires
from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.checkins import service
from placecode.checkins.api import (
    get_limiter,
    import_logbook,
    record,
    usable_venue,
)
from placecode.clock import clock
from placecode.errors import PlaceCodeError
from placecode.health.api import current_statuses
from placecode.health.status import COLOUR_LABELS, NAT_LABELS, VACCINATION_LABELS
from placecode.people.auth import CurrentPerson, get_identities, person_token
from placecode.people.documents import DOC_LABELS, DocType
from placecode.people.service import person_key_of, read_details
from placecode.region import service as region
from placecode.venues import service as venues
from placecode.venues.api import get_codebook
from placecode.venues.codes import CodeRefused
from placecode.web.deps import MAX_UPLOAD, SessionDep, SettingsDep
from placecode.web.templating import render

router = APIRouter(include_in_schema=False)

LABELS = {
    "colour_labels": COLOUR_LABELS,
    "vaccination_labels": VACCINATION_LABELS,
    "nat_labels": NAT_LABELS,
}


def refused_page(request: Request, exc: PlaceCodeError) -> HTMLResponse:
    return render(
        request,
        "venues/code_refused.html",
        {"code": exc.code, "message": exc.message},
        status_code=exc.status,
    )


@router.get("/s/{token}", response_class=HTMLResponse)
async def scan_page(
    token: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """What a venue's QR opens: check in, see your colour, NAT, vaccination and the venue's
    decision (for your companions too), or a clear refusal of the code."""
    try:
        venue = await run_in_threadpool(get_codebook(request).verify, session=session, token=token)
    except CodeRefused as exc:
        return refused_page(request, exc)
    citizen_token, _from_cookie = person_token(request)
    if not citizen_token:
        street = await run_in_threadpool(region.get_street, session=session, code=venue.street_code)
        return render(
            request,
            "checkins/sign_in_first.html",
            {"venue": venue, "street": street, "next": quote("/s/" + token)},
        )
    try:
        claim = await run_in_threadpool(
            get_identities(request).identify, session=session, token=citizen_token
        )
        scan = service.plan_scan(
            venue=venue,
            claim=claim,
            statuses=await current_statuses(request),
            limiter=get_limiter(request),
            channel=claim.channel,
        )
        result = await record(request, scan, session=session)
    except PlaceCodeError as exc:
        if exc.code in ("person_token_expired", "person_token_invalid", "unknown_person"):
            return RedirectResponse(f"/me/login?next={quote('/s/' + token)}", status_code=303)
        return refused_page(request, exc)
    return render(request, "checkins/scan.html", {"result": result, "citizen": claim, **LABELS})


@router.post("/me/checkins/{check_in_id}/checkout")
def check_out(
    check_in_id: int, request: Request, claim: CurrentPerson, session: SessionDep
) -> Response:
    """Leave a venue (from the scan page or the history)."""
    service.check_out(session=session, person_key=claim.person_key, check_in_id=check_in_id)
    return RedirectResponse("/me/history", status_code=303)


@router.get("/me/history", response_class=HTMLResponse)
def history(
    request: Request, claim: CurrentPerson, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """Your scans (and your companions') of the last 28 days."""
    visits = service.own_history(
        session=session, person_key=claim.person_key, days=settings.retention_days
    )
    return render(request, "checkins/history.html", {"citizen": claim, "visits": visits, **LABELS})


# --- staff at the door --------------------------------------------------------------------------


@router.get("/sentinel", response_class=HTMLResponse)
def sentinel(
    request: Request,
    principal: Annotated[Principal, requires(Role.sentinel)],
    session: SessionDep,
) -> HTMLResponse:
    """The sentinel kiosk: scan a personal code or type an ID number."""
    venue = get_codebook(request).snapshot(session=session, venue_id=principal.scope or "")
    return render(
        request,
        "checkins/sentinel.html",
        {
            "principal": principal,
            "venue": venue,
            "doc_types": list(DocType),
            "doc_labels": DOC_LABELS,
        },
    )


def _registrar_page(
    request: Request,
    principal: Principal,
    session: SessionDep,
    venue_id: str | None,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    venue = None
    if venue_id:
        venue = venues.visible_venue(session=session, principal=principal, venue_id=venue_id)
    return render(
        request,
        "checkins/registrar.html",
        {
            "principal": principal,
            "venue": venue,
            "doc_types": list(DocType),
            "doc_labels": DOC_LABELS,
            **LABELS,
            **extra,
        },
        status_code=status_code,
    )


PaperStaff = Annotated[
    Principal,
    requires(Role.registrar, Role.venue_manager, Role.street_admin, Role.district_admin),
]


@router.get("/registrar", response_class=HTMLResponse)
def registrar(
    request: Request,
    principal: PaperStaff,
    session: SessionDep,
    venue: Annotated[str | None, Query(max_length=12)] = None,
) -> HTMLResponse:
    """Paper registration at a venue: one person by form, or a logbook file."""
    venue_id = principal.scope if principal.role is Role.registrar else venue
    return _registrar_page(request, principal, session, venue_id)


@router.post("/registrar", response_class=HTMLResponse)
async def register_on_paper(
    request: Request,
    principal: PaperStaff,
    session: SessionDep,
    settings: SettingsDep,
    venue: Annotated[str, Form(max_length=12)] = "",
    doc_type: Annotated[str, Form(max_length=40)] = "",
    doc_number: Annotated[str, Form(max_length=60)] = "",
    name: Annotated[str, Form(max_length=120)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
    scanned_at: Annotated[str, Form(max_length=40)] = "",
) -> HTMLResponse:
    """Write one person down, and show their status and the venue's decision."""
    venue_id = principal.scope if principal.role is Role.registrar else venue
    values = {
        "doc_type": doc_type,
        "doc_number": doc_number,
        "name": name,
        "phone": phone,
        "scanned_at": scanned_at,
    }
    try:
        await run_in_threadpool(
            venues.visible_venue, session=session, principal=principal, venue_id=venue_id or ""
        )
        snapshot = await run_in_threadpool(usable_venue, request, session, venue_id or "")
        details = read_details(
            doc_type=doc_type, doc_number=doc_number, name=name, phone=phone or None
        )
        at = clock.now()
        if scanned_at.strip():
            at = service.parse_time(scanned_at, field="scanned_at", settings=settings)
            service.check_time(at, field="scanned_at", settings=settings)
        scan = service.plan_door_entry(
            settings=settings,
            venue=snapshot,
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
        result = await record(request, scan, session=session)
    except PlaceCodeError as exc:
        return await run_in_threadpool(
            _registrar_page,
            request,
            principal,
            session,
            venue_id,
            exc.status,
            error=exc.message,
            values=values,
        )
    return await run_in_threadpool(
        _registrar_page, request, principal, session, venue_id, 201, result=result
    )


@router.post("/registrar/logbook", response_class=HTMLResponse)
async def upload_logbook(
    request: Request,
    principal: PaperStaff,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File()],
    venue: Annotated[str, Form(max_length=12)] = "",
    dry_run: Annotated[str, Form(max_length=5)] = "",
) -> HTMLResponse:
    """Upload a logbook and show the row-by-row report."""
    venue_id = principal.scope if principal.role is Role.registrar else (venue or None)
    content = await file.read(MAX_UPLOAD + 1)
    try:
        report = await import_logbook(
            request,
            session,
            settings,
            principal,
            file.filename or "logbook.csv",
            content[:MAX_UPLOAD],
            bool(dry_run),
        )
    except PlaceCodeError as exc:
        return await run_in_threadpool(
            _registrar_page,
            request,
            principal,
            session,
            venue_id,
            exc.status,
            upload_error=exc.message,
        )
    return await run_in_threadpool(
        _registrar_page,
        request,
        principal,
        session,
        venue_id,
        200,
        report=report,
        filename=file.filename,
    )


@router.get("/venues/{venue_id}/visitors", response_class=HTMLResponse)
def visitors(
    venue_id: str,
    request: Request,
    principal: Annotated[
        Principal, requires(Role.venue_manager, Role.street_admin, Role.district_admin)
    ],
    session: SessionDep,
    settings: SettingsDep,
    day: Annotated[date | None, Query(alias="date")] = None,
) -> HTMLResponse:
    """A venue's visitors on a day: masked name, time, colour and channel."""
    venue = venues.visible_venue(session=session, principal=principal, venue_id=venue_id)
    chosen = day or clock.today()
    records = service.visitors(session=session, venue_id=venue.id, day=chosen, zone=settings.zone)
    return render(
        request,
        "checkins/visitors.html",
        {"principal": principal, "venue": venue, "day": chosen, "visits": records, **LABELS},
    )
