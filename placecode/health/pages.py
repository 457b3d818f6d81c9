"""Pages of health: a citizen's "why is my code this colour" with correction requests; the
CDC's imports, correction queue and a person's status history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from placecode.accounts.authz import requires
from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.clock import clock
from placecode.config import Settings
from placecode.errors import InvalidInput, PlaceCodeError
from placecode.health import service
from placecode.health.api import get_statuses, person_health_view
from placecode.health.status import (
    COLOUR_LABELS,
    EVENT_LABELS,
    NAT_LABELS,
    VACCINATION_LABELS,
    EventKind,
)
from placecode.i18n import _
from placecode.people.auth import CurrentPerson
from placecode.people.documents import DOC_LABELS, DocType
from placecode.people.identity import PersonClaim
from placecode.people.sealing import load_sealer
from placecode.people.service import find_person
from placecode.web.deps import SessionDep, SettingsDep, read_upload
from placecode.web.templating import render

router = APIRouter(include_in_schema=False)

Analysts = Annotated[Principal, requires(Role.cdc_analyst)]
LABELS = {
    "colour_labels": COLOUR_LABELS,
    "nat_labels": NAT_LABELS,
    "vaccination_labels": VACCINATION_LABELS,
    "event_labels": {kind.value: label for kind, label in EVENT_LABELS.items()},
    "correction_labels": {state.value: label for state, label in service.CORRECTION_LABELS.items()},
}


# --- citizens ----------------------------------------------------------------------------


def _why_page(
    request: Request,
    session: Session,
    settings: Settings,
    claim: PersonClaim,
    error: str | None = None,
    reason: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    now = clock.now()
    status, found = service.person_status(
        session=session, settings=settings, person_key=claim.person_key, at=now
    )
    corrections = service.own_corrections(session=session, person_key=claim.person_key)
    return render(
        request,
        "health/why.html",
        {
            "citizen": claim,
            "status": status,
            "at": now,
            "events": found.events,
            "corrections": corrections,
            "can_file": not any(c.state == "open" for c in corrections),
            "error": error,
            "reason": reason,
            **LABELS,
        },
        status_code=status_code,
    )


@router.get("/me/health", response_class=HTMLResponse)
def why(
    request: Request, claim: CurrentPerson, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """Why my code has its colour, until when; my correction requests."""
    return _why_page(request, session, settings, claim)


@router.post("/me/health/corrections", response_class=HTMLResponse)
def file_correction(
    request: Request,
    claim: CurrentPerson,
    session: SessionDep,
    settings: SettingsDep,
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Ask the CDC to check my colour."""
    try:
        text = reason.strip()
        if not 5 <= len(text) <= 1000:
            raise InvalidInput(
                _("Say in 5 to 1000 characters why the colour is wrong."),
                code="bad_reason",
            )
        service.file_correction(
            session=session,
            settings=settings,
            sealer=load_sealer(settings),
            person_key=claim.person_key,
            details=claim.details,
            reason=text,
        )
    except PlaceCodeError as exc:
        session.rollback()
        return _why_page(request, session, settings, claim, exc.message, reason, exc.status)
    return RedirectResponse("/me/health", status_code=303)


# --- CDC ---------------------------------------------------------------------------------


def _imports_page(request: Request, principal: Principal, **context: Any) -> HTMLResponse:
    status_code = context.pop("status_code", 200)
    return render(
        request,
        "health/imports.html",
        {
            "principal": principal,
            "kinds": list(service.ImportKind),
            "kind_labels": service.IMPORT_LABELS,
            "columns": service.COLUMNS,
            "categories": list(EventKind),
            **LABELS,
            **context,
        },
        status_code=status_code,
    )


@router.get("/health/imports", response_class=HTMLResponse)
def imports_form(request: Request, principal: Analysts) -> HTMLResponse:
    """Upload a case list, NAT results or vaccinations."""
    return _imports_page(request, principal)


@router.post("/health/imports", response_class=HTMLResponse)
async def import_file(
    request: Request,
    principal: Analysts,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File()],
    kind: Annotated[str, Form(max_length=20)] = "",
    dry_run: Annotated[str, Form(max_length=5)] = "",
) -> HTMLResponse:
    """Import a file and show its row-by-row report."""
    try:
        if kind not in service.ImportKind.__members__:
            raise InvalidInput(_("Choose what the file holds."), code="bad_kind")
        content = await read_upload(file)
        report = await run_in_threadpool(
            service.import_health_file,
            session=session,
            settings=settings,
            sealer=load_sealer(settings),
            actor=principal,
            kind=service.ImportKind(kind),
            filename=file.filename or "upload.csv",
            content=content,
            dry_run=bool(dry_run),
        )
    except PlaceCodeError as exc:
        await run_in_threadpool(session.rollback)
        return _imports_page(
            request, principal, error=exc.message, kind=kind, status_code=exc.status
        )
    get_statuses(request).expire()
    return _imports_page(request, principal, report=report, filename=file.filename, kind=kind)


def _corrections_page(
    request: Request, principal: Principal, session: Session, **context: Any
) -> HTMLResponse:
    status_code = context.pop("status_code", 200)
    return render(
        request,
        "health/corrections.html",
        {
            "principal": principal,
            "open": service.list_corrections(session=session),
            "answered": [
                item
                for state in (service.CorrectionState.kept, service.CorrectionState.cleared)
                for item in service.list_corrections(session=session, state=state, limit=50)
            ],
            **LABELS,
            **context,
        },
        status_code=status_code,
    )


@router.get("/health/corrections", response_class=HTMLResponse)
def corrections(request: Request, principal: Analysts, session: SessionDep) -> HTMLResponse:
    """The queue of correction requests."""
    return _corrections_page(request, principal, session)


@router.post("/health/corrections/{correction_id}", response_class=HTMLResponse)
def resolve(
    request: Request,
    principal: Analysts,
    session: SessionDep,
    correction_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    outcome: Annotated[str, Form(max_length=10)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Keep the colour, or clear the person, with a note."""
    try:
        if outcome not in ("kept", "cleared"):
            raise InvalidInput(_("Choose keep or clear."), code="bad_outcome")
        if not 2 <= len(note.strip()) <= 1000:
            raise InvalidInput(
                _("Write a note of 2 to 1000 characters for the citizen."),
                code="bad_note",
            )
        service.resolve_correction(
            session=session,
            actor=principal,
            correction_id=correction_id,
            outcome=service.CorrectionState(outcome),
            note=note.strip(),
        )
    except PlaceCodeError as exc:
        session.rollback()
        return _corrections_page(
            request, principal, session, error=exc.message, status_code=exc.status
        )
    get_statuses(request).expire()
    return RedirectResponse("/health/corrections", status_code=303)


@router.get("/health/people", response_class=HTMLResponse)
def people_form(request: Request, principal: Analysts) -> HTMLResponse:
    """Look a person up by their document."""
    return render(
        request,
        "health/lookup.html",
        {"principal": principal, "doc_types": list(DocType), "doc_labels": DOC_LABELS},
    )


@router.post("/health/people", response_class=HTMLResponse)
def lookup(
    request: Request,
    principal: Analysts,
    session: SessionDep,
    settings: SettingsDep,
    doc_type: Annotated[str, Form(max_length=40)] = "",
    doc_number: Annotated[str, Form(max_length=60)] = "",
) -> Response:
    """Find the person behind a document (the number goes in the body, never in a URL)."""
    try:
        key = service.person_key_for(settings=settings, doc_type=doc_type, doc_number=doc_number)
        if find_person(session=session, person_key=key) is None:
            raise InvalidInput(_("Nobody with this document is registered."), code="unknown_person")
    except PlaceCodeError as exc:
        return render(
            request,
            "health/lookup.html",
            {
                "principal": principal,
                "doc_types": list(DocType),
                "doc_labels": DOC_LABELS,
                "error": exc.message,
                "doc_type": doc_type,
            },
            status_code=exc.status,
        )
    return RedirectResponse(f"/health/people/{key}", status_code=303)


def _person_page(
    request: Request,
    principal: Principal,
    session: Session,
    settings: Settings,
    person_key: str,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    view = person_health_view(session, settings, person_key)
    return render(
        request,
        "health/person.html",
        {
            "principal": principal,
            "view": view,
            "kinds": list(EventKind),
            "now": clock.local_now(),
            "error": error,
            **LABELS,
        },
        status_code=status_code,
    )


@router.get("/health/people/{person_key}", response_class=HTMLResponse)
def person_page(
    request: Request,
    principal: Analysts,
    session: SessionDep,
    settings: SettingsDep,
    person_key: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
) -> HTMLResponse:
    """A person's status now and how it changed, with their records (masked)."""
    return _person_page(request, principal, session, settings, person_key)


@router.post("/health/people/{person_key}/events", response_class=HTMLResponse)
def add_event(
    request: Request,
    principal: Analysts,
    session: SessionDep,
    settings: SettingsDep,
    person_key: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    kind: Annotated[str, Form(max_length=20)] = "",
    occurred_at: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Record an event (a contact, a clearance…) for this person."""
    try:
        if kind not in EventKind.__members__:
            raise InvalidInput(_("Choose what happened."), code="bad_kind")
        if len(note.strip()) > 1000:
            raise InvalidInput(_("Keep the note under 1000 characters."), code="bad_note")
        service.record_event_for(
            session=session,
            actor=principal,
            person_key=person_key,
            kind=EventKind(kind),
            occurred_at=service.parse_moment(occurred_at, field="occurred_at", settings=settings),
            note=note.strip() or None,
        )
    except PlaceCodeError as exc:
        session.rollback()
        return _person_page(
            request, principal, session, settings, person_key, exc.message, exc.status
        )
    get_statuses(request).expire()
    return RedirectResponse(f"/health/people/{person_key}", status_code=303)
