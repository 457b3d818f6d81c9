"""Pages of foot traffic: the alerts inbox (acknowledge, resolve with a note)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from placecode.accounts.authz import requires
from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.analytics import service
from placecode.errors import PlaceCodeError
from placecode.web.deps import SessionDep
from placecode.web.templating import render

router = APIRouter(include_in_schema=False)

Watchers = Annotated[
    Principal,
    requires(Role.district_admin, Role.street_admin, Role.regulator, Role.venue_manager),
]
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _inbox(
    request: Request,
    principal: Principal,
    session: Session,
    status: str = "",
    day: date | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "analytics/alerts.html",
        {
            "principal": principal,
            "alerts": service.alerts_for(
                session=session, principal=principal, status=status or None, day=day
            ),
            "status": status,
            "day": day,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/analytics/alerts", response_class=HTMLResponse)
def inbox(
    request: Request,
    principal: Watchers,
    session: SessionDep,
    status: Annotated[Literal["", "open", "acknowledged", "resolved"], Query()] = "",
    day: Annotated[date | None, Query()] = None,
) -> HTMLResponse:
    """Surges and drops at the venues you answer for, with their evidence."""
    return _inbox(request, principal, session, status, day)


@router.post("/analytics/alerts/{alert_id}", response_class=HTMLResponse)
def answer(
    request: Request,
    principal: Watchers,
    session: SessionDep,
    alert_id: AlertId,
    action: Annotated[str, Form(max_length=12)] = "",
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Acknowledge an alert, or resolve it with a note of what was done."""
    try:
        if action == "resolve":
            service.resolve(
                session=session, principal=principal, actor=principal, alert_id=alert_id, note=note
            )
        else:
            service.acknowledge(
                session=session, principal=principal, actor=principal, alert_id=alert_id, note=note
            )
    except PlaceCodeError as exc:
        session.rollback()
        return _inbox(request, principal, session, error=exc.message, status_code=exc.status)
    return RedirectResponse("/analytics/alerts", status_code=303)
