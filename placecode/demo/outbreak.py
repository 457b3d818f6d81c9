"""The demo district's outbreak: a handful of confirmed cases that the CDC enters, chained
through real co-visits in the scan log, so that tracing has something true to find.

An index case who shops at 真南 is confirmed four days before the district's today; two of
their close contacts (visits overlapping 15 minutes or more, as tracing finds them) are
confirmed two days later; one close contact of each of those the day after. Each case has a
positive NAT the morning of their confirmation, and no scans or community NATs after it
(they are in isolation).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from placecode.accounts.models import Role
from placecode.accounts.service import Operator
from placecode.checkins.models import CheckIn
from placecode.checkins.store import HOUR, add_to_hourly_counts
from placecode.db import DriverSql
from placecode.health import service as health
from placecode.health.models import NatTest
from placecode.health.status import EventKind
from placecode.people.models import Person
from placecode.tracing import service as tracing

CONTACT_MINUTES = 15  # together at a venue this long: a close contact, as tracing says
LOOK_BACK = timedelta(days=4)  # how far before a confirmation co-visits are looked for
CONFIRMED_AT = time(20, 0)  # the CDC confirms in the evening
SAMPLED_AT = timedelta(hours=10, minutes=16, seconds=30)  # before it (off the minute grid)


@dataclass(frozen=True)
class Case:
    person_key: str
    name_masked: str
    confirmed_at: datetime
    infected_by: str | None  # the person key of the case they met, None for the index case
    met_at: str | None  # the venue id where they met


@dataclass(frozen=True)
class Outbreak:
    cases: list[Case]  # in the order they were confirmed
    withdrawn: int  # check-ins the cases had made after their confirmation, removed


@dataclass(frozen=True)
class Chain:
    """The cases found in the scan log, before the CDC enters them."""

    cases: list[tuple[int, datetime, int | None, str | None]]  # person, confirmed, by, where
    withdrawn: int  # their check-ins after confirmation, removed
    # …and by venue-hour, for the hourly counts (withdraw_counts)
    hours: dict[tuple[str, int], int] = field(default_factory=dict)


def write_outbreak(
    *, session: Session, days: list[date], zone: Any, zhennan_id: str, seed: int
) -> Outbreak:
    """Find the outbreak's chain in the scan log, isolate its cases and enter them as the
    demo CDC analyst would."""
    chain = find_chain(session=session, days=days, zone=zone, zhennan_id=zhennan_id, seed=seed)
    withdraw_counts(session=session, chain=chain)
    return enter_cases(session=session, chain=chain)


def find_chain(
    *, session: Session, days: list[date], zone: Any, zhennan_id: str, seed: int
) -> Chain:
    """The cases, chained through close contacts that tracing finds in the check-ins; their
    check-ins after confirmation withdrawn (they are in isolation; `withdraw_counts` takes
    them off the hourly counts). Needs only the check-ins, so it runs where they are
    written."""
    rng = np.random.default_rng(seed + 4)

    def evening(day: date) -> datetime:
        return datetime.combine(day, CONFIRMED_AT, tzinfo=zone)

    first = evening(days[max(0, len(days) - 4)])
    last = evening(days[-1])
    index = _index_case(session, zhennan_id, first)
    if index is None:
        return Chain([], 0)
    cases: list[tuple[int, datetime, int | None, str | None]] = [(index, first, None, None)]
    taken = {index}
    # Two of the index case's co-visitors, then one co-visitor of each of those.
    for sources, confirmed, wanted in (
        ([(index, first)], min(first + timedelta(days=2), last), 2),
        (None, min(first + timedelta(days=3), last), 1),
    ):
        for source, source_confirmed in sources or [(c[0], c[1]) for c in cases[1:]]:
            met = _co_visitors(session, source, source_confirmed, rng, taken)[:wanted]
            for person, venue in met:
                cases.append((person, confirmed, source, venue))
                taken.add(person)
    hours: Counter[tuple[str, int]] = Counter()
    for case, confirmed, *_ in cases:
        hours += _withdraw_scans(session, case, confirmed)
    return Chain(cases, sum(hours.values()), dict(hours))


def withdraw_counts(*, session: Session, chain: Chain) -> None:
    """Take the chain's withdrawn check-ins off the venues' hourly counts."""
    if chain.hours:
        add_to_hourly_counts(DriverSql(session), {key: -n for key, n in chain.hours.items()})
        session.execute(text("DELETE FROM venue_hourly_counts WHERE count <= 0"))


def enter_cases(*, session: Session, chain: Chain) -> Outbreak:
    """Each case's positive NAT and confirmation (an audited event by the CDC analyst); no
    community samples from then on."""
    actor = Operator(username="cdc", role=Role.cdc_analyst.value)
    keys: dict[int, str] = {
        pid: key
        for pid, key in session.execute(
            select(Person.id, Person.person_key).where(Person.id.in_([c[0] for c in chain.cases]))
        )
    }
    written = []
    for case, confirmed, infector, met_at in chain.cases:
        session.execute(
            delete(NatTest).where(
                NatTest.person_id == case, NatTest.sampled_at >= _midnight(confirmed)
            )
        )
        session.add(
            NatTest(
                person_id=case,
                sampled_at=_midnight(confirmed) + SAMPLED_AT,
                result="positive",
                institution="区疾控中心",
                created_at=confirmed,
            )
        )
        session.flush()
        note = "Demo outbreak: index case (真南农副产品综合市场)"
        if infector is not None:
            note = f"Demo outbreak: infector case {keys[infector][:8]}… at venue {met_at}"
        health.record_event_for(
            session=session,
            actor=actor,
            person_key=keys[case],
            kind=EventKind.confirmed,
            occurred_at=confirmed,
            note=note,
        )
        masked = session.scalar(select(Person.name_masked).where(Person.id == case))
        written.append(
            Case(
                person_key=keys[case],
                name_masked=str(masked),
                confirmed_at=confirmed,
                infected_by=keys[infector] if infector is not None else None,
                met_at=met_at,
            )
        )
    return Outbreak(written, chain.withdrawn)


def _index_case(session: Session, zhennan_id: str, confirmed: datetime) -> int | None:
    """A typical 真南 shopper: of those who scanned there in the days before `confirmed`, the
    one nearest the median number of scans anywhere who had at least two close contacts (or,
    in a district too small for one, the same among everyone who scanned)."""
    start = int((confirmed - LOOK_BACK).timestamp())
    end = int(confirmed.timestamp())
    for venue_filter in (CheckIn.venue_id == zhennan_id, CheckIn.venue_id.is_not(None)):
        visitors = set(
            session.scalars(
                select(CheckIn.person_id).where(
                    venue_filter, CheckIn.scanned_at >= start, CheckIn.scanned_at < end
                )
            )
        )
        if visitors:
            counts = Counter(
                session.scalars(
                    select(CheckIn.person_id).where(
                        CheckIn.person_id.in_(sorted(visitors)[:5000]),
                        CheckIn.scanned_at >= start,
                        CheckIn.scanned_at < end,
                    )
                )
            )
            ranked = sorted(counts, key=lambda person: (counts[person], person))
            middle = len(ranked) // 2
            # From the median outwards: the first who had close contacts to pass it on to.
            for step in range(min(len(ranked), 400)):
                at = middle + (step + 1) // 2 * (1 if step % 2 else -1)
                if not 0 <= at < len(ranked):
                    continue
                person = ranked[at]
                rng = np.random.default_rng(0)
                if len(_co_visitors(session, person, confirmed, rng, set())) >= 2:
                    return person
            return ranked[-1]
    return None


def _co_visitors(
    session: Session,
    person: int,
    confirmed: datetime,
    rng: np.random.Generator,
    taken: set[int],
) -> list[tuple[int, str]]:
    """The close contacts of `person` in the days before their confirmation, as tracing
    finds them, shuffled: (person id, the venue where they first met)."""
    end = int(confirmed.timestamp())
    found = tracing.trace(
        session=session,
        indexes=[tracing.IndexWindow(person, end - int(LOOK_BACK.total_seconds()), end)],
        degree=1,
        threshold_minutes=CONTACT_MINUTES,
        now=end,
    )
    close = [
        (c.person_id, c.venue_id)
        for c in found.contacts
        if c.finding is tracing.Finding.close_contact and c.person_id not in taken
    ]
    return [close[i] for i in rng.permutation(len(close)).tolist()]


def _withdraw_scans(session: Session, person: int, confirmed: datetime) -> Counter[tuple[str, int]]:
    """From their confirmation a case is in isolation: no scans. The check-ins withdrawn,
    by venue-hour."""
    after = int(confirmed.timestamp())
    gone = session.execute(
        select(CheckIn.venue_id, CheckIn.scanned_at).where(
            CheckIn.person_id == person, CheckIn.scanned_at >= after
        )
    ).all()
    session.execute(delete(CheckIn).where(CheckIn.person_id == person, CheckIn.scanned_at >= after))
    return Counter((venue, at - at % HOUR) for venue, at in gone)


def _midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time.min, tzinfo=moment.tzinfo)
