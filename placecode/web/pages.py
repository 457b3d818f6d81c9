"""The pages every role shares: the dashboard shell and the API documentation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from placecode.accounts.authz import requires
from placecode.accounts.models import ROLE_LABELS, SCOPE_LABELS, Role, ScopeKind
from placecode.accounts.principal import Principal
from placecode.errors import NotFound
from placecode.i18n import _, current_locale
from placecode.region import service as region_service
from placecode.venues import service as venues
from placecode.web.deps import SessionDep
from placecode.web.templating import render

router = APIRouter(include_in_schema=False)

Signed = Annotated[Principal, requires(*Role)]


def scope_name(*, session: SessionDep, principal: Principal) -> str:
    """A readable name for the principal's scope, in the page's language."""
    kind = principal.scope_kind
    english = current_locale() == "en"
    if kind is ScopeKind.district:
        return _(SCOPE_LABELS[kind])
    try:
        if kind is ScopeKind.street and principal.scope:
            street = region_service.get_street(session=session, code=principal.scope)
            return street.name_en if english else street.name_zh
        if kind is ScopeKind.department and principal.scope:
            department = region_service.get_department(session=session, code=principal.scope)
            return department.name_en if english else department.name_zh
        if kind is ScopeKind.organisation and principal.scope:
            organisation = venues.get_organisation(session=session, organisation_id=principal.scope)
            return organisation.name
        if kind is ScopeKind.venue and principal.scope:
            return venues.get_venue(session=session, venue_id=principal.scope).name
    except NotFound:
        pass
    return f"{_(SCOPE_LABELS[kind])} {principal.scope}"


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, principal: Signed, session: SessionDep) -> HTMLResponse:
    """The signed-in user's home: who they are, their scope and what they may do."""
    return render(
        request,
        "dashboard.html",
        {
            "principal": principal,
            "role_label": _(ROLE_LABELS[principal.role]),
            "scope_label": _(SCOPE_LABELS[principal.scope_kind]),
            "scope_name": scope_name(session=session, principal=principal),
        },
    )


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    """The OpenAPI documentation, served without any CDN."""
    return render(request, "docs.html")
