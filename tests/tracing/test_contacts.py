"""Trajectories and contacts against a brute-force reference on random small logs, the
boundaries (touching visits, dwell override, check-out, time-respecting secondaries), and
the demo outbreak found again by tracing it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from placecode.checkins.store import COLUMNS, DAY, ensure_partitions
from placecode.db import DriverSql
from placecode.people.models import Person
from placecode.tracing import service as tracing
from placecode.tracing.service import Finding, IndexWindow
from placecode.venues.models import Venue
from tests.conftest import make_venue

SHANGHAI = ZoneInfo("Asia/Shanghai")
BASE = int(datetime(2022, 3, 20, 8, tzinfo=SHANGHAI).timestamp())
MINUTE = 60


@dataclass(frozen=True)
class Scan:
    person: int  # 1..6
    venue: int  # 0..2
    minute: int  # after BASE
    checkout: int | None  # minutes after the scan, or none


@pytest.fixture
def place(session: Session) -> list[Venue]:
    """A shop (15 minutes), a wet market (45) and a shop whose own dwell is 5 minutes."""
    venues = [
        make_venue(session, "追踪测试店", "taopu", "shop"),
        make_venue(session, "追踪测试菜场", "taopu", "wet_market"),
        make_venue(session, "追踪快闪店", "taopu", "shop"),
    ]
    venues[2].dwell_minutes = 5
    session.flush()
    return venues


DWELL = (15, 45, 5)
people_counter = iter(range(10**6))


def write_log(session: Session, venues: list[Venue], scans: list[Scan]) -> dict[int, int]:
    """Persons 1..6 and their check-ins; person number → person id."""
    sql = DriverSql(session)
    run = next(people_counter)
    ids = {}
    for number in range(1, 7):
        person = Person(
            person_key=f"{run:08d}{number:024d}"[-32:],
            doc_type="passport",
            sealed=b"-",
            name_masked="T*",
            doc_masked="T***",
            phone_masked=None,
            source="test",
            created_at=datetime.fromtimestamp(BASE, SHANGHAI),
        )
        session.add(person)
        session.flush()
        ids[number] = person.id
    ensure_partitions(session, [BASE - BASE % DAY + n * DAY for n in range(-1, 3)])
    first = int(
        session.execute(select(Person.id).order_by(Person.id.desc())).scalars().first() or 0
    )
    sql.insert_rows(
        "checkins",
        COLUMNS,
        [
            (
                first * 1000 + n,
                BASE + scan.minute * MINUTE,
                venues[scan.venue].id,
                ids[scan.person],
                "wechat",
                "green",
                True,
                None if scan.checkout is None else BASE + (scan.minute + scan.checkout) * MINUTE,
                None,
                None,
            )
            for n, scan in enumerate(scans)
        ],
    )
    return ids


def reference(
    scans: list[Scan], index: int, since: int, until: int, degree: int, threshold: int, now: int
) -> dict[int, tuple[int, str, int, int]]:
    """Every pair, the slow way: person → (degree, finding, overlap seconds, first at)."""

    def interval(scan: Scan) -> tuple[int, int]:
        start = BASE + scan.minute * MINUTE
        end = start + DWELL[scan.venue] * MINUTE
        if scan.checkout is not None:
            end = max(start, min(end, start + scan.checkout * MINUTE))
        return start, end

    def meet(source: int, clip_from: int, clip_to: int) -> dict[int, list[int]]:
        tally: dict[int, list[int]] = {}
        for mine in (s for s in scans if s.person == source):
            start, end = interval(mine)
            start, end = max(start, clip_from), min(end, clip_to)
            if end <= start:
                continue
            for theirs in scans:
                if theirs.person == source or theirs.venue != mine.venue:
                    continue
                other_start, other_end = interval(theirs)
                overlap = min(end, other_end) - max(start, other_start)
                if overlap > 0:
                    found = tally.setdefault(theirs.person, [0, 2**62])
                    found[0] += overlap
                    found[1] = min(found[1], max(start, other_start))
        return tally

    result: dict[int, tuple[int, str, int, int]] = {}
    for person, (overlap, first) in meet(index, since, until).items():
        kind = Finding.close_contact if overlap >= threshold else Finding.exposure
        result[person] = (1, kind.value, overlap, first)
    if degree == 2:
        second: dict[int, list[int]] = {}
        for person, (_d, finding, _o, first) in list(result.items()):
            if finding != Finding.close_contact.value:
                continue
            for other, (overlap, met) in meet(person, first, now).items():
                found = second.setdefault(other, [0, 2**62])
                found[0] += overlap
                found[1] = min(found[1], met)
        for person, (overlap, first) in second.items():
            if person != index and person not in result and overlap >= threshold:
                result[person] = (2, Finding.secondary_contact.value, overlap, first)
    return result


scan_strategy = st.builds(
    Scan,
    person=st.integers(1, 6),
    venue=st.integers(0, 2),
    minute=st.integers(0, 600),
    checkout=st.none() | st.integers(0, 60),
)


@hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    scans=st.lists(scan_strategy, min_size=1, max_size=40),
    window=st.tuples(st.integers(-60, 600), st.integers(0, 700)),
    degree=st.sampled_from([1, 2]),
    threshold=st.sampled_from([1, 15, 30]),
)
def test_contacts_match_a_brute_force_reference(
    session: Session,
    place: list[Venue],
    scans: list[Scan],
    window: tuple[int, int],
    degree: int,
    threshold: int,
) -> None:
    since = BASE + window[0] * MINUTE
    until = since + (window[1] + 1) * MINUTE
    now = BASE + 900 * MINUTE
    nested = session.begin_nested()
    try:
        ids = write_log(session, place, scans)
        found = tracing.trace(
            session=session,
            indexes=[IndexWindow(ids[1], since, until)],
            degree=degree,
            threshold_minutes=threshold,
            now=now,
        )
        numbers = {person_id: number for number, person_id in ids.items()}
        got = {
            numbers[c.person_id]: (c.degree, c.finding.value, c.overlap, c.first_at)
            for c in found.contacts
        }
        assert got == reference(scans, 1, since, until, degree, threshold * MINUTE, now)
        # The trajectory is the index person's visits that touch the window, in time order.
        starts = [visit.start for visit in found.trajectories[ids[1]]]
        assert starts == sorted(starts)
        assert all(visit.person_id == ids[1] for visit in found.trajectories[ids[1]])
    finally:
        nested.rollback()


def trace_of(
    session: Session, place: list[Venue], scans: list[Scan], degree: int = 2
) -> dict[int, tracing.Contact]:
    """Trace person 1 through this log alone (written in a savepoint, rolled back after)."""
    nested = session.begin_nested()
    try:
        ids = write_log(session, place, scans)
        found = tracing.trace(
            session=session,
            indexes=[IndexWindow(ids[1], BASE, BASE + 900 * MINUTE)],
            degree=degree,
            threshold_minutes=15,
            now=BASE + 900 * MINUTE,
        )
    finally:
        nested.rollback()
    numbers = {person_id: number for number, person_id in ids.items()}
    return {numbers[c.person_id]: c for c in found.contacts}


def test_visits_that_only_touch_are_not_contacts(session: Session, place: list[Venue]) -> None:
    # The index leaves the shop at 08:15 (15 minutes); person 2 comes in at 08:15.
    found = trace_of(session, place, [Scan(1, 0, 0, None), Scan(2, 0, 15, None)])
    assert 2 not in found


def test_a_venues_own_dwell_time_overrides_its_category(
    session: Session, place: list[Venue]
) -> None:
    # Four minutes apart: at the 5-minute shop one minute together, at a 15-minute shop 11.
    found = trace_of(
        session,
        place,
        [Scan(1, 2, 0, None), Scan(2, 2, 4, None), Scan(1, 0, 100, None), Scan(3, 0, 104, None)],
    )
    assert (found[2].overlap, found[2].finding) == (60, Finding.exposure)
    assert (found[3].overlap, found[3].finding) == (11 * 60, Finding.exposure)


def test_a_check_out_shortens_the_visit(session: Session, place: list[Venue]) -> None:
    # At the market (45 minutes): the index checks out after 2 minutes; person 2 comes at 5.
    found = trace_of(session, place, [Scan(1, 1, 0, 2), Scan(2, 1, 5, None)])
    assert 2 not in found
    found = trace_of(session, place, [Scan(1, 1, 0, None), Scan(2, 1, 5, None)])
    assert (found[2].overlap, found[2].finding) == (40 * 60, Finding.close_contact)


def test_several_overlaps_with_one_person_add_up(session: Session, place: list[Venue]) -> None:
    # Twice 10 minutes at the shop: 20 minutes, a close contact; once: an exposure.
    scans = [Scan(1, 0, 0, None), Scan(2, 0, 5, None), Scan(1, 0, 60, None), Scan(2, 0, 65, None)]
    assert trace_of(session, place, scans)[2].finding is Finding.close_contact
    assert trace_of(session, place, scans[:2])[2].finding is Finding.exposure


def test_secondary_contacts_respect_time(session: Session, place: list[Venue]) -> None:
    scans = [
        Scan(3, 1, 0, None),  # 08:00 person 2 meets 3 at the market: before 2 was exposed
        Scan(2, 1, 10, None),
        Scan(1, 1, 240, None),  # 12:00 the index meets 2 at the market: 2 is a close contact
        Scan(2, 1, 245, None),
        Scan(2, 1, 400, None),  # 14:40 2 meets 4: after their exposure, a secondary contact
        Scan(4, 1, 410, None),
    ]
    found = trace_of(session, place, scans)
    assert found[2].finding is Finding.close_contact and found[2].degree == 1
    assert 3 not in found
    assert found[4].finding is Finding.secondary_contact and found[4].degree == 2
    assert 4 not in trace_of(session, place, scans, degree=1)


def test_index_people_who_share_a_contact_are_one_cluster(
    session: Session, place: list[Venue]
) -> None:
    ids = write_log(
        session,
        place,
        [
            Scan(1, 0, 0, None),  # index 1 and index 2 both met person 3
            Scan(3, 0, 2, None),
            Scan(2, 1, 100, None),
            Scan(3, 1, 102, None),
            Scan(4, 2, 300, None),  # index 4 met nobody
        ],
    )
    found = tracing.trace(
        session=session,
        indexes=[IndexWindow(ids[n], BASE, BASE + 900 * MINUTE) for n in (1, 2, 4)],
        degree=1,
        now=BASE + 900 * MINUTE,
    )
    assert found.clusters[ids[1]] == found.clusters[ids[2]] != found.clusters[ids[4]]
    assert {c.person_id for c in found.contacts} == {ids[3]}
