"""Writing visits: people resolved (and registered), repeats folded, rows inserted, hourly
counts kept, all in one transaction.

This is the hot path of 400,000 scans a day, so it speaks SQLAlchemy Core and, for
PostgreSQL's COPY, the driver itself. On SQLite the transaction begins IMMEDIATE, so the
ids it hands out cannot collide with another writer's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from placecode.clock import clock
from placecode.config import Settings
from placecode.db import IN_LIST, DriverSql, in_chunks
from placecode.errors import PlaceCodeError
from placecode.i18n import _
from placecode.people import service as people
from placecode.people.sealing import Sealer
from placecode.people.service import PersonDetails

DAY = 86_400
HOUR = 3_600
COLUMNS = (
    "id",
    "scanned_at",
    "venue_id",
    "person_id",
    "channel",
    "colour",
    "entry_allowed",
    "checkout_at",
    "companion_of",
    "recorded_by",
)
TYPES = (
    "bigint",
    "bigint",
    "text",
    "bigint",
    "text",
    "text",
    "boolean",
    "bigint",
    "bigint",
    "text",
)


class UnknownPerson(PlaceCodeError):
    status: ClassVar[int] = 401
    default_code: ClassVar[str] = "unknown_person"


@dataclass(frozen=True)
class Visit:
    """One person at one venue at one moment, as a scan, a form or a file tells it."""

    person_key: str
    venue_id: str
    scanned_at: int
    channel: str
    colour: str
    entry_allowed: bool
    details: PersonDetails | None = None  # to register someone seen for the first time
    companion_of: str | None = None  # the guardian's person_key
    recorded_by: str | None = None
    checkout_at: int | None = None


@dataclass(frozen=True)
class Stored:
    check_in_id: int
    scanned_at: int
    duplicate: bool


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def partition_name(day_start: int) -> str:
    return "checkins_p" + moment(day_start).strftime("%Y%m%d")


PARTITION_LOCK = 0x706C6163  # an advisory lock id of our own ("plac")


def ensure_partitions(session: Session, days: Iterable[int]) -> set[int]:
    """PostgreSQL: make the day partitions these rows fall in (no-op on SQLite).

    Call it first in a transaction, before anything is read or written: making a partition
    locks the check-ins table and the tables it refers to (people, venues), and two writers
    holding locks on those would wait on each other. Writers that find a day missing take
    turns on an advisory lock; the later one finds it made. Returns the days whose
    partitions were there already (all of them on SQLite).
    """
    wanted = set(days)
    if session.get_bind().dialect.name != "postgresql":
        return wanted
    names = {partition_name(day_start): day_start for day_start in sorted(wanted)}
    if not names:
        return wanted
    sql = DriverSql(session)
    missing = sql.all(  # one round trip for all
        "SELECT name FROM unnest(%b::text[]) AS name WHERE to_regclass(name) IS NULL",
        [list(names)],
    )
    for (name,) in missing:
        day_start = names[name]
        wanted.discard(day_start)
        sql.run("SELECT pg_advisory_xact_lock(%s)", [PARTITION_LOCK])
        sql.run(
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF checkins "
            f"FOR VALUES FROM ({day_start}) TO ({day_start + DAY})"
        )
    return wanted


class DayPartitions:
    """A writer's knowledge of the day partitions (PostgreSQL; on SQLite it does nothing):
    which are made, and which have had their first statistics.

    *Made.* A batch asks PostgreSQL only for days it has not found made before (asking
    was a round trip a batch, 0.3 ms of 4.5). Only a day not yet over is taken on trust:
    `placecode purge` drops only days that are over, so a batch of today's scans asks
    nothing, a registrar's page for yesterday asks every time. A failed batch forgets
    them all (`forget`).

    *First statistics.* A day's partition is analyzed once the writer has written a
    thousand visits into it. PostgreSQL plans the repeat check by the partition's
    statistics, and a new day's partition has none until autovacuum first analyzes it, a
    minute or more after it starts filling (and the UTC day begins at 08:00 in Shanghai,
    in the morning's rush). Until then the check was planned through the (venue, time)
    index, reading every scan of the venue in the window: 3 ms a batch after 1,000
    batches, 0.2 ms once analyzed (docs/benchmarks.md). Once a partition has statistics
    they scale with its size, and autovacuum keeps them.
    """

    VISITS = 1_000  # enough for statistics that hold as the day grows

    def __init__(self) -> None:
        self._made: set[int] = set()  # day starts
        self._rows: dict[int, int] = defaultdict(int)  # day start -> visits written here
        self._done: set[int] = set()

    def ensure(self, session: Session, days: Iterable[int]) -> None:
        """`ensure_partitions` for the days not known to be made."""
        now = epoch(clock.now())
        unknown = {day for day in days if day not in self._made or day + DAY <= now}
        if unknown:
            self._made |= {day for day in ensure_partitions(session, unknown) if day + DAY > now}

    def forget(self) -> None:
        self._made.clear()

    def written(self, session: Session, visits: Iterable[Visit]) -> None:
        """Count a committed batch's visits; analyze a day's partition that reached
        `VISITS` (unless autovacuum or another writer got there first)."""
        if session.get_bind().dialect.name != "postgresql":
            return
        for visit in visits:
            day = visit.scanned_at - visit.scanned_at % DAY
            if day not in self._done:
                self._rows[day] += 1
        for day, count in list(self._rows.items()):
            if count < self.VISITS:
                continue
            self._done.add(day)  # once, even should it fail: autovacuum will do it
            del self._rows[day]
            name = partition_name(day)
            never = session.execute(
                text("SELECT reltuples < 0 FROM pg_class WHERE oid = to_regclass(:name)"),
                {"name": name},
            ).scalar()
            if never:
                session.execute(text(f"ANALYZE {name}"))
            session.commit()


def make_partitions_apart(session: Session, days: Iterable[int]) -> None:
    """PostgreSQL: make these days' partitions in a transaction of their own, committed at
    once, before a long transaction (a big file's import) writes into them. Made inside it,
    a partition would keep the whole check-ins table locked, and every scan waiting, until
    that transaction commits. Call it before the long transaction has written anything."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return
    engine = bind if isinstance(bind, Engine) else bind.engine
    with Session(engine) as own, own.begin():
        # A wait rather than a hang if the caller broke the rule above.
        own.execute(text("SET LOCAL lock_timeout = '60s'"))
        ensure_partitions(own, days)


def days_of(visits: Iterable[Visit]) -> set[int]:
    """The starts (UTC) of the days these visits fall in."""
    return {visit.scanned_at - visit.scanned_at % DAY for visit in visits}


def _ids_later(sql: DriverSql, count: int) -> Callable[[], list[int]]:
    """`count` new check-in ids, asked for now, when called (see `DriverSql.later`)."""
    if not sql.sqlite:
        rows = sql.later("SELECT nextval('checkins_id_seq') FROM generate_series(1, %s)", [count])
        return lambda: [row[0] for row in rows()]
    highest = sql.all("SELECT COALESCE(MAX(id), 0) FROM checkins")[0][0]
    return lambda: list(range(highest + 1, highest + 1 + count))


def _scans_later(
    sql: DriverSql, visits: Sequence[Visit], window_seconds: int
) -> Callable[[], dict[tuple[str, str], list[tuple[int, int]]]]:
    """The check-ins that these visits could repeat, asked for now: for each (person_key,
    venue) pair of the visits, its (scanned_at, id) within the window of any of them.
    Only these pairs: a person's scans elsewhere, which can be many (a courier's round),
    are not read. The person's id is a subquery, not a join: joined, PostgreSQL planned a
    scan of all people (1.7 ms a batch against 0.14)."""
    earliest = min(v.scanned_at for v in visits) - window_seconds
    latest = max(v.scanned_at for v in visits) + window_seconds
    pairs = sorted({(v.person_key, v.venue_id) for v in visits})
    pending = []
    for chunk in in_chunks(pairs, IN_LIST // 2):
        wanted, parameters = sql.table(chunk, ("text", "text"))
        pending.append(
            sql.later(
                f"WITH wanted (person_key, venue_id) AS ({wanted}) "  # noqa: S608  (placeholders only)
                "SELECT c.id, wanted.person_key, c.venue_id, c.scanned_at FROM wanted "
                "JOIN checkins c ON c.person_id = "
                "(SELECT p.id FROM persons p WHERE p.person_key = wanted.person_key) "
                "AND c.venue_id = wanted.venue_id "
                f"WHERE c.scanned_at BETWEEN {sql.mark} AND {sql.mark}",
                [*parameters, earliest, latest],
            )
        )

    def scans() -> dict[tuple[str, str], list[tuple[int, int]]]:
        seen: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for rows in pending:
            for check_in_id, person_key, venue_id, scanned_at in rows():
                seen[(person_key, venue_id)].append((scanned_at, check_in_id))
        return seen

    return scans


def add_to_hourly_counts(sql: DriverSql, counts: dict[tuple[str, int], int]) -> None:
    """Add to the venues' hourly counts: one statement for many (venue, hour) rows, which
    on PostgreSQL is one execution where executemany was one per row. In key order, so
    that two writers lock the rows they share in the same order."""
    rows = [(venue, hour, n) for (venue, hour), n in sorted(counts.items())]
    for chunk in in_chunks(rows, IN_LIST // 3):
        values, parameters = sql.table(chunk, ("text", "bigint", "integer"))
        sql.run(
            f"INSERT INTO venue_hourly_counts (venue_id, hour, count) {values} "
            "ON CONFLICT (venue_id, hour) DO UPDATE "
            "SET count = venue_hourly_counts.count + excluded.count",
            parameters,
        )


def store_visits(
    *,
    session: Session,
    settings: Settings,
    sealer: Sealer,
    visits: Sequence[Visit],
    window_seconds: int,
    source: str | None = None,
    partitions_made: bool = False,
) -> list[Stored | PlaceCodeError]:
    """Write visits, returning for each its check-in (new, or the one it repeats).

    A visit repeats another of the same person at the same venue within `window_seconds`
    (0: at the same second, which makes re-imported files add nothing). People first seen
    here are registered as coming from `source` (an import), or else from their visit's
    channel. `partitions_made`: the caller made the visits' day partitions first in the
    transaction (`ensure_partitions`), as the writer does for its whole batch.
    """
    if not partitions_made:
        ensure_partitions(session, days_of(visits))
    everyone = [(v.person_key, v.details) for v in visits] + [
        (v.companion_of, None) for v in visits if v.companion_of
    ]
    sql = DriverSql(session)
    # Sent before any is read: inside the writer's `together`, one round trip for the three.
    known = people.look_up_later(sql, [key for key, _details in everyone])
    scans = _scans_later(sql, visits, window_seconds) if visits else dict
    new_ids = _ids_later(sql, len(visits))  # as many as could be new
    ids = people.ensure_people(
        session=session,
        settings=settings,
        sealer=sealer,
        people=everyone,
        source=source or "scan",  # (not used then: every newcomer is one of the visits)
        sources=None if source else {v.person_key: v.channel for v in visits},
        known=known(),
    )
    results: list[Stored | PlaceCodeError | None] = [None] * len(visits)
    pending: list[tuple[int, Visit, int]] = []
    for index, visit in enumerate(visits):
        person_id = ids.get(visit.person_key)
        if person_id is None:
            results[index] = UnknownPerson(
                _("This person is not registered; please sign in again."), code="unknown_person"
            )
        else:
            pending.append((index, visit, person_id))
    seen = scans()

    new: list[tuple[int, Visit, int]] = []
    repeats: list[tuple[int, int]] = []  # (index, index of the new visit it repeats)
    batch_first: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for index, visit, person_id in pending:
        pair = (visit.person_key, visit.venue_id)
        stored = next(
            (
                (at, check_in_id)
                for at, check_in_id in seen.get(pair, ())
                if abs(at - visit.scanned_at) <= window_seconds
            ),
            None,
        )
        if stored is not None:
            results[index] = Stored(check_in_id=stored[1], scanned_at=stored[0], duplicate=True)
            continue
        earlier = next(
            (
                first
                for at, first in batch_first.get(pair, ())
                if abs(at - visit.scanned_at) <= window_seconds
            ),
            None,
        )
        if earlier is not None:
            repeats.append((index, earlier))
            continue
        batch_first[pair].append((visit.scanned_at, index))
        new.append((index, visit, person_id))

    if new:
        check_in_ids = new_ids()[: len(new)]
        rows = []
        counts: dict[tuple[str, int], int] = defaultdict(int)
        for (index, visit, person_id), check_in_id in zip(new, check_in_ids, strict=True):
            rows.append(
                (
                    check_in_id,
                    visit.scanned_at,
                    visit.venue_id,
                    person_id,
                    visit.channel,
                    visit.colour,
                    visit.entry_allowed,
                    visit.checkout_at,
                    ids.get(visit.companion_of) if visit.companion_of else None,
                    visit.recorded_by,
                )
            )
            counts[(visit.venue_id, visit.scanned_at - visit.scanned_at % HOUR)] += 1
            results[index] = Stored(
                check_in_id=check_in_id, scanned_at=visit.scanned_at, duplicate=False
            )
        sql.insert_values("checkins", COLUMNS, TYPES, rows)
        add_to_hourly_counts(sql, counts)
    for index, first in repeats:
        original = results[first]
        assert isinstance(original, Stored)
        results[index] = Stored(
            check_in_id=original.check_in_id, scanned_at=original.scanned_at, duplicate=True
        )
    return [result for result in results if result is not None]
