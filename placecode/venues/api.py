"""JSON API of organisations, venues, their codes and posters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status
from starlette.responses import JSONResponse, Response

from placecode.accounts.authz import ALL_STAFF, requires
from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.errors import InvalidInput
from placecode.i18n import _
from placecode.region import service as region
from placecode.region.models import EntryPolicy
from placecode.tables import ImportReport
from placecode.venues import posters, service
from placecode.venues.codes import CodeBook
from placecode.venues.models import Venue, VenueStatus
from placecode.venues.schemas import (
    Application,
    ApplicationResult,
    ChallengeRequest,
    ChallengeView,
    CodeCheck,
    CodeView,
    OrganisationCreate,
    OrganisationView,
    Proof,
    StatusChange,
    VenueCreate,
    VenueEventView,
    VenuePage,
    VenueUpdate,
    VenueView,
)
from placecode.web.deps import SessionDep, SettingsDep, read_upload

router = APIRouter(prefix="/api/v1", tags=["venues"])
public_router = APIRouter(tags=["venues"])

Staff = Annotated[Principal, requires(*ALL_STAFF)]
Registrars = Annotated[
    Principal, requires(Role.district_admin, Role.street_admin, Role.venue_manager)
]
Managers = Registrars
PosterReaders = Annotated[
    Principal,
    requires(Role.district_admin, Role.street_admin, Role.venue_manager, Role.registrar),
]
OrganisationAdmins = Annotated[Principal, requires(Role.district_admin, Role.street_admin)]
Responses = dict[int | str, dict[str, Any]]
PDF: Responses = {200: {"content": {"application/pdf": {}}, "description": "A4 PDF"}}
PNG: Responses = {200: {"content": {"image/png": {}}, "description": "PNG, 150 dpi"}}
SVG: Responses = {200: {"content": {"image/svg+xml": {}}, "description": "SVG"}}


def get_codebook(request: Request) -> CodeBook:
    codebook: CodeBook = request.app.state.codes
    return codebook


def venue_view(session: SessionDep, venue: Venue) -> VenueView:
    """The venue as the API shows it, with the entry policy that applies to it."""
    stored = {name: getattr(venue, name) for name in VenueView.model_fields if hasattr(venue, name)}
    policy = service.effective_entry_policy(session=session, venue=venue)
    return VenueView.model_validate({**stored, "effective_entry_policy": policy})


def poster_data(session: SessionDep, codebook: CodeBook, venue: Venue) -> posters.PosterData:
    street = region.get_street(session=session, code=venue.street_code)
    category = region.get_category(session=session, code=venue.category_code)
    district = region.get_region(session=session)
    note = None
    if venue.delegated and venue.operator_name:
        note = _("Operated by {operator}; registered on its behalf").format(
            operator=venue.operator_name
        )
    return posters.PosterData(
        venue_id=venue.id,
        name=venue.name,
        address=venue.address,
        street_zh=street.name_zh,
        street_en=street.name_en,
        category_zh=category.name_zh,
        region_zh=district.city_zh + district.name_zh,
        url=codebook.url(codebook.issue(session=session, venue=venue)),
        version=venue.code_version,
        operator_note=note,
    )


def attachment(content: bytes | str, media_type: str, filename: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- organisations -------------------------------------------------------------------------


@router.get("/organisations")
def list_organisations(
    principal: Staff,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[OrganisationView]:
    """List organisations in your scope."""
    items, _total = service.list_organisations(
        session=session, principal=principal, limit=limit, offset=offset
    )
    return [OrganisationView.model_validate(o) for o in items]


@router.post("/organisations", status_code=status.HTTP_201_CREATED)
def create_organisation(
    body: OrganisationCreate, principal: OrganisationAdmins, session: SessionDep
) -> OrganisationView:
    """Record an organisation; it verifies itself later with its certificate."""
    organisation = service.create_organisation(
        session=session,
        principal=principal,
        name=body.name,
        kind=body.kind,
        uscc=body.uscc,
        street_code=body.street_code,
    )
    return OrganisationView.model_validate(organisation)


@router.get("/organisations/{organisation_id}")
def get_organisation(
    organisation_id: str, principal: Staff, session: SessionDep
) -> OrganisationView:
    """Show one organisation."""
    return OrganisationView.model_validate(
        service.visible_organisation(
            session=session, principal=principal, organisation_id=organisation_id
        )
    )


@router.post("/certificates/challenges", status_code=status.HTTP_201_CREATED)
def new_challenge(
    body: ChallengeRequest, session: SessionDep, settings: SettingsDep
) -> ChallengeView:
    """Check a legal-person certificate and get a one-time challenge for its key to sign."""
    challenge, checked = service.new_challenge(
        session=session, settings=settings, certificate_pem=body.certificate_pem
    )
    return ChallengeView(
        challenge_id=challenge.id,
        challenge=challenge.text,
        expires_at=challenge.expires_at,
        uscc=checked.uscc,
        name=checked.name,
    )


@router.post("/organisations/apply", status_code=status.HTTP_201_CREATED)
def apply(body: Application, session: SessionDep, settings: SettingsDep) -> ApplicationResult:
    """Register your organisation with its certificate and get a venue manager account."""
    organisation, username = service.apply_with_certificate(
        session=session,
        settings=settings,
        certificate_pem=body.certificate_pem,
        challenge_id=body.challenge_id,
        signature=body.signature,
        kind=body.kind,
        street_code=body.street_code,
        username=body.username,
        password=body.password,
        display_name=body.display_name,
    )
    return ApplicationResult(
        organisation=OrganisationView.model_validate(organisation), username=username
    )


@router.post("/organisations/{organisation_id}/verify")
def verify_organisation(
    organisation_id: str,
    body: Proof,
    principal: Annotated[Principal, requires(Role.venue_manager)],
    session: SessionDep,
    settings: SettingsDep,
) -> OrganisationView:
    """Prove your organisation with its certificate and the signed challenge."""
    organisation = service.verify_organisation(
        session=session,
        settings=settings,
        principal=principal,
        organisation_id=organisation_id,
        certificate_pem=body.certificate_pem,
        challenge_id=body.challenge_id,
        signature=body.signature,
    )
    return OrganisationView.model_validate(organisation)


@router.get("/organisations/{organisation_id}/posters.pdf", response_class=Response, responses=PDF)
def organisation_posters(
    organisation_id: str,
    principal: PosterReaders,
    session: SessionDep,
    request: Request,
) -> Response:
    """All of an organisation's posters, one A4 page each, in one PDF."""
    organisation = service.visible_organisation(
        session=session, principal=principal, organisation_id=organisation_id
    )
    codebook = get_codebook(request)
    venues = service.organisation_venues(session=session, organisation_id=organisation.id)
    if not venues:
        raise InvalidInput(_("This organisation has no venues yet."), code="no_venues")
    pdf = posters.poster_pdf([poster_data(session, codebook, venue) for venue in venues])
    return attachment(pdf, "application/pdf", f"posters-{organisation.id}.pdf")


# --- venues ------------------------------------------------------------------------------------


@router.get("/venues")
def list_venues(
    principal: Staff,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=100)] = None,
    street: Annotated[str | None, Query(max_length=40)] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    status_: Annotated[VenueStatus | None, Query(alias="status")] = None,
    organisation: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> VenuePage:
    """Search the venues in your scope by name, street, category, status or organisation."""
    items, total = service.list_venues(
        session=session,
        principal=principal,
        q=q,
        street=street,
        category=category,
        status=status_,
        organisation=organisation,
        limit=limit,
        offset=offset,
    )
    return VenuePage(total=total, items=[venue_view(session, v) for v in items])


@router.post("/venues", status_code=status.HTTP_201_CREATED)
def register_venue(body: VenueCreate, principal: Registrars, session: SessionDep) -> VenueView:
    """Register a venue (with operator_name: on a shop's behalf)."""
    venue = service.register_venue(session=session, principal=principal, data=body)
    return venue_view(session, venue)


@router.post("/venues/import")
async def import_venues(
    principal: Registrars,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GB18030) or .xlsx")],
    dry_run: Annotated[bool, Form()] = False,
) -> ImportReport:
    """Register venues from a file (name,address,street,category,lon,lat,operator_name)."""
    content = await read_upload(file)
    return service.import_venues(
        session=session,
        principal=principal,
        filename=file.filename or "upload.csv",
        content=content,
        dry_run=dry_run,
    )


@router.get("/venues/{venue_id}")
def get_venue(venue_id: str, principal: Staff, session: SessionDep) -> VenueView:
    """Show one venue."""
    return venue_view(
        session, service.visible_venue(session=session, principal=principal, venue_id=venue_id)
    )


@router.patch("/venues/{venue_id}")
def update_venue(
    venue_id: str, body: VenueUpdate, principal: Managers, session: SessionDep
) -> VenueView:
    """Correct a venue's name, address, position, capacity, entry policy or operator code."""
    venue = service.update_venue(
        session=session, principal=principal, venue_id=venue_id, changes_in=body
    )
    return venue_view(session, venue)


@router.post("/venues/{venue_id}/suspend")
def suspend(
    venue_id: str, principal: Managers, session: SessionDep, body: StatusChange | None = None
) -> VenueView:
    """Suspend a venue's code for now: scans are refused until it is resumed."""
    venue = service.change_status(
        session=session,
        principal=principal,
        venue_id=venue_id,
        action="suspend",
        reason=body.reason if body else "",
    )
    return venue_view(session, venue)


@router.post("/venues/{venue_id}/resume")
def resume(
    venue_id: str, principal: Managers, session: SessionDep, body: StatusChange | None = None
) -> VenueView:
    """Resume a suspended venue's code."""
    venue = service.change_status(
        session=session,
        principal=principal,
        venue_id=venue_id,
        action="resume",
        reason=body.reason if body else "",
    )
    return venue_view(session, venue)


@router.post("/venues/{venue_id}/revoke")
def revoke(
    venue_id: str, principal: Managers, session: SessionDep, body: StatusChange | None = None
) -> VenueView:
    """Revoke a venue's code for good."""
    venue = service.change_status(
        session=session,
        principal=principal,
        venue_id=venue_id,
        action="revoke",
        reason=body.reason if body else "",
    )
    return venue_view(session, venue)


@router.post("/venues/{venue_id}/reissue")
def reissue(venue_id: str, principal: Managers, session: SessionDep) -> VenueView:
    """Issue a new code; the old printed code stops working."""
    return venue_view(
        session, service.reissue_code(session=session, principal=principal, venue_id=venue_id)
    )


@router.post("/venues/{venue_id}/takeover")
def take_over(
    venue_id: str,
    principal: Annotated[Principal, requires(Role.venue_manager)],
    session: SessionDep,
) -> VenueView:
    """Take over a venue registered on your shop's behalf (its credit code must be yours)."""
    return venue_view(
        session, service.take_over(session=session, principal=principal, venue_id=venue_id)
    )


@router.get("/venues/{venue_id}/history")
def history(venue_id: str, principal: Staff, session: SessionDep) -> list[VenueEventView]:
    """The venue's history: registration, changes, status, new codes, takeovers."""
    venue = service.visible_venue(session=session, principal=principal, venue_id=venue_id)
    return [
        VenueEventView.model_validate(e)
        for e in service.venue_history(session=session, venue_id=venue.id)
    ]


@router.get("/venues/{venue_id}/code")
def venue_code(
    venue_id: str, principal: PosterReaders, session: SessionDep, request: Request
) -> CodeView:
    """The venue's current signed code and the URL its QR holds."""
    venue = service.visible_venue(session=session, principal=principal, venue_id=venue_id)
    codebook = get_codebook(request)
    token = codebook.issue(session=session, venue=venue)
    return CodeView(
        venue_id=venue.id, version=venue.code_version, token=token, url=codebook.url(token)
    )


def _poster_venue(session: SessionDep, principal: Principal, venue_id: str) -> Venue:
    venue = service.visible_venue(session=session, principal=principal, venue_id=venue_id)
    if venue.status == VenueStatus.revoked:
        raise InvalidInput(_("A revoked venue has no poster."), code="venue_revoked")
    return venue


@router.get("/venues/{venue_id}/poster.pdf", response_class=Response, responses=PDF)
def poster_pdf(
    venue_id: str, principal: PosterReaders, session: SessionDep, request: Request
) -> Response:
    """The venue's A4 poster as PDF."""
    venue = _poster_venue(session, principal, venue_id)
    data = poster_data(session, get_codebook(request), venue)
    return attachment(posters.poster_pdf([data]), "application/pdf", f"poster-{venue.id}.pdf")


@router.get("/venues/{venue_id}/poster.png", response_class=Response, responses=PNG)
def poster_png(
    venue_id: str, principal: PosterReaders, session: SessionDep, request: Request
) -> Response:
    """The venue's poster as a PNG image."""
    venue = _poster_venue(session, principal, venue_id)
    data = poster_data(session, get_codebook(request), venue)
    return attachment(posters.poster_png(data), "image/png", f"poster-{venue.id}.png")


@router.get("/venues/{venue_id}/poster.svg", response_class=Response, responses=SVG)
def poster_svg(
    venue_id: str, principal: PosterReaders, session: SessionDep, request: Request
) -> Response:
    """The venue's poster as SVG."""
    venue = _poster_venue(session, principal, venue_id)
    data = poster_data(session, get_codebook(request), venue)
    return Response(posters.poster_svg(data), media_type="image/svg+xml")


# --- codes, for anyone ---------------------------------------------------------------------------


@router.get("/codes/{token}")
def check_code(token: str, session: SessionDep, request: Request) -> CodeCheck:
    """Check a venue code online: the venue it names, or why it is refused."""
    venue = get_codebook(request).verify(session=session, token=token)
    return CodeCheck(
        venue_id=venue.id,
        name=venue.name,
        address=venue.address,
        street_code=venue.street_code,
        category_code=venue.category_code,
        entry_policy=EntryPolicy(venue.entry_policy),
    )


@public_router.get("/.well-known/jwks.json")
def jwks(session: SessionDep, request: Request) -> JSONResponse:
    """The public keys that verify venue codes, so scanning apps can check them offline."""
    return JSONResponse(
        get_codebook(request).jwks(session=session),
        headers={"Cache-Control": "public, max-age=300"},
    )
