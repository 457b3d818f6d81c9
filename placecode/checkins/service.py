"""The scan and every other way in: who is at which door, their status and the venue's
decision, turned into visits for the writer; paper logbooks; histories and visitor lists;
retention."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import ClassVar

from sqlalchemy import Delete, delete, exists, func, select, text, tuple_
from sqlalchemy.orm import Session

from placecode.checkins.models import CheckIn, VenueHourlyCount
from placecode.checkins.store import DAY, Visit, epoch, moment
from placecode.clock import clock
from placecode.config import Settings
from placecode.errors import InvalidInput, NotFound, TooManyRequests
from placecode.health import service as health
from placecode.health.book import StatusBook
from placecode.health.status import EntryDecision, PersonStatus, entry_decision
from placecode.i18n import _
from placecode.people import service as people
from placecode.people.identity import PersonClaim
from placecode.people.models import Companion, Person, SignInCode
from placecode.people.service import PersonDetails, person_key_of, read_details
from placecode.tables import Row, RowProblem, read_table
from placecode.venues.codes import VenueSnapshot

LOGBOOK_COLUMNS = (
    "venue_id",
    "scanned_at",
    "doc_type",
    "doc_number",
    "name",
    "phone",
    "checkout_at",
)


class ScanTooFast(TooManyRequests):
    keep_changes: ClassVar[bool] = False


class ScanLimiter:
    """Refuse a person (or device) checking in at more different venues a minute than a
    human can walk to. Per worker, in memory."""

    def __init__(self, max_venues: int, window_seconds: float = 60.0) -> None:
        self.max_venues = max_venues
        self.window = window_seconds
        self._recent: dict[str, dict[str, float]] = {}  # key -> venue -> last seen
        self._lock = threading.Lock()

    def check(self, key: str, venue_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            recent = self._recent.get(key)
            if recent is None:
                recent = self._recent[key] = {}
            elif len(recent) >= self.max_venues:
                for venue, seen in list(recent.items()):
                    if seen < now - self.window:
                        del recent[venue]
            if venue_id not in recent and len(recent) >= self.max_venues:
                raise ScanTooFast(
                    _(
                        "Too many different venues within a minute; if this is really you, "
                        "wait a moment."
                    ),
                    retry_after=int(self.window),
                    code="scanning_too_fast",
                )
            recent[venue_id] = now
            if len(self._recent) > 100_000:  # forget people who have gone quiet
                self._recent = {
                    k: v for k, v in self._recent.items() if max(v.values()) >= now - self.window
                }


@dataclass(frozen=True)
class AtTheDoor:
    """One person being checked in, with what the page and API show about them."""

    person_key: str
    name_masked: str
    doc_masked: str
    status: PersonStatus
    decision: EntryDecision
    companion_of: str | None = None


@dataclass(frozen=True)
class Scan:
    venue: VenueSnapshot
    at: datetime
    people: list[AtTheDoor]
    visits: list[Visit]


def _at_the_door(
    statuses: StatusBook,
    venue: VenueSnapshot,
    at: datetime,
    person_key: str,
    name_masked: str,
    doc_masked: str,
    companion_of: str | None = None,
) -> AtTheDoor:
    status = statuses.status(person_key, at)
    return AtTheDoor(
        person_key=person_key,
        name_masked=name_masked,
        doc_masked=doc_masked,
        status=status,
        decision=entry_decision(status, venue.entry_policy, at),
        companion_of=companion_of,
    )


def plan_scan(
    *,
    venue: VenueSnapshot,
    claim: PersonClaim,
    statuses: StatusBook,
    limiter: ScanLimiter,
    channel: str,
    with_companions: bool = True,
    recorded_by: str | None = None,
) -> Scan:
    """A person (and the companions with them today) at a venue, now."""
    limiter.check(claim.person_key, venue.id)
    at = clock.now()
    people_at_door = [
        _at_the_door(statuses, venue, at, claim.person_key, claim.name_masked, claim.doc_masked)
    ]
    if with_companions:
        people_at_door += [
            _at_the_door(
                statuses,
                venue,
                at,
                companion.person_key,
                companion.name_masked,
                companion.doc_masked,
                companion_of=claim.person_key,
            )
            for companion in claim.companions
        ]
    seconds = epoch(at)
    visits = [
        Visit(
            person_key=person.person_key,
            venue_id=venue.id,
            scanned_at=seconds,
            channel=channel,
            colour=person.status.colour.value,
            entry_allowed=person.decision.allowed,
            details=claim.details if person.companion_of is None else None,
            companion_of=person.companion_of,
            recorded_by=recorded_by,
        )
        for person in people_at_door
    ]
    return Scan(venue=venue, at=at, people=people_at_door, visits=visits)


def plan_door_entry(
    *,
    settings: Settings,
    venue: VenueSnapshot,
    statuses: StatusBook,
    limiter: ScanLimiter,
    person_key: str,
    name_masked: str,
    doc_masked: str,
    details: PersonDetails | None,
    channel: str,
    recorded_by: str,
    at: datetime | None = None,
) -> Scan:
    """Someone checked in by staff or a device: a sentinel's scan, a registrar's form."""
    limiter.check(recorded_by, venue.id)
    when = at or clock.now()
    person = _at_the_door(statuses, venue, when, person_key, name_masked, doc_masked)
    visit = Visit(
        person_key=person_key,
        venue_id=venue.id,
        scanned_at=epoch(when),
        channel=channel,
        colour=person.status.colour.value,
        entry_allowed=person.decision.allowed,
        details=details,
        recorded_by=recorded_by,
    )
    return Scan(venue=venue, at=when, people=[person], visits=[visit])


def known_person(*, session: Session, person_key: str) -> tuple[str, str] | None:
    """The masked name and document of someone already registered."""
    row = session.execute(
        select(Person.name_masked, Person.doc_masked).where(Person.person_key == person_key)
    ).first()
    return (row[0], row[1]) if row else None


# --- paper ---------------------------------------------------------------------------------


def parse_time(raw: str, *, field: str, settings: Settings) -> datetime:
    """ISO 8601; without an offset it is the region's local time."""
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(
            _("{value!r} is not a date and time (YYYY-MM-DD HH:MM).").format(value=raw),
            code="bad_time",
            details={"field": field},
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=settings.zone)
    return value


def check_time(value: datetime, *, field: str, settings: Settings) -> int:
    """A visit lies in the retention window and not in the future."""
    now = clock.now()
    if value > now + timedelta(minutes=5):
        raise InvalidInput(
            _("{when} is in the future.").format(when=value.isoformat(timespec="minutes")),
            code="future_time",
            details={"field": field},
        )
    if value < now - timedelta(days=settings.retention_days):
        raise InvalidInput(
            _("{when} is older than the {days} days visits are kept.").format(
                when=value.isoformat(timespec="minutes"), days=settings.retention_days
            ),
            code="too_old",
            details={"field": field},
        )
    return epoch(value)


@dataclass(frozen=True)
class LogbookRow:
    number: int
    venue_id: str
    details: PersonDetails
    scanned_at: int
    checkout_at: int | None


def read_logbook(
    *,
    settings: Settings,
    filename: str,
    content: bytes,
    venue_allowed: Callable[[str], bool],
) -> tuple[list[Row], list[LogbookRow], list[RowProblem]]:
    """Check every row of a check-ins file; good rows and a report of the bad ones."""
    rows = read_table(filename=filename, content=content, columns=LOGBOOK_COLUMNS)
    good: list[LogbookRow] = []
    problems: list[RowProblem] = []
    for row in rows:
        values = row.values
        try:
            venue_id = values["venue_id"].strip()
            if not venue_allowed(venue_id):
                raise InvalidInput(
                    _("Unknown venue {id!r}, or not one you may register at.").format(id=venue_id),
                    code="venue",
                    details={"field": "venue_id"},
                )
            details = read_details(
                doc_type=values["doc_type"].strip(),
                doc_number=values["doc_number"],
                name=values["name"] or None,
                phone=values["phone"] or None,
            )
            scanned = check_time(
                parse_time(values["scanned_at"], field="scanned_at", settings=settings),
                field="scanned_at",
                settings=settings,
            )
            checkout = None
            if values["checkout_at"]:
                checkout = epoch(
                    parse_time(values["checkout_at"], field="checkout_at", settings=settings)
                )
                if checkout < scanned:
                    raise InvalidInput(
                        _("The check-out is before the check-in."),
                        code="checkout_before",
                        details={"field": "checkout_at"},
                    )
        except InvalidInput as exc:
            field = exc.details.get("field", "row") if isinstance(exc.details, dict) else "row"
            problems.append(RowProblem(row=row.number, field=field, reason=exc.message))
            continue
        good.append(
            LogbookRow(
                number=row.number,
                venue_id=venue_id,
                details=details,
                scanned_at=scanned,
                checkout_at=checkout,
            )
        )
    return rows, good, problems


def logbook_visits(
    *,
    settings: Settings,
    statuses: StatusBook,
    venues: dict[str, VenueSnapshot],
    rows: Sequence[LogbookRow],
    channel: str,
    recorded_by: str,
) -> list[Visit]:
    visits = []
    for row in rows:
        venue = venues[row.venue_id]
        key = person_key_of(settings, row.details.document)
        at = moment(row.scanned_at)
        status = statuses.status(key, at)
        visits.append(
            Visit(
                person_key=key,
                venue_id=row.venue_id,
                scanned_at=row.scanned_at,
                channel=channel,
                colour=status.colour.value,
                entry_allowed=entry_decision(status, venue.entry_policy, at).allowed,
                details=row.details,
                recorded_by=recorded_by,
                checkout_at=row.checkout_at,
            )
        )
    return visits


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitRecord:
    check_in_id: int
    venue_id: str
    venue_name: str
    scanned_at: datetime
    checkout_at: datetime | None
    channel: str
    colour: str
    entry_allowed: bool
    name_masked: str | None = None


def own_history(*, session: Session, person_key: str, days: int) -> list[VisitRecord]:
    """A citizen's own scans (and their companions') over the last `days` days."""
    from placecode.venues.models import Venue

    person = people.find_person(session=session, person_key=person_key)
    if person is None:
        return []
    since = epoch(clock.now()) - days * DAY
    rows = session.execute(
        select(CheckIn, Venue.name, Person.name_masked)
        .join(Venue, Venue.id == CheckIn.venue_id)
        .join(Person, Person.id == CheckIn.person_id)
        .where(
            (CheckIn.person_id == person.id) | (CheckIn.companion_of == person.id),
            CheckIn.scanned_at >= since,
        )
        .order_by(CheckIn.scanned_at.desc())
        .limit(2000)
    )
    return [
        VisitRecord(
            check_in_id=check_in.id,
            venue_id=check_in.venue_id,
            venue_name=venue_name,
            scanned_at=moment(check_in.scanned_at),
            checkout_at=moment(check_in.checkout_at) if check_in.checkout_at else None,
            channel=check_in.channel,
            colour=check_in.colour,
            entry_allowed=check_in.entry_allowed,
            name_masked=name_masked,
        )
        for check_in, venue_name, name_masked in rows
    ]


def visitors(*, session: Session, venue_id: str, day: date, zone: object) -> list[VisitRecord]:
    """Who visited a venue on a day: masked name, time, colour and channel only."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=zone)  # type: ignore[arg-type]
    since, until = epoch(start), epoch(start) + DAY
    rows = session.execute(
        select(CheckIn, Person.name_masked)
        .join(Person, Person.id == CheckIn.person_id)
        .where(
            CheckIn.venue_id == venue_id,
            CheckIn.scanned_at >= since,
            CheckIn.scanned_at < until,
        )
        .order_by(CheckIn.scanned_at)
        .limit(20_000)
    )
    return [
        VisitRecord(
            check_in_id=check_in.id,
            venue_id=venue_id,
            venue_name="",
            scanned_at=moment(check_in.scanned_at),
            checkout_at=moment(check_in.checkout_at) if check_in.checkout_at else None,
            channel=check_in.channel,
            colour=check_in.colour,
            entry_allowed=check_in.entry_allowed,
            name_masked=name_masked,
        )
        for check_in, name_masked in rows
    ]


def check_out(*, session: Session, person_key: str, check_in_id: int) -> VisitRecord:
    """Leave a venue: the visit ends now instead of after the category's usual dwell."""
    person = people.find_person(session=session, person_key=person_key)
    check_in = session.scalars(select(CheckIn).where(CheckIn.id == check_in_id)).first()
    if (
        person is None
        or check_in is None
        or person.id not in (check_in.person_id, check_in.companion_of)
    ):
        raise NotFound(_("There is no such check-in of yours."), code="unknown_checkin")
    if check_in.checkout_at is None:
        check_in.checkout_at = max(epoch(clock.now()), check_in.scanned_at)
    return VisitRecord(
        check_in_id=check_in.id,
        venue_id=check_in.venue_id,
        venue_name="",
        scanned_at=moment(check_in.scanned_at),
        checkout_at=moment(check_in.checkout_at),
        channel=check_in.channel,
        colour=check_in.colour,
        entry_allowed=check_in.entry_allowed,
    )


def count_for_venue(*, session: Session, venue_id: str) -> int:
    return session.scalar(select(func.count()).where(CheckIn.venue_id == venue_id)) or 0


# --- retention -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Purged:
    before: datetime
    check_ins: int
    people: int
    partitions: list[str]
    more: bool = False  # old check-ins are left for the next call (its `limit` was reached)


PURGE_BATCH = 20_000  # check-ins a scheduled purge deletes per transaction


def purge(
    *, session: Session, settings: Settings, days: int | None = None, limit: int | None = None
) -> Purged:
    """Delete check-ins older than the retention window, then people with nothing left (no
    visits, companions or health records).

    On PostgreSQL whole day partitions are dropped; the partition of the boundary day is
    trimmed row by row. With a `limit`, at most that many check-ins go per call and people
    are looked at only once none is left: a scheduled purge then holds the database (on
    SQLite, its only writer) a moment at a time rather than for a whole day's deletions.
    """
    keep_days = days if days is not None else settings.retention_days
    cutoff = epoch(clock.now()) - keep_days * DAY
    dropped: list[str] = []
    deleted = 0
    if session.get_bind().dialect.name == "postgresql":
        partitions = session.execute(
            text(
                "SELECT child.relname FROM pg_inherits "
                "JOIN pg_class parent ON parent.oid = pg_inherits.inhparent "
                "JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
                "WHERE parent.relname = 'checkins'"
            )
        ).scalars()
        for name in sorted(partitions):
            day = name.removeprefix("checkins_p")
            if len(day) == 8 and day.isdigit():
                day_start = epoch(datetime.strptime(day, "%Y%m%d").replace(tzinfo=moment(0).tzinfo))
                if day_start + DAY <= cutoff:
                    # Names come from the catalogue and were checked above.
                    count = text(f"SELECT count(*) FROM {name}")  # noqa: S608
                    deleted += session.execute(count).scalar_one()
                    session.execute(text(f"DROP TABLE {name}"))
                    dropped.append(name)
    old = CheckIn.scanned_at < cutoff
    if limit is None:
        deleted += session.execute(delete(CheckIn).where(old)).rowcount  # type: ignore[attr-defined]
    else:
        some = select(CheckIn.id, CheckIn.scanned_at).where(old).limit(limit)
        found = session.execute(
            delete(CheckIn).where(tuple_(CheckIn.id, CheckIn.scanned_at).in_(some))
        ).rowcount  # type: ignore[attr-defined]
        deleted += found
        if found >= limit:
            return Purged(moment(cutoff), deleted, 0, dropped, more=True)
    removed_people = session.execute(_orphans(cutoff)).rowcount  # type: ignore[attr-defined]
    session.execute(delete(SignInCode).where(SignInCode.expires_at < clock.now()))
    return Purged(
        before=moment(cutoff), check_ins=deleted, people=removed_people, partitions=dropped
    )


def _orphans(cutoff: int) -> Delete:
    """People registered before the cutoff with nothing left. Cheapest test first; own
    visits through the (person, time) index; guardians of a companion's visit from one
    pass over the check-ins (companion_of has no index), not one pass per person."""
    guardians = select(CheckIn.companion_of).where(CheckIn.companion_of.is_not(None))
    in_companions = exists().where(
        (Companion.guardian_id == Person.id) | (Companion.dependent_id == Person.id)
    )
    return delete(Person).where(
        Person.created_at < moment(cutoff),
        ~exists().where(CheckIn.person_id == Person.id),
        Person.id.not_in(guardians),
        ~in_companions,
        ~health.has_records(),
    )


def hourly_total(*, session: Session, venue_id: str) -> int:
    return (
        session.scalar(
            select(func.coalesce(func.sum(VenueHourlyCount.count), 0)).where(
                VenueHourlyCount.venue_id == venue_id
            )
        )
        or 0
    )
