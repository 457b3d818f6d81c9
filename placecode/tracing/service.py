"""Tracing: what the CDC finds in the de-identified scan log once a person's code turns
abnormal.

A visit is the interval [scan, check-out or scan + the venue's dwell time) (a check-out
only shortens it). From an index case's visits in its window (its trajectory, 行动轨迹),
every other visit at the same venue whose interval overlaps is a contact, with the minutes
of overlap added up per person: at or above the threshold a close contact, below it an
exposure. From each close contact's first exposure on (time-respecting), their own close
contacts are secondary contacts (密接的密接), to degree 2 at most. Everything starts from the
case and walks the (person, time) and (venue, time) indexes: never all pairs.

A tracing case keeps its index people, risky venue windows, parameters and findings; its
findings become health events only when an analyst confirms it, and a confirmation can be
withdrawn. Re-identification unseals names, documents and phones with the authority's
private key, for a CDC analyst with a stated purpose, one audit record per person.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from placecode.accounts.models import AuditEntry, Role
from placecode.accounts.service import Actor, record_audit
from placecode.clock import clock
from placecode.config import Settings
from placecode.db import DriverSql, in_chunks
from placecode.errors import Conflict, Forbidden, InvalidInput, NotFound
from placecode.health import service as health
from placecode.health.status import EventKind
from placecode.i18n import N_, _
from placecode.people.models import Person
from placecode.people.sealing import load_unsealer
from placecode.tables import csv_bytes, neutralise
from placecode.tracing.models import RiskWindow, TracedContact, TracingCase, TracingIndex
from placecode.venues.models import Venue  # names for the views; the log is read directly

MAX_DWELL = 1440 * 60  # the longest visit a venue may declare, in seconds
CASE_KINDS = (EventKind.confirmed, EventKind.asymptomatic, EventKind.suspected)


class Finding(StrEnum):
    close_contact = "close_contact"
    exposure = "exposure"
    secondary_contact = "secondary_contact"


FINDING_LABELS = {
    Finding.close_contact: N_("Close contact"),
    Finding.exposure: N_("Exposure"),
    Finding.secondary_contact: N_("Secondary contact"),
}
# What a confirmed finding becomes in the person's health record (red, yellow, red).
FINDING_EVENTS = {
    Finding.close_contact: EventKind.close_contact,
    Finding.exposure: EventKind.exposure,
    Finding.secondary_contact: EventKind.secondary_contact,
}


class CaseStatus(StrEnum):
    open = "open"
    confirmed = "confirmed"
    withdrawn = "withdrawn"


# --- the scan log as visits ----------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    check_in_id: int
    person_id: int
    venue_id: str
    start: int  # Unix seconds
    end: int


class VisitLog:
    """The scan log read as visits through its indexes, each venue's dwell time read once.
    (Driver-level SQL and numpy: tracing's hot path reads thousands of rows a case.)"""

    def __init__(self, session: Session) -> None:
        self.sql = DriverSql(session)
        self._dwell: dict[str, int] = {}

    def dwell(self, venue_id: str) -> int:
        seconds = self._dwell.get(venue_id)
        if seconds is None:
            rows = self.sql.all(
                "SELECT COALESCE(v.dwell_minutes, c.dwell_minutes) FROM venues v "  # noqa: S608
                f"JOIN venue_categories c ON c.code = v.category_code WHERE v.id = {self.sql.mark}",
                (venue_id,),
            )
            seconds = self._dwell[venue_id] = int(rows[0][0]) * 60 if rows else 0
        return seconds

    def _end(self, dwell: int, scanned: np.ndarray, checkout: np.ndarray) -> np.ndarray:
        """Scan + dwell, or the check-out if earlier (never before the scan)."""
        end = scanned + dwell
        left = checkout >= 0
        end[left] = np.maximum(scanned[left], np.minimum(end[left], checkout[left]))
        return end

    def of_person(self, person_id: int, since: int, until: int) -> list[Visit]:
        """The person's visits that overlap [since, until), in time order."""
        mark = self.sql.mark
        rows = self.sql.all(
            "SELECT id, venue_id, scanned_at, checkout_at FROM checkins "  # noqa: S608
            f"WHERE person_id = {mark} AND scanned_at > {mark} AND scanned_at < {mark} "
            "ORDER BY scanned_at, id",
            (person_id, since - MAX_DWELL, until),
        )
        visits = []
        for check_in, venue, scanned, checkout in rows:
            end = scanned + self.dwell(venue)
            if checkout is not None:
                end = max(scanned, min(end, checkout))
            if end > since:
                visits.append(Visit(check_in, person_id, venue, scanned, end))
        return visits

    def at_venue(self, venue_id: str, start: int, end: int) -> _Visits:
        """Every visit at the venue that may overlap [start, end), sorted by scan time."""
        mark = self.sql.mark
        dwell = self.dwell(venue_id)
        rows = self.sql.all(
            "SELECT person_id, scanned_at, COALESCE(checkout_at, -1) FROM checkins "  # noqa: S608
            f"WHERE venue_id = {mark} AND scanned_at > {mark} AND scanned_at < {mark} "
            "ORDER BY scanned_at",
            (venue_id, start - dwell, end),
        )
        table = np.array(rows, dtype=np.int64).reshape(-1, 3)
        scanned = table[:, 1]
        return _Visits(table[:, 0], scanned, self._end(dwell, scanned, table[:, 2]), dwell)


@dataclass(frozen=True)
class _Visits:
    person: np.ndarray
    start: np.ndarray  # sorted
    end: np.ndarray
    dwell: int


# --- contacts ----------------------------------------------------------------------------


@dataclass
class Contact:
    person_id: int
    degree: int
    finding: Finding
    overlap: int  # seconds, added up over every overlap with the people traced from
    first_at: int  # when the first overlap began
    venue_id: str  # where
    via: int | None  # the index person or close contact met most, None for a risky venue
    cluster: int = 0


@dataclass(frozen=True)
class IndexWindow:
    person_id: int
    since: int
    until: int


@dataclass(frozen=True)
class VenueWindow:
    venue_id: str
    start: int
    end: int


@dataclass
class Trace:
    """What tracing found: each index person's trajectory, the contacts, the clusters."""

    trajectories: dict[int, list[Visit]]
    contacts: list[Contact]
    clusters: dict[int, int]  # index person → cluster number (1, 2, …)


@dataclass(frozen=True)
class Met:
    """Who met whom for how long, added up per person: arrays of the same length."""

    person: np.ndarray
    overlap: np.ndarray  # seconds
    first_at: np.ndarray
    venue: list[str]  # where the first overlap was
    via: np.ndarray  # the source met longest (ties: the lower id)
    sources: dict[int, set[int]]  # person → every source they met (for clusters)


def _meet(
    log: VisitLog, stretches: Sequence[tuple[int, str, int, int]], *, with_sources: bool = False
) -> Met:
    """The overlaps of these (source, venue, from, to) stretches with everyone else's
    visits: one range scan per venue over the stretches there, then interval arithmetic.
    `with_sources` also lists every source each person met (for clusters)."""
    by_venue: dict[str, list[tuple[int, int, int]]] = {}
    for who, venue, start, end in stretches:
        if end > start:
            by_venue.setdefault(venue, []).append((who, start, end))
    venues = list(by_venue)
    people, overlaps, begins, places, sources = [], [], [], [], []
    for number, (venue, group) in enumerate(by_venue.items()):
        visits = log.at_venue(venue, min(g[1] for g in group), max(g[2] for g in group))
        for who, start, end in group:
            low = np.searchsorted(visits.start, start - visits.dwell, side="right")
            high = np.searchsorted(visits.start, end, side="left")
            person = visits.person[low:high]
            begin = np.maximum(visits.start[low:high], start)
            overlap = np.minimum(visits.end[low:high], end) - begin
            keep = (overlap > 0) & (person != who)
            people.append(person[keep])
            overlaps.append(overlap[keep])
            begins.append(begin[keep])
            places.append(np.full(int(keep.sum()), number))
            sources.append(np.full(int(keep.sum()), who))
    person = np.concatenate(people) if people else np.zeros(0, dtype=np.int64)
    if not len(person):
        return Met(person, person, person, [], person, {})
    overlap = np.concatenate(overlaps)
    begin = np.concatenate(begins)
    place = np.concatenate(places)
    source = np.concatenate(sources)
    # Per person: total overlap, and the earliest overlap (where it was).
    order = np.lexsort((place, begin, person))
    person, overlap, begin, place, source = (
        person[order],
        overlap[order],
        begin[order],
        place[order],
        source[order],
    )
    unique, first = np.unique(person, return_index=True)
    totals = np.add.reduceat(overlap, first)
    # The source each person met longest: sum per (person, source), best per person.
    pair = np.lexsort((source, person))
    pair_person, pair_source = person[pair], source[pair]
    edges = np.flatnonzero(
        np.r_[True, (pair_person[1:] != pair_person[:-1]) | (pair_source[1:] != pair_source[:-1])]
    )
    pair_sum = np.add.reduceat(overlap[pair], edges)
    pair_person, pair_source = pair_person[edges], pair_source[edges]
    best = np.lexsort((pair_source, -pair_sum, pair_person))
    best_person, best_source = pair_person[best], pair_source[best]
    leaders = np.flatnonzero(np.r_[True, best_person[1:] != best_person[:-1]])
    met_sources: dict[int, set[int]] = {}
    if with_sources:
        for who, src in zip(pair_person.tolist(), pair_source.tolist(), strict=True):
            met_sources.setdefault(who, set()).add(src)
    return Met(
        person=unique,
        overlap=totals,
        first_at=begin[first],
        venue=[venues[i] for i in place[first].tolist()],
        via=best_source[leaders],
        sources=met_sources,
    )


def trace(
    *,
    session: Session,
    indexes: Sequence[IndexWindow],
    degree: int = 2,
    threshold_minutes: int = 15,
    venue_windows: Sequence[VenueWindow] = (),
    now: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Trace:
    """Trace these index people (and risky venue windows) through the scan log; `progress`
    hears of each index person done."""
    if degree not in (1, 2):
        raise InvalidInput(_("The degree is 1 or 2."), code="degree")
    log = VisitLog(session)
    threshold = threshold_minutes * 60
    now = int(clock.now().timestamp()) if now is None else now
    trajectories = {}
    stretches = []
    for window in indexes:
        trajectories[window.person_id] = log.of_person(window.person_id, window.since, window.until)
        stretches += [
            (window.person_id, v.venue_id, max(v.start, window.since), min(v.end, window.until))
            for v in trajectories[window.person_id]
        ]
        if progress is not None:
            progress(1)
    met = _meet(log, stretches, with_sources=True)
    index_people = set(trajectories)
    # Index people who met are one cluster; so are index people who met the same person.
    parent = {person: person for person in index_people}

    def root(person: int) -> int:
        while parent[person] != person:
            parent[person] = parent[parent[person]]
            person = parent[person]
        return person

    for person, sources in met.sources.items():
        linked = sorted(sources | ({person} if person in index_people else set()))
        for other in linked[1:]:
            parent[root(other)] = root(linked[0])
    order = [w.person_id for w in indexes]
    roots = list(dict.fromkeys(root(p) for p in order))
    clusters = {p: roots.index(root(p)) + 1 for p in index_people}

    contacts: dict[int, Contact] = {}
    for person, overlap, first_at, venue, via in zip(
        met.person.tolist(),
        met.overlap.tolist(),
        met.first_at.tolist(),
        met.venue,
        met.via.tolist(),
        strict=True,
    ):
        if person in index_people:
            continue
        contacts[person] = Contact(
            person_id=person,
            degree=1,
            finding=Finding.close_contact if overlap >= threshold else Finding.exposure,
            overlap=overlap,
            first_at=first_at,
            venue_id=venue,
            via=via,
            cluster=clusters[via],
        )
    if degree == 2:
        # Time-respecting: only what each close contact did after they were exposed.
        second = []
        for contact in [c for c in contacts.values() if c.finding is Finding.close_contact]:
            second += [
                (contact.person_id, v.venue_id, max(v.start, contact.first_at), min(v.end, now))
                for v in log.of_person(contact.person_id, contact.first_at, now)
            ]
        met = _meet(log, second)
        for person, overlap, first_at, venue, via in zip(
            met.person.tolist(),
            met.overlap.tolist(),
            met.first_at.tolist(),
            met.venue,
            met.via.tolist(),
            strict=True,
        ):
            if person in index_people or person in contacts or overlap < threshold:
                continue
            contacts[person] = Contact(
                person_id=person,
                degree=2,
                finding=Finding.secondary_contact,
                overlap=overlap,
                first_at=first_at,
                venue_id=venue,
                via=via,
                cluster=contacts[via].cluster,
            )
    for risky in venue_windows:
        visits = log.at_venue(risky.venue_id, risky.start, risky.end)
        begin = np.maximum(visits.start, risky.start)
        overlap = np.minimum(visits.end, risky.end) - begin
        for person, seconds, first_at in zip(
            visits.person.tolist(), overlap.tolist(), begin.tolist(), strict=True
        ):
            if person in index_people or person in contacts or seconds <= 0:
                continue
            contacts[person] = Contact(
                person_id=person,
                degree=1,
                finding=Finding.exposure,
                overlap=seconds,
                first_at=first_at,
                venue_id=risky.venue_id,
                via=None,
            )
    found = sorted(contacts.values(), key=lambda c: (c.degree, -c.overlap, c.person_id))
    return Trace(trajectories=trajectories, contacts=found, clusters=clusters)


def default_window(
    *, session: Session, settings: Settings, person_key: str
) -> tuple[datetime, datetime]:
    """From the case's onset or sampling (the earliest case event or positive NAT) minus
    the look-back days, to its isolation (the case event) or now."""
    found = health.health_file(session=session, person_key=person_key)
    now = clock.now()
    onsets = [e.occurred_at for e in found.events if e.kind in CASE_KINDS]
    onsets += [n.sampled_at for n in found.nats if n.result == "positive"]
    look_back = timedelta(days=settings.trace_days_before)
    if not onsets:
        return now - look_back, now
    isolated = [e.occurred_at for e in found.events if e.kind in CASE_KINDS]
    until = min(max(isolated), now) if isolated else now
    return min(onsets) - look_back, until


# --- tracing cases -------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexRequest:
    person_key: str
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class VenueRequest:
    venue_id: str
    starts_at: datetime
    ends_at: datetime
    note: str | None = None


def _person(session: Session, person_key: str) -> Person:
    person = session.scalar(select(Person).where(Person.person_key == person_key))
    if person is None:
        raise NotFound(
            _("Nobody with this person key has scanned here ({key}).").format(key=person_key),
            code="person_not_found",
            details={"person_key": person_key},
        )
    return person


def _check_window(start: datetime, end: datetime, what: str) -> None:
    if end <= start:
        raise InvalidInput(
            _("The window of {what} ends before it starts.").format(what=what),
            code="window",
        )
    if end - start > timedelta(days=60):
        raise InvalidInput(
            _("The window of {what} is longer than 60 days.").format(what=what), code="window"
        )


def index_windows(
    *, session: Session, settings: Settings, people: Sequence[IndexRequest]
) -> list[IndexWindow]:
    """Each index person once, with their window (the default one where none is given)."""
    windows: dict[int, IndexWindow] = {}
    for request in people:
        person = _person(session, request.person_key)
        if person.id in windows:
            continue
        since, until = request.since, request.until
        if since is None or until is None:  # the health records say when, unless told
            onset, isolated = default_window(
                session=session, settings=settings, person_key=request.person_key
            )
            since, until = since or onset, until or isolated
        _check_window(since, until, request.person_key)
        windows[person.id] = IndexWindow(person.id, int(since.timestamp()), int(until.timestamp()))
    return list(windows.values())


def venue_windows(*, session: Session, venues: Sequence[VenueRequest]) -> list[VenueWindow]:
    windows = []
    for request in venues:
        if session.get(Venue, request.venue_id) is None:
            raise NotFound(
                _("There is no venue {id}.").format(id=request.venue_id), code="venue_not_found"
            )
        _check_window(request.starts_at, request.ends_at, request.venue_id)
        windows.append(
            VenueWindow(
                request.venue_id,
                int(request.starts_at.timestamp()),
                int(request.ends_at.timestamp()),
            )
        )
    return windows


@dataclass(frozen=True)
class CasePlan:
    """A tracing case checked and traced, to be saved by `open_case`."""

    title: str
    indexes: list[IndexWindow]
    venues: list[VenueWindow]
    notes: list[str | None]  # the risky venues' notes, in their order
    degree: int
    threshold_minutes: int
    found: Trace


def plan_case(
    *,
    session: Session,
    settings: Settings,
    title: str,
    people: Sequence[IndexRequest],
    venues: Sequence[VenueRequest] = (),
    degree: int = 2,
    threshold_minutes: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> CasePlan:
    """Check a case and trace it. It only reads: a caller that can plans in a transaction
    that only reads and opens the case in a short one that writes (on SQLite a writing
    transaction holds up every scan while the case is traced)."""
    if not people and not venues:
        raise InvalidInput(
            _("Name at least one index person or one risky venue window."), code="empty_case"
        )
    if degree not in (1, 2):
        raise InvalidInput(_("The degree is 1 or 2."), code="degree")
    indexes = index_windows(session=session, settings=settings, people=people)
    risky = venue_windows(session=session, venues=venues)
    threshold = threshold_minutes or settings.close_contact_minutes
    found = trace(
        session=session,
        indexes=indexes,
        degree=degree,
        threshold_minutes=threshold,
        venue_windows=risky,
        progress=progress,
    )
    return CasePlan(
        title=title.strip() or _("Tracing case"),
        indexes=indexes,
        venues=risky,
        notes=[request.note for request in venues],
        degree=degree,
        threshold_minutes=threshold,
        found=found,
    )


def open_case(*, session: Session, actor: Actor, plan: CasePlan) -> TracingCase:
    """Save a planned tracing case with its findings. Audited."""
    case = TracingCase(
        id="tc_" + secrets.token_hex(8),
        title=plan.title,
        status=CaseStatus.open.value,
        degree=plan.degree,
        threshold_minutes=plan.threshold_minutes,
        created_by=actor.username,
        created_at=clock.now(),
    )
    session.add(case)
    session.flush()
    for window in plan.indexes:
        session.add(
            TracingIndex(
                case_id=case.id,
                person_id=window.person_id,
                since=datetime.fromtimestamp(window.since, UTC),
                until=datetime.fromtimestamp(window.until, UTC),
                cluster=0,
            )
        )
    for venue, note in zip(plan.venues, plan.notes, strict=True):
        session.add(
            RiskWindow(
                case_id=case.id,
                venue_id=venue.venue_id,
                starts_at=datetime.fromtimestamp(venue.start, UTC),
                ends_at=datetime.fromtimestamp(venue.end, UTC),
                note=note,
            )
        )
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="tracing.open",
        target=case.id,
        detail={"people": len(plan.indexes), "venues": len(plan.venues), "degree": plan.degree},
    )
    run_case(session=session, case=case, found=plan.found)
    return case


def get_case(*, session: Session, case_id: str, for_update: bool = False) -> TracingCase:
    """The case; `for_update` to change it: on PostgreSQL its row is locked until the
    transaction ends, so that two changes at once (a confirmation clicked twice) take
    turns and the later one sees the earlier one's outcome. SQLite's writers take turns
    anyway."""
    case = session.get(
        TracingCase, case_id, with_for_update=for_update, populate_existing=for_update
    )
    if case is None:
        raise NotFound(
            _("There is no tracing case {id}.").format(id=case_id), code="case_not_found"
        )
    return case


def list_cases(*, session: Session, limit: int = 100) -> list[TracingCase]:
    return list(
        session.scalars(select(TracingCase).order_by(TracingCase.created_at.desc()).limit(limit))
    )


def case_windows(
    *, session: Session, case: TracingCase
) -> tuple[list[IndexWindow], list[VenueWindow]]:
    indexes = [
        IndexWindow(row.person_id, int(row.since.timestamp()), int(row.until.timestamp()))
        for row in session.scalars(
            select(TracingIndex).where(TracingIndex.case_id == case.id).order_by(TracingIndex.id)
        )
    ]
    venues = [
        VenueWindow(row.venue_id, int(row.starts_at.timestamp()), int(row.ends_at.timestamp()))
        for row in session.scalars(
            select(RiskWindow).where(RiskWindow.case_id == case.id).order_by(RiskWindow.id)
        )
    ]
    return indexes, venues


def risk_notes(*, session: Session, case: TracingCase) -> list[str | None]:
    """The notes of the case's risky venue windows, in the order of `case_windows`."""
    return list(
        session.scalars(
            select(RiskWindow.note).where(RiskWindow.case_id == case.id).order_by(RiskWindow.id)
        )
    )


def case_trajectories(
    *, session: Session, case: TracingCase
) -> tuple[dict[int, list[Visit]], dict[int, int]]:
    """The index people's trajectories and clusters as last traced (no contacts walked)."""
    log = VisitLog(session)
    trajectories, clusters = {}, {}
    for index in session.scalars(
        select(TracingIndex).where(TracingIndex.case_id == case.id).order_by(TracingIndex.id)
    ):
        trajectories[index.person_id] = log.of_person(
            index.person_id, int(index.since.timestamp()), int(index.until.timestamp())
        )
        clusters[index.person_id] = index.cluster
    return trajectories, clusters


def trace_case(*, session: Session, case: TracingCase) -> Trace:
    indexes, venues = case_windows(session=session, case=case)
    return trace(
        session=session,
        indexes=indexes,
        degree=case.degree,
        threshold_minutes=case.threshold_minutes,
        venue_windows=venues,
    )


@dataclass(frozen=True)
class Rerun:
    """How tracing a case again compared with the time before."""

    added: int  # people found now who were not before
    gone: int  # people found before who are not now
    changed: int  # people found both times whose finding changed


def run_case(
    *, session: Session, case: TracingCase, found: Trace, actor: Actor | None = None
) -> Rerun:
    """Keep the case's findings as traced just before (`trace_case` or `plan_case`, in a
    transaction that only read), compared with the last time (not once confirmed: withdraw
    first). Audited when an analyst asks for it."""
    if case.status == CaseStatus.confirmed.value:
        raise Conflict(
            _("This case is confirmed; withdraw the confirmation before tracing it again."),
            code="case_confirmed",
        )
    before = {c.person_id: c.kind for c in saved_contacts(session=session, case=case)}
    now = {c.person_id: c.finding.value for c in found.contacts}
    rerun = Rerun(
        added=len(now.keys() - before.keys()),
        gone=len(before.keys() - now.keys()),
        changed=sum(1 for person in now.keys() & before.keys() if now[person] != before[person]),
    )
    if actor is not None:
        record_audit(
            session=session,
            actor=actor,
            action="tracing.run",
            target=case.id,
            detail=asdict(rerun),
        )
    session.execute(delete(TracedContact).where(TracedContact.case_id == case.id))
    if found.contacts:
        session.execute(
            insert(TracedContact),
            [{"case_id": case.id, **asdict(row)} for row in contact_rows(found)],
        )
    for index in session.scalars(select(TracingIndex).where(TracingIndex.case_id == case.id)):
        index.cluster = found.clusters.get(index.person_id, 0)
    case.traced_at = clock.now()
    session.flush()
    return rerun


def saved_contacts(*, session: Session, case: TracingCase) -> list[ContactRow]:
    return [
        ContactRow(*row)
        for row in session.execute(
            select(
                TracedContact.person_id,
                TracedContact.degree,
                TracedContact.kind,
                TracedContact.overlap_seconds,
                TracedContact.first_at,
                TracedContact.venue_id,
                TracedContact.via_person_id,
                TracedContact.cluster,
            )
            .where(TracedContact.case_id == case.id)
            .order_by(
                TracedContact.degree,
                TracedContact.overlap_seconds.desc(),
                TracedContact.person_id,
            )
        )
    ]


def confirm_case(*, session: Session, actor: Actor, case_id: str) -> int:
    """Turn the case's findings into health events (close and secondary contacts red,
    exposures yellow, from when each was first exposed); how many were added. Audited."""
    case = get_case(session=session, case_id=case_id, for_update=True)
    if case.status == CaseStatus.confirmed.value:
        raise Conflict(_("This case is already confirmed."), code="case_confirmed")
    contacts = saved_contacts(session=session, case=case)
    added = health.apply_tracing_events(
        session=session,
        actor=actor,
        case_id=case.id,
        events=[(c.person_id, FINDING_EVENTS[Finding(c.kind)], c.first_at) for c in contacts],
    )
    case.status = CaseStatus.confirmed.value
    case.confirmed_by, case.confirmed_at = actor.username, clock.now()
    record_audit(
        session=session,
        actor=actor,
        action="tracing.confirm",
        target=case.id,
        detail={"contacts": len(contacts), "events": added},
    )
    return added


def withdraw_case(*, session: Session, actor: Actor, case_id: str, reason: str) -> int:
    """The circuit breaker: take back every event the confirmation made; how many."""
    case = get_case(session=session, case_id=case_id, for_update=True)
    if case.status != CaseStatus.confirmed.value:
        raise Conflict(_("Only a confirmed case can be withdrawn."), code="case_not_confirmed")
    if not reason.strip():
        raise InvalidInput(_("Say why the confirmation is withdrawn."), code="reason_required")
    withdrawn = health.withdraw_tracing_events(session=session, actor=actor, case_id=case.id)
    case.status = CaseStatus.withdrawn.value
    case.withdrawn_by, case.withdrawn_at = actor.username, clock.now()
    record_audit(
        session=session,
        actor=actor,
        action="tracing.withdraw",
        target=case.id,
        purpose=reason.strip(),
        detail={"events": withdrawn},
    )
    return withdrawn


# --- re-identification ---------------------------------------------------------------------


@dataclass(frozen=True)
class Reidentified:
    person_key: str
    doc_type: str
    name: str | None
    doc_number: str | None
    phone: str | None


MIN_PURPOSE = 5


def reidentify(
    *,
    session: Session,
    settings: Settings,
    actor: Actor,
    person_keys: Sequence[str],
    purpose: str,
    case_id: str | None = None,
) -> list[Reidentified]:
    """Unseal these people's names, documents and phones: a CDC analyst only, with a stated
    purpose, the authority's private key configured; one audit record per person."""
    if actor.role != Role.cdc_analyst.value:
        raise Forbidden(_("Only a CDC analyst may re-identify people."), code="not_cdc")
    purpose = " ".join(purpose.split())
    if len(purpose) < MIN_PURPOSE:
        raise InvalidInput(
            _("State the purpose of re-identifying (at least {n} characters).").format(
                n=MIN_PURPOSE
            ),
            code="purpose_required",
            details={"field": "purpose"},
        )
    keys = list(dict.fromkeys(person_keys))
    if not keys:
        raise InvalidInput(_("Choose whom to re-identify."), code="nobody")
    if len(keys) > 5000:
        raise InvalidInput(_("Re-identify at most 5,000 people at a time."), code="too_many")
    unsealer = load_unsealer(settings)  # refused here when the key is not configured
    people: dict[str, Person] = {}
    for chunk in in_chunks(keys):
        for person in session.scalars(select(Person).where(Person.person_key.in_(chunk))):
            people[person.person_key] = person
    missing = [key for key in keys if key not in people]
    if missing:
        raise NotFound(
            _("Nobody with this person key: {key}.").format(key=missing[0]),
            code="person_not_found",
        )
    found = []
    for key in keys:
        person = people[key]
        identity = unsealer.unseal(person.sealed, key.encode())
        record_audit(
            session=session,
            actor=actor,
            action="person.reidentify",
            target=key,
            purpose=purpose,
            detail={"case": case_id} if case_id else None,
        )
        found.append(
            Reidentified(key, person.doc_type, identity.name, identity.doc_number, identity.phone)
        )
    return found


def reidentifications(*, session: Session, limit: int = 500) -> list[AuditEntry]:
    """Who re-identified whom, when and why, newest first."""
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "person.reidentify")
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
    )


# --- views and exports ---------------------------------------------------------------------


@dataclass(frozen=True)
class PersonLabel:
    person_key: str
    name_masked: str
    doc_masked: str
    phone_masked: str | None


@dataclass(frozen=True)
class VenueLabel:
    id: str
    name: str
    street_code: str
    category_code: str


def person_labels(*, session: Session, person_ids: Iterable[int]) -> dict[int, PersonLabel]:
    ids = sorted(set(person_ids))
    labels: dict[int, PersonLabel] = {}
    for chunk in in_chunks(ids):
        for row in session.execute(
            select(
                Person.id,
                Person.person_key,
                Person.name_masked,
                Person.doc_masked,
                Person.phone_masked,
            ).where(Person.id.in_(chunk))
        ):
            labels[row[0]] = PersonLabel(row[1], row[2], row[3], row[4])
    return labels


def venue_labels(*, session: Session, venue_ids: Iterable[str]) -> dict[str, VenueLabel]:
    ids = sorted(set(venue_ids))
    labels: dict[str, VenueLabel] = {}
    for chunk in in_chunks(ids):
        for row in session.execute(
            select(
                Venue.id,
                Venue.name,
                Venue.street_code,
                Venue.category_code,
            ).where(Venue.id.in_(chunk))
        ):
            labels[row[0]] = VenueLabel(row[0], row[1], row[2], row[3])
    return labels


EXPORT_COLUMNS = (
    "degree",
    "finding",
    "person_key",
    "name_masked",
    "doc_masked",
    "phone_masked",
    "overlap_minutes",
    "first_exposed_at",
    "venue_id",
    "venue_name",
    "via_person_key",
    "cluster",
)
IDENTITY_COLUMNS = ("name", "doc_type", "doc_number", "phone")


@dataclass(frozen=True, slots=True)
class ContactRow:
    """A finding as a saved case keeps it (TracedContact has the same attributes)."""

    person_id: int
    degree: int
    kind: str
    overlap_seconds: int
    first_at: datetime
    venue_id: str
    via_person_id: int | None
    cluster: int


def contact_rows(found: Trace) -> list[ContactRow]:
    """A trace's contacts in the shape a saved case keeps them."""
    return [
        ContactRow(
            person_id=c.person_id,
            degree=c.degree,
            kind=c.finding.value,
            overlap_seconds=c.overlap,
            first_at=datetime.fromtimestamp(c.first_at, UTC),
            venue_id=c.venue_id,
            via_person_id=c.via,
            cluster=c.cluster,
        )
        for c in found.contacts
    ]


def export_rows(
    *,
    session: Session,
    settings: Settings,
    contacts: Sequence[ContactRow],
    identities: dict[str, Reidentified] | None = None,
) -> tuple[list[str], list[list[Any]]]:
    """Findings as a table; identity columns only when re-identified."""
    people = person_labels(
        session=session,
        person_ids=[c.person_id for c in contacts]
        + [c.via_person_id for c in contacts if c.via_person_id],
    )
    venues = venue_labels(session=session, venue_ids=[c.venue_id for c in contacts])
    zone = settings.zone
    columns = list(EXPORT_COLUMNS) + (list(IDENTITY_COLUMNS) if identities is not None else [])
    rows = []
    for contact in contacts:
        label = people[contact.person_id]
        row: list[Any] = [
            contact.degree,
            contact.kind,
            label.person_key,
            label.name_masked,
            label.doc_masked,
            label.phone_masked or "",
            round(contact.overlap_seconds / 60, 1),
            contact.first_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            contact.venue_id,
            venues[contact.venue_id].name if contact.venue_id in venues else "",
            people[contact.via_person_id].person_key if contact.via_person_id else "",
            contact.cluster,
        ]
        if identities is not None:
            who = identities.get(label.person_key)
            row += [who.name, who.doc_type, who.doc_number, who.phone] if who else ["", "", "", ""]
        rows.append(row)
    return columns, rows


def export_bytes(columns: Sequence[str], rows: Sequence[Sequence[Any]], format: str) -> bytes:
    """CSV (UTF-8 with BOM) or an Excel workbook; every cell neutralised against formulas."""
    if format == "csv":
        return csv_bytes(columns, rows)
    if format != "xlsx":
        raise InvalidInput(_("Export as csv or xlsx."), code="format")
    from openpyxl import Workbook  # only exports pay for it

    book = Workbook(write_only=True)
    sheet = book.create_sheet("contacts")
    sheet.append(list(columns))
    for row in rows:
        sheet.append(
            [value if isinstance(value, int | float) else neutralise(value) for value in row]
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
