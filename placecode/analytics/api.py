"""JSON API of foot traffic: the alerts inbox of each department, street, organisation and
the district; acknowledging and resolving; the dashboard's overview of a day and a venue's
hours; coverage; detection on demand."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from placecode.accounts.authz import requires
from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.analytics import service
from placecode.analytics.models import Alert
from placecode.analytics.schemas import (
    AlertAnswer,
    AlertView,
    AreaCountView,
    CoverageView,
    DayCount,
    DetectRequest,
    DetectView,
    OverviewView,
    SilentVenue,
    TopVenue,
    VenueDayView,
)
from placecode.region import service as region
from placecode.venues.models import Venue
from placecode.web.deps import DatabaseDep, SessionDep, SettingsDep, reading_apart

router = APIRouter(prefix="/api/v1", tags=["analytics"])

Watchers = Annotated[
    Principal,
    requires(Role.district_admin, Role.street_admin, Role.regulator, Role.venue_manager),
]
Overseers = Annotated[Principal, requires(Role.district_admin, Role.street_admin, Role.regulator)]
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def alert_view(alert: Alert, venue_name: str) -> AlertView:
    return AlertView.model_validate(
        {
            **{c: getattr(alert, c) for c in AlertView.model_fields if c != "venue_name"},
            "venue_name": venue_name,
        }
    )


@router.get("/analytics/alerts")
def list_alerts(
    principal: Watchers,
    session: SessionDep,
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    day: Annotated[date | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[AlertView]:
    """The alerts you answer for: your department's categories, your street, your
    organisation's venues (all of them for the district), newest first."""
    return [
        alert_view(alert, name)
        for alert, name in service.alerts_for(
            session=session, principal=principal, status=status, day=day, limit=limit
        )
    ]


@router.post("/analytics/alerts/{alert_id}/acknowledge")
def acknowledge(
    alert_id: AlertId, body: AlertAnswer, principal: Watchers, session: SessionDep
) -> AlertView:
    """Seen, and someone is on it. Audited."""
    alert = service.acknowledge(
        session=session, principal=principal, actor=principal, alert_id=alert_id, note=body.note
    )
    return alert_view(alert, _name(session, alert))


@router.post("/analytics/alerts/{alert_id}/resolve")
def resolve(
    alert_id: AlertId, body: AlertAnswer, principal: Watchers, session: SessionDep
) -> AlertView:
    """Done, with a note of what was done. Audited."""
    alert = service.resolve(
        session=session, principal=principal, actor=principal, alert_id=alert_id, note=body.note
    )
    return alert_view(alert, _name(session, alert))


def _name(session: SessionDep, alert: Alert) -> str:
    venue = session.get(Venue, alert.venue_id)
    return venue.name if venue else ""


def overview_view(session: SessionDep, found: service.Overview) -> OverviewView:
    streets = {s.code: s for s in region.list_streets(session=session)}
    categories = {c.code: c for c in region.list_categories(session=session)}

    def areas(counts: list[service.AreaCount], names: dict[str, Any]) -> list[AreaCountView]:
        return [
            AreaCountView(
                code=area.code,
                name_zh=names[area.code].name_zh if area.code in names else area.code,
                name_en=names[area.code].name_en if area.code in names else area.code,
                scans=area.scans,
                usual=round(area.usual, 1),
            )
            for area in counts
        ]

    return OverviewView(
        day=found.day,
        hours=found.hours,
        basis=found.basis,
        scans=found.scans,
        usual_so_far=found.usual_so_far,
        usual_day=found.usual_day,
        hourly=found.hourly,
        usual_hourly=found.usual_hourly,
        trend=[DayCount(day=day, scans=scans) for day, scans in found.trend],
        streets=areas(found.streets, streets),
        categories=areas(found.categories, categories),
        top_venues=[
            TopVenue(venue_id=v, venue_name=n, street_code=s, category_code=c, scans=k)
            for v, n, s, c, k in found.top_venues
        ],
        open_alerts=found.open_alerts,
    )


@router.get("/analytics/overview")
def overview(
    principal: Overseers,
    session: SessionDep,
    settings: SettingsDep,
    day: Annotated[date | None, Query()] = None,
) -> OverviewView:
    """A day's scans in your scope (default: today so far) against a usual day by the same
    time: per hour, street and category, the busiest venues, the 28 days to it, the alerts
    still open. For the district, a street, or a department."""
    return overview_view(
        session,
        service.overview(session=session, settings=settings, principal=principal, day=day),
    )


@router.get("/analytics/venues/{venue_id}")
def venue_day(
    venue_id: Annotated[str, Path(max_length=40)],
    principal: Watchers,
    session: SessionDep,
    settings: SettingsDep,
    day: Annotated[date | None, Query()] = None,
) -> VenueDayView:
    """One venue's scans per hour on a day (default: today so far) against the band of its
    usual days, with its alerts over the 28 days."""
    return venue_day_view(
        service.venue_day(
            session=session, settings=settings, principal=principal, venue_id=venue_id, day=day
        )
    )


def venue_day_view(found: service.VenueDay) -> VenueDayView:
    """The service's venue-day as the API shows it: the same fields, alerts as views."""
    fields = {name: getattr(found, name) for name in VenueDayView.model_fields}
    alerts = [alert_view(alert, found.venue_name) for alert in found.alerts]
    return VenueDayView.model_validate({**fields, "alerts": alerts})


@router.post("/analytics/detect")
def detect(
    body: DetectRequest,
    principal: Annotated[Principal, requires(Role.district_admin)],
    session: SessionDep,
    database: DatabaseDep,
    settings: SettingsDep,
) -> DetectView:
    """Run detection for a day (up to an hour); the server also runs it every hour."""
    with reading_apart(session, database) as reading:  # judging takes seconds
        judged = service.judge(session=reading, settings=settings, day=body.day, hour=body.hour)
    found = service.raise_alerts(session=session, found=judged)
    names = {
        a.venue_id: n
        for a, n in service.alerts_for(
            session=session, principal=principal, day=body.day, limit=5000
        )
    }
    return DetectView(
        day=found.day,
        hour=found.hour,
        basis=found.basis,
        venues=found.venues,
        raised=[alert_view(a, names.get(a.venue_id, "")) for a in found.raised],
    )


@router.get("/analytics/coverage")
def coverage(principal: Watchers, session: SessionDep, settings: SettingsDep) -> CoverageView:
    """Live venues by street and category, key places with a live code, silent codes, and
    how yesterday's scans spread over the venues, in your scope."""
    found = service.coverage(session=session, settings=settings, principal=principal)
    return CoverageView(
        venues=found.venues,
        key_places={
            kind: {"registered": registered, "live": live}
            for kind, (registered, live) in found.key_places.items()
        },
        silent_days=found.silent_days,
        silent=[
            SilentVenue(venue_id=v, venue_name=n, street_code=s) for v, n, s in found.silent[:1000]
        ],
        silent_total=len(found.silent),
        per_venue=found.per_venue,
    )
