"""Pages of foot traffic: the district's dashboard (today against a usual day, with charts
drawn in the browser by plotly.js from the wheel), a venue's hours against its usual band,
coverage, each table as CSV; the alerts inbox (acknowledge, resolve with a note)."""

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
from placecode.analytics.api import overview_view, venue_day_view
from placecode.analytics.service import AlertStatus
from placecode.errors import PlaceCodeError
from placecode.i18n import _, current_locale
from placecode.region import service as region
from placecode.tables import csv_bytes
from placecode.web.deps import SessionDep, SettingsDep
from placecode.web.templating import render

router = APIRouter(include_in_schema=False)

Overseers = Annotated[Principal, requires(Role.district_admin, Role.street_admin, Role.regulator)]
Watchers = Annotated[
    Principal,
    requires(Role.district_admin, Role.street_admin, Role.regulator, Role.venue_manager),
]
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _labels() -> dict[str, str]:
    return {
        AlertStatus.open: _("open"),
        AlertStatus.acknowledged: _("acknowledged"),
        AlertStatus.resolved: _("resolved"),
    }


def _place_names(session: Session) -> dict[str, str]:
    """Streets, departments and categories by code, in the page's language."""
    return {
        **{street.code: _name(street) for street in region.list_streets(session=session)},
        **{d.code: _name(d) for d in region.list_departments(session=session)},
        **{c.code: _name(c) for c in region.list_categories(session=session)},
    }


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
            "status_labels": _labels(),
            "names": _place_names(session),
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


Day = Annotated[date | None, Query()]


def _csv(name: str, columns: list[str], rows: list[list[object]]) -> Response:
    return Response(
        csv_bytes(columns, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _name(area: object) -> str:
    english = current_locale() != "zh_CN"
    return str(getattr(area, "name_en" if english else "name_zh"))


@router.get("/analytics/alerts.csv")
def alerts_csv(
    principal: Watchers,
    session: SessionDep,
    status: Annotated[Literal["", "open", "acknowledged", "resolved"], Query()] = "",
    day: Day = None,
) -> Response:
    """The alerts inbox as CSV, with its evidence and answers."""
    found = service.alerts_for(
        session=session, principal=principal, status=status or None, day=day, limit=5000
    )
    fields = ["id", "day", "venue_id", "kind", "count", "baseline", "z", "ratio", "raised_hour"]
    fields += ["department_code", "street_code", "status", "note"]
    return _csv(
        "alerts",
        ["venue_name", *fields],
        [[name, *(getattr(alert, field) for field in fields)] for alert, name in found],
    )


@router.get("/analytics", response_class=HTMLResponse)
def dashboard(
    request: Request,
    principal: Overseers,
    session: SessionDep,
    settings: SettingsDep,
    day: Day = None,
) -> HTMLResponse:
    """Scans today so far against a usual day, by hour, street and category; the 28 days to
    it; the busiest venues; the alerts still open. Your street or department only."""
    view = overview_view(
        session, service.overview(session=session, settings=settings, principal=principal, day=day)
    )
    return render(
        request,
        "analytics/dashboard.html",
        {
            "principal": principal,
            "view": view,
            "data": view.model_dump(mode="json"),
            "alerts": service.alerts_for(
                session=session, principal=principal, status=AlertStatus.open, limit=10
            ),
            "live": view.day == service.today(settings),
            "area_name": _name,
            "street_names": {area.code: _name(area) for area in view.streets},
            "category_names": {area.code: _name(area) for area in view.categories},
        },
    )


@router.get("/analytics/export/{table}.csv")
def export(
    principal: Overseers,
    session: SessionDep,
    settings: SettingsDep,
    table: Literal[
        "hours",
        "trend",
        "streets",
        "categories",
        "venues",
        "coverage",
        "silent",
        "key_places",
        "per_venue",
    ],
    day: Day = None,
) -> Response:
    """Each table of the dashboard and of coverage, as CSV."""
    if table in ("coverage", "silent", "key_places", "per_venue"):
        found = service.coverage(session=session, settings=settings, principal=principal)
        if table == "key_places":
            rows = [[kind, *counts] for kind, counts in found.key_places.items()]
            return _csv("key_places", ["category", "registered", "live"], rows)
        if table == "per_venue":
            rows = [[bucket, n] for bucket, n in found.per_venue.items()]
            return _csv("per_venue", ["scans_yesterday", "venues"], rows)
        if table == "silent":
            return _csv(
                "silent", ["venue_id", "venue_name", "street"], [list(v) for v in found.silent]
            )
        return _csv(
            "coverage",
            ["street", "category", "live_venues"],
            [
                [street, category, n]
                for street, categories in found.venues.items()
                for category, n in sorted(categories.items())
            ],
        )
    view = overview_view(
        session, service.overview(session=session, settings=settings, principal=principal, day=day)
    )
    name = f"{table}-{view.day}"
    if table == "hours":
        return _csv(
            name,
            ["hour", "scans", "usual"],
            [
                [h, n, u]
                for h, (n, u) in enumerate(zip(view.hourly, view.usual_hourly, strict=True))
            ],
        )
    if table == "trend":
        return _csv(name, ["day", "scans"], [[d.day, d.scans] for d in view.trend])
    if table == "venues":
        return _csv(
            name,
            ["venue_id", "venue_name", "street", "category", "scans"],
            [
                [v.venue_id, v.venue_name, v.street_code, v.category_code, v.scans]
                for v in view.top_venues
            ],
        )
    areas = view.streets if table == "streets" else view.categories
    return _csv(
        name,
        ["code", "name", "scans", "usual"],
        [[a.code, _name(a), a.scans, a.usual] for a in areas],
    )


@router.get("/analytics/coverage", response_class=HTMLResponse)
def coverage(
    request: Request, principal: Overseers, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """Live venues by street and category, key places with a live code, silent codes."""
    found = service.coverage(session=session, settings=settings, principal=principal)
    categories = sorted({c for streets in found.venues.values() for c in streets})
    return render(
        request,
        "analytics/coverage.html",
        {
            "principal": principal,
            "found": found,
            "categories": categories,
            "names": _place_names(session),
        },
    )


VenueId = Annotated[str, Path(max_length=40)]


@router.get("/analytics/venues/{venue_id}", response_class=HTMLResponse)
def venue(
    request: Request,
    principal: Watchers,
    session: SessionDep,
    settings: SettingsDep,
    venue_id: VenueId,
    day: Day = None,
) -> HTMLResponse:
    """A venue's scans per hour on a day against the band of its usual days."""
    view = venue_day_view(
        service.venue_day(
            session=session, settings=settings, principal=principal, venue_id=venue_id, day=day
        )
    )
    return render(
        request,
        "analytics/venue.html",
        {
            "principal": principal,
            "view": view,
            "data": view.model_dump(mode="json"),
            "status_labels": _labels(),
        },
    )


@router.get("/analytics/venues/{venue_id}/hours.csv")
def venue_hours(
    principal: Watchers,
    session: SessionDep,
    settings: SettingsDep,
    venue_id: VenueId,
    day: Day = None,
) -> Response:
    """The venue's hours on the day and its usual band, as CSV."""
    found = service.venue_day(
        session=session, settings=settings, principal=principal, venue_id=venue_id, day=day
    )
    return _csv(
        f"{found.venue_id}-{found.day}",
        ["hour", "scans", "usual", "low", "high"],
        [
            [h, found.hourly[h], found.usual_hourly[h], found.low[h], found.high[h]]
            for h in range(24)
        ],
    )
