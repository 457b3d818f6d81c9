"""JSON API of foot traffic: the alerts inbox of each department, street, organisation and
the district; acknowledging and resolving; a day's summary; detection on demand."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from placecode.accounts.authz import requires
from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.analytics import service
from placecode.analytics.models import Alert
from placecode.analytics.schemas import (
    AlertAnswer,
    AlertView,
    CoverageView,
    DetectRequest,
    DetectView,
    SilentVenue,
    SummaryView,
    VenueCount,
)
from placecode.venues.models import Venue
from placecode.web.deps import SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1", tags=["analytics"])

Watchers = Annotated[
    Principal,
    requires(Role.district_admin, Role.street_admin, Role.regulator, Role.venue_manager),
]
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


@router.get("/analytics/summary")
def summary(
    principal: Watchers,
    session: SessionDep,
    settings: SettingsDep,
    day: Annotated[date | None, Query()] = None,
) -> SummaryView:
    """A day's scans in your scope (default: today so far) against a usual day, per street
    and category, the busiest venues, the alerts raised."""
    found = service.day_summary(
        session=session, settings=settings, principal=principal, day=day or service.today(settings)
    )
    return SummaryView(
        day=found.day,
        scans=found.scans,
        usual=found.usual,
        by_street=found.by_street,
        by_category=found.by_category,
        top_venues=[VenueCount(venue_id=v, venue_name=n, scans=c) for v, n, c in found.top_venues],
        alerts=found.alerts,
    )


@router.post("/analytics/detect")
def detect(
    body: DetectRequest,
    principal: Annotated[Principal, requires(Role.district_admin)],
    session: SessionDep,
    settings: SettingsDep,
) -> DetectView:
    """Run detection for a day (up to an hour); the server also runs it every hour."""
    found = service.detect(session=session, settings=settings, day=body.day, hour=body.hour)
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
