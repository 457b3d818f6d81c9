"""Pages of venues: register, import, search, manage codes and posters; organisations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from starlette.responses import HTMLResponse, RedirectResponse, Response

from placecode.accounts.authz import ALL_STAFF, requires
from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.errors import Forbidden, NotFound, PlaceCodeError
from placecode.i18n import _
from placecode.region import service as region
from placecode.region.models import EntryPolicy
from placecode.venues import service
from placecode.venues.api import get_codebook, venue_view
from placecode.venues.models import KIND_LABELS, STATUS_LABELS, OrganisationKind, VenueStatus
from placecode.venues.schemas import VenueCreate
from placecode.web.deps import MAX_UPLOAD, SessionDep
from placecode.web.templating import render

router = APIRouter(include_in_schema=False)

Staff = Annotated[Principal, requires(*ALL_STAFF)]
Registrars = Annotated[
    Principal, requires(Role.district_admin, Role.street_admin, Role.venue_manager)
]
PAGE_SIZE = 50
REGISTRAR_ROLES = {Role.district_admin, Role.street_admin, Role.venue_manager}


def reference(session: SessionDep) -> dict[str, Any]:
    """What the venue forms offer to choose from."""
    return {
        "streets": region.list_streets(session=session),
        "categories": region.list_categories(session=session),
        "policies": list(EntryPolicy),
        "statuses": list(VenueStatus),
        "status_labels": STATUS_LABELS,
        "kinds": list(OrganisationKind),
        "kind_labels": KIND_LABELS,
    }


@router.get("/venues", response_class=HTMLResponse)
def venue_list(
    request: Request,
    principal: Staff,
    session: SessionDep,
    q: Annotated[str, Query(max_length=100)] = "",
    street: Annotated[str, Query(max_length=40)] = "",
    category: Annotated[str, Query(max_length=40)] = "",
    status: Annotated[str, Query(max_length=12)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Search the venues in your scope."""
    chosen_status = VenueStatus(status) if status in VenueStatus.__members__ else None
    items, total = service.list_venues(
        session=session,
        principal=principal,
        q=q or None,
        street=street or None,
        category=category or None,
        status=chosen_status,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return render(
        request,
        "venues/list.html",
        {
            "principal": principal,
            "venues": items,
            "total": total,
            "page": page,
            "pages": max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
            "filters": {"q": q, "street": street, "category": category, "status": status},
            "can_register": principal.role in REGISTRAR_ROLES,
            **reference(session),
        },
    )


def _form_page(
    request: Request,
    principal: Principal,
    session: SessionDep,
    values: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "venues/new.html",
        {
            "principal": principal,
            "values": values or {},
            "error": error,
            **reference(session),
        },
        status_code=status_code,
    )


@router.get("/venues/new", response_class=HTMLResponse)
def new_venue(request: Request, principal: Registrars, session: SessionDep) -> HTMLResponse:
    """The registration form."""
    return _form_page(request, principal, session)


@router.post("/venues/new", response_class=HTMLResponse)
def register(
    request: Request,
    principal: Registrars,
    session: SessionDep,
    name: Annotated[str, Form(max_length=400)] = "",
    address: Annotated[str, Form(max_length=600)] = "",
    street: Annotated[str, Form(max_length=80)] = "",
    category: Annotated[str, Form(max_length=80)] = "",
    lon: Annotated[str, Form(max_length=40)] = "",
    lat: Annotated[str, Form(max_length=40)] = "",
    capacity: Annotated[str, Form(max_length=20)] = "",
    entry_policy: Annotated[str, Form(max_length=40)] = "",
    operator_name: Annotated[str, Form(max_length=400)] = "",
    operator_uscc: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Register a venue from the form, or show the form again with the reason."""
    values = {
        "name": name,
        "address": address,
        "street": street,
        "category": category,
        "lon": lon,
        "lat": lat,
        "capacity": capacity,
        "entry_policy": entry_policy,
        "operator_name": operator_name,
        "operator_uscc": operator_uscc,
    }
    try:
        data = VenueCreate.model_validate(
            {
                "name": name,
                "address": address,
                "street": street,
                "category": category,
                "lon": float(lon) if lon.strip() else None,
                "lat": float(lat) if lat.strip() else None,
                "capacity": int(capacity) if capacity.strip() else None,
                "entry_policy": entry_policy or None,
                "operator_name": operator_name or None,
                "operator_uscc": operator_uscc or None,
            }
        )
        venue = service.register_venue(session=session, principal=principal, data=data)
    except PlaceCodeError as exc:
        session.rollback()
        return _form_page(request, principal, session, values, exc.message, exc.status)
    except ValueError as exc:  # numbers that are not numbers, or a field the model refused
        session.rollback()
        return _form_page(request, principal, session, values, str(exc), 422)
    return RedirectResponse(f"/venues/{venue.id}", status_code=303)


@router.get("/venues/import", response_class=HTMLResponse)
def import_form(request: Request, principal: Registrars) -> HTMLResponse:
    """The bulk registration form."""
    return render(request, "venues/import.html", {"principal": principal})


@router.post("/venues/import", response_class=HTMLResponse)
async def import_file(
    request: Request,
    principal: Registrars,
    session: SessionDep,
    file: Annotated[UploadFile, File()],
    dry_run: Annotated[str, Form(max_length=5)] = "",
) -> HTMLResponse:
    """Register venues from an uploaded file and show the row-by-row report."""
    content = await file.read(MAX_UPLOAD + 1)
    try:
        if len(content) > MAX_UPLOAD:
            raise service.field_error("file", _("The file is larger than 20 MB; split it."))
        report = service.import_venues(
            session=session,
            principal=principal,
            filename=file.filename or "upload.csv",
            content=content,
            dry_run=bool(dry_run),
        )
    except PlaceCodeError as exc:
        session.rollback()
        return render(
            request,
            "venues/import.html",
            {"principal": principal, "error": exc.message},
            status_code=exc.status,
        )
    return render(
        request,
        "venues/import.html",
        {"principal": principal, "report": report, "filename": file.filename},
    )


@router.get("/venues/{venue_id}", response_class=HTMLResponse)
def venue_detail(
    venue_id: str, request: Request, principal: Staff, session: SessionDep
) -> HTMLResponse:
    """A venue, its code, posters, actions and history."""
    venue = service.visible_venue(session=session, principal=principal, venue_id=venue_id)
    view = venue_view(session, venue)
    street = region.get_street(session=session, code=venue.street_code)
    category = region.get_category(session=session, code=venue.category_code)
    organisation = (
        service.get_organisation(session=session, organisation_id=venue.organisation_id)
        if venue.organisation_id
        else None
    )
    can_manage = principal.role in REGISTRAR_ROLES
    can_take_over = (
        principal.role is Role.venue_manager
        and venue.delegated
        and venue.organisation_id != principal.scope
    )
    code_url = None
    if venue.status != VenueStatus.revoked and principal.role in REGISTRAR_ROLES | {Role.registrar}:
        codebook = get_codebook(request)
        code_url = codebook.url(codebook.issue(session=session, venue=venue))
    return render(
        request,
        "venues/detail.html",
        {
            "principal": principal,
            "venue": view,
            "street": street,
            "category": category,
            "organisation": organisation,
            "history": service.venue_history(session=session, venue_id=venue.id),
            "can_manage": can_manage,
            "can_take_over": can_take_over,
            "can_print": code_url is not None,
            "code_url": code_url,
            "status_labels": STATUS_LABELS,
        },
    )


@router.post("/venues/{venue_id}/action/{action}")
def venue_action(
    venue_id: str,
    action: str,
    request: Request,
    principal: Staff,
    session: SessionDep,
    reason: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """Suspend, resume, revoke, re-issue or take over, then back to the venue."""
    if action != "takeover" and principal.role not in REGISTRAR_ROLES:
        raise Forbidden(_("Your role may not change this venue."), code="role_not_allowed")
    if action in service.TRANSITIONS:
        service.change_status(
            session=session, principal=principal, venue_id=venue_id, action=action, reason=reason
        )
    elif action == "reissue":
        service.reissue_code(session=session, principal=principal, venue_id=venue_id)
    elif action == "takeover":
        service.take_over(session=session, principal=principal, venue_id=venue_id)
    else:
        raise NotFound(_("There is no such action."), code="unknown_action")
    return RedirectResponse(f"/venues/{venue_id}", status_code=303)


# --- organisations ---------------------------------------------------------------------------


@router.get("/organisation", response_class=HTMLResponse)
def my_organisation(
    request: Request,
    principal: Annotated[Principal, requires(Role.venue_manager)],
    session: SessionDep,
) -> HTMLResponse:
    """Your organisation: its verification and all its posters at once."""
    assert principal.scope is not None
    organisation = service.get_organisation(session=session, organisation_id=principal.scope)
    venues = service.organisation_venues(session=session, organisation_id=organisation.id)
    return render(
        request,
        "venues/organisation.html",
        {
            "principal": principal,
            "organisation": organisation,
            "venue_count": len(venues),
            "kind_labels": KIND_LABELS,
        },
    )


@router.get("/organisations", response_class=HTMLResponse)
def organisations(
    request: Request,
    principal: Annotated[
        Principal, requires(Role.district_admin, Role.street_admin, Role.cdc_analyst)
    ],
    session: SessionDep,
    error: str | None = None,
) -> HTMLResponse:
    """Organisations in your scope, and a form to record one."""
    items, total = service.list_organisations(session=session, principal=principal, limit=500)
    return render(
        request,
        "venues/organisations.html",
        {
            "principal": principal,
            "organisations": items,
            "total": total,
            "error": error,
            **reference(session),
        },
    )


@router.post("/organisations", response_class=HTMLResponse)
def add_organisation(
    request: Request,
    principal: Annotated[Principal, requires(Role.district_admin, Role.street_admin)],
    session: SessionDep,
    name: Annotated[str, Form(max_length=400)] = "",
    kind: Annotated[str, Form(max_length=40)] = "",
    uscc: Annotated[str, Form(max_length=40)] = "",
    street_code: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Record an organisation from the form."""
    try:
        if kind not in OrganisationKind.__members__:
            raise service.field_error("kind", _("Choose what kind of organisation it is."))
        if not name.strip():
            raise service.field_error("name", _("The name is required."))
        service.create_organisation(
            session=session,
            principal=principal,
            name=name,
            kind=OrganisationKind(kind),
            uscc=uscc,
            street_code=street_code or None,
        )
    except PlaceCodeError as exc:
        session.rollback()
        items, total = service.list_organisations(session=session, principal=principal, limit=500)
        return render(
            request,
            "venues/organisations.html",
            {
                "principal": principal,
                "organisations": items,
                "total": total,
                "error": exc.message,
                **reference(session),
            },
            status_code=exc.status,
        )
    return RedirectResponse("/organisations", status_code=303)


@router.get("/apply", response_class=HTMLResponse)
def apply(request: Request, session: SessionDep) -> HTMLResponse:
    """Register an organisation with its legal-person certificate (no account needed)."""
    return render(request, "venues/apply.html", reference(session))
