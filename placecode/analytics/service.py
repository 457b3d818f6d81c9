"""Foot traffic: the writer's hourly counts rolled up (street × category hours, venue-days)
for the dashboards' overview and a venue's day; coverage; surge and drop detection over
every venue of a day (or of a day so far); the alerts' inboxes by department and street,
acknowledged and resolved there."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from placecode.accounts.models import ScopeKind
from placecode.accounts.principal import Principal, scope_clause
from placecode.accounts.service import Actor, record_audit
from placecode.analytics.models import Alert, AreaHourlyCount, RolledUpDay, VenueDailyCount
from placecode.analytics.surges import MIN_HISTORY, AlertKind, Thresholds, assess, baseline_days
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
    rows = sql.all(
        "SELECT venue_id, SUM(count) FROM venue_hourly_counts "  # noqa: S608
        f"WHERE hour >= {sql.mark} AND hour < {sql.mark} GROUP BY venue_id",
        (start, end),
    )
    return {venue: int(total) for venue, total in rows}


def _scans_by(
    session: Session, settings: Settings, day: date, hour: int, rolled_through: int
) -> dict[str, int]:
    """Scans per venue on `day` up to `hour`: from the venue-days when the whole day is asked
    for and rolled up (a tenth of the rows), else from the venue-hours."""
    start = midnight(day, settings)
    end = midnight(day + timedelta(days=1), settings)
    if hour >= 24 and rolled_through >= end:
        sql = DriverSql(session)
        rows = sql.all(
            f"SELECT venue_id, scans FROM venue_daily_counts WHERE day = {sql.mark}",  # noqa: S608
            (day.isoformat() if sql.sqlite else day,),
        )
        return {venue: int(total) for venue, total in rows}
    return counts_between(session, start, min(end, start + hour * HOUR))


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
    # From `judge`, the alerts due; from `raise_alerts`, those new among them (an alert is
    # never raised twice for a venue-day).
    raised: list[Alert]


Counted = dict[tuple[date, int], dict[str, int]]  # scans per venue, by (day, up to hour)


def detect(
    *,
    session: Session,
    settings: Settings,
    day: date,
    hour: int = 24,
    counted: Counted | None = None,
) -> Detection:
    """Judge every venue's day (`judge`) and raise the alerts not raised before
    (`raise_alerts`), in the caller's one transaction."""
    found = judge(session=session, settings=settings, day=day, hour=hour, counted=counted)
    return raise_alerts(session=session, found=found)


def judge(
    *,
    session: Session,
    settings: Settings,
    day: date,
    hour: int = 24,
    counted: Counted | None = None,
) -> Detection:
    """Judge every active venue's scans on `day` up to `hour` (24: the whole day, when drops
    are judged too) against its baseline: the alerts due, raised before or not.

    It only reads, and on the full district it takes seconds: a caller that can should
    judge in a transaction that only reads, then raise the alerts in a short one that
    writes. Judged in a writing transaction, on SQLite, every scan would wait for it.

    `counted` keeps the counts read, for a caller that judges many days in a row while no
    scan is written (the demo's history): each day's counts are then read once, not once
    for every day whose baseline it is."""
    if not 1 <= hour <= 24:
        raise InvalidInput(_("The hour is 1 to 24."), code="hour")
    _check_day(day)
    first = first_day(session, settings)
    if first is None:
        return Detection(day, hour, "none", 0, [])
    days, basis = baseline_days(day, first)
    sql = DriverSql(session)  # twenty thousand venues, several times an hour
    venues = sql.all(
        "SELECT v.id, v.street_code, c.department_code FROM venues v "  # noqa: S608
        f"JOIN venue_categories c ON c.code = v.category_code WHERE v.status = {sql.mark}",
        (VenueStatus.active.value,),
    )
    table = np.zeros((len(venues), 1 + len(days)))
    if len(days) >= MIN_HISTORY:  # else nothing can be judged: no need to count
        position = {venue: n for n, (venue, _street, _department) in enumerate(venues)}
        rolled = _rolled_through(session, settings, [day, *days])
        counted = {} if counted is None else counted
        for column, judged in enumerate([day, *days]):
            scans = counted.get((judged, hour))
            if scans is None:
                scans = _scans_by(session, settings, judged, hour, rolled[judged])
                counted[(judged, hour)] = scans
            for venue, total in scans.items():
                if venue in position:
                    table[position[venue], column] = total
    counts, history = table[:, 0], table[:, 1:]
    verdict = assess(counts, history, thresholds(settings), drops=hour >= 24)
    flagged = np.flatnonzero(verdict.kind)
    now = clock.now()
    due = []
    for n in flagged.tolist():
        venue, street, department = venues[n]
        kind = AlertKind.surge if verdict.kind[n] > 0 else AlertKind.drop
        due.append(
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
    return Detection(day, hour, basis, len(venues), due)


ALERTS_LOCK = 0x616C7274  # an advisory lock id of our own ("alrt")


def raise_alerts(*, session: Session, found: Detection) -> Detection:
    """Raise the judged alerts not raised before (one a venue-day); `found` with those.

    Two detections writing at once (a request and the hourly run) take turns, so that the
    later one finds the earlier one's alerts rather than failing on the constraint: on
    PostgreSQL by an advisory lock, on SQLite by the write lock its callers begin with."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": ALERTS_LOCK})
    known = {
        (venue, kind)
        for venue, kind in session.execute(
            select(Alert.venue_id, Alert.kind).where(Alert.day == found.day)
        )
    }
    raised = [alert for alert in found.raised if (alert.venue_id, alert.kind) not in known]
    session.add_all(raised)
    session.flush()
    return replace(found, raised=raised)


def days_to_judge(settings: Settings) -> list[tuple[date, int]]:
    """What the server judges every hour, as (day, up to hour): yesterday as a whole (drops
    too), today so far."""
    now = clock.now().astimezone(settings.zone)
    days = [(now.date() - timedelta(days=1), 24)]
    if now.hour >= 1:
        days.append((now.date(), now.hour))
    return days


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


def get_alert(
    *, session: Session, principal: Principal, alert_id: int, for_update: bool = False
) -> Alert:
    """The alert, if the principal answers for it; `for_update` to change it: on PostgreSQL
    its row is locked until the transaction ends, so that two people acknowledging it at
    once take turns and the later one is told it is done (SQLite's writers take turns)."""
    query = (
        select(Alert)
        .join(Venue, Venue.id == Alert.venue_id)
        .where(Alert.id == alert_id, _visible(principal))
    )
    if for_update:
        query = query.with_for_update(of=Alert).execution_options(populate_existing=True)
    alert = session.scalar(query)
    if alert is None:
        raise NotFound(_("There is no such alert for you."), code="alert_not_found")
    return alert


def acknowledge(
    *, session: Session, principal: Principal, actor: Actor, alert_id: int, note: str = ""
) -> Alert:
    """Someone has seen it and is on it. Audited."""
    alert = get_alert(session=session, principal=principal, alert_id=alert_id, for_update=True)
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
    alert = get_alert(session=session, principal=principal, alert_id=alert_id, for_update=True)
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


# --- roll-ups ------------------------------------------------------------------------------

Chosen = TypeVar("Chosen", bound="Select[*tuple[Any, ...]]")
ROLL_UP_DAYS = 35  # the dashboards' reach: 28 days and the baseline's fourth week before them


def _hour_start(moment: datetime, settings: Settings) -> int:
    local = moment.astimezone(settings.zone)
    return midnight(local.date(), settings) + local.hour * HOUR


def roll_up(*, session: Session, settings: Settings, day: date) -> int:
    """(Re)write a day's street × category hours and venue totals from the venues' hourly
    counts, as far as the day's finished hours go (all of a day gone); the venue-days
    written. A venue counts where it stands now (street, category)."""
    _check_day(day)
    start, end = midnight(day, settings), midnight(day + timedelta(days=1), settings)
    through = max(start, min(end, _hour_start(clock.now(), settings)))
    raw = VenueHourlyCount
    in_day = (raw.hour >= start, raw.hour < through)
    # Each venue's street and category, looked up once per venue-hour from a table made
    # for the query (twice as fast on SQLite as the venues table's own id index).
    places = (
        select(Venue.id, Venue.street_code, Venue.category_code)
        .cte("places")
        .prefix_with("MATERIALIZED")
    )
    session.execute(
        delete(AreaHourlyCount).where(AreaHourlyCount.hour >= start, AreaHourlyCount.hour < end)
    )
    session.execute(
        insert(AreaHourlyCount).from_select(
            ["hour", "street_code", "category_code", "scans"],
            select(raw.hour, places.c.street_code, places.c.category_code, func.sum(raw.count))
            .join(places, places.c.id == raw.venue_id)
            .where(*in_day)
            .group_by(raw.hour, places.c.street_code, places.c.category_code),
        )
    )
    session.execute(delete(VenueDailyCount).where(VenueDailyCount.day == day))
    # Summed per venue first, then a venue's street and category looked up once.
    totals = (
        select(raw.venue_id, func.sum(raw.count).label("scans"))
        .where(*in_day)
        .group_by(raw.venue_id)
        .subquery("totals")
    )
    written = session.execute(
        insert(VenueDailyCount).from_select(
            ["day", "venue_id", "street_code", "category_code", "scans"],
            select(
                literal(day, Date),
                totals.c.venue_id,
                Venue.street_code,
                Venue.category_code,
                totals.c.scans,
            ).join(Venue, Venue.id == totals.c.venue_id),
        )
    ).rowcount  # type: ignore[attr-defined]
    session.merge(RolledUpDay(day=day, through=through, rolled_at=clock.now()))
    session.flush()
    return int(written)


def pending_days(*, session: Session, settings: Settings) -> list[date]:
    """The days the roll-up owes, of the last five weeks: those not rolled up as far as
    their finished hours go (today's newest hour, yesterday's last, a day never rolled up),
    and today and yesterday again when their counts moved since (offline check-ins
    uploaded late)."""
    first = first_day(session, settings)
    if first is None:
        return []
    current = today(settings)
    since = max(first, current - timedelta(days=ROLL_UP_DAYS))
    done = dict(
        session.execute(
            select(RolledUpDay.day, RolledUpDay.through).where(RolledUpDay.day >= since)
        ).all()
    )
    finished = _hour_start(clock.now(), settings)
    owed = []
    for day in (since + timedelta(days=n) for n in range((current - since).days + 1)):
        start = midnight(day, settings)
        through = min(midnight(day + timedelta(days=1), settings), max(start, finished))
        if done.get(day, start - 1) < through or (
            day >= current - timedelta(days=1) and _moved(session, day, start, done[day])
        ):
            owed.append(day)
    return owed


def _moved(session: Session, day: date, start: int, through: int) -> bool:
    """Whether the venue-hours a day was rolled up from add up differently now (a read:
    much cheaper than rolling the day up again)."""
    raw = session.scalar(
        select(func.coalesce(func.sum(VenueHourlyCount.count), 0)).where(
            VenueHourlyCount.hour >= start, VenueHourlyCount.hour < through
        )
    )
    rolled = session.scalar(
        select(func.coalesce(func.sum(VenueDailyCount.scans), 0)).where(VenueDailyCount.day == day)
    )
    return int(raw or 0) != int(rolled or 0)


def _scoped(query: Chosen, principal: Principal, street: Any, category: Any) -> Chosen:
    """Limit a query to the principal's street or department (their few categories, listed
    once rather than joined row by row)."""
    if principal.scope_kind is ScopeKind.department:
        theirs = select(Category.code).where(Category.department_code == principal.scope)
        return query.where(category.in_(theirs.scalar_subquery()))
    return query.where(scope_clause(principal, street=street))


def _grouped(
    session: Session,
    principal: Principal,
    start: int,
    end: int,
    *,
    by: str,
    rolled: bool,
) -> list[tuple[Any, ...]]:
    """Scans in [start, end) in the principal's scope, per hour (`by="hour"`) or per street
    and category (`by="area"`): from the roll-up, or from the venues' hourly counts."""
    if start >= end:
        return []
    query: Select[Any]
    if rolled:
        hour, street, category = (
            AreaHourlyCount.hour,
            AreaHourlyCount.street_code,
            AreaHourlyCount.category_code,
        )
        scans: Any = AreaHourlyCount.scans
        query = select().select_from(AreaHourlyCount)
    else:
        hour, street, category = VenueHourlyCount.hour, Venue.street_code, Venue.category_code
        scans = VenueHourlyCount.count
        query = select().select_from(VenueHourlyCount)
        if by == "area" or principal.scope_kind is not ScopeKind.district:
            query = query.join(Venue, Venue.id == VenueHourlyCount.venue_id)
    keys = (hour,) if by == "hour" else (street, category)
    query = _scoped(query, principal, street, category)
    query = query.add_columns(*keys, func.sum(scans)).where(hour >= start, hour < end)
    return [tuple(row) for row in session.execute(query.group_by(*keys))]


# --- the dashboards ------------------------------------------------------------------------

TREND_DAYS = 28


@dataclass(frozen=True)
class AreaCount:
    code: str
    scans: int
    usual: float  # a usual day's scans by the same time of day


@dataclass(frozen=True)
class Overview:
    day: date
    hours: float  # the hours of the day counted: 24 for a day gone, fewer for today so far
    basis: str  # what "usual" is: same_weekday, recent_days, or none
    scans: int
    usual_so_far: float  # the median of the baseline days' scans by the same time of day
    usual_day: float  # the median of the baseline days' totals
    hourly: list[int]  # the day's scans per local hour
    usual_hourly: list[float]  # the baseline days' median per hour
    trend: list[tuple[date, int]]  # the 28 days to `day` since the first scans (last: `day`)
    streets: list[AreaCount]
    categories: list[AreaCount]
    top_venues: list[tuple[str, str, str, str, int]]  # id, name, street, category, scans
    open_alerts: int  # nobody has acknowledged them yet, in scope


def _hours_counted(day: date, settings: Settings) -> float:
    if day != today(settings):
        return 24.0 if day < today(settings) else 0.0
    return min(24.0, (clock.now().timestamp() - midnight(day, settings)) / HOUR)


def _by_time(hourly: np.ndarray, hours: float) -> float:
    """Scans by `hours` into the day (the current hour pro rata)."""
    whole = int(hours)
    return float(hourly[:whole].sum() + (hourly[whole] * (hours - whole) if whole < 24 else 0))


def overview(
    *, session: Session, settings: Settings, principal: Principal, day: date | None = None
) -> Overview:
    """A day's scans (today: so far) in the principal's scope against a usual day by the same
    time: per hour, per street and category, the busiest venues; the 28 days to it; the
    alerts still open. Finished days are read from the roll-up."""
    day = day or today(settings)
    _check_day(day)
    hours = _hours_counted(day, settings)
    first = first_day(session, settings) or day
    baseline, basis = baseline_days(day, first)
    window = [day - timedelta(days=n) for n in range(TREND_DAYS, -1, -1)]  # + a 4th week back
    through = _rolled_through(session, settings, window)
    per_hour: dict[int, int] = {}
    for hour, scans in _grouped(
        session,
        principal,
        midnight(window[0], settings),
        midnight(day + timedelta(days=1), settings),
        by="hour",
        rolled=True,
    ):
        per_hour[int(hour)] = int(scans)
    for past in window:  # the hours not rolled up yet (today's last: the hour under way)
        end = midnight(past + timedelta(days=1), settings)
        if past >= first and through[past] < end:
            for hour, scans in _grouped(
                session, principal, through[past], end, by="hour", rolled=False
            ):
                per_hour[int(hour)] = per_hour.get(int(hour), 0) + int(scans)

    def day_hours(of: date) -> np.ndarray:
        start = midnight(of, settings)
        return np.array([per_hour.get(start + h * HOUR, 0) for h in range(24)])

    hourly = day_hours(day)
    history = np.array([day_hours(past) for past in baseline]).reshape(len(baseline), 24)
    usual_hourly = np.median(history, axis=0) if baseline else np.zeros(24)
    usual_day = float(np.median(history.sum(axis=1))) if baseline else 0.0
    usual_so_far = float(np.median([_by_time(row, hours) for row in history])) if baseline else 0.0
    share = usual_so_far / usual_day if usual_day else 1.0

    def areas(of: date) -> dict[tuple[str, str], int]:
        start, end = midnight(of, settings), midnight(of + timedelta(days=1), settings)
        counts: dict[tuple[str, str], int] = {}
        for part in (
            _grouped(session, principal, start, through[of], by="area", rolled=True),
            _grouped(session, principal, through[of], end, by="area", rolled=False),
        ):
            for street, category, scans in part:
                counts[street, category] = counts.get((street, category), 0) + int(scans)
        return counts

    now_by_area = areas(day)
    past_by_area = [areas(past) for past in baseline]

    def rollup(position: int) -> list[AreaCount]:
        def totals(counts: dict[tuple[str, str], int]) -> dict[str, int]:
            out: dict[str, int] = {}
            for key, n in counts.items():
                out[key[position]] = out.get(key[position], 0) + n
            return out

        now, past = totals(now_by_area), [totals(counts) for counts in past_by_area]
        codes = sorted(set(now).union(*past))
        return sorted(
            (
                AreaCount(
                    code,
                    now.get(code, 0),
                    float(np.median([p.get(code, 0) for p in past])) * share if past else 0.0,
                )
                for code in codes
            ),
            key=lambda area: (-area.scans, area.code),
        )

    return Overview(
        day=day,
        hours=round(hours, 2),
        basis=basis if baseline else "none",
        scans=int(hourly.sum()),
        usual_so_far=round(usual_so_far, 1),
        usual_day=round(usual_day, 1),
        hourly=[int(n) for n in hourly],
        usual_hourly=[round(float(n), 1) for n in usual_hourly],
        trend=[(past, int(day_hours(past).sum())) for past in window[1:] if past >= first],
        streets=rollup(0),
        categories=rollup(1),
        top_venues=_top_venues(session, settings, principal, day, through[day]),
        open_alerts=int(
            session.scalar(
                select(func.count())
                .select_from(Alert)
                .join(Venue, Venue.id == Alert.venue_id)
                .where(Alert.status == AlertStatus.open, _visible(principal))
            )
            or 0
        ),
    )


def _rolled_through(session: Session, settings: Settings, days: list[date]) -> dict[date, int]:
    """How far each day is rolled up (its midnight: not at all)."""
    marks = dict(
        session.execute(
            select(RolledUpDay.day, RolledUpDay.through).where(
                RolledUpDay.day >= min(days), RolledUpDay.day <= max(days)
            )
        ).all()
    )
    return {day: marks.get(day, midnight(day, settings)) for day in days}


def _top_venues(
    session: Session,
    settings: Settings,
    principal: Principal,
    day: date,
    through: int,
    limit: int = 10,
) -> list[tuple[str, str, str, str, int]]:
    """The day's busiest venues in scope: the rolled-up venue-day and the hours after it."""
    rolled = _scoped(
        select(VenueDailyCount.venue_id, VenueDailyCount.scans.label("scans")),
        principal,
        VenueDailyCount.street_code,
        VenueDailyCount.category_code,
    ).where(VenueDailyCount.day == day)
    end = midnight(day + timedelta(days=1), settings)
    if through >= end:  # a day rolled up whole: read from the (day, scans) index
        top = rolled.order_by(VenueDailyCount.scans.desc()).limit(limit).subquery()
    else:
        raw = _scoped(
            select(VenueHourlyCount.venue_id, VenueHourlyCount.count.label("scans")).join(
                Venue, Venue.id == VenueHourlyCount.venue_id
            ),
            principal,
            Venue.street_code,
            Venue.category_code,
        ).where(VenueHourlyCount.hour >= through, VenueHourlyCount.hour < end)
        both = union_all(rolled, raw).subquery()
        total = func.sum(both.c.scans)
        top = (
            select(both.c.venue_id, total.label("scans"))
            .group_by(both.c.venue_id)
            .order_by(total.desc(), both.c.venue_id)
            .limit(limit)
            .subquery()
        )
    return [
        (venue, name, street, category, int(n))
        for venue, name, street, category, n in session.execute(
            select(top.c.venue_id, Venue.name, Venue.street_code, Venue.category_code, top.c.scans)
            .join(Venue, Venue.id == top.c.venue_id)
            .order_by(top.c.scans.desc(), top.c.venue_id)
        )
    ]


@dataclass(frozen=True)
class VenueDay:
    venue_id: str
    venue_name: str
    street_code: str
    category_code: str
    day: date
    hours: float
    basis: str
    scans: int
    usual_so_far: float
    hourly: list[int]
    usual_hourly: list[float]  # the baseline days' median per hour
    low: list[float]  # the band: the quietest and busiest baseline day, hour by hour
    high: list[float]
    alerts: list[Alert]  # this venue's alerts over the 28 days to `day`


def venue_day(
    *,
    session: Session,
    settings: Settings,
    principal: Principal,
    venue_id: str,
    day: date | None = None,
) -> VenueDay:
    """One venue's hours on a day against the band of its usual days, with its alerts."""
    day = day or today(settings)
    _check_day(day)
    venue = session.execute(
        select(Venue.id, Venue.name, Venue.street_code, Venue.category_code)
        .join(Category, Category.code == Venue.category_code)
        .where(
            Venue.id == venue_id,
            scope_clause(
                principal,
                street=Venue.street_code,
                department=Category.department_code,
                organisation=Venue.organisation_id,
                venue=Venue.id,
            ),
        )
    ).first()
    if venue is None:
        raise NotFound(_("There is no such venue for you."), code="venue_not_found")
    hours = _hours_counted(day, settings)
    baseline, basis = baseline_days(day, first_day(session, settings) or day)
    since = min([day, *baseline])
    counts = dict(
        session.execute(
            select(VenueHourlyCount.hour, VenueHourlyCount.count).where(
                VenueHourlyCount.venue_id == venue_id,
                VenueHourlyCount.hour >= midnight(since, settings),
                VenueHourlyCount.hour < midnight(day + timedelta(days=1), settings),
            )
        ).all()
    )

    def day_hours(of: date) -> np.ndarray:
        start = midnight(of, settings)
        return np.array([counts.get(start + h * HOUR, 0) for h in range(24)])

    hourly = day_hours(day)
    history = np.array([day_hours(past) for past in baseline]).reshape(len(baseline), 24)
    empty = [0.0] * 24
    alerts = session.scalars(
        select(Alert)
        .where(Alert.venue_id == venue_id, Alert.day > day - timedelta(days=TREND_DAYS))
        .where(Alert.day <= day)
        .order_by(Alert.day.desc(), Alert.kind)
    ).all()
    return VenueDay(
        venue_id=venue.id,
        venue_name=venue.name,
        street_code=venue.street_code,
        category_code=venue.category_code,
        day=day,
        hours=round(hours, 2),
        basis=basis if baseline else "none",
        scans=int(hourly.sum()),
        usual_so_far=round(float(np.median([_by_time(row, hours) for row in history])), 1)
        if baseline
        else 0.0,
        hourly=[int(n) for n in hourly],
        usual_hourly=[float(n) for n in np.median(history, axis=0)] if baseline else empty,
        low=[float(n) for n in history.min(axis=0)] if baseline else empty,
        high=[float(n) for n in history.max(axis=0)] if baseline else empty,
        alerts=list(alerts),
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
