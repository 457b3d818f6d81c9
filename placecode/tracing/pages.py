"""Pages of tracing, the CDC's console: open a case, read the index people's trajectories
as a timeline, sort and filter the contacts, see the cluster as a picture, confirm or
withdraw, re-identify with a purpose, export; the re-identification audit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Path, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from placecode.accounts.authz import requires
from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.config import Settings
from placecode.errors import InvalidInput, PlaceCodeError
from placecode.health import service as health
from placecode.health.api import get_statuses
from placecode.i18n import _
from placecode.people.documents import DOC_LABELS, DocType
from placecode.tracing import service
from placecode.tracing.api import case_view, contact_views, export_response, retrace
from placecode.tracing.schemas import CaseView
from placecode.tracing.service import FINDING_LABELS, CaseStatus, Finding, Reidentified
from placecode.web.deps import DatabaseDep, SessionDep, SettingsDep, reading_apart
from placecode.web.templating import render

router = APIRouter(include_in_schema=False)

Analysts = Annotated[Principal, requires(Role.cdc_analyst)]
CaseId = Annotated[str, Path(pattern=r"^tc_[0-9a-f]{16}$")]
SORTS: dict[str, Callable[[service.ContactRow], Any]] = {
    "overlap": lambda c: (-c.overlap_seconds, c.degree, c.person_id),
    "first": lambda c: (c.first_at, c.degree, c.person_id),
    "degree": lambda c: (c.degree, -c.overlap_seconds, c.person_id),
}
PICTURE_CONTACTS = 40
CONSOLE_ROWS = 500  # the export has them all


def _list_page(
    request: Request,
    principal: Principal,
    session: Session,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "tracing/cases.html",
        {
            "principal": principal,
            "cases": service.list_cases(session=session),
            "doc_types": list(DocType),
            "doc_labels": DOC_LABELS,
            "error": error,
            "values": values or {},
        },
        status_code=status_code,
    )


@router.get("/tracing", response_class=HTMLResponse)
def cases_page(request: Request, principal: Analysts, session: SessionDep) -> HTMLResponse:
    """The tracing cases, and a form to open one."""
    return _list_page(request, principal, session)


@router.post("/tracing", response_class=HTMLResponse)
def open_case(
    request: Request,
    principal: Analysts,
    session: SessionDep,
    database: DatabaseDep,
    settings: SettingsDep,
    title: Annotated[str, Form(max_length=200)] = "",
    person_key: Annotated[str, Form(max_length=40)] = "",
    doc_type: Annotated[str, Form(max_length=40)] = "",
    doc_number: Annotated[str, Form(max_length=60)] = "",
    since: Annotated[str, Form(max_length=40)] = "",
    until: Annotated[str, Form(max_length=40)] = "",
    degree: Annotated[str, Form(max_length=2)] = "2",
    venue_id: Annotated[str, Form(max_length=16)] = "",
    starts_at: Annotated[str, Form(max_length=40)] = "",
    ends_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Open a case for an index person (by document or person key) and/or a risky venue."""
    values = {
        "title": title,
        "person_key": person_key,
        "doc_type": doc_type,
        "since": since,
        "until": until,
        "degree": degree,
        "venue_id": venue_id,
        "starts_at": starts_at,
        "ends_at": ends_at,
    }
    try:
        people = []
        if person_key.strip() or doc_number.strip():
            key = person_key.strip().lower() or health.person_key_for(
                settings=settings, doc_type=doc_type, doc_number=doc_number
            )
            people.append(
                service.IndexRequest(
                    person_key=key,
                    since=_moment(since, "since", settings),
                    until=_moment(until, "until", settings),
                )
            )
        venues = []
        if venue_id.strip():
            venues.append(
                service.VenueRequest(
                    venue_id=venue_id.strip(),
                    starts_at=health.parse_moment(starts_at, field="starts_at", settings=settings),
                    ends_at=health.parse_moment(ends_at, field="ends_at", settings=settings),
                )
            )
        if degree not in ("1", "2"):
            raise InvalidInput(_("The degree is 1 or 2."), code="degree")
        with reading_apart(session, database) as reading:
            plan = service.plan_case(
                session=reading,
                settings=settings,
                title=title,
                people=people,
                venues=venues,
                degree=int(degree),
            )
        case = service.open_case(session=session, actor=principal, plan=plan)
    except PlaceCodeError as exc:
        session.rollback()
        return _list_page(request, principal, session, exc.message, values, exc.status)
    return RedirectResponse(f"/tracing/cases/{case.id}", status_code=303)


def _moment(raw: str, field: str, settings: Settings) -> Any:
    return health.parse_moment(raw, field=field, settings=settings) if raw.strip() else None


@dataclass(frozen=True)
class Node:
    key: str
    label: str
    x: int
    y: int
    kind: str  # index, venue, contact


@dataclass(frozen=True)
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int
    kind: str


@dataclass(frozen=True)
class Picture:
    width: int
    height: int
    nodes: list[Node]
    edges: list[Edge]


def cluster_picture(view: CaseView) -> Picture:
    """People and venues as a graph: index cases, the venues where they met people, and
    the contacts met there (the closest first, at most PICTURE_CONTACTS)."""
    shown = sorted(view.contacts, key=lambda c: (c.degree, -c.overlap_minutes))[:PICTURE_CONTACTS]
    venues = list(dict.fromkeys(c.venue_id for c in shown))
    names = {v.venue_id: v.venue_name for t in view.trajectories for v in t.visits}
    names.update({c.venue_id: c.venue_name for c in shown})
    step = 26
    height = step * (max(len(view.trajectories), len(venues), len(shown), 1) + 1)
    index_nodes = {
        t.person_key: Node(t.person_key, t.name_masked, 70, step * (n + 1), "index")
        for n, t in enumerate(view.trajectories)
    }
    venue_nodes = {
        v: Node(v, names.get(v, v), 330, step * (n + 1), "venue") for n, v in enumerate(venues)
    }
    contact_nodes = {
        c.person_key: Node(c.person_key, c.name_masked, 590, step * (n + 1), c.finding.value)
        for n, c in enumerate(shown)
    }
    edges = []
    for contact in shown:
        venue = venue_nodes[contact.venue_id]
        person = contact_nodes[contact.person_key]
        edges.append(Edge(venue.x, venue.y, person.x, person.y, contact.finding.value))
        source = index_nodes.get(contact.via_person_key or "") or contact_nodes.get(
            contact.via_person_key or ""
        )
        if source is not None and source.kind == "index":
            edges.append(Edge(source.x, source.y, venue.x, venue.y, "index"))
    unique = list(dict.fromkeys(edges))
    nodes = [*index_nodes.values(), *venue_nodes.values(), *contact_nodes.values()]
    return Picture(width=720, height=height, nodes=nodes, edges=unique)


def _console(
    request: Request,
    principal: Principal,
    session: Session,
    case_id: str,
    *,
    finding: str = "",
    degree: int | None = None,
    sort: str = "overlap",
    error: str | None = None,
    identities: list[Reidentified] | None = None,
    rerun: service.Rerun | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    case = service.get_case(session=session, case_id=case_id)
    view = case_view(session=session, case=case, limit=PICTURE_CONTACTS)
    found = service.saved_contacts(session=session, case=case)
    chosen = [
        c
        for c in found
        if (not finding or c.kind == finding) and (degree is None or c.degree == degree)
    ]
    chosen.sort(key=SORTS.get(sort, SORTS["overlap"]))
    contacts = contact_views(session=session, contacts=chosen[:CONSOLE_ROWS])
    counts = {f: sum(1 for c in found if c.kind == f.value) for f in Finding}
    return render(
        request,
        "tracing/console.html",
        {
            "principal": principal,
            "case": view,
            "contacts": contacts,
            "shown_of": len(chosen),
            "counts": counts,
            "finding": finding,
            "degree": degree,
            "sort": sort,
            "findings": list(Finding),
            "finding_labels": FINDING_LABELS,
            "statuses": CaseStatus,
            "picture": cluster_picture(view),
            "error": error,
            "identities": identities,
            "rerun": rerun,
        },
        status_code=status_code,
    )


@router.get("/tracing/cases/{case_id}", response_class=HTMLResponse)
def console(
    request: Request,
    principal: Analysts,
    session: SessionDep,
    case_id: CaseId,
    finding: Annotated[Literal["", "close_contact", "exposure", "secondary_contact"], Query()] = "",
    degree: Annotated[int | None, Query(ge=1, le=2)] = None,
    sort: Annotated[Literal["overlap", "first", "degree"], Query()] = "overlap",
) -> HTMLResponse:
    """A case: timeline, contacts (filtered and sorted), the cluster, the actions."""
    return _console(request, principal, session, case_id, finding=finding, degree=degree, sort=sort)


def _failed(
    request: Request, principal: Principal, session: Session, case_id: str, exc: PlaceCodeError
) -> HTMLResponse:
    """Nothing of a refused action is kept; the console says why."""
    session.rollback()
    return _console(request, principal, session, case_id, error=exc.message, status_code=exc.status)


def _act(
    request: Request,
    principal: Principal,
    session: Session,
    case_id: str,
    action: Any,
) -> Response:
    try:
        action()
    except PlaceCodeError as exc:
        return _failed(request, principal, session, case_id, exc)
    get_statuses(request).expire()
    return RedirectResponse(f"/tracing/cases/{case_id}", status_code=303)


@router.post("/tracing/cases/{case_id}/run", response_class=HTMLResponse)
def run_case(
    request: Request,
    principal: Analysts,
    session: SessionDep,
    database: DatabaseDep,
    case_id: CaseId,
) -> Response:
    """Trace the case again and say how the findings changed."""
    try:
        _case, rerun = retrace(session, database, case_id, principal)
    except PlaceCodeError as exc:
        return _failed(request, principal, session, case_id, exc)
    return RedirectResponse(
        f"/tracing/cases/{case_id}?added={rerun.added}&gone={rerun.gone}&changed={rerun.changed}",
        status_code=303,
    )


@router.post("/tracing/cases/{case_id}/confirm", response_class=HTMLResponse)
def confirm_case(
    request: Request, principal: Analysts, session: SessionDep, case_id: CaseId
) -> Response:
    """Confirm: the findings become health events."""
    return _act(
        request,
        principal,
        session,
        case_id,
        lambda: service.confirm_case(session=session, actor=principal, case_id=case_id),
    )


@router.post("/tracing/cases/{case_id}/withdraw", response_class=HTMLResponse)
def withdraw_case(
    request: Request,
    principal: Analysts,
    session: SessionDep,
    case_id: CaseId,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Withdraw the confirmation (its events are taken back)."""
    return _act(
        request,
        principal,
        session,
        case_id,
        lambda: service.withdraw_case(
            session=session, actor=principal, case_id=case_id, reason=reason
        ),
    )


def _chosen(session: Session, case_id: str, who: str) -> list[str]:
    """The person keys of the case's close and secondary contacts, or of everyone found."""
    keep = {
        "close": (Finding.close_contact.value, Finding.secondary_contact.value),
        "all": tuple(f.value for f in Finding),
    }.get(who, tuple(f.value for f in Finding))
    case = service.get_case(session=session, case_id=case_id)
    ids = [
        c.person_id for c in service.saved_contacts(session=session, case=case) if c.kind in keep
    ]
    labels = service.person_labels(session=session, person_ids=ids)
    return [labels[person].person_key for person in ids]


@router.post("/tracing/cases/{case_id}/reidentify", response_class=HTMLResponse)
def reidentify(
    request: Request,
    principal: Analysts,
    session: SessionDep,
    settings: SettingsDep,
    case_id: CaseId,
    purpose: Annotated[str, Form(max_length=500)] = "",
    who: Annotated[str, Form(max_length=10)] = "close",
) -> Response:
    """Show who the contacts are (close and secondary, or all), for a stated purpose."""
    try:
        keys = _chosen(session, case_id, who)
        if not keys:
            raise InvalidInput(_("This case found nobody to re-identify."), code="nobody")
        found = service.reidentify(
            session=session,
            settings=settings,
            actor=principal,
            person_keys=keys,
            purpose=purpose,
            case_id=case_id,
        )
    except PlaceCodeError as exc:
        return _failed(request, principal, session, case_id, exc)
    return _console(request, principal, session, case_id, identities=found)


@router.post("/tracing/cases/{case_id}/export", response_class=HTMLResponse)
def export_reidentified(
    request: Request,
    principal: Analysts,
    session: SessionDep,
    settings: SettingsDep,
    case_id: CaseId,
    purpose: Annotated[str, Form(max_length=500)] = "",
    who: Annotated[str, Form(max_length=10)] = "close",
    format: Annotated[str, Form(max_length=5)] = "csv",
) -> Response:
    """Download the findings with names, documents and phones (re-identified, audited)."""
    case = service.get_case(session=session, case_id=case_id)
    try:
        if format not in ("csv", "xlsx"):
            raise InvalidInput(_("Export as csv or xlsx."), code="format")
        found = service.reidentify(
            session=session,
            settings=settings,
            actor=principal,
            person_keys=_chosen(session, case_id, who),
            purpose=purpose,
            case_id=case_id,
        )
    except PlaceCodeError as exc:
        return _failed(request, principal, session, case_id, exc)
    columns, rows = service.export_rows(
        session=session,
        settings=settings,
        contacts=service.saved_contacts(session=session, case=case),
        identities={person.person_key: person for person in found},
    )
    return export_response(case, columns, rows, format)


@router.get("/tracing/reidentifications", response_class=HTMLResponse)
def reidentifications(
    request: Request,
    principal: Annotated[Principal, requires(Role.cdc_analyst, Role.district_admin)],
    session: SessionDep,
) -> HTMLResponse:
    """Who re-identified whom, when and why."""
    return render(
        request,
        "tracing/reidentifications.html",
        {"principal": principal, "entries": service.reidentifications(session=session)},
    )
