"""Foot traffic: the writer's hourly counts rolled up to days, streets, categories and the
district; coverage; surge and drop detection over every venue of a day (or of a day so far);
the alerts' inboxes by department and street, acknowledged and resolved there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from placecode.accounts.principal import Principal, scope_clause
from placecode.accounts.service import Actor, record_audit
from placecode.analytics.models import Alert
from placecode.analytics.surges import AlertKind, Thresholds, assess, baseline_days
from placecode.checkins.models import VenueHourlyCount
from placecode.clock import clock
from placecode.config import Settings
from placecode.db import DriverSql
from placecode.errors import Conflict, InvalidInput, NotFound
from placecode.i18n import _
from placecode.region.models import Category
from placecode.venues.models import Venue, VenueStatus

HOUR = 3600
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)  # any day a district can have
KEY_PLACES = ("large_supermarket", "wet_market")


class AlertStatus:
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"


def _check_day(day: date) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(
            _("Choose a day from {first} to {last}.").format(first=FIRST_DAY, last=LAST_DAY),
            code="day",
            details={"field": "day"},
        )


def thresholds(settings: Settings) -> Thresholds:
    return Thresholds(
        z=settings.surge_z,
        ratio=settings.surge_ratio,
        min_count=settings.surge_min_count,
        drop_ratio=settings.drop_ratio,
        drop_min_baseline=settings.drop_min_baseline,
    )


def midnight(day: date, settings: Settings) -> int:
    return int(datetime.combine(day, time.min, tzinfo=settings.zone).timestamp())


def today(settings: Settings) -> date:
    return clock.now().astimezone(settings.zone).date()


# --- counts ------------------------------------------------------------------------------


def counts_between(session: Session, start: int, end: int) -> dict[str, int]:
    """Scans per venue with hours in [start, end) (driver SQL: one pass over the hour index)."""
    sql = DriverSql(session)
    rows = sql.tuples(
        "SELECT venue_id, SUM(count) FROM venue_hourly_counts "  # noqa: S608
        f"WHERE hour >= {sql.mark} AND hour < {sql.mark} GROUP BY venue_id",
        (start, end),
    )
    return {venue: int(total) for venue, total in rows}


def first_day(session: Session, settings: Settings) -> date | None:
    """The first day with any counts (history starts there)."""
    first = session.scalar(select(func.min(VenueHourlyCount.hour)))
    if first is None:
        return None
    return datetime.fromtimestamp(int(first), settings.zone).date()


# --- detection ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    day: date
    hour: int  # counts up to this local hour (24: the whole day)
    basis: str  # same_weekday, recent_days, or none (no history yet)
    venues: int  # venues judged
    raised: list[Alert]  # new alerts (an alert is never raised twice for a venue-day)


def detect(*, session: Session, settings: Settings, day: date, hour: int = 24) -> Detection:
    """Judge every active venue's scans on `day` up to `hour` (24: the whole day, when drops
    are judged too) against its baseline; raise the alerts not raised before."""
    if not 1 <= hour <= 24:
        raise InvalidInput(_("The hour is 1 to 24."), code="hour")
    _check_day(day)
    first = first_day(session, settings)
    if first is None:
        return Detection(day, hour, "none", 0, [])
    days, basis = baseline_days(day, first)
    venues = session.execute(
        select(Venue.id, Venue.street_code, Category.department_code)
        .join(Category, Category.code == Venue.category_code)
        .where(Venue.status == VenueStatus.active.value)
        .order_by(Venue.id)
    ).all()
    position = {venue: n for n, (venue, _street, _department) in enumerate(venues)}
    counts = np.zeros(len(venues))
    for venue, total in counts_between(
        session, midnight(day, settings), midnight(day, settings) + hour * HOUR
    ).items():
        if venue in position:
            counts[position[venue]] = total
    history = np.zeros((len(venues), len(days)))
    for column, past in enumerate(days):
        start = midnight(past, settings)
        for venue, total in counts_between(session, start, start + hour * HOUR).items():
            if venue in position:
                history[position[venue], column] = total
    verdict = assess(counts, history, thresholds(settings), drops=hour >= 24)
    flagged = np.flatnonzero(verdict.kind)
    known = {
        (venue, kind)
        for venue, kind in session.execute(
            select(Alert.venue_id, Alert.kind).where(Alert.day == day)
        )
    }
    now = clock.now()
    raised = []
    for n in flagged.tolist():
        venue, street, department = venues[n]
        kind = AlertKind.surge if verdict.kind[n] > 0 else AlertKind.drop
        if (venue, kind.value) in known:
            continue
        raised.append(
            Alert(
                venue_id=venue,
                day=day,
                kind=kind.value,
                count=int(counts[n]),
                baseline=float(verdict.baseline[n]),
                z=round(float(verdict.z[n]), 2),
                ratio=round(float(verdict.ratio[n]), 2),
                raised_hour=hour,
                basis=basis,
                department_code=department,
                street_code=street,
                status=AlertStatus.open,
                created_at=now,
            )
        )
    session.add_all(raised)
    session.flush()
    return Detection(day, hour, basis, len(venues), raised)


def detect_now(*, session: Session, settings: Settings) -> list[Detection]:
    """What the server runs every hour: yesterday as a whole (drops too), today so far."""
    now = clock.now().astimezone(settings.zone)
    done = [detect(session=session, settings=settings, day=now.date() - timedelta(days=1))]
    if now.hour >= 1:
        done.append(detect(session=session, settings=settings, day=now.date(), hour=now.hour))
    return done


# --- alerts' inboxes -----------------------------------------------------------------------


def _visible(principal: Principal) -> ColumnElement[bool]:
    return scope_clause(
        principal,
        street=Alert.street_code,
        department=Alert.department_code,
        organisation=Venue.organisation_id,
        venue=Alert.venue_id,
    )


def alerts_for(
    *,
    session: Session,
    principal: Principal,
    status: str | None = None,
    day: date | None = None,
    limit: int = 500,
) -> list[tuple[Alert, str]]:
    """The alerts this principal answers for (their department's, street's, organisation's
    venues'; all for the district), newest first, with each venue's name."""
    if day is not None:
        _check_day(day)
    query = (
        select(Alert, Venue.name)
        .join(Venue, Venue.id == Alert.venue_id)
        .where(_visible(principal))
        .order_by(Alert.day.desc(), Alert.raised_hour, Alert.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(Alert.status == status)
    if day:
        query = query.where(Alert.day == day)
    return [(alert, name) for alert, name in session.execute(query)]


def get_alert(*, session: Session, principal: Principal, alert_id: int) -> Alert:
    alert = session.scalar(
        select(Alert)
        .join(Venue, Venue.id == Alert.venue_id)
        .where(Alert.id == alert_id, _visible(principal))
    )
    if alert is None:
        raise NotFound(_("There is no such alert for you."), code="alert_not_found")
    return alert


def acknowledge(
    *, session: Session, principal: Principal, actor: Actor, alert_id: int, note: str = ""
) -> Alert:
    """Someone has seen it and is on it. Audited."""
    alert = get_alert(session=session, principal=principal, alert_id=alert_id)
    if alert.status != AlertStatus.open:
        raise Conflict(_("This alert has been acknowledged already."), code="alert_not_open")
    alert.status = AlertStatus.acknowledged
    alert.acknowledged_by, alert.acknowledged_at = actor.username, clock.now()
    alert.note = note.strip() or alert.note
    record_audit(
        session=session,
        actor=actor,
        action="analytics.acknowledge",
        target=str(alert.id),
        detail={"venue": alert.venue_id, "day": alert.day.isoformat(), "note": note.strip()},
    )
    return alert


def resolve(
    *, session: Session, principal: Principal, actor: Actor, alert_id: int, note: str
) -> Alert:
    """Done: what was done, in a note. Audited."""
    alert = get_alert(session=session, principal=principal, alert_id=alert_id)
    if alert.status == AlertStatus.resolved:
        raise Conflict(_("This alert is resolved already."), code="alert_resolved")
    if not note.strip():
        raise InvalidInput(
            _("Say what was done about it."), code="note_required", details={"field": "note"}
        )
    if alert.status == AlertStatus.open:
        alert.acknowledged_by, alert.acknowledged_at = actor.username, clock.now()
    alert.status = AlertStatus.resolved
    alert.resolved_by, alert.resolved_at = actor.username, clock.now()
    alert.note = note.strip()
    record_audit(
        session=session,
        actor=actor,
        action="analytics.resolve",
        target=str(alert.id),
        detail={"venue": alert.venue_id, "day": alert.day.isoformat(), "note": note.strip()},
    )
    return alert


# --- summaries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DaySummary:
    day: date
    scans: int
    usual: float  # the median of the baseline days' totals
    by_street: dict[str, int]
    by_category: dict[str, int]
    top_venues: list[tuple[str, str, int]]  # id, name, scans
    alerts: int


def day_summary(
    *, session: Session, settings: Settings, principal: Principal, day: date
) -> DaySummary:
    """A day's scans in the principal's scope: total against a usual day, per street and
    category, the busiest venues, the alerts raised."""
    _check_day(day)
    venues = {
        venue: (name, street, category)
        for venue, name, street, category in session.execute(
            select(Venue.id, Venue.name, Venue.street_code, Venue.category_code)
            .join(Category, Category.code == Venue.category_code)
            .where(
                scope_clause(
                    principal,
                    street=Venue.street_code,
                    department=Category.department_code,
                    organisation=Venue.organisation_id,
                    venue=Venue.id,
                )
            )
        )
    }

    def total(of: date) -> dict[str, int]:
        start = midnight(of, settings)
        counts = counts_between(session, start, start + 24 * HOUR)
        return {venue: n for venue, n in counts.items() if venue in venues}

    counts = total(day)
    first = first_day(session, settings) or day
    days, _basis = baseline_days(day, first)
    usual = float(np.median([sum(total(past).values()) for past in days])) if days else 0.0
    by_street: dict[str, int] = {}
    by_category: dict[str, int] = {}
    for venue, n in counts.items():
        _name, street, category = venues[venue]
        by_street[street] = by_street.get(street, 0) + n
        by_category[category] = by_category.get(category, 0) + n
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:10]
    alerts = session.scalar(
        select(func.count())
        .select_from(Alert)
        .join(Venue, Venue.id == Alert.venue_id)
        .where(Alert.day == day, _visible(principal))
    )
    return DaySummary(
        day=day,
        scans=sum(counts.values()),
        usual=usual,
        by_street=dict(sorted(by_street.items())),
        by_category=dict(sorted(by_category.items())),
        top_venues=[(venue, venues[venue][0], n) for venue, n in top],
        alerts=int(alerts or 0),
    )


# --- coverage ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    venues: dict[str, dict[str, int]]  # street → category → active venues
    key_places: dict[str, tuple[int, int]]  # category → (registered, with a live code)
    silent: list[tuple[str, str, str]]  # active venues without scans lately: id, name, street
    silent_days: int
    per_venue: dict[str, int]  # yesterday's scans per venue, in buckets


BUCKETS = ((0, 0, "0"), (1, 9, "1-9"), (10, 99, "10-99"), (100, 999, "100-999"))


def coverage(*, session: Session, settings: Settings, principal: Principal) -> Coverage:
    """The venues in the principal's scope by street and category, how many key places have
    a live code, which live codes are silent (no scan in `silent_days`: posted where people
    walk past it), and how yesterday's scans spread over the venues."""
    rows = session.execute(
        select(Venue.id, Venue.name, Venue.street_code, Venue.category_code, Venue.status)
        .join(Category, Category.code == Venue.category_code)
        .where(
            scope_clause(
                principal,
                street=Venue.street_code,
                department=Category.department_code,
                organisation=Venue.organisation_id,
                venue=Venue.id,
            )
        )
        .order_by(Venue.street_code, Venue.name)
    ).all()
    now = int(clock.now().timestamp())
    recent = counts_between(session, now - settings.silent_days * 86_400, now + HOUR)
    yesterday = today(settings) - timedelta(days=1)
    start = midnight(yesterday, settings)
    daily = counts_between(session, start, start + 24 * HOUR)
    venues: dict[str, dict[str, int]] = {}
    key_places: dict[str, tuple[int, int]] = {kind: (0, 0) for kind in KEY_PLACES}
    silent = []
    per_venue = {label: 0 for _low, _high, label in BUCKETS} | {"1000+": 0}
    for venue, name, street, category, status in rows:
        live = status == VenueStatus.active.value
        if category in key_places:
            registered, with_code = key_places[category]
            key_places[category] = (registered + 1, with_code + int(live))
        if not live:
            continue
        streets = venues.setdefault(street, {})
        streets[category] = streets.get(category, 0) + 1
        if venue not in recent:
            silent.append((venue, name, street))
        scans = daily.get(venue, 0)
        label = next((label for low, high, label in BUCKETS if low <= scans <= high), "1000+")
        per_venue[label] += 1
    return Coverage(
        venues=venues,
        key_places=key_places,
        silent=silent,
        silent_days=settings.silent_days,
        per_venue=per_venue,
    )
